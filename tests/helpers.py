"""Helpers shared by the tests."""

import email
import email.policy
import os
import socket
import subprocess
import sys
from pathlib import Path
from unittest import mock
from urllib.parse import quote

from django.db import connection

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
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings.test"}
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
