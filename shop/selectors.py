"""Reads of the shop that take more than a line: what a person may see, stock, orders, reports."""

import datetime
from typing import NamedTuple

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chapters.access import can, can_anywhere, chapters_where
from chapters.models import Chapter
from shop import access, services
from shop.capabilities import ALL, MANAGE_CATALOGUE, MANAGE_ORDERS, MANAGE_PAYMENTS, MANAGE_STOCK, ORDER_FOR_CHAPTER
from shop.models import (
    Allowance,
    ChapterOrder,
    Location,
    Product,
    PublicOrder,
    StockLevel,
    StockMove,
    Variant,
)


def holds_any_shop_capability(user):
    return user.is_authenticated and any(can_anywhere(user, capability) for capability in ALL)


def chapters_to_order_for(user):
    """The active chapters the user may order material for, in tree order."""
    return Chapter.objects.filter(chapters_where(user, ORDER_FOR_CHAPTER), archived__isnull=True).order_by("path")


# Catalogue ----------------------------------------------------------------------------------------


def products():
    return Product.objects.annotate(variant_count=Count("variants")).order_by("kind", "name", "pk")


def orderable_variants():
    """What a chapter may order now, with what the national warehouse has available (0 where it
    holds none), read in the same query."""
    in_warehouse = StockLevel.objects.filter(variant=OuterRef("pk"), location__kind=Location.Kind.WAREHOUSE)
    return list(
        Variant.objects.filter(active=True, product__active=True, product__chapter_orderable=True)
        .select_related("product")
        .annotate(available=Coalesce(Subquery(in_warehouse.values(left=F("on_hand") - F("reserved"))[:1]), 0))
        .order_by("product__kind", "product__name", "pk")
    )


# Stock --------------------------------------------------------------------------------------------


def managed_locations(user):
    """The stock locations the user looks after: every one for national logistics, otherwise the
    stock of the chapters they order for (the same rule as shop.access.handles_stock_of)."""
    if can(user, MANAGE_STOCK):
        return Location.objects.select_related("chapter").order_by("kind", "name")
    return (
        Location.objects.filter(
            kind=Location.Kind.CHAPTER,
            chapter__in=Chapter.objects.filter(chapters_where(user, ORDER_FOR_CHAPTER)),
        )
        .select_related("chapter")
        .order_by("name")
    )


def stock_levels(locations):
    """Levels at these locations, by location then product, the empty ones left out."""
    return (
        StockLevel.objects.filter(location__in=locations)
        .exclude(on_hand=0, reserved=0)
        .select_related("location__chapter", "variant__product")
        .order_by("location__kind", "location__name", "variant__product__name", "variant__pk")
    )


def stock_moves(locations, *, location=None, variant=None):
    """The ledger lines touching these locations, newest first, optionally for one of them or one
    variant."""
    moves = StockMove.objects.filter(Q(from_location__in=locations) | Q(to_location__in=locations))
    if location is not None:
        moves = moves.filter(Q(from_location=location) | Q(to_location=location))
    if variant is not None:
        moves = moves.filter(variant=variant)
    return moves.select_related(
        "variant__product", "from_location", "to_location", "actor", "chapter_order", "public_order"
    ).order_by("-created", "-pk")


def transfer_targets():
    """Chapters stock can be sent to."""
    return Chapter.objects.filter(archived__isnull=True).order_by("path")


# Allowances ---------------------------------------------------------------------------------------


def allowance_with_use(allowance):
    """The allowance, with what its chapter has used and has left (None: no limit of that kind)."""
    if allowance is None:
        return None
    if hasattr(allowance, "use_spent"):  # read with the allowance (allowances())
        use = {"spent": allowance.use_spent, "units": allowance.use_units}
    else:
        use = services.allowance_use(allowance)
    allowance.spent = use["spent"]
    allowance.units_used = use["units"]
    allowance.budget_left = None if allowance.budget is None else max(allowance.budget - use["spent"], 0)
    allowance.units_left = None if allowance.units is None else max(allowance.units - use["units"], 0)
    return allowance


def allowances(*, starts=None, ends=None):
    """Allowances (over the period, when given) with their use, in tree order: what each chapter
    ordered over its allowance's period (services.allowance_use) is read in the same query."""
    rows = Allowance.objects.select_related("chapter").order_by("chapter__path", "-starts")
    if starts is not None:
        rows = rows.filter(ends__gte=starts)
    if ends is not None:
        rows = rows.filter(starts__lte=ends)
    orders = (
        ChapterOrder.objects.filter(
            chapter=OuterRef("chapter"),
            status__in=services.COUNTS_TOWARDS_ALLOWANCE,
            created__date__gte=OuterRef("starts"),
            created__date__lte=OuterRef("ends"),
        )
        .order_by()
        .values("chapter")
    )
    return rows.annotate(
        use_spent=Coalesce(Subquery(orders.annotate(spent=Sum("total")).values("spent")), 0),
        use_units=Coalesce(Subquery(orders.annotate(ordered=Sum("units")).values("ordered")), 0),
    )


def allowance_today(chapter):
    """The chapter's allowance today (services.allowance_for), with its use, in one query."""
    day = timezone.localdate()
    return allowance_with_use(allowances().filter(chapter=chapter, starts__lte=day, ends__gte=day).first())


# Orders -------------------------------------------------------------------------------------------


def chapter_orders(user, *, status="", chapter=None):
    orders = ChapterOrder.objects.filter(chapter__in=Chapter.objects.filter(access.order_chapters(user)))
    if status:
        orders = orders.filter(status=status)
    if chapter is not None:
        orders = orders.filter(chapter=chapter)
    return orders.select_related("chapter", "requested_by").order_by("-created", "-pk")


def public_orders(user, *, status=""):
    orders = PublicOrder.objects.filter(access.public_order_scope(user))
    if status:
        orders = orders.filter(status=status)
    return orders.select_related("collect_chapter").order_by("-created", "-pk")


def public_order_actions(user, order):
    """What the user may do with the order now, by the rules of the shop.services it calls."""
    statuses = PublicOrder.Status
    chapter = order.collect_chapter
    actions = []
    if access.handles_orders_of(user, chapter) and order.status in (statuses.PAID, statuses.TO_COLLECT):
        actions.append("fulfil")
    # The collecting chapter cancels an order whose buyer never came; only logistics a card payment
    # still under way (public_order_cancel).
    if (order.status == statuses.TO_COLLECT and access.handles_orders_of(user, chapter)) or (
        order.status == statuses.PENDING_PAYMENT and can(user, MANAGE_ORDERS, chapter)
    ):
        actions.append("cancel")
    if (
        can(user, MANAGE_ORDERS)
        and order.payment == PublicOrder.Payment.STRIPE
        and order.status in (statuses.PAID, statuses.FULFILLED)
    ):
        actions.append("refund")
    return actions


# Reports ------------------------------------------------------------------------------------------


class Amount(NamedTuple):
    """A report cell in cents: "12.50" in a CSV file, with its currency in the next column."""

    cents: int
    currency: str

    def __str__(self):
        return f"{self.cents // 100}.{self.cents % 100:02d}"


class Month(NamedTuple):
    year: int
    month: int

    def __str__(self):
        return f"{self.year:04d}-{self.month:02d}"


REPORTS = {
    "stock": _("Stock by location"),
    "orders": _("Chapter orders by chapter"),
    "allowances": _("Allowance use"),
    "sales": _("Public sales by month"),
}
DATED_REPORTS = {"orders", "allowances", "sales"}


def this_year(today):
    return datetime.date(today.year, 1, 1), datetime.date(today.year, 12, 31)


def report(name, starts, ends):
    """(column titles, rows) of a report; cells are numbers, text, dates, Amount or Month."""
    return REPORT_BUILDERS[name](starts, ends)


def _report_stock(starts, ends):
    columns = [
        _("Location"),
        _("Kind"),
        _("Product"),
        _("Variant"),
        _("SKU"),
        _("On hand"),
        _("Reserved"),
        _("Available"),
    ]
    rows = [
        [
            str(level.location),
            level.location.get_kind_display(),
            level.variant.product.name,
            level.variant.label,
            level.variant.sku,
            level.on_hand,
            level.reserved,
            level.available,
        ]
        for level in stock_levels(Location.objects.all())
    ]
    return columns, rows


def _report_orders(starts, ends):
    """Chapter orders requested over the period that count (not refused or cancelled)."""
    totals = (
        ChapterOrder.objects.filter(
            status__in=services.COUNTS_TOWARDS_ALLOWANCE, created__date__gte=starts, created__date__lte=ends
        )
        .values("chapter__name", "chapter__path", "currency")
        .annotate(orders=Count("pk"), units=Sum("units"), total=Sum("total"))
        .order_by("chapter__path", "currency")
    )
    columns = [_("Chapter"), _("Orders"), _("Units of sale"), _("Total"), _("Currency")]
    rows = [
        [row["chapter__name"], row["orders"], row["units"], Amount(row["total"], row["currency"]), row["currency"]]
        for row in totals
    ]
    return columns, rows


def _report_allowances(starts, ends):
    columns = [
        _("Chapter"),
        _("From"),
        _("Until"),
        _("Budget"),
        _("Spent"),
        _("Units of sale"),
        _("Units ordered"),
        _("Currency"),
    ]
    rows = []
    for allowance in allowances(starts=starts, ends=ends):
        allowance_with_use(allowance)
        rows.append(
            [
                allowance.chapter.name,
                allowance.starts,
                allowance.ends,
                "" if allowance.budget is None else Amount(allowance.budget, allowance.currency),
                Amount(allowance.spent, allowance.currency),
                "" if allowance.units is None else allowance.units,
                allowance.units_used,
                allowance.currency,
            ]
        )
    return columns, rows


def _report_sales(starts, ends):
    """Public orders paid (online or on collection) and not refunded, by month of payment."""
    totals = (
        PublicOrder.objects.filter(
            status__in=[PublicOrder.Status.PAID, PublicOrder.Status.FULFILLED],
            paid__date__gte=starts,
            paid__date__lte=ends,
        )
        .annotate(month=TruncMonth("paid"))
        .values("month", "currency")
        .annotate(orders=Count("pk"), total=Sum("total"))
        .order_by("month", "currency")
    )
    columns = [_("Month"), _("Orders"), _("Total"), _("Currency")]
    rows = [
        [
            Month(row["month"].year, row["month"].month),
            row["orders"],
            Amount(row["total"], row["currency"]),
            row["currency"],
        ]
        for row in totals
    ]
    return columns, rows


REPORT_BUILDERS = {
    "stock": _report_stock,
    "orders": _report_orders,
    "allowances": _report_allowances,
    "sales": _report_sales,
}


def shop_menu(user):
    """Which of the shop's management pages the user may open (the tabs on every shop page)."""
    manages_stock = can(user, MANAGE_STOCK)
    follows_orders = access.follows_orders(user)
    return {
        "catalogue": can(user, MANAGE_CATALOGUE),
        "stock": manages_stock,
        "allowances": manages_stock,
        "ledger": manages_stock or can_anywhere(user, ORDER_FOR_CHAPTER),
        "orders": follows_orders,
        "public_orders": follows_orders,
        "reports": access.reads_reports(user),
        "settings": can(user, MANAGE_PAYMENTS),
    }
