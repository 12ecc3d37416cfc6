"""seed_demo builds a realistic demo organisation, and running it again changes nothing."""

from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from chapters.models import Announcement, Chapter, Document, Membership, RoleAssignment
from operations import demo
from people.models import Person, PersonChapter, PersonEmail

PEOPLE = 600  # the demo seeds 20,000; a few hundred prove the same here


def snapshot():
    with schema_context(demo.SLUG):
        return (
            User.objects.count(),
            Chapter.objects.count(),
            Membership.objects.count(),
            RoleAssignment.objects.count(),
            Announcement.objects.count(),
            Document.objects.count(),
            Person.objects.count(),
        )


def test_seed_demo_builds_the_demo_once(organisations, db):
    call_command("seed_demo", people=PEOPLE, stdout=open("/dev/null", "w"))  # noqa: SIM115 - discarded output
    first = snapshot()
    call_command("seed_demo", people=PEOPLE, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == first
    check_the_supporter_base()
    connection.set_schema_to_public()
    with schema_context(demo.SLUG):
        kinds = sorted(Chapter.objects.values_list("kind", flat=True))
        assert kinds.count("region") == 3
        assert kinds.count("local") == 8
        assert User.objects.filter(memberships__status="active").distinct().count() >= 200
        assert set(User.objects.values_list("visibility", flat=True)) == {"nobody", "chapters", "organisation"}
        depths = set(RoleAssignment.objects.values_list("chapter__depth", flat=True))
        assert depths == {1, 2, 3}, "roles on several levels"
        assert Membership.objects.filter(chapter__slug="lille", status="requested").count() == 10
        from chat.models import Message

        assert Message.objects.filter(room__kind="chapter", room__chapter__slug="lille").count() == 301


def test_demo_chat_has_topics_a_conversation_a_mention_and_a_report(organisations, db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    member = Client(HTTP_HOST=f"{demo.SLUG}.localhost")
    member.post("/accounts/login/", {"login": demo.MEMBER_EMAIL, "password": demo.PASSWORD})
    rooms = {room["name"]: room for room in member.get("/app/chat/api/rooms/").json()["rooms"]}
    assert rooms["Marche pour le climat"]["kind"] == "topic", "open to the region, so to Lille's members"
    assert rooms["Équipe affiches"]["mentions"] == 1
    assert rooms["Karim Benali"]["kind"] == "direct"
    coordinator = Client(HTTP_HOST=f"{demo.SLUG}.localhost")
    coordinator.post("/accounts/login/", {"login": demo.COORDINATOR_EMAIL, "password": demo.PASSWORD})
    assert "Achetez des montres" in coordinator.get("/app/chat/moderation/").content.decode()


def test_demo_logins_work(organisations, db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    for _label, email in demo.LOGINS:
        client = Client(HTTP_HOST=f"{demo.SLUG}.localhost")
        response = client.post("/accounts/login/", {"login": email, "password": demo.PASSWORD})
        assert response["Location"] == "/app/", email
    coordinator = Client(HTTP_HOST=f"{demo.SLUG}.localhost")
    coordinator.post("/accounts/login/", {"login": demo.COORDINATOR_EMAIL, "password": demo.PASSWORD})
    assert "10 join requests wait for your answer." in coordinator.get("/app/").content.decode()


def test_demo_shop_has_a_catalogue_stock_and_orders_in_every_state(organisations, db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    from shop.models import ChapterOrder, Product, PublicOrder, StockLevel

    with schema_context(demo.SLUG):
        kinds = set(Product.objects.values_list("kind", flat=True))
        assert {"leaflet", "poster", "sticker", "goodie"} <= kinds
        assert Product.objects.filter(public=True, photos__isnull=False).exists()
        statuses = set(ChapterOrder.objects.values_list("status", flat=True))
        assert statuses == {"requested", "approved", "prepared", "shipped", "received", "refused"}
        assert set(PublicOrder.objects.values_list("status", flat=True)) == {"to_collect", "fulfilled"}
        # Levels agree with the ledger: the received badges sit in Lille's own stock.
        lille_badges = StockLevel.objects.get(location__chapter__slug="lille", variant__product__slug="badge")
        assert (lille_badges.on_hand, lille_badges.reserved) == (40, 0)
        assert not StockLevel.objects.filter(on_hand__lt=0).exists()


def check_the_supporter_base():
    """Every member's record, and supporters with sources, consents, chapters by area, duplicates."""
    with schema_context(demo.SLUG):
        members = set(Membership.objects.filter(status="active").values_list("user", flat=True))
        recorded = set(Person.objects.filter(user__isnull=False).values_list("user", flat=True))
        assert members == recorded, "every member has their record"
        supporters = Person.objects.filter(user__isnull=True)
        assert supporters.count() >= PEOPLE
        assert len(set(supporters.values_list("source", flat=True))) >= 5
        assert 0.5 < supporters.filter(consents__contains=["email:news"]).count() / supporters.count() < 0.9
        assert PersonChapter.objects.filter(person__user__isnull=True, chapter__slug="lille").exists()
        assert PersonChapter.objects.filter(person__user__isnull=True, chapter__slug="hauts-de-france").count() > (
            PersonChapter.objects.filter(person__user__isnull=True, chapter__slug="lille").count()
        ), "the region's area covers its cities'"
        names = list(supporters.values_list("name_key", "postcode"))
        assert len(names) - len(set(names)) >= 30, "likely duplicates to review"
        assert PersonEmail.objects.count() == Person.objects.count()
    coordinator = Client(HTTP_HOST=f"{demo.SLUG}.localhost")
    with schema_context(demo.SLUG):
        assert coordinator.login(email=demo.COORDINATOR_EMAIL, password=demo.PASSWORD)
    page = coordinator.get("/app/people/?chapter=lille").content.decode()
    assert "people." in page or "personnes" in page
    assert "The base at a glance" in coordinator.get("/app/").content.decode()
