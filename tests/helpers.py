"""Helpers shared by the tests."""

import contextlib
import email
import email.policy
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from unittest import mock
from urllib.parse import quote

from django.db import connection
from django_tenants.utils import schema_context

from tenancy import task_worker

ROOT = Path(__file__).resolve().parent.parent


def batch_worker(worker_id):
    """The worker `manage.py db_worker` runs, set to run every queued task at once and return."""
    return task_worker.Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id,
        excluded_queue_names=[],
    )


def run_tasks():
    """Run every queued task with the worker `manage.py db_worker` runs, in this process.

    The test's transaction is still open, so the worker's habit of closing connections that are
    not in autocommit mode between tasks (close_old_connections) is switched off; everything else
    is the real worker.
    """
    connection.set_schema_to_public()
    worker = batch_worker("tests")
    with mock.patch.object(task_worker, "close_old_connections", return_value=None):
        worker.run()
    connection.set_schema_to_public()


def database_url():
    """DATABASE_URL of the test database, for processes started by tests (Daphne, the worker)."""
    settings = connection.settings_dict
    host = settings["OPTIONS"].get("host") or settings["HOST"] or "localhost"
    user = quote(settings["USER"] or "", safe="")
    password = quote(settings["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@"
    if host.startswith("/"):
        return f"postgresql://{credentials}/{settings['NAME']}?host={host}"
    return f"postgresql://{credentials}{host}:{settings['PORT'] or 5432}/{settings['NAME']}"


def process_env(**extra):
    from django.conf import settings

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),  # what the server stores, the test and the worker read
    }
    env.update(extra)
    return env


def manage(*args, timeout=120, **env):
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=process_env(**env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# What Django's file backend writes after each message.
MAIL_SEPARATOR = b"\n" + b"-" * 79 + b"\n"


def filed_mail(directory):
    """Every message sent by a process started with EMAIL_URL=filemail:///<directory>.

    A file may hold several messages. Django's file backend appends each connection's messages to
    a file named by the second and the id() of the backend object, and CPython gives a new object
    the address of one just freed: two mails sent one after the other (two tasks of one worker)
    can land in the same file.
    """
    messages = []
    for path in sorted(Path(directory).iterdir()):
        for chunk in path.read_bytes().split(MAIL_SEPARATOR):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk, policy=email.policy.default))
    return messages


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_command(port):
    """The production layout on one port (config/serving.py): Granian for HTTP, Daphne for /ws/."""
    return [sys.executable, "-m", "config.serving", "stack", "--host", "127.0.0.1", "--port", str(port)]


def wait_for_health(port, process, timeout=60):
    """Wait until /healthz answers 200 on the port; False if the process died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


@contextlib.contextmanager
def running_stack(log_name, port=None, **env):
    """The web stack on `port` (a free one by default) with the test database and `env`, its output
    in .data/<log_name>; yields the port, and stops it afterwards."""
    port = port or free_port()
    (ROOT / ".data").mkdir(exist_ok=True)  # absent when DATABASE_URL names a server of one's own
    with (ROOT / ".data" / log_name).open("w") as log:
        # Two processes behind the front: their channel layer crosses between them (PostgreSQL's,
        # unless the caller gives REDIS_URL).
        env.setdefault("CHANNEL_LAYER", "postgres")
        process = subprocess.Popen(
            stack_command(port), env=process_env(**env), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            if not wait_for_health(port, process):
                raise RuntimeError(f"The web stack did not start; see .data/{log_name}")
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def race(calls, schema="alpha"):
    """Run every call at the same moment, each in its own thread with its own connection to the
    schema (real parallel transactions). Returns what each returned or raised, in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            with schema_context(schema):
                assert connection.settings_dict["NAME"].startswith("test_")
                connection.ensure_connection()
                barrier.wait(timeout=30)
                results[index] = call()
        except Exception as error:  # noqa: BLE001 - the test inspects whatever happened
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a call is stuck: a deadlock?"
    return results
