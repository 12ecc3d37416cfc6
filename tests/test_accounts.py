"""Signing in, per organisation: isolation, rate limits, invitations, sign-up."""

import re

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Invitation, User
from tests.conftest import PASSWORD
from tests.helpers import run_tasks

WRONG_PASSWORD = "The email address and/or password you specified are not correct."
REFUSED = "Too many failed login attempts. Try again later."


def login(client, email, password):
    return client.post("/accounts/login/", {"login": email, "password": password})


def assert_wrong_password(response):
    """The sign-in failed on its merits: the limiter let it through to allauth's own answer."""
    page = response.content.decode()
    assert response.status_code == 200
    assert WRONG_PASSWORD in page, "a wrong password is answered as such"
    assert REFUSED not in page, "refused before the password was checked: the limit is too low"


def assert_refused(response):
    """The limiter refused the sign-in, whatever the password."""
    page = response.content.decode()
    assert response.status_code == 200
    assert REFUSED in page, "not refused: the limiter did not trigger"
    assert WRONG_PASSWORD not in page


def test_member_logs_in_on_their_organisation(member):
    client = Client(HTTP_HOST=member.host)
    response = login(client, member.email, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/app/"
    assert "Member of Alpha Collectif" in client.get("/app/").content.decode()


def test_member_logs_out(member):
    client = member.client()
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert client.get("/app/")["Location"].startswith("/accounts/login/")


def test_member_cannot_log_into_another_organisation(member, beta):
    client = Client(HTTP_HOST=beta.get_primary_domain().domain)
    response = login(client, member.email, PASSWORD)
    assert response.status_code == 200
    assert WRONG_PASSWORD in response.content.decode()
    assert client.get("/app/").status_code == 302


def test_session_of_one_organisation_is_not_valid_on_another(member, beta):
    client = member.client()
    assert client.get("/app/").status_code == 200
    client.defaults["HTTP_HOST"] = beta.get_primary_domain().domain
    assert client.get("/app/")["Location"].startswith("/accounts/login/")


def test_same_email_in_two_organisations_is_two_accounts(alpha, beta):
    with schema_context("beta"):
        shared = User.objects.get(email="shared@example.org")
        shared.set_password("beta-only-password-42")
        shared.save()
    alpha_client = Client(HTTP_HOST="alpha.localhost")
    beta_client = Client(HTTP_HOST="beta.localhost")
    assert login(alpha_client, "shared@example.org", "beta-only-password-42").status_code == 200
    assert login(beta_client, "shared@example.org", PASSWORD).status_code == 200
    assert login(alpha_client, "shared@example.org", PASSWORD).status_code == 302
    assert login(beta_client, "shared@example.org", "beta-only-password-42").status_code == 302
    assert "Shared in Alpha Collectif" in alpha_client.get("/app/").content.decode()
    assert "Shared in Beta Mouvement" in beta_client.get("/app/").content.decode()


def test_failed_logins_are_rate_limited_per_account(member):
    for attempt in range(5):
        client = Client(HTTP_HOST=member.host, REMOTE_ADDR=f"10.0.0.{attempt}")
        assert_wrong_password(login(client, member.email, "wrong-password"))
    client = Client(HTTP_HOST=member.host, REMOTE_ADDR="10.0.0.99")
    assert_refused(login(client, member.email, PASSWORD))
    assert client.get("/app/").status_code == 302, "even the right password is refused while limited"


def test_failed_logins_are_rate_limited_per_ip_address(member):
    client = Client(HTTP_HOST=member.host, REMOTE_ADDR="10.1.1.1")
    for attempt in range(10):
        assert_wrong_password(login(client, f"nobody{attempt}@alpha.example", "wrong-password"))
    assert_refused(login(client, member.email, PASSWORD))
    other_address = Client(HTTP_HOST=member.host, REMOTE_ADDR="10.1.1.2")
    assert login(other_address, member.email, PASSWORD).status_code == 302


def test_rate_limit_of_one_organisation_does_not_block_another(member, other_tenant_user):
    for attempt in range(5):
        client = Client(HTTP_HOST=member.host, REMOTE_ADDR=f"10.2.0.{attempt}")
        assert_wrong_password(login(client, "shared@example.org", "wrong"))
    assert_refused(login(Client(HTTP_HOST=member.host), "shared@example.org", PASSWORD))
    beta_client = Client(HTTP_HOST=other_tenant_user.host)
    assert login(beta_client, "shared@example.org", PASSWORD).status_code == 302


def test_member_signup_on_an_organisation_site_requires_email_verification(alpha):
    client = Client(HTTP_HOST="alpha.localhost")
    response = client.post(
        "/accounts/signup/",
        {"email": "new@alpha.example", "full_name": "Nouvelle Personne", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    with schema_context("alpha"):
        assert User.objects.get(email="new@alpha.example").full_name == "Nouvelle Personne"
    with schema_context("beta"):
        assert not User.objects.filter(email="new@alpha.example").exists()
    assert len(mail.outbox) == 1
    assert "http://alpha.localhost/accounts/confirm-email/" in mail.outbox[0].body


def test_password_reset_mail_links_to_the_organisation_host(member):
    client = Client(HTTP_HOST=member.host)
    client.post("/accounts/password/reset/", {"email": member.email})
    assert len(mail.outbox) == 1
    assert "http://alpha.localhost/accounts/password/reset/key/" in mail.outbox[0].body


def invite(client, emails):
    return client.post("/app/invitations/", {"emails": emails})


def test_organiser_invites_and_the_invited_person_joins(organiser, django_capture_on_commit_callbacks):
    client = organiser.client()
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(client, "Nadia@Example.org, member@alpha.example")
    assert response.status_code == 302
    page = client.get("/app/invitations/").content.decode()
    assert "1 invitation(s) sent." in page
    assert "Already members, not invited: member@alpha.example" in page
    assert mail.outbox == [], "the mail is a background task"

    run_tasks()

    assert [message.to for message in mail.outbox] == [["nadia@example.org"]]
    assert "Alpha Collectif" in mail.outbox[0].subject
    link = re.search(r"http://alpha\.localhost(/accounts/invitation/\S+/)", mail.outbox[0].body).group(1)

    newcomer = Client(HTTP_HOST="alpha.localhost")
    assert "Create your account for <strong>nadia@example.org</strong>" in newcomer.get(link).content.decode()
    weak = newcomer.post(link, {"full_name": "Nadia", "password1": "short", "password2": "short"})
    assert "This password is too short" in weak.content.decode()
    joined = newcomer.post(link, {"full_name": "Nadia B.", "password1": PASSWORD, "password2": PASSWORD})
    assert joined["Location"] == "/app/"
    assert "Hello Nadia" in newcomer.get("/app/").content.decode()
    assert newcomer.get(link).status_code == 404, "an invitation works once"


def test_member_cannot_invite(member):
    client = member.client()
    assert client.get("/app/invitations/").status_code == 404
    assert invite(client, "someone@example.org").status_code == 404
    with schema_context("alpha"):
        assert not Invitation.objects.exists()


def test_invalid_addresses_are_reported_and_nothing_is_sent(organiser):
    response = invite(organiser.client(), "good@example.org not-an-address")
    assert "These are not valid email addresses: not-an-address" in response.content.decode()
    with schema_context("alpha"):
        assert not Invitation.objects.exists()


def test_revoked_invitation_link_stops_working(organiser):
    client = organiser.client()
    invite(client, "revoked@example.org")
    with schema_context("alpha"):
        invitation = Invitation.objects.get()
    client.post(f"/app/invitations/{invitation.pk}/revoke/")
    response = Client(HTTP_HOST="alpha.localhost").get(f"/accounts/invitation/{invitation.token}/")
    assert response.status_code == 404
    assert "This invitation is not valid" in response.content.decode()


def test_invitation_of_one_organisation_is_unknown_in_another(organiser, beta):
    invite(organiser.client(), "crossing@example.org")
    with schema_context("alpha"):
        token = Invitation.objects.get().token
    assert Client(HTTP_HOST="beta.localhost").get(f"/accounts/invitation/{token}/").status_code == 404


@pytest.mark.parametrize("persona", ["member", "other_tenant_user"])
def test_only_organisers_see_the_invite_link(request, persona):
    user = request.getfixturevalue(persona)
    assert "/app/invitations/" not in user.client().get("/app/").content.decode()


def test_invitation_into_a_chapter_makes_the_newcomer_a_member(tree, django_capture_on_commit_callbacks):
    from chapters.models import Chapter, Membership

    with schema_context("alpha"):
        lille = Chapter.objects.get(slug="lille").pk
    client = tree.people["coordinator"].client()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/app/invitations/", {"emails": "newbie@example.org other_chapter_member@alpha.example", "chapter": lille}
        )
    page = client.get("/app/invitations/").content.decode()
    assert "Added to the chapter: other_chapter_member@alpha.example" in page
    run_tasks()
    link = re.search(r"http://alpha\.localhost(/accounts/invitation/\S+/)", mail.outbox[0].body).group(1)
    newcomer = Client(HTTP_HOST="alpha.localhost")
    newcomer.post(link, {"full_name": "Newbie", "password1": PASSWORD, "password2": PASSWORD})
    with schema_context("alpha"):
        memberships = set(
            Membership.objects.filter(chapter__slug="lille", status="active").values_list("user__email", flat=True)
        )
    assert {"newbie@example.org", "other_chapter_member@alpha.example"} <= memberships


def test_coordinator_cannot_invite_into_a_chapter_outside_their_reach(tree):
    from chapters.models import Chapter

    with schema_context("alpha"):
        roubaix = Chapter.objects.get(slug="roubaix").pk
    response = (
        tree.people["coordinator"].client().post("/app/invitations/", {"emails": "x@example.org", "chapter": roubaix})
    )
    assert "Select a valid choice" in response.content.decode()
    with schema_context("alpha"):
        assert not Invitation.objects.exists()
