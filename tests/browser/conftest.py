"""The real web stack serving the test database, and Debian's Chromium driven by Playwright."""

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import running_stack

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def server_port(organisations):
    """The production layout (Granian for HTTP, Daphne for /ws/, the front on one free port) on the
    session's test database, organisations included."""
    with running_stack("web-tests.log") as port:
        yield port


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        message = "Debian's Chromium is not installed: apt-get install chromium (make test does it as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API runs an event loop in this thread; the tests' own database reads are
    # plain synchronous calls between browser steps.
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield PolicyWatchingBrowser(browser)
        browser.close()
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class PolicyWatchingBrowser:
    """The browser, whose every page reports what the Content-Security-Policy refused: a journey
    that works only because a refused script or style did not matter still fails."""

    def __init__(self, browser):
        self._browser = browser
        self.refusals = []

    def __getattr__(self, name):
        return getattr(self._browser, name)

    def new_context(self, **options):
        context = self._browser.new_context(**options)
        context.on("page", self._watch)
        return context

    def _watch(self, page):
        def on_console(message):
            if message.type == "error" and "Content Security Policy" in message.text:
                self.refusals.append(f"{page.url}: {message.text}")

        page.on("console", on_console)


@pytest.fixture(autouse=True)
def no_policy_refusals(request):
    if "browser" not in request.fixturenames:
        yield
        return
    browser = request.getfixturevalue("browser")
    del browser.refusals[:]
    yield
    assert browser.refusals == [], "The Content-Security-Policy refused:\n" + "\n".join(browser.refusals)


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def screenshot(page, name):
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def verified_user(email, full_name):
    """A member account whose address is confirmed (signing in needs it), in the current schema."""
    from allauth.account.models import EmailAddress

    from accounts.models import User
    from tests.conftest import PASSWORD

    user = User.objects.create_user(email=email, password=PASSWORD, full_name=full_name)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


def sign_in(page, port, email):
    """Sign in to alpha's member app as `email`, through the login form."""
    from tests.conftest import PASSWORD

    page.goto(f"http://alpha.localhost:{port}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"http://alpha.localhost:{port}/app/")


@pytest.fixture
def new_page(browser):
    """Opens a page in a browser context of its own (signed in nowhere; desktop-sized unless a
    viewport is given); every context is closed before the test's committed data is cleaned up
    (request this fixture after the data's)."""
    contexts = []

    def open_page(**options):
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(locale="en-GB", **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()
