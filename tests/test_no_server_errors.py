"""No input a person or a client can send makes the member app answer 500."""

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from chapters.models import Membership

JUNK = {
    "emails": "not an email\x00",
    "chapter": "99999999",
    "to_chapter": "abc",
    "parent": "-1",
    "role": "x",
    "email": "@",
    "reason": "x" * 5000,
    "title": "",
    "body": "\x00" * 10,
    "name": "<script>",
    "slug": "../../etc",
    "kind": "spaceship",
    "joining": "maybe",
    "capabilities": ["chapters.fly"],
    "password": "",
    "q": "' OR 1=1 --",
    "page": "-5",
    "visibility": "everyone",
    "phone": "+999",
    "skills": "," * 100,
}


def paths(membership_pk):
    slug = "lille"
    return [
        "/app/",
        "/app/chapters/",
        "/app/chapters/?archived=1",
        "/app/chapters/new/?parent=lille",
        "/app/chapters/new/?parent=",
        f"/app/chapters/{slug}/",
        f"/app/chapters/{slug}/?page=abc",
        f"/app/chapters/{slug}/join/",
        f"/app/chapters/{slug}/leave/",
        f"/app/chapters/{slug}/primary/",
        f"/app/chapters/{slug}/manage/",
        f"/app/chapters/{slug}/move/",
        f"/app/chapters/{slug}/archive/",
        f"/app/chapters/{slug}/requests/{membership_pk}/approve/",
        f"/app/chapters/{slug}/requests/{membership_pk}/refuse/",
        f"/app/chapters/{slug}/members/{membership_pk}/remove/",
        f"/app/chapters/{slug}/members/{membership_pk}/transfer/",
        f"/app/chapters/{slug}/announcements/",
        f"/app/chapters/{slug}/announcements/999999/delete/",
        f"/app/chapters/{slug}/documents/",
        f"/app/chapters/{slug}/documents/999999/",
        f"/app/chapters/{slug}/documents/999999/delete/",
        "/app/chapters/does-not-exist/manage/",
        "/app/roles/",
        "/app/roles/new/",
        "/app/roles/999999/",
        "/app/roles/assignments/999999/delete/",
        "/app/audit/?page=99999",
        "/app/directory/?q=%00&chapter=nowhere&page=zz&skill=" + "s" * 300,
        "/app/profile/",
        "/app/profile/my-data.json",
        "/app/profile/erase/",
        "/app/members/export.csv",
        "/app/members/import/",
        "/app/invitations/",
        "/app/invitations/999999/revoke/",
        "/app/calls/",
        "/app/calls/?page=zz",
        "/app/calls/new/",
        "/app/calls/settings/",
        "/app/calls/999999/",
        "/app/calls/999999/next/",
        "/app/calls/999999/status/?action=close",
        "/app/calls/999999/calls/999999/",
        "/app/calls/999999/calls/999999/keep/",
        "/accounts/invitation/not-a-token/",
        "/accounts/welcome/not-a-token/",
    ]


@pytest.mark.parametrize(
    "persona", ["organiser", "coordinator", "lille_member", "sibling_coordinator", "anonymous", "beta"]
)
def test_every_page_answers_without_a_server_error(tree, persona, other_tenant_user):
    with schema_context("alpha"):
        membership_pk = Membership.objects.filter(chapter__slug="lille").first().pk
    if persona == "anonymous":
        client = Client(HTTP_HOST="alpha.localhost")
    elif persona == "beta":
        client = other_tenant_user.client()
        client.defaults["HTTP_HOST"] = "alpha.localhost"
    else:
        client = tree.people[persona].client()
    for path in paths(membership_pk):
        for method in (client.get, client.post):
            response = method(path, JUNK)
            assert response.status_code < 500, (persona, method.__name__, path)
