"""Creating an organisation on the platform site."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from accounts.models import User
from chapters.access import can
from chapters.models import Chapter
from tenants.models import Domain, Organisation
from tests.conftest import PASSWORD

VALID = {
    "name": "Les Jardins Solidaires",
    "slug": "jardins",
    "full_name": "Chloé Dupont",
    "email": "Chloe@Example.org",
    "password": PASSWORD,
}


def signup(client, **changes):
    return client.post("/create/", {**VALID, **changes})


def test_landing_page_says_what_relais_is_and_links_to_signup(platform_client):
    response = platform_client.get("/")
    content = response.content.decode()
    assert "local chapter" in content
    assert 'href="/create/"' in content


def test_signup_provisions_the_organisation_and_lands_the_founder_in_its_app(platform_client, organisations):
    response = signup(platform_client)

    assert response.status_code == 302
    handoff = response["Location"]
    assert handoff.startswith("http://jardins.localhost/accounts/welcome/")
    organisation = Organisation.objects.get(schema_name="jardins")
    assert organisation.name == "Les Jardins Solidaires"
    assert organisation.is_active
    assert Domain.objects.get(tenant=organisation).domain == "jardins.localhost"
    with schema_context("jardins"):
        founder = User.objects.get()
        assert founder.email == "chloe@example.org"
        assert founder.full_name == "Chloé Dupont"
        national = Chapter.objects.get()
        assert national.name == "Les Jardins Solidaires"
        assert can(founder, "chapters.manage_roles")
        assert can(founder, "chapters.manage_chapters", national)

    tenant_client = Client(HTTP_HOST="jardins.localhost")
    arrival = tenant_client.get(handoff.removeprefix("http://jardins.localhost"))
    assert arrival.status_code == 302
    assert arrival["Location"] == "/app/"
    home = tenant_client.get("/app/")
    assert "Hello Chloé" in home.content.decode()
    assert "Les Jardins Solidaires" in home.content.decode()


def test_founder_is_sent_a_confirmation_link_on_their_organisation_host(platform_client, organisations):
    handoff = signup(platform_client)["Location"].removeprefix("http://jardins.localhost")
    client = Client(HTTP_HOST="jardins.localhost")
    client.get(handoff)
    assert [message.to for message in mail.outbox] == [["chloe@example.org"]]
    link = re.search(r"http://jardins\.localhost(/accounts/confirm-email/\S+/)", mail.outbox[0].body).group(1)
    client.post(link)
    with schema_context("jardins"):
        assert EmailAddress.objects.get(email="chloe@example.org").verified


def test_a_forged_handoff_link_is_refused(alpha):
    response = Client(HTTP_HOST="alpha.localhost").get("/accounts/welcome/not-a-real-token/")
    assert response.status_code == 400
    assert "This link has expired" in response.content.decode()


def test_handoff_link_works_once(platform_client, organisations):
    handoff = signup(platform_client)["Location"].removeprefix("http://jardins.localhost")
    assert Client(HTTP_HOST="jardins.localhost").get(handoff).status_code == 302
    second = Client(HTTP_HOST="jardins.localhost").get(handoff)
    assert second.status_code == 400
    assert "This link has expired" in second.content.decode()


def test_handoff_link_of_one_organisation_does_not_open_another(platform_client, organisations):
    handoff = signup(platform_client)["Location"].removeprefix("http://jardins.localhost")
    client = Client(HTTP_HOST="alpha.localhost")
    assert client.get(handoff).status_code == 400
    assert client.get("/app/")["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("slug", ["www", "admin", "api", "public", "static", "media", "platform"])
def test_reserved_slugs_are_refused(platform_client, organisations, slug):
    response = signup(platform_client, slug=slug)
    assert response.status_code == 200
    assert "is reserved by the platform" in response.content.decode()
    assert not Organisation.objects.filter(schema_name=slug).exists()


@pytest.mark.parametrize(
    "slug",
    ["ab", "1collectif", "mon_collectif", "mon collectif", "trop--tirets", "fin-", "é-toile", "x;drop"],
)
def test_slugs_that_are_not_valid_addresses_are_refused(platform_client, organisations, slug):
    response = signup(platform_client, slug=slug)
    assert "Use 3 to 40 characters" in response.content.decode()
    assert Organisation.objects.count() == 2


def test_slug_is_lowercased(platform_client, organisations):
    assert signup(platform_client, slug="Jardins").status_code == 302
    assert Organisation.objects.filter(schema_name="jardins").exists()


def test_taken_slug_is_refused(platform_client, organisations):
    response = signup(platform_client, slug="alpha")
    assert "The address alpha.localhost is already taken" in response.content.decode()
    assert Organisation.objects.filter(schema_name="alpha").count() == 1


def test_a_leftover_schema_makes_the_slug_taken(platform_client, organisations):
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "orphan"')
    response = signup(platform_client, slug="orphan")
    assert "is already taken" in response.content.decode()


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "This password is too short"),
        ("password1234", "This password is too common"),
        ("83920174659201", "This password is entirely numeric"),
        ("chloe@example.org", "The password is too similar to the"),
    ],
)
def test_weak_passwords_are_refused(platform_client, organisations, password, message):
    response = signup(platform_client, password=password)
    assert message in response.content.decode()
    assert not Organisation.objects.filter(schema_name="jardins").exists()
    assert not schema_exists("jardins")


def test_missing_fields_are_reported_and_nothing_is_created(platform_client, organisations):
    response = platform_client.post("/create/", {"slug": "jardins"})
    assert response.content.decode().count("This field is required") == 4
    assert not Organisation.objects.filter(schema_name="jardins").exists()
    assert "jardins" in response.content.decode(), "what was typed is kept"


def test_signup_is_rate_limited_per_address(platform_client, organisations, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "1/h/ip"}
    assert signup(platform_client).status_code == 302
    response = signup(platform_client, slug="jardins-deux")
    assert "Too many organisations were created from your address" in response.content.decode()
    assert not Organisation.objects.filter(schema_name="jardins-deux").exists()


def test_signups_are_closed_on_the_platform_host_for_members(platform_client):
    # The platform has operators only; members sign up on their organisation's site.
    assert platform_client.get("/accounts/signup/").status_code == 404
