"""Shared fixtures: two organisations for the whole session, personas in them, clients per host.

The organisations are provisioned once, through the same clone path as production, and
committed; each test then runs in a transaction that is rolled back (schema DDL included), so
tests can create, suspend or delete freely. Tests must not use `transactional_db`: its flush
would empty the public schema under the session's organisations.
"""

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import setup_databases, teardown_databases
from django.utils import translation
from django_tenants.utils import schema_context

from accounts.models import User
from tenants import services
from tenants.models import Organisation

pytest_plugins = [
    "tests.calls_fixtures",
    "tests.chapters_fixtures",
    "tests.cms_fixtures",
    "tests.events_fixtures",
    "tests.mailings_fixtures",
    "tests.multiprocess_fixtures",
    "tests.shop_fixtures",
]

PASSWORD = "correct-horse-battery-staple"


class Persona:
    """A user of one organisation, with what a test needs to act as them."""

    def __init__(self, organisation, user):
        self.organisation = organisation
        self.user = user
        self.email = user.email
        self.host = organisation.get_primary_domain().domain

    def client(self, logged_in=True):
        client = Client(HTTP_HOST=self.host)
        if logged_in:
            # The session is stored in the organisation's schema, where its host will look for it.
            with schema_context(self.organisation.schema_name):
                assert client.login(email=self.email, password=PASSWORD)
        return client


def _verified_user(email, full_name):
    user = User.objects.create_user(email=email, password=PASSWORD, full_name=full_name)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker):
    """The test database, always: pytest-django creates it only when a selected test asks for
    `db`, and a run of browser tests alone would otherwise write into the development database."""
    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=request.config.option.verbose, interactive=False, aliases={"default"}, serialized_aliases=set()
        )
    yield
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=request.config.option.verbose)


@pytest.fixture(scope="session")
def organisations(django_db_setup, django_db_blocker):
    """Two organisations, alpha and beta, created once by the clone path, with their people."""
    assert connection.settings_dict["NAME"].startswith("test_"), "never provision into a real database"
    with django_db_blocker.unblock():
        created = {}
        for slug, name, founder_name in [
            ("alpha", "Alpha Collectif", "Alice Martin"),
            ("beta", "Beta Mouvement", "Bruno Petit"),
        ]:
            organisation, founder = services.organisation_create(
                name=name,
                slug=slug,
                founder_name=founder_name,
                founder_email=f"founder@{slug}.example",
                founder_password=PASSWORD,
            )
            with schema_context(slug):
                EmailAddress.objects.filter(user=founder).update(verified=True)
                _verified_user(f"member@{slug}.example", f"Member of {name}")
                # The same address in both organisations: two separate accounts.
                _verified_user("shared@example.org", f"Shared in {name}")
            created[slug] = organisation
        connection.set_schema_to_public()
    yield created
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        # Processes the tests started (Daphne, the worker) may still hold a connection for a few
        # milliseconds after they exit; the test database cannot be dropped until they are gone.
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def alpha(organisations, db):
    connection.set_schema_to_public()
    return Organisation.objects.get(schema_name="alpha")


@pytest.fixture
def beta(organisations, db):
    connection.set_schema_to_public()
    return Organisation.objects.get(schema_name="beta")


def _persona(organisation, email):
    with schema_context(organisation.schema_name):
        return Persona(organisation, User.objects.get(email=email))


@pytest.fixture
def organiser(alpha):
    """Alpha's founder: its first national organiser."""
    return _persona(alpha, "founder@alpha.example")


@pytest.fixture
def member(alpha):
    return _persona(alpha, "member@alpha.example")


@pytest.fixture
def other_tenant_user(beta):
    return _persona(beta, "member@beta.example")


@pytest.fixture
def anonymous(alpha):
    return Client(HTTP_HOST=alpha.get_primary_domain().domain)


@pytest.fixture
def platform_client(db):
    return Client(HTTP_HOST="localhost")


@pytest.fixture(autouse=True)
def _fresh_state():
    """Rate-limit counters live in the cache; every test starts with none, in the public schema,
    in the default language (a request in French leaves French active in this thread)."""
    cache.clear()
    translation.activate(settings.LANGUAGE_CODE)
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()
