"""Which host serves what: platform, organisations, unknown and suspended hosts, /healthz."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tenants import services
from tenants.models import Domain


def test_unknown_host_gets_a_plain_404_page(db):
    response = Client(HTTP_HOST="nobody.localhost").get("/app/")
    assert response.status_code == 404
    content = response.content.decode()
    assert "No organisation uses the address <strong>nobody.localhost</strong>" in content
    assert "Set-Cookie" not in response.headers


def test_a_host_outside_the_platform_gets_the_404_page_not_an_error(db):
    response = Client(HTTP_HOST="evil.example:8000").get("/admin/")
    assert response.status_code == 404
    assert "No organisation uses the address <strong>evil.example</strong>" in response.content.decode()


def test_unknown_host_404_page_speaks_french(db):
    response = Client(HTTP_HOST="nobody.localhost", HTTP_ACCEPT_LANGUAGE="fr").get("/")
    assert response.status_code == 404
    assert "Aucune organisation" in response.content.decode()


def test_suspended_organisation_gets_a_403_page_explaining_it(alpha, member):
    client = member.client()
    services.organisation_suspend(organisation=alpha)
    for path in ["/", "/app/", "/accounts/login/", "/cms/"]:
        response = client.get(path)
        assert response.status_code == 403
        assert "Alpha Collectif" in response.content.decode()
        assert "is suspended" in response.content.decode()


def test_reactivated_organisation_is_served_again(alpha, member):
    services.organisation_suspend(organisation=alpha)
    services.organisation_reactivate(organisation=alpha)
    assert member.client().get("/app/").status_code == 200


def test_organisation_host_serves_its_own_app(member):
    response = member.client().get("/app/")
    assert response.status_code == 200
    assert "Alpha Collectif" in response.content.decode()


def test_platform_host_does_not_serve_an_organisation_app(platform_client):
    assert platform_client.get("/app/").status_code == 404


@pytest.mark.parametrize("host", ["localhost", "alpha.localhost", "nobody.localhost", "evil.example"])
def test_healthz_answers_on_every_host_without_a_session(organisations, db, host):
    response = Client(HTTP_HOST=host).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up"}
    assert "Set-Cookie" not in response.headers


def test_healthz_answers_503_when_the_database_does_not(organisations, django_db_blocker):
    original = connection.settings_dict.copy()
    with django_db_blocker.unblock():
        connection.close()
        # A real connection attempt to a port where no database listens.
        connection.settings_dict.update({"HOST": "127.0.0.1", "PORT": "9", "OPTIONS": {"connect_timeout": 2}})
        try:
            response = Client(HTTP_HOST="localhost").get("/healthz")
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(original)
    assert response.status_code == 503
    assert response.json()["database"] == "down"


def test_wagtails_crash_page_is_not_served(anonymous):
    """Wagtail ships /cms/failwhale/, which raises on purpose: a 500 for anyone who asks."""
    assert anonymous.get("/cms/failwhale/").status_code == 404


# Which organisation a host serves is read once, then from the cache (tenancy/hosts.py), and
# forgotten as soon as the organisation or its domains change.


def _domain_lookups(client, path="/"):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    return response, [query["sql"] for query in captured if "tenants_domain" in query["sql"]]


def test_the_host_is_looked_up_once_then_served_from_the_cache(alpha, member):
    client = member.client()
    first, lookups = _domain_lookups(client, "/app/")
    assert first.status_code == 200
    assert len(lookups) == 1
    again, lookups = _domain_lookups(client, "/app/")
    assert again.status_code == 200
    assert "Alpha Collectif" in again.content.decode()
    assert lookups == []


def test_a_suspension_reaches_a_host_already_cached(alpha, member):
    client = member.client()
    assert client.get("/app/").status_code == 200
    services.organisation_suspend(organisation=alpha)
    suspended = client.get("/app/")
    assert suspended.status_code == 403
    assert "is suspended" in suspended.content.decode()
    services.organisation_reactivate(organisation=alpha)
    assert client.get("/app/").status_code == 200


def test_a_domain_moved_renamed_or_removed_is_followed_at_once(alpha, beta):
    connection.set_schema_to_public()
    domain = Domain.objects.create(domain="campaign.localhost", tenant=alpha, is_primary=False)
    visitor = Client(HTTP_HOST="campaign.localhost")
    assert "Alpha Collectif" in visitor.get("/accounts/login/").content.decode()

    connection.set_schema_to_public()
    domain.tenant = beta
    domain.save()
    moved = visitor.get("/accounts/login/").content.decode()
    assert "Beta Mouvement" in moved
    assert "Alpha Collectif" not in moved

    connection.set_schema_to_public()
    domain.domain = "renamed.localhost"
    domain.save()
    assert visitor.get("/accounts/login/").status_code == 404
    assert "Beta Mouvement" in Client(HTTP_HOST="renamed.localhost").get("/accounts/login/").content.decode()

    connection.set_schema_to_public()
    domain.delete()
    assert Client(HTTP_HOST="renamed.localhost").get("/accounts/login/").status_code == 404


def test_a_host_that_serves_nothing_is_not_remembered(alpha):
    visitor = Client(HTTP_HOST="later.localhost")
    assert visitor.get("/accounts/login/").status_code == 404
    connection.set_schema_to_public()
    Domain.objects.create(domain="later.localhost", tenant=alpha, is_primary=False)
    assert visitor.get("/accounts/login/").status_code == 200
