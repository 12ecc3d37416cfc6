"""Chapter orders and public orders through their services: the state machine, who may do what,
the stock each step moves, allowances, catalogue rules, audit and mail, tenants, personal data."""

import datetime

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from chapters import services as chapter_services
from chapters.models import AuditEntry, Chapter
from shop import services
from shop.models import (
    Allowance,
    ChapterOrder,
    ChapterOrderEvent,
    ChapterOrderLine,
    Product,
    PublicOrder,
    PublicOrderLine,
    StockLevel,
    StockMove,
    Variant,
)
from tests.helpers import run_tasks

NotAllowed, InvalidAction, StockShort = services.NotAllowed, services.InvalidAction, services.StockShort
Status = ChapterOrder.Status

# Each action of the order page, who normally takes it, and the call.
ACTIONS = {
    "approve": ("logistics", lambda actor, order: services.chapter_order_approve(actor=actor, order=order)),
    "refuse": (
        "logistics",
        lambda actor, order: services.chapter_order_refuse(actor=actor, order=order, reason="Not this month"),
    ),
    "prepare": ("logistics", lambda actor, order: services.chapter_order_prepare(actor=actor, order=order)),
    "ship": (
        "logistics",
        lambda actor, order: services.chapter_order_ship(actor=actor, order=order, carrier="La Poste"),
    ),
    "receive": ("coordinator", lambda actor, order: services.chapter_order_receive(actor=actor, order=order)),
    "cancel": ("coordinator", lambda actor, order: services.chapter_order_cancel(actor=actor, order=order)),
    "cancel_by_logistics": (
        "logistics",
        lambda actor, order: services.chapter_order_cancel(actor=actor, order=order, reason="Out of print"),
    ),
}

# The workflow: from a status, an action leads to another. Everything else is refused.
WORKFLOW = {
    (Status.REQUESTED, "approve"): Status.APPROVED,
    (Status.REQUESTED, "refuse"): Status.REFUSED,
    (Status.APPROVED, "prepare"): Status.PREPARED,
    (Status.PREPARED, "ship"): Status.SHIPPED,
    (Status.SHIPPED, "receive"): Status.RECEIVED,
    (Status.REQUESTED, "cancel"): Status.CANCELLED,
    (Status.APPROVED, "cancel"): Status.CANCELLED,
    (Status.REQUESTED, "cancel_by_logistics"): Status.CANCELLED,
    (Status.APPROVED, "cancel_by_logistics"): Status.CANCELLED,
    (Status.PREPARED, "cancel_by_logistics"): Status.CANCELLED,
}

# How an order reaches each status, through the services.
PATH_TO = {
    Status.REQUESTED: [],
    Status.APPROVED: ["approve"],
    Status.REFUSED: ["refuse"],
    Status.PREPARED: ["approve", "prepare"],
    Status.SHIPPED: ["approve", "prepare", "ship"],
    Status.RECEIVED: ["approve", "prepare", "ship", "receive"],
    Status.CANCELLED: ["cancel"],
}


def act(catalogue, action, order, person=None):
    default_person, call = ACTIONS[action]
    return call(catalogue.user(person or default_person), order)


def request(catalogue, person="coordinator", lines=None, chapter=None, note=""):
    return services.chapter_order_request(
        actor=catalogue.user(person),
        chapter=chapter or catalogue.tree.lille,
        lines=lines if lines is not None else [(catalogue.poster, 4)],
        note=note,
    )


def order_in(catalogue, status, lines=None):
    order = request(catalogue, lines=lines)
    for action in PATH_TO[status]:
        order = act(catalogue, action, order)
    order.refresh_from_db()
    assert order.status == status
    return order


def snapshot(order):
    """Everything an action could change."""
    order = ChapterOrder.objects.get(pk=order.pk)
    return {
        "order": (order.status, order.updated, order.refusal_reason, order.cancellation_reason, order.carrier),
        "events": list(order.events.values_list("pk", flat=True)),
        "moves": list(StockMove.objects.order_by("pk").values_list("pk", flat=True)),
        "levels": sorted(StockLevel.objects.values_list("variant_id", "location_id", "on_hand", "reserved")),
        "audit": AuditEntry.objects.count(),
    }


def chapter_count():
    return (ChapterOrder.objects.count(), ChapterOrderLine.objects.count(), AuditEntry.objects.count())


# The state machine ---------------------------------------------------------------------------------


@pytest.mark.parametrize("action", list(services.TRANSITIONS))
@pytest.mark.parametrize("status", Status.values)
def test_every_action_from_every_status(catalogue, status, action):
    with schema_context("alpha"):
        order = order_in(catalogue, status)
        before = snapshot(order)
        target = WORKFLOW.get((status, action))
        if target is None:
            with pytest.raises(InvalidAction, match="cannot be"):
                act(catalogue, action, order)
            assert snapshot(order) == before, "a refused action changes nothing"
            return

        result = act(catalogue, action, order)
        assert result.status == target
        order.refresh_from_db()
        assert order.status == target
        event = order.events.order_by("pk").last()
        assert (event.status, event.actor) == (target, catalogue.user(ACTIONS[action][0]))
        new_moves = list(StockMove.objects.exclude(pk__in=before["moves"]).order_by("pk"))
        expected_kind = {"approve": "reservation", "ship": "shipment", "receive": "receipt"}.get(action)
        if action.startswith("cancel") and status != Status.REQUESTED:
            expected_kind = "release"  # the stock was set aside: it returns
        assert [(move.kind, move.quantity, move.chapter_order_id) for move in new_moves] == (
            [(expected_kind, 4, order.pk)] if expected_kind else []
        )
        catalogue.check_ledger()


def test_the_workflow_table_of_the_services_is_the_documented_one():
    from_services = {
        (source, action): target
        for action, (sources, target, _capability) in services.TRANSITIONS.items()
        for source in sources
    }
    assert from_services == WORKFLOW


# Who may do what -----------------------------------------------------------------------------------

MAY_ORDER_FOR_LILLE = {
    "coordinator": True,
    "parent_coordinator": True,
    "organiser": True,
    "sibling_coordinator": False,
    "child_coordinator": False,
    "lille_member": False,
    "other_chapter_member": False,
    "logistics": False,
}


@pytest.mark.parametrize(("person", "allowed"), MAY_ORDER_FOR_LILLE.items())
def test_who_may_order_for_lille(catalogue, person, allowed):
    with schema_context("alpha"):
        before = chapter_count()
        if not allowed:
            with pytest.raises(NotAllowed):
                request(catalogue, person)
            assert chapter_count() == before
            return
        order = request(catalogue, person, note="  for the market  ")
        assert (order.chapter, order.requested_by, order.status) == (
            catalogue.tree.lille,
            catalogue.user(person),
            "requested",
        )
        assert (order.total, order.units, order.note) == (4 * 250, 4, "for the market")
        assert order.source == catalogue.warehouse


MAY_RUN_ORDERS = {
    "logistics": True,
    "organiser": True,
    "coordinator": False,
    "parent_coordinator": False,
    "sibling_coordinator": False,
    "lille_member": False,
}


@pytest.mark.parametrize(("person", "allowed"), MAY_RUN_ORDERS.items())
def test_who_may_approve_refuse_prepare_and_ship(catalogue, person, allowed):
    with schema_context("alpha"):
        steps = [
            (Status.REQUESTED, "refuse"),
            (Status.REQUESTED, "approve"),
            (Status.APPROVED, "prepare"),
            (Status.PREPARED, "ship"),
        ]
        for status, action in steps:
            order = order_in(catalogue, status)
            before = snapshot(order)
            if allowed:
                assert act(catalogue, action, order, person).status == WORKFLOW[status, action]
            else:
                with pytest.raises(NotAllowed):
                    act(catalogue, action, order, person)
                assert snapshot(order) == before


MAY_RECEIVE = {
    "coordinator": True,
    "parent_coordinator": True,
    "logistics": True,
    "organiser": True,
    "sibling_coordinator": False,
    "child_coordinator": False,
    "lille_member": False,
}


@pytest.mark.parametrize(("person", "allowed"), MAY_RECEIVE.items())
def test_who_may_receive_a_shipped_order(catalogue, person, allowed):
    with schema_context("alpha"):
        order = order_in(catalogue, Status.SHIPPED)
        lille = catalogue.location(catalogue.tree.lille)
        if allowed:
            act(catalogue, "receive", order, person)
            assert catalogue.level(catalogue.poster, lille) == (4, 0)
        else:
            before = snapshot(order)
            with pytest.raises(NotAllowed):
                act(catalogue, "receive", order, person)
            assert snapshot(order) == before


@pytest.mark.parametrize(
    ("person", "status", "outcome"),
    [
        ("coordinator", Status.REQUESTED, "cancelled"),
        ("coordinator", Status.APPROVED, "cancelled"),
        ("coordinator", Status.PREPARED, InvalidAction),
        ("coordinator", Status.SHIPPED, InvalidAction),
        ("parent_coordinator", Status.APPROVED, "cancelled"),
        ("logistics", Status.REQUESTED, "cancelled"),
        ("logistics", Status.PREPARED, "cancelled"),
        ("logistics", Status.SHIPPED, InvalidAction),
        ("organiser", Status.PREPARED, "cancelled"),
        ("sibling_coordinator", Status.REQUESTED, NotAllowed),
        ("child_coordinator", Status.REQUESTED, NotAllowed),
        ("lille_member", Status.REQUESTED, NotAllowed),
    ],
)
def test_who_may_cancel_and_until_when(catalogue, person, status, outcome):
    with schema_context("alpha"):
        order = order_in(catalogue, status)
        before = snapshot(order)
        if outcome == "cancelled":
            cancelled = services.chapter_order_cancel(
                actor=catalogue.user(person), order=order, reason=" changed plans "
            )
            assert (cancelled.status, cancelled.cancellation_reason) == ("cancelled", "changed plans")
            assert catalogue.level(catalogue.poster, catalogue.warehouse) == (100, 0), "nothing stays set aside"
        else:
            with pytest.raises(outcome):
                services.chapter_order_cancel(actor=catalogue.user(person), order=order)
            assert snapshot(order) == before


class Undo(Exception):
    pass


SERVICES = {
    "approve": lambda actor, order: services.chapter_order_approve(actor=actor, order=order),
    "refuse": lambda actor, order: services.chapter_order_refuse(actor=actor, order=order, reason="no"),
    "prepare": lambda actor, order: services.chapter_order_prepare(actor=actor, order=order),
    "ship": lambda actor, order: services.chapter_order_ship(actor=actor, order=order, carrier="Hand delivery"),
    "receive": lambda actor, order: services.chapter_order_receive(actor=actor, order=order),
    "cancel": lambda actor, order: services.chapter_order_cancel(actor=actor, order=order),
}


def permitted(user, order):
    """What the services let the user do to the order now, each tried and rolled back."""
    allowed = set()
    for name, call in SERVICES.items():
        try:
            with transaction.atomic():
                call(user, order)
                raise Undo
        except Undo:
            allowed.add(name)
        except (NotAllowed, InvalidAction):
            pass
    return allowed


def test_the_buttons_shown_are_exactly_what_the_services_allow(catalogue):
    with schema_context("alpha"):
        orders = {status: order_in(catalogue, status, lines=[(catalogue.poster, 2)]) for status in Status.values}
        seen = {}
        for person in [
            "organiser",
            "logistics",
            "coordinator",
            "parent_coordinator",
            "sibling_coordinator",
            "child_coordinator",
            "lille_member",
            "other_chapter_member",
        ]:
            user = catalogue.user(person)
            for status, order in orders.items():
                shown = services.chapter_order_actions(user, order)
                names = {"cancel" if action == "cancel_by_logistics" else action for action in shown}
                assert len(names) == len(shown), "one button per service"
                assert names == permitted(user, order), f"{person} on a {status} order"
                seen[person, status] = names
        for status in Status.values:
            assert snapshot(orders[status])["order"][0] == status, "every try was rolled back"
        assert seen["coordinator", "approved"] == {"cancel"}
        assert seen["coordinator", "prepared"] == set()
        assert seen["logistics", "requested"] == {"approve", "refuse", "cancel"}
        assert seen["logistics", "shipped"] == {"receive"}
        assert seen["organiser", "shipped"] == {"receive"}
        assert all(
            not seen[person, status] for person, status in seen if person in {"sibling_coordinator", "lille_member"}
        )


# Across organisations --------------------------------------------------------------------------------


def test_an_order_of_alpha_does_not_exist_for_beta(catalogue, beta, django_capture_on_commit_callbacks):
    with schema_context("alpha"):
        with django_capture_on_commit_callbacks(execute=True):
            order = request(catalogue)
        before = snapshot(order)
        alpha_addresses = set(User.objects.values_list("email", flat=True))
    run_tasks()
    recipients = {address for message in mail.outbox for address in message.to}
    assert recipients
    assert recipients <= alpha_addresses
    assert "founder@beta.example" not in recipients

    with schema_context("beta"):
        assert not ChapterOrder.objects.filter(reference=order.reference).exists()
        assert not StockMove.objects.exists()
        beta_organiser = User.objects.get(email="founder@beta.example")
        for action in ["approve", "refuse", "cancel"]:
            with pytest.raises(NotAllowed):
                SERVICES[action](beta_organiser, order)
    with schema_context("alpha"):
        assert snapshot(order) == before


# What each step does -------------------------------------------------------------------------------


def test_approval_sets_stock_aside_and_shipping_and_receiving_move_it(catalogue):
    with schema_context("alpha"):
        poster, leaflets, warehouse = catalogue.poster, catalogue.leaflets, catalogue.warehouse
        lille = catalogue.location(catalogue.tree.lille)
        order = request(catalogue, lines=[(poster, 10), (leaflets, 2)])
        assert catalogue.level(poster, warehouse) == (100, 0), "a request sets nothing aside"
        act(catalogue, "approve", order)
        assert (catalogue.level(poster, warehouse), catalogue.level(leaflets, warehouse)) == ((100, 10), (30, 2))
        act(catalogue, "prepare", order)
        shipped = services.chapter_order_ship(
            actor=catalogue.logistics, order=order, carrier=" Colissimo ", tracking_reference=" 6A123 "
        )
        assert (shipped.carrier, shipped.tracking_reference) == ("Colissimo", "6A123")
        assert (catalogue.level(poster, warehouse), catalogue.level(leaflets, warehouse)) == ((90, 0), (28, 0))
        assert catalogue.level(poster, lille) == (0, 0)
        act(catalogue, "receive", order)
        assert (catalogue.level(poster, lille), catalogue.level(leaflets, lille)) == ((10, 0), (2, 0))
        catalogue.check_ledger()


def test_approval_without_enough_stock_says_what_is_missing_and_leaves_the_order_requested(catalogue):
    with schema_context("alpha"):
        tshirt = catalogue.tshirt_s
        first = request(catalogue, lines=[(tshirt, 15)])
        act(catalogue, "approve", first)
        second = request(catalogue, person="sibling_coordinator", chapter=catalogue.tree.roubaix, lines=[(tshirt, 8)])
        before = snapshot(second)
        with pytest.raises(StockShort) as error:
            act(catalogue, "approve", second)
        assert error.value.messages == ["Not enough stock: T-shirt S (5 available)."]
        assert snapshot(second) == before
        assert catalogue.level(tshirt, catalogue.warehouse) == (20, 15)
        services.stock_receive(actor=catalogue.logistics, variant=tshirt, location=catalogue.warehouse, quantity=3)
        assert act(catalogue, "approve", second).status == "approved", "once the stock is there it goes through"


def test_cancelling_an_approved_order_returns_its_stock(catalogue):
    with schema_context("alpha"):
        order = order_in(catalogue, Status.APPROVED, lines=[(catalogue.poster, 30), (catalogue.tshirt_m, 5)])
        assert catalogue.level(catalogue.tshirt_m, catalogue.warehouse) == (20, 5)
        act(catalogue, "cancel", order)
        assert catalogue.level(catalogue.poster, catalogue.warehouse) == (100, 0)
        assert catalogue.level(catalogue.tshirt_m, catalogue.warehouse) == (20, 0)
        releases = StockMove.objects.filter(chapter_order=order, kind="release")
        assert sorted(releases.values_list("quantity", flat=True)) == [5, 30]


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_refusal_needs_a_reason(catalogue, reason):
    with schema_context("alpha"):
        order = request(catalogue)
        before = snapshot(order)
        with pytest.raises(InvalidAction, match="Say why"):
            services.chapter_order_refuse(actor=catalogue.logistics, order=order, reason=reason)
        assert snapshot(order) == before
        refused = services.chapter_order_refuse(actor=catalogue.logistics, order=order, reason=" Budget spent ")
        assert (refused.status, refused.refusal_reason) == ("refused", "Budget spent")


def test_shipping_needs_a_carrier(catalogue):
    with schema_context("alpha"):
        order = order_in(catalogue, Status.PREPARED)
        before = snapshot(order)
        with pytest.raises(InvalidAction, match="carrier"):
            services.chapter_order_ship(actor=catalogue.logistics, order=order, carrier="  ")
        assert snapshot(order) == before


# Allowances ----------------------------------------------------------------------------------------


def allowance(catalogue, *, budget=None, units=None, starts=None, ends=None, chapter=None):
    today = timezone.localdate()
    return services.allowance_save(
        actor=catalogue.logistics,
        chapter=chapter or catalogue.tree.lille,
        starts=starts or today - datetime.timedelta(days=10),
        ends=ends or today + datetime.timedelta(days=20),
        budget=budget,
        units=units,
    )


def test_an_order_cannot_go_over_the_chapters_budget(catalogue):
    with schema_context("alpha"):
        allowance(catalogue, budget=1000)  # 10.00 EUR: four posters
        request(catalogue, lines=[(catalogue.poster, 3)])
        before = chapter_count()
        with pytest.raises(InvalidAction) as error:
            request(catalogue, lines=[(catalogue.poster, 2)])
        assert error.value.messages == ["This order (5.00 EUR) goes over the chapter's remaining budget (2.50 EUR)."]
        assert chapter_count() == before
        request(catalogue, person="parent_coordinator", lines=[(catalogue.poster, 1)])  # exactly what is left
        with pytest.raises(InvalidAction, match=r"remaining budget \(0\.00 EUR\)"):
            request(catalogue, lines=[(catalogue.poster, 1)])
        other = request(
            catalogue, person="sibling_coordinator", chapter=catalogue.tree.roubaix, lines=[(catalogue.poster, 9)]
        )
        assert other.total == 2250, "another chapter's allowance is its own"


def test_an_order_cannot_go_over_the_chapters_units(catalogue):
    with schema_context("alpha"):
        allowance(catalogue, units=5)
        request(catalogue, lines=[(catalogue.poster, 3), (catalogue.leaflets, 1)])
        with pytest.raises(InvalidAction) as error:
            request(catalogue, lines=[(catalogue.leaflets, 2)])
        assert error.value.messages == ["This order (2 units) goes over the chapter's remaining quota (1 units)."]
        assert request(catalogue, lines=[(catalogue.leaflets, 1)]).units == 1


def test_a_budget_and_units_together_both_hold(catalogue):
    with schema_context("alpha"):
        allowance(catalogue, budget=100_000, units=3)
        with pytest.raises(InvalidAction, match="quota"):
            request(catalogue, lines=[(catalogue.poster, 4)])
        allowance_row = Allowance.objects.get()
        allowance_row.units, allowance_row.budget = 100, 2000
        allowance_row.save()
        with pytest.raises(InvalidAction, match="budget"):
            request(catalogue, lines=[(catalogue.leaflets, 1), (catalogue.poster, 1)])


def test_refused_and_cancelled_orders_stop_counting(catalogue):
    with schema_context("alpha"):
        allowance(catalogue, units=5)
        first = request(catalogue, lines=[(catalogue.poster, 5)])
        with pytest.raises(InvalidAction):
            request(catalogue, lines=[(catalogue.poster, 1)])
        act(catalogue, "refuse", first)
        second = request(catalogue, lines=[(catalogue.poster, 5)])
        act(catalogue, "approve", second)
        with pytest.raises(InvalidAction):
            request(catalogue, lines=[(catalogue.poster, 1)])
        act(catalogue, "cancel", second)
        third = request(catalogue, lines=[(catalogue.poster, 5)])
        for action in ["approve", "prepare", "ship", "receive"]:
            act(catalogue, action, third)
        with pytest.raises(InvalidAction, match="quota"):
            request(catalogue, lines=[(catalogue.poster, 1)])  # a received order still counts


def test_only_orders_of_the_allowance_period_count(catalogue):
    with schema_context("alpha"):
        today = timezone.localdate()
        allowance(
            catalogue, units=5, starts=today - datetime.timedelta(days=3), ends=today + datetime.timedelta(days=3)
        )
        old = request(catalogue, lines=[(catalogue.poster, 5)])
        ChapterOrder.objects.filter(pk=old.pk).update(created=timezone.now() - datetime.timedelta(days=4))
        assert request(catalogue, lines=[(catalogue.poster, 5)]).units == 5, "last week's order is another period's"
        with pytest.raises(InvalidAction):
            request(catalogue, lines=[(catalogue.poster, 1)])


def test_without_an_allowance_for_today_there_is_no_limit(catalogue):
    with schema_context("alpha"):
        today = timezone.localdate()
        allowance(
            catalogue, units=1, starts=today - datetime.timedelta(days=30), ends=today - datetime.timedelta(days=1)
        )
        allowance(
            catalogue, units=1, starts=today + datetime.timedelta(days=1), ends=today + datetime.timedelta(days=30)
        )
        big = request(catalogue, lines=[(catalogue.leaflets, 5000), (catalogue.poster, 50)])
        assert (big.units, big.total) == (5050, 5000 * 2000 + 50 * 250)


# Catalogue rules -----------------------------------------------------------------------------------


BAD_LINES = {
    "empty": lambda c: [],
    "zero": lambda c: [(c.poster, 0)],
    "negative": lambda c: [(c.poster, -2)],
    "huge": lambda c: [(c.leaflets, 10**9)],
    "huge-once-merged": lambda c: [(c.leaflets, services.MAX_LINE_QUANTITY), (c.leaflets, 1)],
    "fraction": lambda c: [(c.poster, 2.5)],
    "text": lambda c: [(c.poster, "3")],
    "boolean": lambda c: [(c.poster, True)],
    "over-the-product-maximum": lambda c: [(c.poster, 51)],
    "over-the-maximum-once-merged": lambda c: [(c.poster, 30), (c.poster, 21)],
    "public-only-product": lambda c: [(c.badge, 1)],
    "one-bad-line-among-good-ones": lambda c: [(c.leaflets, 1), (c.badge, 1)],
}


@pytest.mark.parametrize("case", BAD_LINES)
def test_an_order_outside_the_catalogue_rules_is_refused_whole(catalogue, case):
    with schema_context("alpha"):
        before = chapter_count()
        with pytest.raises(InvalidAction):
            request(catalogue, lines=BAD_LINES[case](catalogue))
        assert chapter_count() == before


@pytest.mark.parametrize("what", ["product", "variant", "not-orderable"])
def test_what_is_withdrawn_cannot_be_ordered(catalogue, what):
    with schema_context("alpha"):
        if what == "product":
            Product.objects.filter(pk=catalogue.poster.product_id).update(active=False)
        elif what == "variant":
            Variant.objects.filter(pk=catalogue.poster.pk).update(active=False)
        else:
            Product.objects.filter(pk=catalogue.poster.product_id).update(chapter_orderable=False)
        poster = Variant.objects.select_related("product").get(pk=catalogue.poster.pk)
        before = chapter_count()
        with pytest.raises(InvalidAction):
            request(catalogue, lines=[(poster, 1)])
        assert chapter_count() == before


def test_the_same_variant_on_two_lines_makes_one_line_up_to_the_maximum(catalogue):
    with schema_context("alpha"):
        order = request(catalogue, lines=[(catalogue.poster, 30), (catalogue.poster, 20), (catalogue.leaflets, 1)])
        assert sorted(order.lines.values_list("variant_id", "quantity", "unit_price")) == sorted(
            [(catalogue.poster.pk, 50, 250), (catalogue.leaflets.pk, 1, 2000)]
        )
        assert (order.total, order.units) == (50 * 250 + 2000, 51)


def test_an_archived_chapter_cannot_order(catalogue):
    with schema_context("alpha"):
        chapter_services.chapter_archive(actor=catalogue.user("organiser"), chapter=catalogue.tree.lille)
        catalogue.tree.lille.refresh_from_db()
        before = chapter_count()
        with pytest.raises(InvalidAction, match="archived"):
            request(catalogue)
        assert chapter_count() == before


# Audit and mail ------------------------------------------------------------------------------------


def test_each_step_is_audited_and_mailed_to_the_other_side(catalogue, django_capture_on_commit_callbacks):
    """The request goes to who runs orders for Lille (the national organiser and logistics); the
    steps after it go to who ordered and Lille's own coordinators; the receipt to both sides."""
    founder, logistics = "founder@alpha.example", "logistics@alpha.example"
    requester, lille = "parent_coordinator@alpha.example", "coordinator@alpha.example"

    def step(action, call):
        mail.outbox.clear()
        with schema_context("alpha"), django_capture_on_commit_callbacks(execute=True):
            audits = AuditEntry.objects.count()
            order = call()
            entries = list(AuditEntry.objects.order_by("pk")[audits:])
            assert [(e.action, e.chapter, e.details["order"]) for e in entries] == [
                (f"shop.chapter_order_{action}", catalogue.tree.lille, order.reference)
            ]
            assert entries[0].actor == order.events.order_by("pk").last().actor
        run_tasks()
        assert len(mail.outbox) == 1, action
        assert order.reference in mail.outbox[0].subject
        return order, set(mail.outbox[0].to)

    order, to = step("request", lambda: request(catalogue, "parent_coordinator"))
    assert to == {founder, logistics}
    order, to = step("approve", lambda: act(catalogue, "approve", order))
    assert to == {requester, lille}
    order, to = step("prepare", lambda: act(catalogue, "prepare", order))
    assert to == {requester, lille}
    order, to = step("ship", lambda: act(catalogue, "ship", order))
    assert to == {requester, lille}
    order, to = step("receive", lambda: act(catalogue, "receive", order))
    assert to == {founder, logistics, requester, lille}

    other, to = step("request", lambda: request(catalogue))
    other, to = step("refuse", lambda: act(catalogue, "refuse", other))
    assert to == {lille}, "the requester is Lille's coordinator"
    assert "Not this month" in mail.outbox[0].body
    with schema_context("alpha"):
        history = list(order.events.order_by("pk").values_list("status", flat=True))
    assert history == ["requested", "approved", "prepared", "shipped", "received"]


def test_nothing_is_mailed_or_audited_when_a_step_fails(catalogue, django_capture_on_commit_callbacks):
    with schema_context("alpha"):
        order = request(catalogue, lines=[(catalogue.tshirt_s, 20)])
        act(catalogue, "approve", request(catalogue, lines=[(catalogue.tshirt_s, 1)]))
        audits = AuditEntry.objects.count()
        with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(StockShort):
            act(catalogue, "approve", order)
        assert callbacks == []
        assert AuditEntry.objects.count() == audits
        assert ChapterOrderEvent.objects.filter(order=order).count() == 1


# Public orders -------------------------------------------------------------------------------------


def place(catalogue, lines=None, *, chapter=None, email="jeanne@example.org", **extra):
    return services.public_order_place(
        lines=lines if lines is not None else [(catalogue.tshirt_s, 2), (catalogue.badge, 3)],
        payment=extra.pop("payment", "collect"),
        collect_chapter=extra.pop("collect_chapter", chapter or catalogue.tree.lille),
        full_name=extra.pop("full_name", " Jeanne Dupont "),
        email=email,
        **extra,
    )


def public_snapshot(order):
    order = PublicOrder.objects.get(pk=order.pk)
    return (
        order.status,
        order.paid,
        list(StockMove.objects.order_by("pk").values_list("pk", flat=True)),
        sorted(StockLevel.objects.values_list("variant_id", "location_id", "on_hand", "reserved")),
    )


def test_a_collect_order_sets_stock_aside_until_it_is_handed_over(catalogue, django_capture_on_commit_callbacks):
    with schema_context("alpha"):
        warehouse, tshirt, badge = catalogue.warehouse, catalogue.tshirt_s, catalogue.badge
        with django_capture_on_commit_callbacks(execute=True):
            order = place(catalogue, address=" 1 rue de la Paix ")
        assert (order.status, order.payment, order.collect_chapter) == ("to_collect", "collect", catalogue.tree.lille)
        assert (order.full_name, order.total, order.currency, order.paid) == (
            "Jeanne Dupont",
            2 * 1500 + 3 * 300,
            "EUR",
            None,
        )
        assert (catalogue.level(tshirt, warehouse), catalogue.level(badge, warehouse)) == ((20, 2), (50, 3))
        assert sorted(order.moves.values_list("kind", "quantity")) == [("reservation", 2), ("reservation", 3)]

        fulfilled = services.public_order_fulfil(actor=catalogue.logistics, order=order)
        assert fulfilled.status == "fulfilled"
        assert fulfilled.paid is not None, "paid at the chapter, on collection"
        assert (catalogue.level(tshirt, warehouse), catalogue.level(badge, warehouse)) == ((18, 0), (47, 0))
        entry = AuditEntry.objects.order_by("pk").last()
        assert (entry.action, entry.actor, entry.details["order"]) == (
            "shop.public_order_fulfil",
            catalogue.logistics,
            order.reference,
        )
        before = public_snapshot(order)
        with pytest.raises(InvalidAction):
            services.public_order_fulfil(actor=catalogue.logistics, order=order)
        with pytest.raises(InvalidAction):
            services.public_order_cancel(actor=catalogue.logistics, order=order)
        assert public_snapshot(order) == before
        catalogue.check_ledger()
    run_tasks()
    assert [message.to for message in mail.outbox] == [["jeanne@example.org"]]


def test_cancelling_a_collect_order_returns_its_stock(catalogue):
    with schema_context("alpha"):
        order = place(catalogue)
        cancelled = services.public_order_cancel(actor=catalogue.logistics, order=order, reason="never came")
        assert cancelled.status == "cancelled"
        assert catalogue.level(catalogue.tshirt_s, catalogue.warehouse) == (20, 0)
        assert catalogue.level(catalogue.badge, catalogue.warehouse) == (50, 0)
        assert AuditEntry.objects.order_by("pk").last().action == "shop.public_order_cancel"
        before = public_snapshot(order)
        with pytest.raises(InvalidAction):
            services.public_order_cancel(actor=catalogue.logistics, order=order)
        with pytest.raises(InvalidAction):
            services.public_order_fulfil(actor=catalogue.logistics, order=order)
        assert public_snapshot(order) == before


MAY_HAND_OVER_IN_LILLE = {
    "coordinator": True,
    "parent_coordinator": True,
    "logistics": True,
    "organiser": True,
    "sibling_coordinator": False,
    "child_coordinator": False,
    "lille_member": False,
}


@pytest.mark.parametrize(("person", "allowed"), MAY_HAND_OVER_IN_LILLE.items())
def test_who_may_hand_over_an_order_collected_in_lille(catalogue, person, allowed):
    with schema_context("alpha"):
        order = place(catalogue)
        before = public_snapshot(order)
        if allowed:
            assert services.public_order_fulfil(actor=catalogue.user(person), order=order).status == "fulfilled"
        else:
            with pytest.raises(NotAllowed):
                services.public_order_fulfil(actor=catalogue.user(person), order=order)
            assert public_snapshot(order) == before


@pytest.mark.parametrize(("person", "allowed"), MAY_HAND_OVER_IN_LILLE.items())
def test_who_may_cancel_an_order_to_collect_in_lille(catalogue, person, allowed):
    """Logistics, or the collecting chapter's coordinators when the buyer never came."""
    with schema_context("alpha"):
        order = place(catalogue)
        before = public_snapshot(order)
        if allowed:
            assert services.public_order_cancel(actor=catalogue.user(person), order=order).status == "cancelled"
            assert catalogue.level(catalogue.badge, catalogue.warehouse) == (50, 0)
        else:
            with pytest.raises(NotAllowed):
                services.public_order_cancel(actor=catalogue.user(person), order=order)
            assert public_snapshot(order) == before


@pytest.mark.parametrize(
    "case",
    ["not-public", "inactive", "empty", "zero", "huge", "no-chapter", "archived-chapter", "card-not-offered"],
)
def test_a_public_order_outside_the_rules_is_refused_whole(catalogue, case):
    with schema_context("alpha"):
        lines, extra, chapter = None, {}, catalogue.tree.lille
        if case == "not-public":
            lines = [(catalogue.tshirt_s, 1), (catalogue.poster, 1)]
        elif case == "inactive":
            Variant.objects.filter(pk=catalogue.tshirt_m.pk).update(active=False)
            lines = [(Variant.objects.select_related("product").get(pk=catalogue.tshirt_m.pk), 1)]
        elif case == "empty":
            lines = []
        elif case == "zero":
            lines = [(catalogue.badge, 0)]
        elif case == "huge":
            lines = [(catalogue.badge, services.MAX_LINE_QUANTITY + 1)]
        elif case == "archived-chapter":
            chapter_services.chapter_archive(actor=catalogue.user("organiser"), chapter=catalogue.tree.roubaix)
            chapter = Chapter.objects.get(pk=catalogue.tree.roubaix.pk)
        elif case == "card-not-offered":
            extra = {"payment": "stripe", "address": "1 rue de la Paix"}
        count = (PublicOrder.objects.count(), PublicOrderLine.objects.count(), StockMove.objects.count())
        if case == "no-chapter":
            chapter, extra = None, {"collect_chapter": None}
        with pytest.raises(InvalidAction):
            place(catalogue, lines, chapter=chapter, **extra)
        assert (PublicOrder.objects.count(), PublicOrderLine.objects.count(), StockMove.objects.count()) == count


def test_the_cart_keeps_only_what_is_on_sale_in_sensible_quantities(catalogue):
    with schema_context("alpha"):
        withdrawn = catalogue.product(name="Old mug", slug="old-mug", price=800, public=True)
        Product.objects.filter(pk=withdrawn.product_id).update(active=False)
        cart = {
            str(catalogue.tshirt_m.pk): 2,
            str(catalogue.badge.pk): "3",
            str(catalogue.tshirt_s.pk): 0,
            str(catalogue.poster.pk): 1,  # chapters only
            str(withdrawn.pk): 1,
            "999999": 1,
            "abc": 1,
            "1; DROP TABLE": 1,
            str(catalogue.leaflets.pk): -4,
            str(catalogue.tshirt_s.pk + 100_000): 1,
        }
        lines = services.cart_lines(cart)
        assert [(variant.pk, quantity) for variant, quantity in lines] == sorted(
            [(catalogue.tshirt_m.pk, 2), (catalogue.badge.pk, 3)]
        )
        for quantity in [None, "x", services.MAX_LINE_QUANTITY + 1, -1, [1]]:
            assert services.cart_lines({str(catalogue.badge.pk): quantity}) == []
        assert services.cart_lines(None) == []


# Personal data -------------------------------------------------------------------------------------


def test_personal_data_lists_ones_orders_and_erasure_forgets_the_buyer(catalogue):
    with schema_context("alpha"):
        member = catalogue.user("lille_member")
        mine = [
            place(catalogue, [(catalogue.badge, 1)], email="Lille_Member@Alpha.example", address="3 rue Nationale"),
            place(catalogue, [(catalogue.badge, 2)], email=member.email),
        ]
        stranger = place(catalogue, [(catalogue.badge, 1)], email="someone@example.org", address="9 quai")
        requested = request(catalogue, "coordinator")

        data = services.personal_data(member)
        assert sorted(row["reference"] for row in data["public_orders"]) == sorted(o.reference for o in mine)
        assert {row["address"] for row in data["public_orders"]} == {"3 rue Nationale", ""}
        assert data["chapter_orders_requested"] == []
        assert services.personal_data(catalogue.user("coordinator"))["chapter_orders_requested"] == [
            requested.reference
        ]
        assert "shop" in chapter_services.personal_data(member), "part of the whole download"

        chapter_services.account_erase(user=member)
        for order in mine:
            order.refresh_from_db()
            assert (order.full_name, order.email, order.address) == ("—", "erased@invalid", "")
            assert order.status == "to_collect", "the order itself stays: it is an accounting record"
        stranger.refresh_from_db()
        assert (stranger.full_name, stranger.email, stranger.address) == (
            "Jeanne Dupont",
            "someone@example.org",
            "9 quai",
        )
        assert services.personal_data(User.objects.get(pk=member.pk))["public_orders"] == []
