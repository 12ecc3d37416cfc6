"""How Relais is served: which process answers what, sized from the machine.

    python -m config.serving web     HTTP: Granian running Django's WSGI application
    python -m config.serving ws      websockets (/ws/): Daphne running Channels
    python -m config.serving stack   both, behind a small front on one port (`make run`, the
                                     tests, a single machine without a proxy)

HTTP goes through WSGI because Django's ASGI path costs about nine tenths of a cached page: every
request hops into a thread of its own and, with it, a database connection of its own. Granian
runs the WSGI application in a fixed set of threads per worker process (Rust does the HTTP), and
each process keeps a pool of DATABASE_POOL_SIZE connections that its threads borrow and give back:
however many people wait, a process never holds more, and a request that finds none free waits for
one (DATABASE_POOL_TIMEOUT) instead of failing. Requests beyond the threads wait in Granian's
queue. Daphne keeps the websockets, with a pool of its own.

In production a proxy in front (nginx, Caddy, the platform's router) sends /ws/ to `ws` and the rest
to `web` (README, "Deploying"). The front here does the same for one machine: it reads the first
request of each connection and splices the connection to Daphne when it asks for /ws/, to Granian
otherwise. Browsers open a connection of its own for each websocket, so that is all it needs.

This module does not import Django: it runs before the settings are read, like config.devserver.
"""

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAD_LIMIT = 64 * 1024  # a request head larger than this is not a browser's


def sizes(environ=os.environ):
    """Workers, threads, database pool and backpressure for `web`, from the environment or the
    machine: a worker process per core (Python runs one thread at a time per process), a few
    threads per worker so that one waiting on the database does not idle the core, and one pooled
    connection per thread. Without a shared cache (REDIS_URL or CACHE_URL) one worker only: the
    page cache's purges, the rate limits and the host cache's invalidations live in the cache, and
    several processes with a cache each would not see one another's."""
    shared_cache = environ.get("REDIS_URL") or environ.get("CACHE_URL")
    workers = int(environ.get("WEB_WORKERS") or ((os.cpu_count() or 1) if shared_cache else 1))
    threads = int(environ.get("WEB_THREADS") or 4)
    return {
        "workers": workers,
        "threads": threads,
        "pool": int(environ.get("DATABASE_POOL_SIZE") or threads),
        # Granian counts an open connection against this, idle keep-alive ones included (a browser
        # keeps one open between pages): a low figure would leave newcomers waiting on idle people.
        # Requests beyond the threads wait in Granian's queue instead.
        "backpressure": int(environ.get("WEB_BACKPRESSURE") or 2048),
    }


def web_command(port, host="127.0.0.1", environ=os.environ):
    size = sizes(environ)
    argv = [
        sys.executable, "-m", "granian", "--interface", "wsgi", "config.wsgi:application",
        "--host", host, "--port", str(port),
        "--workers", str(size["workers"]), "--blocking-threads", str(size["threads"]),
        "--backlog", "2048", "--backpressure", str(size["backpressure"]),
        "--respawn-failed-workers", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    return argv, {"DATABASE_POOL_SIZE": str(size["pool"]), "DATABASE_APPLICATION_NAME": _name("web", environ)}


def ws_command(port, host="127.0.0.1", environ=os.environ):
    # Daphne runs each consumer's database calls in a thread pool: a small pool bounds them too.
    pool = environ.get("WS_DATABASE_POOL_SIZE") or "8"
    return [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "config.asgi:application"], {
        "DATABASE_POOL_SIZE": pool,
        "DATABASE_APPLICATION_NAME": _name("ws", environ),
    }


def _name(role, environ):
    """How the process's database connections introduce themselves (pg_stat_activity's
    application_name): which server holds which connections."""
    return f"{environ.get('RELAIS_STACK_NAME') or 'relais'}-{role}"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The front -----------------------------------------------------------------------------------------


async def _pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            if writer.can_write_eof():
                writer.write_eof()


def front_handler(http_port, ws_port):
    async def handle(client_reader, client_writer):
        try:
            head = await client_reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            client_writer.close()
            return
        parts = head.split(b" ", 2)
        path = parts[1] if len(parts) > 1 else b"/"
        port = ws_port if path.startswith(b"/ws/") else http_port
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            client_writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 5\r\n\r\n")
            client_writer.close()
            return
        upstream_writer.write(head)
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
        for writer in (upstream_writer, client_writer):
            writer.close()

    return handle


async def _serve_front(port, http_port, ws_port, host, stopping):
    handle = front_handler(http_port, ws_port)
    connections = set()

    async def tracked(reader, writer):
        task = asyncio.current_task()
        connections.add(task)
        try:
            await handle(reader, writer)
        finally:
            connections.discard(task)

    server = await asyncio.start_server(tracked, host, port, limit=HEAD_LIMIT, reuse_address=True, backlog=2048)
    await stopping.wait()
    # Stop at once: websockets stay open for hours, so waiting for connections to end would not end.
    server.close()
    for task in list(connections):
        task.cancel()
    await asyncio.gather(*connections, return_exceptions=True)


def die_with_parent():
    """For a child process (preexec_fn): the kernel sends it SIGTERM when its parent dies, however
    the parent died (SIGKILL included), so that no server outlives the process that started it."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


# The stack -----------------------------------------------------------------------------------------


def wait_until_up(url, children, timeout=60.0):
    """Whether `url` answered 200 before `timeout` seconds, while every child process still runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(child.poll() is None for child in children):
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def stack(port, host="127.0.0.1"):
    """Granian and Daphne on ports of their own, the front on `port`; until a signal or a child
    stops. Returns the exit status."""
    http_port, ws_port = free_port(), free_port()
    children = []
    stopping = asyncio.Event()

    def start(argv, extra):
        # The environment's settings win, but each server names its own connections.
        given = {key: value for key, value in os.environ.items() if key != "DATABASE_APPLICATION_NAME"}
        env = {**extra, **given, "DATABASE_APPLICATION_NAME": extra["DATABASE_APPLICATION_NAME"]}
        # A session of their own: Ctrl-C reaches the stack alone, which stops each server with one
        # SIGTERM (Granian signalled twice, by the terminal and by the stack, never exited).
        children.append(subprocess.Popen(argv, env=env, cwd=ROOT, preexec_fn=die_with_parent, start_new_session=True))

    start(*web_command(http_port))
    start(*ws_command(ws_port))
    try:
        for child_port in (http_port, ws_port):
            if not wait_until_up(f"http://127.0.0.1:{child_port}/healthz", children):
                print("The web or websocket server did not start.", file=sys.stderr, flush=True)
                return 1

        async def main():
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stopping.set)
            front = asyncio.create_task(_serve_front(port, http_port, ws_port, host, stopping))
            while not stopping.is_set():
                if any(child.poll() is not None for child in children):
                    print("A server stopped; shutting the stack down.", file=sys.stderr, flush=True)
                    stopping.set()
                    front.cancel()
                    return 1
                await asyncio.sleep(0.3)
            await front
            return 0

        return asyncio.run(main())
    finally:
        stop_all(children)


def stop_all(processes, timeout=15):
    """SIGTERM to every process still running, then wait for each; SIGKILL for any that hangs."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m config.serving")
    parser.add_argument("role", choices=["web", "ws", "stack"])
    parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))  # noqa: S104 - a server's job
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args(argv)
    if args.role == "stack":
        return stack(args.port, args.host)
    argv, extra = (web_command if args.role == "web" else ws_command)(args.port, args.host)
    os.environ.update({key: value for key, value in extra.items() if key not in os.environ})
    os.execvpe(argv[0], argv, os.environ)  # noqa: S606 - becomes the server, signals included
    return 0


if __name__ == "__main__":
    sys.exit(main())
