"""User journeys in a real browser against the real web stack."""

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from accounts.models import User
from tenants import services
from tenants.models import Organisation
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def cleanup_organisation(django_db_blocker):
    created = []
    yield created.append
    with django_db_blocker.unblock():
        for slug in created:
            connection.set_schema_to_public()
            organisation = Organisation.objects.filter(schema_name=slug).first()
            if organisation is not None:
                services.organisation_delete(organisation=organisation)


def test_create_an_organisation_and_land_in_its_app(page, server_port, django_db_blocker, cleanup_organisation):
    cleanup_organisation("la-vague")
    page.goto(f"http://localhost:{server_port}/")
    page.get_by_role("link", name="Create your organisation").first.click()

    page.get_by_label("Organisation name").fill("La Vague Citoyenne")
    expect(page.get_by_label("Address"), message="address suggested from the name").to_have_value("la-vague-citoyenne")
    page.get_by_label("Address").fill("la-vague")
    page.get_by_label("Your name").fill("Inès Moreau")
    page.get_by_label("Your email").fill("ines@example.org")
    page.get_by_label("Password").fill("weak")
    page.get_by_role("button", name="Create my organisation").click()
    expect(page.get_by_text("This password is too short")).to_be_visible()
    expect(page.get_by_label("Address"), message="what was typed is kept").to_have_value("la-vague")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create my organisation").click()

    page.wait_for_url(f"http://la-vague.localhost:{server_port}/app/")
    expect(page.get_by_role("heading", name="Hello Inès")).to_be_visible()
    expect(page.get_by_text("Welcome! Your organisation is ready.")).to_be_visible()
    expect(page.get_by_role("link", name="Invite people")).to_be_visible()
    screenshot(page, "create-organisation")

    with django_db_blocker.unblock(), schema_context("la-vague"):
        assert User.objects.get().email == "ines@example.org"


def test_member_signs_in_and_switches_to_french(page, server_port, member):
    page.goto(f"http://alpha.localhost:{server_port}/accounts/login/")
    page.get_by_label("Email").fill(member.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"http://alpha.localhost:{server_port}/app/")
    page.get_by_role("button", name="FR").click()
    expect(page.get_by_role("heading", name="Bonjour Member")).to_be_visible()
    screenshot(page, "member-home-fr")


def test_unknown_organisation_address_shows_a_404_page(page, server_port):
    response = page.goto(f"http://nowhere.localhost:{server_port}/app/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="No organisation here")).to_be_visible()
