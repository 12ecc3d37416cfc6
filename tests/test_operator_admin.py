"""The platform operator lists, suspends, reactivates and deletes organisations from /admin/."""

import pytest
from django.test import Client
from django_tenants.utils import schema_exists

from accounts.models import User
from tenants import services
from tenants.models import Domain, Organisation
from tests.conftest import PASSWORD


@pytest.fixture
def operator(db, organisations):
    User.objects.create_superuser(email="ops@relais.example", password=PASSWORD)
    client = Client(HTTP_HOST="localhost")
    assert client.login(email="ops@relais.example", password=PASSWORD)
    return client


@pytest.fixture
def doomed(organisations, db):
    organisation, _founder = services.organisation_create(
        name="Doomed", slug="doomed", founder_name="D", founder_email="d@example.org", founder_password=PASSWORD
    )
    return organisation


def test_operator_lists_organisations(operator):
    page = operator.get("/admin/tenants/organisation/").content.decode()
    assert "Alpha Collectif" in page
    assert "Beta Mouvement" in page
    assert 'href="//alpha.localhost/"' in page


def test_operator_suspends_and_reactivates(operator, beta):
    changelist = "/admin/tenants/organisation/"
    operator.post(changelist, {"action": "suspend", "_selected_action": [beta.pk]})
    beta.refresh_from_db()
    assert beta.status == Organisation.Status.SUSPENDED
    assert Client(HTTP_HOST="beta.localhost").get("/").status_code == 403

    operator.post(changelist, {"action": "reactivate", "_selected_action": [beta.pk]})
    beta.refresh_from_db()
    assert beta.status == Organisation.Status.ACTIVE
    assert Client(HTTP_HOST="beta.localhost").get("/accounts/login/").status_code == 200


def test_operator_deletes_an_organisation_after_confirmation(operator, doomed):
    url = f"/admin/tenants/organisation/{doomed.pk}/delete/"
    confirmation = operator.get(url).content.decode()
    assert "Are you sure" in confirmation
    assert Organisation.objects.filter(pk=doomed.pk).exists(), "nothing happens before confirming"

    operator.post(url, {"post": "yes"})
    assert not Organisation.objects.filter(pk=doomed.pk).exists()
    assert not Domain.objects.filter(domain="doomed.localhost").exists()
    assert not schema_exists("doomed")
    assert Client(HTTP_HOST="doomed.localhost").get("/").status_code == 404


def test_bulk_delete_drops_the_schemas_too(operator, doomed):
    changelist = "/admin/tenants/organisation/"
    operator.post(changelist, {"action": "delete_selected", "_selected_action": [doomed.pk], "post": "yes"})
    assert not Organisation.objects.filter(pk=doomed.pk).exists()
    assert not schema_exists("doomed")


def test_organisation_admins_cannot_reach_the_operator_console(alpha):
    from django_tenants.utils import schema_context

    with schema_context("alpha"):
        User.objects.create_superuser(email="root@alpha.example", password=PASSWORD)
    client = Client(HTTP_HOST="alpha.localhost")
    with schema_context("alpha"):
        assert client.login(email="root@alpha.example", password=PASSWORD)
    response = client.get("/admin/tenants/organisation/")
    assert response.status_code in (403, 404)
    assert "Beta Mouvement" not in response.content.decode()


def test_members_of_an_organisation_are_not_operators(member):
    client = Client(HTTP_HOST="localhost")
    response = client.post("/admin/login/", {"username": member.email, "password": PASSWORD})
    assert "Please enter the correct email address and password" in response.content.decode()
