"""The live petition counter, through the real ASGI stack: it answers for a live page of the host's
organisation and for no other. The consumer reads from worker threads, which cannot see a test's
open transaction, so the page is committed and removed afterwards."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from wagtail.models import Locale

from cms.models import CampaignPage, HomePage, Signup
from config.asgi import application


@pytest.fixture
def committed_petition(organisations, django_db_blocker):
    with django_db_blocker.unblock(), schema_context("alpha"):
        page = CampaignPage(
            title="Counted", slug="counted-petition", body=[("petition", {"heading": "Sign", "text": "", "goal": 10})]
        )
        HomePage.objects.get(locale=Locale.get_default()).add_child(instance=page)
        page.save_revision().publish()
        Signup.objects.create(kind="petition", page=page, email="a@example.org", full_name="A", token="counted-1",
                              confirmed=timezone.now(), outcome="signed")  # fmt: skip
    yield page
    with django_db_blocker.unblock(), schema_context("alpha"):
        Signup.objects.filter(page=page).delete()
        CampaignPage.objects.filter(pk=page.pk).delete()


async def _first_frame(host, page_id):
    headers = [(b"host", host.encode()), (b"origin", f"http://{host}".encode())]
    socket = WebsocketCommunicator(application, f"/ws/site/petition/{page_id}/", headers=headers)
    connected, code = await socket.connect(timeout=5)
    frame = await socket.receive_json_from(timeout=5) if connected else None
    await socket.disconnect()
    return connected, code, frame


def test_the_counter_answers_only_on_the_pages_own_organisation(committed_petition, db):
    page_id = committed_petition.pk
    assert asyncio.run(_first_frame("alpha.localhost", page_id)) == (True, None, {"type": "counter", "count": 1})
    connected, code, _frame = asyncio.run(_first_frame("beta.localhost", page_id))
    assert (connected, code) == (False, 4404)
    assert Client(HTTP_HOST="alpha.localhost").get(f"/site/petition/{page_id}/count/").json()["count"] == 1
    assert Client(HTTP_HOST="beta.localhost").get(f"/site/petition/{page_id}/count/").status_code == 404
