"""The base at a glance on an organiser's home: the charts are drawn (by the vendored uPlot, under
the strict CSP that fails any browser test on a refusal), with the figures of the scope."""

import datetime

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from people import services
from people.models import Person, PersonEmail
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

DOMAIN = "glance.example"


@pytest.fixture
def committed_supporters(organisations, django_db_blocker):
    try:
        with django_db_blocker.unblock(), schema_context("alpha"):
            now = timezone.now()
            for number, source in enumerate(["petition", "petition", "shop", "import", "website_form"]):
                person, _created = services.person_record(
                    source=source, email=f"supporter{number}@{DOMAIN}", full_name=f"Glance {number}"
                )
                Person.objects.filter(pk=person.pk).update(created=now - datetime.timedelta(weeks=number * 3))
        yield
    finally:
        with django_db_blocker.unblock(), schema_context("alpha"):
            Person.objects.filter(pk__in=PersonEmail.objects.filter(email__endswith=DOMAIN).values("person")).delete()


def test_an_organiser_sees_the_base_charted_on_their_home(server_port, committed_supporters, page):
    base = f"http://alpha.localhost:{server_port}"
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill("founder@alpha.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/app/")

    expect(page.get_by_role("heading", name="The base at a glance")).to_be_visible()
    # uPlot draws each chart on a canvas inside its container, with its legend of series.
    expect(page.locator("#glance-signups canvas")).to_have_count(1)
    expect(page.locator("#glance-growth canvas")).to_have_count(1)
    legend = page.locator("#glance-signups .u-legend")
    expect(legend).to_contain_text("Petition")
    expect(legend).to_contain_text("Shop order")
    expect(page.locator("table.consent-rates")).to_contain_text("Email · News and campaigns")
    screenshot(page, "people-glance")
