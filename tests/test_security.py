"""Security settings that hold on every page: the Content-Security-Policy, uploads that cannot
become pages, throttled password resets, sessions that end with a password change, and two-factor
authentication offered to everyone and required of administrators."""

import base64
import hmac
import re
import struct
import time
from pathlib import Path

import pytest
from allauth.mfa.models import Authenticator
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import schema_context

from chapters.models import Document
from config.asgi import application
from tests.conftest import PASSWORD
from tests.test_chat_consumer import run

ROOT = Path(__file__).resolve().parent.parent
OWN_APPS = ["accounts", "chapters", "chat", "cms", "config", "operations", "shop", "tenancy", "tenants"]


def policy(response):
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split("; ")}


# Content-Security-Policy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/app/", "/accounts/login/", "/shop/", "/app/chapters/", "/no-such-page/", "/site/theme.css"]
)
def test_every_page_runs_only_our_own_scripts_and_styles(organiser, path):
    response = organiser.client().get(path, follow=True)
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]


def test_the_platform_site_has_the_same_policy(platform_client):
    assert policy(platform_client.get("/"))["script-src"] == ["'self'"]


def test_the_site_editor_gets_inline_scripts_and_styles_and_nothing_else_does(organiser):
    admin = policy(organiser.client().get("/cms/", follow=True))
    assert "'unsafe-inline'" in admin["script-src"]
    assert admin["frame-ancestors"] == ["'self'"]
    assert admin["object-src"] == ["'none'"]


def test_the_checkout_form_may_lead_to_stripe_and_nowhere_else(anonymous, settings):
    settings.STRIPE_API_BASE = ""
    assert policy(anonymous.get("/shop/"))["form-action"] == ["'self'", "https://checkout.stripe.com"]


def test_our_templates_hold_no_inline_script_style_or_handler():
    """What the policy would refuse, found before a browser does: <script> without src, <style>,
    style="" and on…="" attributes in our own templates."""
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)(?![^>]*application/(?:ld\+)?json)[^>]*>|<style\b|\sstyle=\"|\son[a-z]+=\""
    )
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for app in OWN_APPS
        for path in (ROOT / app).rglob("templates/**/*.html")
        for match in inline.finditer(path.read_text())
    ]
    assert found == []


def test_the_scan_finds_what_it_looks_for():
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=\"|\son[a-z]+=\"")
    for sample in ["<script>x</script>", '<p style="x">', '<form onsubmit="x">', "<style>a{}</style>"]:
        assert inline.search(sample), sample
    assert not inline.search('<script src="/static/x.js" defer></script><p class="x" data-confirm="Sure?">')


# Uploaded files --------------------------------------------------------------------------------------


def test_a_web_page_named_like_a_pdf_is_refused(tree):
    client = tree.people["coordinator"].client()
    page = b"<html><script>fetch('/app/members/export/')</script></html>"
    client.post("/app/chapters/lille/documents/", {"title": "Agenda", "file": SimpleUploadedFile("agenda.pdf", page)})
    assert "content is not a .pdf file" in client.get("/app/chapters/lille/").content.decode()
    with schema_context("alpha"):
        assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64),
        ("notes.docx", b"PK\x03\x04" + b"\0" * 64),
        ("budget.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64),
        ("minutes.txt", "Compte rendu, réunion du 3 mars".encode()),
    ],
)
def test_files_whose_content_matches_their_name_are_shared(tree, name, content):
    client = tree.people["coordinator"].client()
    client.post("/app/chapters/lille/documents/", {"title": name, "file": SimpleUploadedFile(name, content)})
    with schema_context("alpha"):
        assert Document.objects.get().title == name


def test_shared_documents_download_as_attachments_that_run_nothing(tree):
    client = tree.people["coordinator"].client()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
    client.post("/app/chapters/lille/documents/", {"title": "Logo", "file": SimpleUploadedFile("logo.svg", svg)})
    with schema_context("alpha"):
        document = Document.objects.get()
    response = client.get(f"/app/chapters/lille/documents/{document.pk}/")
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    directives = policy(response)
    assert "sandbox" in directives
    assert directives["default-src"] == ["'none'"]


def test_the_site_media_serves_images_only_and_in_a_sandbox(anonymous):
    with schema_context("alpha"):
        page = default_storage.save("original_images/trap.html", ContentFile(b"<script>alert(1)</script>"))
        image = default_storage.save("original_images/dot.png", ContentFile(b"\x89PNG\r\n\x1a\n"))
    try:
        assert anonymous.get(f"/media/alpha/{page}").status_code == 404
        served = anonymous.get(f"/media/alpha/{image}")
        assert served["Content-Type"] == "image/png"
        assert "sandbox" in policy(served)
        served.close()
    finally:
        with schema_context("alpha"):
            default_storage.delete(page)
            default_storage.delete(image)


# Throttling and sessions -----------------------------------------------------------------------------


def test_password_reset_requests_are_throttled_per_address(member):
    statuses = []
    for attempt in range(5):
        client = Client(HTTP_HOST=member.host, REMOTE_ADDR=f"10.9.0.{attempt}")
        statuses.append(client.post("/accounts/password/reset/", {"email": member.email}).status_code)
    assert statuses[:3] == [302, 302, 302]
    assert statuses[3:] == [429, 429]
    assert len(mail.outbox) == 3, "no mail is sent for a refused request"


def test_password_reset_requests_are_throttled_per_ip_address(member):
    client = Client(HTTP_HOST=member.host, REMOTE_ADDR="10.9.1.1")
    statuses = [
        client.post("/accounts/password/reset/", {"email": f"x{n}@alpha.example"}).status_code for n in range(21)
    ]
    assert statuses[:20] == [302] * 20
    assert statuses[20] == 429


def test_changing_the_password_signs_out_every_other_session(member):
    here, elsewhere = member.client(), member.client()
    assert elsewhere.get("/app/").status_code == 200
    response = here.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": "a-new-long-passphrase-7", "password2": "a-new-long-passphrase-7"},
    )
    assert response.status_code == 302
    assert here.get("/app/").status_code == 200, "the session that changed it stays signed in"
    assert elsewhere.get("/app/")["Location"].startswith("/accounts/login/")


def test_resetting_the_password_signs_out_every_session(member):
    elsewhere = member.client()
    visitor = Client(HTTP_HOST=member.host)
    visitor.post("/accounts/password/reset/", {"email": member.email})
    link = re.search(r"http://alpha\.localhost(/accounts/password/reset/key/\S+)", mail.outbox[0].body)[1]
    form = visitor.get(link, follow=True)
    visitor.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"password1": "a-new-long-passphrase-8", "password2": "a-new-long-passphrase-8"},
    )
    assert elsewhere.get("/app/")["Location"].startswith("/accounts/login/")


# Two-factor authentication ---------------------------------------------------------------------------


def totp(secret, at=None):
    """RFC 6238 with SHA-1, 6 digits, 30 seconds: what an authenticator app shows."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int((at or time.time()) // 30)), "sha1").digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def sign_in(persona):
    client = Client(HTTP_HOST=persona.host)
    client.post("/accounts/login/", {"login": persona.email, "password": PASSWORD})
    return client


def activate_authenticator_app(client):
    # Turning it on is a sensitive change: the password is asked again first.
    assert client.get("/accounts/2fa/totp/activate/")["Location"].startswith("/accounts/reauthenticate/")
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    form = client.get("/accounts/2fa/totp/activate/")
    assert form.status_code == 200
    secret = form.context["form"].secret
    assert secret in form.content.decode(), "the secret is shown for apps that cannot scan"
    done = client.post("/accounts/2fa/totp/activate/", {"code": totp(secret)})
    assert done.status_code == 302
    return secret


@pytest.fixture
def required(settings):
    settings.MFA_REQUIRED_FOR_ADMINISTRATORS = True
    settings.MFA_TOTP_TOLERANCE = 1  # the next sign-in uses the following window's code


def test_every_member_is_offered_an_authenticator_app_and_then_needs_it(member, required):
    client = sign_in(member)
    assert "/accounts/2fa/" in client.get("/app/").content.decode()
    secret = activate_authenticator_app(client)
    with schema_context("alpha"):
        stored = Authenticator.objects.get(user=member.user, type=Authenticator.Type.TOTP).data["secret"]
    assert secret not in stored, "the secret is stored encrypted"

    again = Client(HTTP_HOST=member.host)
    step = again.post("/accounts/login/", {"login": member.email, "password": PASSWORD})
    assert step["Location"] == "/accounts/2fa/authenticate/"
    assert again.get("/app/")["Location"].startswith("/accounts/login/"), "the password alone is not enough"
    assert again.post("/accounts/2fa/authenticate/", {"code": "000000"}).status_code == 200
    assert again.get("/app/")["Location"].startswith("/accounts/login/")
    again.post("/accounts/2fa/authenticate/", {"code": totp(secret, time.time() + 30)})
    assert again.get("/app/").status_code == 200


def test_a_member_without_administrative_capability_is_not_made_to_use_one(member, required):
    assert sign_in(member).get("/app/").status_code == 200


def test_an_administrator_without_an_authenticator_app_is_sent_to_set_one_up(organiser, required):
    client = sign_in(organiser)
    for path in ["/app/", "/app/roles/", "/app/shop/", "/cms/"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == "/accounts/2fa/totp/activate/", path
    refused = client.get("/app/chat/rooms/", HTTP_ACCEPT="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "two_factor_required"
    assert client.get("/").status_code == 200, "the public site stays open"

    activate_authenticator_app(client)
    assert client.get("/app/roles/").status_code == 200


def test_an_administrator_cannot_turn_the_authenticator_app_off_but_a_member_can(organiser, member, required):
    for persona, kept in [(organiser, True), (member, False)]:
        client = sign_in(persona)
        activate_authenticator_app(client)
        client.post("/accounts/2fa/totp/deactivate/", {})
        with schema_context("alpha"):
            exists = Authenticator.objects.filter(user=persona.user, type=Authenticator.Type.TOTP).exists()
        assert exists is kept, persona.email


def test_the_requirement_can_be_switched_off(organiser, settings):
    settings.MFA_REQUIRED_FOR_ADMINISTRATORS = False
    assert sign_in(organiser).get("/app/roles/").status_code == 200


# Websockets from another origin ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ws/chat/", "/ws/site/petition/3/"])
@pytest.mark.parametrize("origin", ["http://evil.example", "http://alpha.localhost.evil.example", None])
def test_sockets_opened_from_a_foreign_origin_are_refused(path, origin):
    """A page on another site cannot open a socket with the visitor's cookies (every websocket
    route sits behind the Origin check; a missing Origin is refused too)."""
    headers = [(b"host", b"alpha.localhost")] + ([(b"origin", origin.encode())] if origin else [])
    communicator = WebsocketCommunicator(application, path, headers=headers)
    accepted, _code = run(communicator.connect(timeout=5))
    assert accepted is False
