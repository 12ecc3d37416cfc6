"""The Content-Security-Policy in a real browser: a script injected into one of our pages does
not run, and the browser fixtures notice every refusal (so the journeys prove the policy breaks
nothing)."""

import contextlib

import pytest
from playwright.sync_api import Error

pytestmark = pytest.mark.browser


def test_an_injected_inline_script_does_not_run_and_is_reported(browser, page, server_port):
    page.goto(f"http://alpha.localhost:{server_port}/accounts/login/")
    reported = page.expect_console_message(lambda message: "Content Security Policy" in message.text)
    with reported, contextlib.suppress(Error):  # waits for the console's report; Playwright may raise one too
        page.add_script_tag(content="window.injected = true;")
    assert page.evaluate("window.injected === undefined")
    assert any("inline script" in refusal for refusal in browser.refusals), browser.refusals
    del browser.refusals[:]  # seen: this test's refusal is the expected one


def test_our_own_scripts_run_under_the_policy(page, server_port):
    page.goto(f"http://alpha.localhost:{server_port}/")
    stylesheet = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--primary').trim()")
    assert stylesheet.startswith("#"), "the organisation's colours come from /site/theme.css"
