"""The stock ledger: every move changes the levels as documented, nothing goes negative, moves are
never rewritten, who may move what, and buyers racing on real parallel connections never oversell."""

import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from chapters import services as chapter_services
from chapters.models import AuditEntry, Chapter
from shop import services
from shop.models import ChapterOrder, Product, PublicOrder, ShopSettings, StockLevel, StockMove, Variant
from tests.helpers import race

NotAllowed, InvalidAction, StockShort = services.NotAllowed, services.InvalidAction, services.StockShort


def moves_count():
    return StockMove.objects.count()


# The ledger ----------------------------------------------------------------------------------------


def test_each_kind_of_move_changes_the_levels_as_its_ledger_line_says(catalogue):
    with schema_context("alpha"):
        logistics, coordinator = catalogue.logistics, catalogue.user("coordinator")
        tree, warehouse, poster = catalogue.tree, catalogue.warehouse, catalogue.poster
        lille, roubaix = catalogue.location(tree.lille), catalogue.location(tree.roubaix)
        assert catalogue.level(poster, warehouse) == (100, 0)
        catalogue.check_ledger()

        def last_move():
            return StockMove.objects.order_by("-pk").first()

        services.stock_receive(actor=logistics, variant=poster, location=warehouse, quantity=12, reason="reprint")
        move = last_move()
        assert (move.kind, move.quantity, move.from_location, move.to_location) == ("receipt", 12, None, warehouse)
        assert (move.reason, move.actor) == ("reprint", logistics)
        assert catalogue.level(poster, warehouse) == (112, 0)
        catalogue.check_ledger()

        order = services.chapter_order_request(actor=coordinator, chapter=tree.lille, lines=[(poster, 7)])
        services.chapter_order_approve(actor=logistics, order=order)
        move = last_move()
        assert (move.kind, move.quantity, move.from_location, move.to_location) == ("reservation", 7, warehouse, None)
        assert move.chapter_order == order
        assert catalogue.level(poster, warehouse) == (112, 7), "a reservation promises stock, it does not move it"
        catalogue.check_ledger()

        services.chapter_order_cancel(actor=coordinator, order=order, reason="ordered twice")
        move = last_move()
        assert (move.kind, move.quantity, move.from_location, move.actor) == ("release", 7, warehouse, coordinator)
        assert catalogue.level(poster, warehouse) == (112, 0)
        catalogue.check_ledger()

        order = services.chapter_order_request(actor=coordinator, chapter=tree.lille, lines=[(poster, 10)])
        services.chapter_order_approve(actor=logistics, order=order)
        services.chapter_order_prepare(actor=logistics, order=order)
        services.chapter_order_ship(actor=logistics, order=order, carrier="La Poste")
        move = last_move()
        assert (move.kind, move.quantity, move.from_location, move.to_location) == ("shipment", 10, warehouse, None)
        assert catalogue.level(poster, warehouse) == (102, 0), "shipped goods leave both on hand and reserved"
        assert catalogue.level(poster, lille) == (0, 0), "in transit: nowhere yet"
        services.chapter_order_receive(actor=coordinator, order=order)
        move = last_move()
        assert (move.kind, move.quantity, move.from_location, move.to_location) == ("receipt", 10, None, lille)
        assert catalogue.level(poster, lille) == (10, 0)
        catalogue.check_ledger()

        services.stock_transfer(actor=coordinator, variant=poster, source=lille, target=roubaix, quantity=4)
        move = last_move()
        assert (move.kind, move.quantity, move.from_location, move.to_location) == ("transfer", 4, lille, roubaix)
        assert (catalogue.level(poster, lille), catalogue.level(poster, roubaix)) == ((6, 0), (4, 0))
        catalogue.check_ledger()

        services.stock_adjust(actor=coordinator, variant=poster, location=lille, delta=-2, reason="torn in the rain")
        move = last_move()
        assert (move.kind, move.quantity, move.from_location, move.to_location) == ("adjustment", 2, lille, None)
        assert move.reason == "torn in the rain"
        services.stock_adjust(actor=logistics, variant=poster, location=warehouse, delta=3, reason="box found")
        move = last_move()
        assert (move.kind, move.quantity, move.from_location, move.to_location) == ("adjustment", 3, None, warehouse)
        assert (catalogue.level(poster, lille), catalogue.level(poster, warehouse)) == ((4, 0), (105, 0))
        catalogue.check_ledger()

        before = (moves_count(), catalogue.level(poster, lille))
        for reason in ["", "   ", None]:
            with pytest.raises(InvalidAction, match="Say why"):
                services.stock_adjust(actor=coordinator, variant=poster, location=lille, delta=-1, reason=reason)
        assert (moves_count(), catalogue.level(poster, lille)) == before, (
            "an adjustment without a reason writes nothing"
        )


def test_the_levels_equal_the_ledger_after_a_mixed_day_of_orders(catalogue):
    with schema_context("alpha"):
        logistics, tree = catalogue.logistics, catalogue.tree
        orders = []
        for person, chapter in [("coordinator", tree.lille), ("sibling_coordinator", tree.roubaix)]:
            orders.append(
                services.chapter_order_request(
                    actor=catalogue.user(person),
                    chapter=chapter,
                    lines=[(catalogue.poster, 5), (catalogue.tshirt_s, 2), (catalogue.leaflets, 3)],
                )
            )
        for order in orders:
            services.chapter_order_approve(actor=logistics, order=order)
        services.chapter_order_prepare(actor=logistics, order=orders[0])
        services.chapter_order_cancel(actor=logistics, order=orders[0])
        services.chapter_order_prepare(actor=logistics, order=orders[1])
        services.chapter_order_ship(actor=logistics, order=orders[1], carrier="Colissimo")
        public = services.public_order_place(
            lines=[(catalogue.tshirt_s, 3), (catalogue.badge, 4)],
            payment="collect",
            collect_chapter=tree.lille,
            full_name="Jeanne",
            email="jeanne@example.org",
        )
        services.public_order_fulfil(actor=logistics, order=public)
        catalogue.check_ledger()
        warehouse = catalogue.warehouse
        assert catalogue.level(catalogue.tshirt_s, warehouse) == (20 - 2 - 3, 0)
        assert catalogue.level(catalogue.badge, warehouse) == (50 - 4, 0)
        assert catalogue.level(catalogue.leaflets, warehouse) == (30 - 3, 0)


# Never negative ------------------------------------------------------------------------------------


def test_reserving_more_than_is_available_fails_and_writes_nothing(catalogue):
    with schema_context("alpha"):
        tree, logistics, tshirt = catalogue.tree, catalogue.logistics, catalogue.tshirt_m
        services.public_order_place(
            lines=[(tshirt, 15)], payment="collect", collect_chapter=tree.lille, full_name="A", email="a@example.org"
        )
        order = services.chapter_order_request(
            actor=catalogue.user("coordinator"), chapter=tree.lille, lines=[(tshirt, 6), (catalogue.poster, 1)]
        )
        before = (
            moves_count(),
            catalogue.level(tshirt, catalogue.warehouse),
            catalogue.level(catalogue.poster, catalogue.warehouse),
        )
        assert before[1] == (20, 15)

        with pytest.raises(StockShort) as short:
            services.chapter_order_approve(actor=logistics, order=order)
        assert "T-shirt M (5 available)" in str(short.value)
        assert "T-shirt S" not in str(short.value)
        assert short.value.short == [("T-shirt M", 6, 5)]
        assert (
            moves_count(),
            catalogue.level(tshirt, catalogue.warehouse),
            catalogue.level(catalogue.poster, catalogue.warehouse),
        ) == before, "the poster line, which fitted, was not reserved either"
        order.refresh_from_db()
        assert order.status == "requested"

        orders = PublicOrder.objects.count()
        with pytest.raises(StockShort):
            services.public_order_place(
                lines=[(tshirt, 6)], payment="collect", collect_chapter=tree.lille, full_name="B", email="b@x.org"
            )
        assert (PublicOrder.objects.count(), moves_count()) == (orders, before[0]), "no order without its stock"


def test_adjusting_below_zero_or_below_the_reserved_stock_is_refused(catalogue):
    with schema_context("alpha"):
        logistics, warehouse, tshirt = catalogue.logistics, catalogue.warehouse, catalogue.tshirt_s
        services.public_order_place(
            lines=[(tshirt, 8)],
            payment="collect",
            collect_chapter=catalogue.tree.lille,
            full_name="A",
            email="a@example.org",
        )
        before = moves_count()
        with pytest.raises(StockShort):
            services.stock_adjust(actor=logistics, variant=tshirt, location=warehouse, delta=-21, reason="count")
        with pytest.raises(StockShort, match="12 available"):
            services.stock_adjust(actor=logistics, variant=tshirt, location=warehouse, delta=-13, reason="count")
        with pytest.raises(StockShort):  # nothing at all in Lille's stock
            services.stock_adjust(
                actor=logistics, variant=tshirt, location=catalogue.location(catalogue.tree.lille), delta=-1, reason="x"
            )
        assert moves_count() == before
        assert catalogue.level(tshirt, warehouse) == (20, 8)

        services.stock_adjust(actor=logistics, variant=tshirt, location=warehouse, delta=-12, reason="stolen")
        assert catalogue.level(tshirt, warehouse) == (8, 8), "exactly what was not promised can go"
        with pytest.raises(StockShort):
            services.stock_transfer(
                actor=logistics,
                variant=tshirt,
                source=warehouse,
                target=catalogue.location(catalogue.tree.lille),
                quantity=1,
            )
        catalogue.check_ledger()


@pytest.mark.parametrize(
    "delta", [0, 1.5, "3", True, None, services.MAX_LINE_QUANTITY + 1, -(services.MAX_LINE_QUANTITY + 1)]
)
def test_an_adjustment_is_a_whole_number_of_units(catalogue, delta):
    with schema_context("alpha"):
        before = moves_count()
        with pytest.raises(InvalidAction):
            services.stock_adjust(
                actor=catalogue.logistics,
                variant=catalogue.poster,
                location=catalogue.warehouse,
                delta=delta,
                reason="x",
            )
        assert moves_count() == before


@pytest.mark.parametrize(
    "change",
    [
        {"on_hand": -1, "reserved": 0},
        {"on_hand": 5, "reserved": -1},
        {"on_hand": 5, "reserved": 6},
        {"on_hand": F("on_hand") - 101, "reserved": 0},
    ],
    ids=["on-hand-negative", "reserved-negative", "reserved-above-stock", "relative-below-zero"],
)
def test_the_database_refuses_a_negative_level_whatever_the_code(catalogue, change):
    with schema_context("alpha"):
        levels = StockLevel.objects.filter(variant=catalogue.poster, location=catalogue.warehouse)
        with pytest.raises(IntegrityError), transaction.atomic():
            levels.update(**change)
        assert catalogue.level(catalogue.poster, catalogue.warehouse) == (100, 0)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "receipt", "quantity": 0, "to": True},
        {"kind": "receipt", "quantity": 1, "from": True},
        {"kind": "receipt", "quantity": 1, "from": True, "to": True},
        {"kind": "reservation", "quantity": 1, "to": True},
        {"kind": "shipment", "quantity": 1},
        {"kind": "transfer", "quantity": 1, "from": True},
        {"kind": "adjustment", "quantity": 1},
        {"kind": "adjustment", "quantity": 1, "from": True, "to": True},
    ],
)
def test_the_database_refuses_a_move_whose_locations_do_not_fit_its_kind(catalogue, fields):
    with schema_context("alpha"):
        warehouse = catalogue.warehouse
        with pytest.raises(IntegrityError), transaction.atomic():
            StockMove.objects.create(
                kind=fields["kind"],
                variant=catalogue.poster,
                quantity=fields["quantity"],
                from_location=warehouse if fields.get("from") else None,
                to_location=warehouse if fields.get("to") else None,
            )


# Append-only ---------------------------------------------------------------------------------------


def test_moves_are_only_ever_added_through_a_whole_order_life_cycle(catalogue):
    with schema_context("alpha"):
        tree, logistics, coordinator = catalogue.tree, catalogue.logistics, catalogue.user("coordinator")

        def snapshot():
            return {move["id"]: move for move in StockMove.objects.values()}

        first = snapshot()
        with CaptureQueriesContext(connection) as queries:
            order = services.chapter_order_request(actor=coordinator, chapter=tree.lille, lines=[(catalogue.poster, 9)])
            services.chapter_order_approve(actor=logistics, order=order)
            services.chapter_order_prepare(actor=logistics, order=order)
            services.chapter_order_ship(actor=logistics, order=order, carrier="Chronopost", tracking_reference="XY1")
            services.chapter_order_receive(actor=coordinator, order=order)
            lille = catalogue.location(tree.lille)
            services.stock_transfer(
                actor=coordinator,
                variant=catalogue.poster,
                source=lille,
                target=catalogue.location(tree.roubaix),
                quantity=2,
            )
            services.stock_adjust(actor=coordinator, variant=catalogue.poster, location=lille, delta=-1, reason="lost")
            cancelled = services.chapter_order_request(
                actor=coordinator, chapter=tree.lille, lines=[(catalogue.poster, 1)]
            )
            services.chapter_order_approve(actor=logistics, order=cancelled)
            services.chapter_order_cancel(actor=logistics, order=cancelled)
            public = services.public_order_place(
                lines=[(catalogue.badge, 2)],
                payment="collect",
                collect_chapter=tree.lille,
                full_name="A",
                email="a@x.org",
            )
            services.public_order_cancel(actor=logistics, order=public)
        rewrites = [
            query["sql"]
            for query in queries.captured_queries
            if query["sql"].lstrip().upper().startswith(("UPDATE", "DELETE")) and '"shop_stockmove"' in query["sql"]
        ]
        assert rewrites == []
        after = snapshot()
        assert {pk: after[pk] for pk in first} == first, "earlier lines unchanged"
        added = [after[pk]["kind"] for pk in sorted(set(after) - set(first))]
        assert added == [
            "reservation",
            "shipment",
            "receipt",
            "transfer",
            "adjustment",
            "reservation",
            "release",
            "reservation",
            "release",
        ]
        catalogue.check_ledger()


# Who may move what ---------------------------------------------------------------------------------


def test_a_coordinator_cannot_receive_or_adjust_national_stock(catalogue):
    with schema_context("alpha"):
        coordinator, warehouse, poster = catalogue.user("coordinator"), catalogue.warehouse, catalogue.poster
        before = moves_count()
        with pytest.raises(NotAllowed):
            services.stock_receive(actor=coordinator, variant=poster, location=warehouse, quantity=5)
        with pytest.raises(NotAllowed):
            services.stock_adjust(actor=coordinator, variant=poster, location=warehouse, delta=5, reason="found")
        with pytest.raises(NotAllowed):
            services.stock_transfer(
                actor=coordinator,
                variant=poster,
                source=warehouse,
                target=catalogue.location(catalogue.tree.lille),
                quantity=5,
            )
        with pytest.raises(NotAllowed):
            services.depot_create(actor=coordinator, name="Garage")
        assert moves_count() == before
        assert catalogue.level(poster, warehouse) == (100, 0)


# person: whether they may adjust and transfer Lille's own stock
LILLE_STOCK = {
    "coordinator": True,
    "parent_coordinator": True,
    "logistics": True,
    "organiser": True,
    "sibling_coordinator": False,
    "child_coordinator": False,
    "lille_member": False,
    "other_chapter_member": False,
}


@pytest.mark.parametrize(("person", "allowed"), LILLE_STOCK.items())
def test_who_may_adjust_and_transfer_a_chapters_own_stock(catalogue, person, allowed):
    with schema_context("alpha"):
        tree, poster = catalogue.tree, catalogue.poster
        lille, roubaix = catalogue.location(tree.lille), catalogue.location(tree.roubaix)
        services.stock_adjust(actor=catalogue.logistics, variant=poster, location=lille, delta=10, reason="start")
        actor = catalogue.user(person)
        attempts = [
            lambda: services.stock_adjust(actor=actor, variant=poster, location=lille, delta=-3, reason="counted"),
            lambda: services.stock_transfer(actor=actor, variant=poster, source=lille, target=roubaix, quantity=2),
        ]
        for attempt in attempts:
            if allowed:
                attempt()
            else:
                with pytest.raises(NotAllowed):
                    attempt()
        expected = ((5, 0), (2, 0)) if allowed else ((10, 0), (0, 0))
        assert (catalogue.level(poster, lille), catalogue.level(poster, roubaix)) == expected
        catalogue.check_ledger()


def test_a_coordinator_cannot_touch_a_sibling_chapters_stock(catalogue):
    with schema_context("alpha"):
        tree, poster, coordinator = catalogue.tree, catalogue.poster, catalogue.user("coordinator")
        lille, roubaix = catalogue.location(tree.lille), catalogue.location(tree.roubaix)
        services.stock_adjust(actor=catalogue.logistics, variant=poster, location=roubaix, delta=10, reason="start")
        before = moves_count()
        with pytest.raises(NotAllowed):
            services.stock_adjust(actor=coordinator, variant=poster, location=roubaix, delta=-10, reason="mine now")
        with pytest.raises(NotAllowed):
            services.stock_transfer(actor=coordinator, variant=poster, source=roubaix, target=lille, quantity=10)
        with pytest.raises(NotAllowed):
            services.stock_receive(actor=coordinator, variant=poster, location=roubaix, quantity=1)
        assert moves_count() == before
        assert (catalogue.level(poster, roubaix), catalogue.level(poster, lille)) == ((10, 0), (0, 0))


def test_a_transfer_to_an_archived_chapter_or_to_itself_is_refused(catalogue):
    with schema_context("alpha"):
        tree, poster, coordinator = catalogue.tree, catalogue.poster, catalogue.user("coordinator")
        lille = catalogue.location(tree.lille)
        services.stock_adjust(actor=coordinator, variant=poster, location=lille, delta=10, reason="start")
        roubaix = catalogue.location(tree.roubaix)
        chapter_services.chapter_archive(actor=catalogue.user("organiser"), chapter=Chapter.objects.get(slug="roubaix"))
        roubaix.chapter.refresh_from_db()
        before = moves_count()
        with pytest.raises(InvalidAction, match="archived"):
            services.stock_transfer(actor=coordinator, variant=poster, source=lille, target=roubaix, quantity=1)
        with pytest.raises(InvalidAction, match="two different"):
            services.stock_transfer(actor=coordinator, variant=poster, source=lille, target=lille, quantity=1)
        assert moves_count() == before
        assert catalogue.level(poster, lille) == (10, 0)


def test_a_transfer_tells_the_receiving_chapter_and_every_stock_change_is_audited(
    catalogue, django_capture_on_commit_callbacks
):
    from django.core import mail

    from tests.helpers import run_tasks

    with schema_context("alpha"):
        tree, poster, logistics = catalogue.tree, catalogue.poster, catalogue.logistics
        audits = AuditEntry.objects.count()
        with django_capture_on_commit_callbacks(execute=True):
            services.stock_transfer(
                actor=logistics,
                variant=poster,
                source=catalogue.warehouse,
                target=catalogue.location(tree.lille),
                quantity=3,
            )
            services.stock_adjust(
                actor=logistics, variant=poster, location=catalogue.warehouse, delta=-1, reason="sample"
            )
        entries = list(AuditEntry.objects.order_by("pk")[audits:].values_list("action", "actor_id", "chapter_id"))
        assert entries == [
            ("shop.stock_transfer", logistics.pk, tree.lille.pk),
            ("shop.stock_adjust", logistics.pk, None),
        ]
    run_tasks()
    assert [message.to for message in mail.outbox] == [["coordinator@alpha.example"]]


# Racing buyers, on real parallel connections ---------------------------------------------------------


class Committed:
    """Catalogue rows committed in alpha for a race, and their removal afterwards."""

    def __init__(self, stock):
        self.started = timezone.now()
        self.tag = uuid.uuid4().hex[:8]
        self.settings_existed = ShopSettings.objects.filter(pk=1).exists()
        self.counts = self._counts()
        self.founder = User.objects.get(email="founder@alpha.example")
        self.national = Chapter.objects.get(slug="national")
        product = Product.objects.create(
            name=f"Race {self.tag}", slug=f"race-{self.tag}", price=500, public=True, chapter_orderable=True
        )
        self.variant = Variant.objects.create(product=product, sku=f"RACE-{self.tag}")
        self.warehouse = services.warehouse()
        services.stock_receive(actor=self.founder, variant=self.variant, location=self.warehouse, quantity=stock)

    def level(self):
        from tests.shop_fixtures import level

        return level(self.variant, self.warehouse)

    def ledger(self):
        """This variant's warehouse line of the ledger, summed from the moves."""
        from tests.shop_fixtures import ledger

        return ledger()[self.variant.pk, self.warehouse.pk]

    @staticmethod
    def _counts():
        return (PublicOrder.objects.count(), ChapterOrder.objects.count(), StockMove.objects.count())

    def remove(self):
        from django_tasks_db.models import DBTaskResult

        moves = StockMove.objects.filter(variant=self.variant)
        public = PublicOrder.objects.filter(lines__variant=self.variant).distinct()
        chapter = ChapterOrder.objects.filter(lines__variant=self.variant).distinct()
        moves.delete()
        PublicOrder.objects.filter(pk__in=list(public.values_list("pk", flat=True))).delete()
        ChapterOrder.objects.filter(pk__in=list(chapter.values_list("pk", flat=True))).delete()
        StockLevel.objects.filter(variant=self.variant).delete()
        product = self.variant.product
        self.variant.delete()
        product.delete()
        AuditEntry.objects.filter(action__startswith="shop.", created__gte=self.started).delete()
        DBTaskResult.objects.filter(task_path__startswith="shop.tasks.", enqueued_at__gte=self.started).delete()
        if not self.settings_existed:
            ShopSettings.objects.filter(pk=1).delete()
        assert self._counts() == self.counts, "the race left nothing behind"


def place(variant_pk, quantity, index):
    def call():
        variant = Variant.objects.select_related("product").get(pk=variant_pk)
        return services.public_order_place(
            lines=[(variant, quantity)],
            payment="collect",
            collect_chapter=Chapter.objects.get(slug="national"),
            full_name=f"Buyer {index}",
            email=f"buyer{index}@example.org",
        )

    return call


def split(results):
    placed = [result for result in results if isinstance(result, (PublicOrder, ChapterOrder))]
    short = [result for result in results if isinstance(result, StockShort)]
    other = [result for result in results if result not in placed and result not in short]
    return placed, short, other


@pytest.mark.parametrize(("quantity", "stock", "buyers"), [(1, 7, 20), (2, 7, 12)])
def test_buyers_racing_for_the_last_units_never_oversell(organisations, django_db_blocker, quantity, stock, buyers):
    with django_db_blocker.unblock(), schema_context("alpha"):
        committed = Committed(stock)
        try:
            pk = committed.variant.pk
            results = race([place(pk, quantity, index) for index in range(buyers)])
            placed, short, other = split(results)
            assert other == [], "every buyer either got the goods or was told the stock is short"
            assert len(placed) == stock // quantity
            assert len(short) == buyers - stock // quantity
            on_hand, reserved = committed.level()
            assert (on_hand, reserved) == (stock, quantity * (stock // quantity))
            orders = PublicOrder.objects.filter(lines__variant_id=pk)
            assert sorted(orders.values_list("pk", flat=True)) == sorted(order.pk for order in placed)
            assert set(orders.values_list("status", flat=True)) == {"to_collect"}
            reservations = StockMove.objects.filter(variant_id=pk, kind="reservation")
            assert sorted(reservations.values_list("public_order_id", flat=True)) == sorted(o.pk for o in placed)
            computed = committed.ledger()
            assert computed == (on_hand, reserved)
        finally:
            committed.remove()


def test_chapter_order_approvals_and_public_orders_race_for_the_same_stock(organisations, django_db_blocker):
    with django_db_blocker.unblock(), schema_context("alpha"):
        committed = Committed(10)
        try:
            pk, founder = committed.variant.pk, committed.founder
            requested = [
                services.chapter_order_request(
                    actor=founder, chapter=committed.national, lines=[(committed.variant, 2)]
                )
                for _ in range(6)
            ]

            def approve(order_pk):
                def call():
                    actor = User.objects.get(pk=founder.pk)
                    return services.chapter_order_approve(actor=actor, order=ChapterOrder.objects.get(pk=order_pk))

                return call

            calls = [approve(order.pk) for order in requested] + [place(pk, 1, index) for index in range(8)]
            results = race(calls)
            placed, short, other = split(results)
            assert other == []
            approved = [result for result in placed if isinstance(result, ChapterOrder)]
            bought = [result for result in placed if isinstance(result, PublicOrder)]
            assert 2 * len(approved) + len(bought) == 10, "demand (20) exceeds stock (10): all of it is promised"
            assert len(short) == 14 - len(placed)
            assert committed.level() == (10, 10)
            statuses = dict(ChapterOrder.objects.filter(pk__in=[o.pk for o in requested]).values_list("pk", "status"))
            assert statuses == {o.pk: "approved" if o in approved else "requested" for o in requested}
            assert committed.ledger() == (10, 10)
        finally:
            committed.remove()
