"""Fixtures of the fault tests: a private PostgreSQL cluster, the test process pointed at it, the
application's processes started against it, a mail server."""

import copy
import tempfile

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from tests.faults import servers
from tests.helpers import process_env


@pytest.fixture(scope="package")
def private_postgres(organisations, django_db_blocker):
    """A PostgreSQL cluster of the package's own, holding a copy of the test database as the
    session committed it (organisations alpha and beta), without queued tasks."""
    directory = tempfile.mkdtemp(prefix="relais-faults-")  # short: a socket path has 107 bytes at most
    server = servers.PrivatePostgres(directory, connection.settings_dict["NAME"])
    try:
        server.init()
        server.start()
        server.copy_of(connection.settings_dict)
        with server.connect(autocommit=True) as database:
            database.execute("DELETE FROM django_tasks_database_dbtaskresult")
        yield server
    finally:
        server.close()


@pytest.fixture
def private_db(private_postgres, django_db_blocker):
    """The test process's own database connection on the private cluster, for the test to set
    up its data and check the outcome through the models, committed there (nothing to clean in
    the session's database). No task is queued when the test starts. Yields the cluster."""
    saved = copy.deepcopy(connection.settings_dict)
    with django_db_blocker.unblock():
        connection.close()
        connection.settings_dict.update(HOST=str(private_postgres.directory), PORT="", USER="postgres", PASSWORD="")
        if "host" in connection.settings_dict["OPTIONS"]:
            connection.settings_dict["OPTIONS"]["host"] = str(private_postgres.directory)
        connection.set_schema_to_public()
        try:
            if not private_postgres.is_running():
                private_postgres.start()  # a failed test may have left it stopped
            DBTaskResult.objects.all().delete()  # tasks an earlier test queued are not this test's
            yield private_postgres
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)
            connection.set_schema_to_public()


class Processes:
    """Starts the web stack and workers against the private cluster; stops them all after the test."""

    def __init__(self, database, directory):
        self.database = database
        self.directory = directory
        self.started = []

    def env(self, **extra):
        return process_env(DATABASE_URL=self.database.url, **extra)

    def web(self, **extra):
        service = servers.web(self.env(**extra), self.directory)
        self.started.append(service)
        service.start()
        servers.wait_for_http(service)
        return service

    def worker(self, worker_id, **extra):
        service = servers.worker(self.env(**extra), self.directory, worker_id)
        self.started.append(service)
        service.start()
        servers.wait_until(
            lambda: "Starting worker" in service.log() or not service.running(),
            timeout=45,
            message=f"{worker_id} did not start",
            every=0.1,
        )
        assert service.running(), f"{worker_id} exited:\n{service.log()}"
        return service

    def stop(self):
        for service in self.started:
            service.stop()
        for service in self.started:
            # Shown by pytest only when the test failed.
            print(f"----- {service.name} output -----\n{service.log()}")


@pytest.fixture
def processes(private_db, tmp_path):
    launched = Processes(private_db, tmp_path)
    try:
        yield launched
    finally:
        launched.stop()


@pytest.fixture
def smtp():
    server = servers.SMTPServer()
    try:
        yield server
    finally:
        server.close()
