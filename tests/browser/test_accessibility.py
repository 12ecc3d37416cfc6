"""axe-core (vendored, MPL-2.0) finds no serious or critical accessibility problem on our pages."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

AXE = (Path(__file__).parent / "vendor" / "axe-4.14.1.min.js").read_text()


def violations(page):
    # Evaluated through the browser's debugging protocol, which the page's Content-Security-Policy
    # does not govern (a <script> tag added to the page would be refused, as it should be).
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE)
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at {violation['nodes'][0]['target']}"
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:{port}/",
        "http://localhost:{port}/create/",
        "http://alpha.localhost:{port}/accounts/login/",
        "http://alpha.localhost:{port}/accounts/signup/",
        "http://nowhere.localhost:{port}/",
    ],
)
def test_public_pages_have_no_serious_accessibility_problem(page, server_port, url):
    page.goto(url.format(port=server_port))
    assert violations(page) == []


def test_signup_form_with_errors_has_no_serious_accessibility_problem(page, server_port):
    page.goto(f"http://localhost:{server_port}/create/")
    page.get_by_label("Address").fill("admin")
    page.get_by_role("button", name="Create my organisation").click()
    expect(page.get_by_text("is reserved by the platform")).to_be_visible()
    assert violations(page) == []


def test_member_pages_have_no_serious_accessibility_problem(page, server_port, organiser):
    page.goto(f"http://alpha.localhost:{server_port}/accounts/login/")
    page.get_by_label("Email").fill(organiser.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"http://alpha.localhost:{server_port}/app/")
    for path in [
        "/app/",
        "/app/invitations/",
        "/app/chapters/",
        "/app/chapters/national/",
        "/app/chapters/national/manage/",
        "/app/chapters/new/?parent=national",
        "/app/directory/",
        "/app/profile/",
        "/app/profile/erase/",
        "/app/roles/",
        "/app/roles/new/",
        "/app/audit/",
        "/app/members/import/",
        "/app/chat/",
        "/accounts/email/",
        "/accounts/password/change/",
    ]:
        page.goto(f"http://alpha.localhost:{server_port}{path}")
        assert violations(page) == [], path


def test_the_checker_reports_an_unlabelled_field(page, server_port):
    page.goto(f"http://localhost:{server_port}/create/")
    page.evaluate("document.querySelector('label[for=id_name]').remove()")
    assert any(problem.startswith("label ") for problem in violations(page))
