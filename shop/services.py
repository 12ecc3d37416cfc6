"""Every write of the shop.

Stock changes go through `_moves`: it locks the stock levels concerned (`SELECT … FOR UPDATE`, in
a fixed order so that two orders never deadlock), checks that nothing would go negative, writes
the ledger lines and the levels in the same transaction. The levels' CHECK constraints are the
last line: a bug above cannot oversell, it can only fail.

Services take the acting user, check `chapters.access.can`, write in one transaction, audit-log,
and send mail after commit (a tenant task). They raise NotAllowed or InvalidAction like the
chapters services.
"""

import datetime
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chapters.access import can
from chapters.models import Chapter
from chapters.services import InvalidAction, NotAllowed, audit
from people.models import Activity, Source
from people.services import person_record
from shop import payments
from shop.access import handles_orders_of, handles_stock_of
from shop.capabilities import MANAGE_CATALOGUE, MANAGE_ORDERS, MANAGE_PAYMENTS, MANAGE_STOCK, ORDER_FOR_CHAPTER
from shop.models import (
    Allowance,
    ChapterOrder,
    ChapterOrderEvent,
    ChapterOrderLine,
    Location,
    PublicOrder,
    PublicOrderLine,
    ShopSettings,
    StockLevel,
    StockMove,
    StripeEvent,
    Variant,
    new_reference,
)
from tenancy import crypto

log = logging.getLogger(__name__)

MAX_LINE_QUANTITY = 100_000


def _require(actor, capability, chapter=None):
    if not can(actor, capability, chapter):
        raise NotAllowed(capability)


# Locations ----------------------------------------------------------------------------------------


def warehouse():
    location = Location.objects.filter(kind=Location.Kind.WAREHOUSE).first()
    if location is None:
        try:
            with transaction.atomic():
                location = Location.objects.create(kind=Location.Kind.WAREHOUSE, name="National warehouse")
        except IntegrityError:  # created meanwhile by a concurrent request
            location = Location.objects.get(kind=Location.Kind.WAREHOUSE)
    return location


def chapter_location(chapter):
    location = Location.objects.filter(chapter=chapter).first()
    if location is None:
        try:
            with transaction.atomic():
                location = Location.objects.create(kind=Location.Kind.CHAPTER, chapter=chapter, name=chapter.name)
        except IntegrityError:
            location = Location.objects.get(chapter=chapter)
    return location


def depot_create(*, actor, name, address=""):
    _require(actor, MANAGE_STOCK)
    name = name.strip()
    if not name:
        raise InvalidAction(_("A depot needs a name."))
    with transaction.atomic():
        depot = Location.objects.create(kind=Location.Kind.DEPOT, name=name, address=address)
        audit(actor=actor, action="shop.depot_create", details_name=name)
    return depot


# The ledger ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    kind: str
    variant_id: int
    quantity: int
    source_id: int | None = None
    target_id: int | None = None


def _effects(move):
    """How a move changes (on_hand, reserved) at each location it touches."""
    kinds = StockMove.Kind
    if move.kind == kinds.RECEIPT:
        return [(move.target_id, move.quantity, 0)]
    if move.kind == kinds.RESERVATION:
        return [(move.source_id, 0, move.quantity)]
    if move.kind == kinds.RELEASE:
        return [(move.source_id, 0, -move.quantity)]
    if move.kind == kinds.SHIPMENT:
        return [(move.source_id, -move.quantity, -move.quantity)]
    if move.kind == kinds.TRANSFER:
        return [(move.source_id, -move.quantity, 0), (move.target_id, move.quantity, 0)]
    if move.kind == kinds.ADJUSTMENT:
        if move.target_id is not None:
            return [(move.target_id, move.quantity, 0)]
        return [(move.source_id, -move.quantity, 0)]
    raise ValueError(move.kind)


class StockShort(InvalidAction):
    """Not enough available stock; `short` lists (variant, wanted, available)."""

    def __init__(self, short):
        self.short = short
        names = ", ".join(
            _("%(variant)s (%(available)s available)") % {"variant": variant, "available": available}
            for variant, _wanted, available in short
        )
        super().__init__(_("Not enough stock: %(names)s.") % {"names": names})


def _moves(moves, *, actor=None, reason="", chapter_order=None, public_order=None):
    """Apply ledger moves atomically: lock the levels, check, write. Raises StockShort. The move
    keeps the start of a long reason (an order's cancellation note is whole on the order)."""
    if not moves:
        return
    reason = reason[: StockMove._meta.get_field("reason").max_length]
    deltas = {}
    for move in moves:
        for location_id, on_hand, reserved in _effects(move):
            key = (move.variant_id, location_id)
            total = deltas.get(key, (0, 0))
            deltas[key] = (total[0] + on_hand, total[1] + reserved)
    with transaction.atomic():
        keys = sorted(deltas)
        StockLevel.objects.bulk_create(
            [StockLevel(variant_id=variant_id, location_id=location_id) for variant_id, location_id in keys],
            ignore_conflicts=True,
        )
        condition = Q(pk__in=[])
        for variant_id, location_id in keys:
            condition |= Q(variant_id=variant_id, location_id=location_id)
        levels = {
            (level.variant_id, level.location_id): level
            for level in StockLevel.objects.select_for_update().filter(condition).order_by("variant_id", "location_id")
        }
        short = []
        for key in keys:
            level, (on_hand, reserved) = levels[key], deltas[key]
            if (
                level.on_hand + on_hand < 0
                or level.reserved + reserved < 0
                or (level.reserved + reserved > level.on_hand + on_hand)
            ):
                short.append((key[0], -min(on_hand, 0) + max(reserved, 0), level.available))
        if short:
            names = {
                variant.pk: str(variant)
                for variant in Variant.objects.select_related("product").filter(
                    pk__in=[variant_id for variant_id, *_rest in short]
                )
            }
            raise StockShort([(names[variant_id], wanted, available) for variant_id, wanted, available in short])
        for key in keys:
            on_hand, reserved = deltas[key]
            StockLevel.objects.filter(pk=levels[key].pk).update(
                on_hand=F("on_hand") + on_hand, reserved=F("reserved") + reserved
            )
        StockMove.objects.bulk_create(
            [
                StockMove(
                    kind=move.kind,
                    variant_id=move.variant_id,
                    quantity=move.quantity,
                    from_location_id=move.source_id,
                    to_location_id=move.target_id,
                    reason=reason,
                    actor=actor if actor is not None and actor.is_authenticated else None,
                    chapter_order=chapter_order,
                    public_order=public_order,
                )
                for move in moves
            ]
        )


def _check_quantity(quantity):
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1 or quantity > MAX_LINE_QUANTITY:
        raise InvalidAction(_("A quantity is a whole number between 1 and %(max)s.") % {"max": MAX_LINE_QUANTITY})


def _stock_place(actor, place):
    """The Location a stock service works on, once the actor's right on it is checked: national
    stock (warehouse, depots) is national logistics'; a chapter's stock is also its own. A Chapter
    stands for its own stock, created on first need inside the caller's transaction, so that a
    refused move leaves no location behind."""
    chapter = place if isinstance(place, Chapter) else place.chapter
    if chapter is None:
        _require(actor, MANAGE_STOCK)
    elif not handles_stock_of(actor, chapter):
        raise NotAllowed(ORDER_FOR_CHAPTER)
    return chapter_location(place) if isinstance(place, Chapter) else place


@transaction.atomic  # the audit entry with the move, or neither
def stock_receive(*, actor, variant, location, quantity, reason=""):
    """Goods arrive at a location, or at a chapter's own stock (a print run delivered, a purchase)."""
    location = _stock_place(actor, location)
    _check_quantity(quantity)
    _moves([Move(StockMove.Kind.RECEIPT, variant.pk, quantity, target_id=location.pk)], actor=actor, reason=reason)
    audit(
        actor=actor,
        action="shop.stock_receive",
        chapter=location.chapter,
        variant=str(variant),
        location=location.name,
        quantity=quantity,
    )


@transaction.atomic  # the audit entry with the move, or neither
def stock_adjust(*, actor, variant, location, delta, reason):
    """A correction after counting, with its reason (breakage, loss, a miscount), at a location or
    a chapter's own stock."""
    location = _stock_place(actor, location)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidAction(_("Say why the stock is adjusted."))
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
        raise InvalidAction(_("An adjustment adds or removes at least one unit."))
    _check_quantity(abs(delta))
    if delta > 0:
        move = Move(StockMove.Kind.ADJUSTMENT, variant.pk, delta, target_id=location.pk)
    else:
        move = Move(StockMove.Kind.ADJUSTMENT, variant.pk, -delta, source_id=location.pk)
    _moves([move], actor=actor, reason=reason)
    audit(
        actor=actor,
        action="shop.stock_adjust",
        chapter=location.chapter,
        variant=str(variant),
        location=location.name,
        delta=delta,
        reason=reason,
    )


@transaction.atomic  # the audit entry with the move, or neither
def stock_transfer(*, actor, variant, source, target, quantity, reason=""):
    """Stock moves between locations: warehouse and depots (national logistics), or from one
    chapter's stock to another chapter (that chapter's coordinators). A Chapter as source or
    target stands for its own stock. Returns the target location."""
    source = _stock_place(actor, source)
    target = chapter_location(target) if isinstance(target, Chapter) else target
    if source.pk == target.pk:
        raise InvalidAction(_("Choose two different locations."))
    if target.kind == Location.Kind.CHAPTER and target.chapter.archived:
        raise InvalidAction(_("That chapter is archived."))
    _check_quantity(quantity)
    _moves(
        [Move(StockMove.Kind.TRANSFER, variant.pk, quantity, source_id=source.pk, target_id=target.pk)],
        actor=actor,
        reason=reason,
    )
    audit(
        actor=actor,
        action="shop.stock_transfer",
        chapter=source.chapter or target.chapter,
        variant=str(variant),
        source=source.name,
        target=target.name,
        quantity=quantity,
    )
    if target.kind == Location.Kind.CHAPTER:
        from shop import tasks

        tasks.transfer_mail.enqueue_on_commit(target.chapter_id, source.name, str(variant), quantity)
    return target


# Catalogue ----------------------------------------------------------------------------------------


def product_save(*, actor, product, variants=None):
    """Create or update a product (a ModelForm's unsaved instance) and, for a new one without
    variants, its single default variant."""
    _require(actor, MANAGE_CATALOGUE)
    creating = product.pk is None
    with transaction.atomic():
        product.save()
        if creating and not variants:
            variants = [("", "")]
        for size, colour in variants or []:
            variant_add(actor=actor, product=product, size=size, colour=colour)
        audit(actor=actor, action="shop.product_create" if creating else "shop.product_update", product=product.name)
    return product


def variant_add(*, actor, product, size="", colour="", sku=""):
    _require(actor, MANAGE_CATALOGUE)
    size, colour = size.strip(), colour.strip()
    if product.variants.filter(size=size, colour=colour).exists():
        raise InvalidAction(_("This product already has that size and colour."))
    sku = sku.strip() or "-".join(part for part in [product.slug, size, colour] if part).upper()[:60]
    try:
        with transaction.atomic():
            variant = Variant.objects.create(product=product, size=size, colour=colour, sku=sku)
            audit(actor=actor, action="shop.variant_add", product=product.name, sku=sku)
    except IntegrityError:  # the same SKU or options, added meanwhile
        raise InvalidAction(_("The SKU %(sku)s is already used.") % {"sku": sku}) from None
    return variant


def photo_add(*, actor, product, upload):
    """A photo, stored as a Wagtail image in the organisation's media."""
    from wagtail.images import get_image_model

    _require(actor, MANAGE_CATALOGUE)
    from shop.models import ProductPhoto

    with transaction.atomic():
        image = get_image_model().objects.create(title=product.name, file=upload)
        photo = ProductPhoto.objects.create(product=product, image=image, position=product.photos.count())
        audit(actor=actor, action="shop.photo_add", product=product.name)
    return photo


def settings_save(*, actor, currency, collect_at_chapters, shop_contact, publishable_key, secret_key, webhook_secret):
    """The organisation's shop settings. A blank secret leaves the stored one as it is; the
    secrets are encrypted and only their hints are ever shown again."""
    _require(actor, MANAGE_PAYMENTS)
    with transaction.atomic():
        row = ShopSettings.objects.select_for_update().get(pk=ShopSettings.load().pk)
        row.currency = currency
        row.collect_at_chapters = collect_at_chapters
        row.shop_contact = shop_contact
        row.stripe_publishable_key = publishable_key.strip()
        changed = []
        if secret_key.strip():
            row.stripe_secret_key = crypto.encrypt(secret_key.strip())
            row.stripe_secret_hint = crypto.hint(secret_key.strip())
            changed.append("secret_key")
        if webhook_secret.strip():
            row.stripe_webhook_secret = crypto.encrypt(webhook_secret.strip())
            row.stripe_webhook_hint = crypto.hint(webhook_secret.strip())
            changed.append("webhook_secret")
        row.save()
        audit(actor=actor, action="shop.settings", changed=changed)
    return row


def stripe_disconnect(*, actor):
    _require(actor, MANAGE_PAYMENTS)
    with transaction.atomic():
        ShopSettings.objects.filter(pk=ShopSettings.load().pk).update(
            stripe_secret_key="", stripe_webhook_secret="", stripe_secret_hint="", stripe_webhook_hint=""
        )
        audit(actor=actor, action="shop.stripe_disconnect")


def allowance_save(*, actor, chapter, starts, ends, budget=None, units=None, allowance=None):
    _require(actor, MANAGE_STOCK)
    if budget is None and units is None:
        raise InvalidAction(_("Give a budget, a number of units, or both."))
    if ends < starts:
        raise InvalidAction(_("The period ends before it starts."))
    overlapping = Allowance.objects.filter(chapter=chapter, starts__lte=ends, ends__gte=starts)
    if allowance is not None:
        overlapping = overlapping.exclude(pk=allowance.pk)
    if overlapping.exists():
        raise InvalidAction(_("This chapter already has an allowance over part of that period."))
    with transaction.atomic():
        allowance = allowance or Allowance(chapter=chapter)
        allowance.starts, allowance.ends, allowance.budget, allowance.units = starts, ends, budget, units
        allowance.currency = ShopSettings.load().currency
        allowance.save()
        audit(
            actor=actor,
            action="shop.allowance",
            chapter=chapter,
            starts=str(starts),
            ends=str(ends),
            budget=budget,
            units=units,
        )
    return allowance


# Chapter orders -----------------------------------------------------------------------------------

Status = ChapterOrder.Status

# action: (statuses it starts from, status it leads to, capability, on whose side)
TRANSITIONS = {
    "approve": ({Status.REQUESTED}, Status.APPROVED, MANAGE_ORDERS),
    "refuse": ({Status.REQUESTED}, Status.REFUSED, MANAGE_ORDERS),
    "prepare": ({Status.APPROVED}, Status.PREPARED, MANAGE_ORDERS),
    "ship": ({Status.PREPARED}, Status.SHIPPED, MANAGE_ORDERS),
    "receive": ({Status.SHIPPED}, Status.RECEIVED, ORDER_FOR_CHAPTER),
    "cancel": ({Status.REQUESTED, Status.APPROVED}, Status.CANCELLED, ORDER_FOR_CHAPTER),
    "cancel_by_logistics": ({Status.REQUESTED, Status.APPROVED, Status.PREPARED}, Status.CANCELLED, MANAGE_ORDERS),
}
COUNTS_TOWARDS_ALLOWANCE = [Status.REQUESTED, Status.APPROVED, Status.PREPARED, Status.SHIPPED, Status.RECEIVED]


def chapter_order_actions(user, order):
    """The actions `user` may take on `order` now (the order page shows these buttons)."""
    allowed = []
    for action, (sources, _target, capability) in TRANSITIONS.items():
        if order.status in sources and can(user, capability, order.chapter):
            allowed.append(action)
    if "receive" not in allowed and order.status == Status.SHIPPED and can(user, MANAGE_ORDERS, order.chapter):
        allowed.append("receive")
    if "cancel_by_logistics" in allowed and "cancel" in allowed:
        allowed.remove("cancel")
    return allowed


def allowance_for(chapter, day=None):
    day = day or timezone.localdate()
    return Allowance.objects.filter(chapter=chapter, starts__lte=day, ends__gte=day).first()


def allowance_use(allowance, *, exclude=None):
    orders = ChapterOrder.objects.filter(
        chapter_id=allowance.chapter_id,
        status__in=COUNTS_TOWARDS_ALLOWANCE,
        created__date__gte=allowance.starts,
        created__date__lte=allowance.ends,
    )
    if exclude is not None:
        orders = orders.exclude(pk=exclude.pk)
    totals = orders.aggregate(spent=Sum("total"), units=Sum("units"))
    return {"spent": totals["spent"] or 0, "units": totals["units"] or 0}


def _order_lines(lines, *, chapter_order):
    """[(variant, quantity)] -> {variant: quantity}, merged and checked against the catalogue."""
    merged = {}
    for variant, quantity in lines:
        _check_quantity(quantity)
        merged[variant] = merged.get(variant, 0) + quantity
    if not merged:
        raise InvalidAction(_("The order is empty."))
    for variant, quantity in merged.items():
        product = variant.product
        if not (variant.active and product.active):
            raise InvalidAction(_("%(product)s is no longer available.") % {"product": variant})
        if chapter_order:
            if not product.chapter_orderable:
                raise InvalidAction(_("Chapters cannot order %(product)s.") % {"product": product})
            if product.max_per_chapter_order is not None and quantity > product.max_per_chapter_order:
                raise InvalidAction(
                    _("At most %(max)s of %(product)s per order.")
                    % {"max": product.max_per_chapter_order, "product": variant}
                )
        elif not product.public:
            raise InvalidAction(_("%(product)s is not on sale.") % {"product": product})
        _check_quantity(quantity)
    return merged


def chapter_order_request(*, actor, chapter, lines, note=""):
    """A chapter asks national logistics for material, within its allowance for the period."""
    _require(actor, ORDER_FOR_CHAPTER, chapter)
    if chapter.archived:
        raise InvalidAction(_("That chapter is archived."))
    merged = _order_lines(lines, chapter_order=True)
    currency = ShopSettings.load().currency
    if any(variant.product.currency != currency for variant in merged):
        raise InvalidAction(_("Chapters can only order products priced in %(currency)s.") % {"currency": currency})
    total = sum(variant.product.price * quantity for variant, quantity in merged.items())
    units = sum(merged.values())
    with transaction.atomic():
        # One request at a time per chapter allowance, so two orders cannot both fit the last euros.
        allowance = Allowance.objects.select_for_update().filter(pk=getattr(allowance_for(chapter), "pk", None)).first()
        if allowance is not None:
            use = allowance_use(allowance)
            if allowance.budget is not None and use["spent"] + total > allowance.budget:
                raise InvalidAction(
                    _("This order (%(total)s) goes over the chapter's remaining budget (%(left)s).")
                    % {
                        "total": _money(total, currency),
                        "left": _money(max(allowance.budget - use["spent"], 0), currency),
                    }
                )
            if allowance.units is not None and use["units"] + units > allowance.units:
                raise InvalidAction(
                    _("This order (%(units)s units) goes over the chapter's remaining quota (%(left)s units).")
                    % {"units": units, "left": max(allowance.units - use["units"], 0)}
                )
        order = ChapterOrder.objects.create(
            reference=new_reference("C"),
            chapter=chapter,
            source=warehouse(),
            requested_by=actor,
            note=note.strip(),
            total=total,
            currency=currency,
            units=units,
        )
        ChapterOrderLine.objects.bulk_create(
            [
                ChapterOrderLine(order=order, variant=variant, quantity=quantity, unit_price=variant.product.price)
                for variant, quantity in merged.items()
            ]
        )
        _step(order, actor, "request")
    return order


def _money(amount, currency):
    from shop.models import format_money

    return format_money(amount, currency)


def _locked(order):
    # of=("self",): without it PostgreSQL also locks the joined chapter and warehouse rows, which every
    # other order's foreign keys need, and approvals deadlock with public orders.
    return (
        ChapterOrder.objects.select_for_update(of=("self",))
        .select_related("chapter", "source")
        .filter(pk=order.pk, reference=order.reference)
        .first()
    )


def _transition(actor, order, action):
    """Lock the order, check the actor and the status, return the fresh order. Rights are checked on
    the order as stored in this organisation, not on the object passed in (which may come from
    another schema); a missing order is refused like a forbidden one."""
    sources, _target, capability = TRANSITIONS[action]
    order = _locked(order)
    if order is None:
        raise NotAllowed(capability)
    if action == "receive" and not can(actor, ORDER_FOR_CHAPTER, order.chapter):
        capability = MANAGE_ORDERS
    if action == "cancel" and can(actor, MANAGE_ORDERS, order.chapter):
        sources = TRANSITIONS["cancel_by_logistics"][0]
        capability = MANAGE_ORDERS
    _require(actor, capability, order.chapter)
    if order.status not in sources:
        raise InvalidAction(
            _("This order is %(status)s: it cannot be %(action)s.")
            % {"status": order.get_status_display().lower(), "action": ACTION_PAST[action]()}
        )
    return order


ACTION_PAST = {
    "approve": lambda: _("approved"),
    "refuse": lambda: _("refused"),
    "prepare": lambda: _("prepared"),
    "ship": lambda: _("shipped"),
    "receive": lambda: _("received"),
    "cancel": lambda: _("cancelled"),
    "cancel_by_logistics": lambda: _("cancelled"),
}


def _step(order, actor, action, note=""):
    status = order.status
    ChapterOrderEvent.objects.create(order=order, status=status, actor=actor, note=note)
    audit(
        actor=actor,
        action=f"shop.chapter_order_{action}",
        chapter=order.chapter,
        order=order.reference,
        status=status,
        note=note,
    )
    from shop import tasks

    tasks.chapter_order_mail.enqueue_on_commit(order.pk, action, translation.get_language() or settings.LANGUAGE_CODE)


def _order_moves(order, kind, *, actor=None, reason="", target=None):
    """Apply a move of `kind` for each line of a chapter or public order, from the order's source
    (or into `target`), linked to the order in the ledger."""
    place = {"target_id": target.pk} if target is not None else {"source_id": order.source_id}
    moves = [Move(kind, line.variant_id, line.quantity, **place) for line in order.lines.all()]
    link = {"public_order": order} if isinstance(order, PublicOrder) else {"chapter_order": order}
    _moves(moves, actor=actor, reason=reason, **link)


def chapter_order_approve(*, actor, order):
    with transaction.atomic():
        order = _transition(actor, order, "approve")
        _order_moves(order, StockMove.Kind.RESERVATION, actor=actor)
        order.status = Status.APPROVED
        order.save(update_fields=["status", "updated"])
        _step(order, actor, "approve")
    return order


def chapter_order_refuse(*, actor, order, reason):
    reason = (reason or "").strip()
    if not reason:
        raise InvalidAction(_("Say why the order is refused: the chapter will read it."))
    with transaction.atomic():
        order = _transition(actor, order, "refuse")
        order.status, order.refusal_reason = Status.REFUSED, reason
        order.save(update_fields=["status", "refusal_reason", "updated"])
        _step(order, actor, "refuse", reason)
    return order


def chapter_order_prepare(*, actor, order):
    with transaction.atomic():
        order = _transition(actor, order, "prepare")
        order.status = Status.PREPARED
        order.save(update_fields=["status", "updated"])
        _step(order, actor, "prepare")
    return order


def chapter_order_ship(*, actor, order, carrier, tracking_reference=""):
    carrier = (carrier or "").strip()
    if not carrier:
        raise InvalidAction(_("Name the carrier (or “hand delivery”)."))
    with transaction.atomic():
        order = _transition(actor, order, "ship")
        _order_moves(order, StockMove.Kind.SHIPMENT, actor=actor)
        order.status, order.carrier, order.tracking_reference = Status.SHIPPED, carrier, tracking_reference.strip()
        order.save(update_fields=["status", "carrier", "tracking_reference", "updated"])
        _step(order, actor, "ship", f"{carrier} {order.tracking_reference}".strip())
    return order


def chapter_order_receive(*, actor, order):
    with transaction.atomic():
        order = _transition(actor, order, "receive")
        _order_moves(order, StockMove.Kind.RECEIPT, actor=actor, target=chapter_location(order.chapter))
        order.status = Status.RECEIVED
        order.save(update_fields=["status", "updated"])
        _step(order, actor, "receive")
    return order


def chapter_order_cancel(*, actor, order, reason=""):
    with transaction.atomic():
        order = _transition(actor, order, "cancel")
        if order.status in (Status.APPROVED, Status.PREPARED):
            _order_moves(order, StockMove.Kind.RELEASE, actor=actor)
        order.status, order.cancellation_reason = Status.CANCELLED, (reason or "").strip()
        order.save(update_fields=["status", "cancellation_reason", "updated"])
        _step(order, actor, "cancel", order.cancellation_reason)
    return order


# Public orders ------------------------------------------------------------------------------------

PublicStatus = PublicOrder.Status


class CheckoutUnavailable(InvalidAction):
    """Stripe could not open a payment page; the reservation was released."""


def cart_lines(cart):
    """The session cart ({variant id: quantity}) as [(variant, quantity)] of what is still on sale;
    anything else in it (removed products, tampered ids) is dropped."""
    wanted = {}
    for key, quantity in (cart or {}).items():
        try:
            variant_id, quantity = int(key), int(quantity)
        except (TypeError, ValueError):
            continue
        if 1 <= quantity <= MAX_LINE_QUANTITY:
            wanted[variant_id] = quantity
    variants = Variant.objects.select_related("product").filter(
        pk__in=wanted, active=True, product__active=True, product__public=True
    )
    return [(variant, wanted[variant.pk]) for variant in sorted(variants, key=lambda variant: variant.pk)]


def payment_methods(shop_settings=None):
    shop_settings = shop_settings or ShopSettings.load()
    methods = []
    if shop_settings.stripe_configured:
        methods.append(PublicOrder.Payment.STRIPE)
    if shop_settings.collect_at_chapters or not methods:
        methods.append(PublicOrder.Payment.COLLECT)
    return methods


def public_order_place(*, lines, full_name, email, payment, address="", collect_chapter=None, language=""):
    """Reserve the stock and record the order. Stripe orders then go to checkout_start."""
    shop_settings = ShopSettings.load()
    if payment not in payment_methods(shop_settings):
        raise InvalidAction(_("That way of paying is not offered."))
    merged = _order_lines(lines, chapter_order=False)
    if not full_name.strip() or not email.strip():
        raise InvalidAction(_("Give your name and email address."))
    if payment == PublicOrder.Payment.COLLECT:
        if collect_chapter is None or collect_chapter.archived:
            raise InvalidAction(_("Choose the chapter where you will collect the order."))
    elif not address.strip():
        raise InvalidAction(_("Give the delivery address."))
    currencies = {variant.product.currency for variant in merged}
    if len(currencies) > 1:
        raise InvalidAction(_("Products in different currencies cannot be paid together."))
    with transaction.atomic():
        order = PublicOrder.objects.create(
            reference=new_reference("P"),
            token=secrets.token_urlsafe(32),
            status=PublicStatus.PENDING_PAYMENT if payment == PublicOrder.Payment.STRIPE else PublicStatus.TO_COLLECT,
            payment=payment,
            full_name=full_name.strip(),
            email=email.strip(),
            address=address.strip(),
            collect_chapter=collect_chapter if payment == PublicOrder.Payment.COLLECT else None,
            source=warehouse(),
            total=sum(variant.product.price * quantity for variant, quantity in merged.items()),
            currency=currencies.pop(),
            language=language,
        )
        PublicOrderLine.objects.bulk_create(
            [
                PublicOrderLine(order=order, variant=variant, quantity=quantity, unit_price=variant.product.price)
                for variant, quantity in merged.items()
            ]
        )
        _moves(
            [
                Move(StockMove.Kind.RESERVATION, variant.pk, quantity, source_id=order.source_id)
                for variant, quantity in merged.items()
            ],
            public_order=order,
        )
        if payment == PublicOrder.Payment.COLLECT:
            from shop import tasks

            _buyer_recorded(order)
            tasks.public_order_mail.enqueue_on_commit(order.pk, "placed")
    return order


def _buyer_recorded(order):
    """A placed (to collect) or paid order: the buyer is in the supporter base, the order on their timeline."""
    try:
        person_record(
            source=Source.SHOP,
            source_detail=order.reference,
            email=order.email,
            full_name=order.full_name,
            address=order.address,
            language=order.language,
            chapter=order.collect_chapter,
            activity=(Activity.Kind.ORDER, _("Order %(reference)s") % {"reference": order.reference}, order),
        )
    except InvalidAction as error:  # an address the order form took and the base does not: the order stands
        log.warning("Order %s: buyer not recorded: %s", order.reference, error)


def checkout_start(*, order, success_url, cancel_url):
    """Open the Stripe Checkout page for a placed order; the URL to send the buyer to.

    Called after the reservation committed, so no row stays locked during the call to Stripe. If
    Stripe fails, the order is cancelled and its stock released."""
    expires_at = timezone.now() + datetime.timedelta(minutes=settings.SHOP_CHECKOUT_MINUTES)
    try:
        session = payments.checkout_session_create(
            order=order,
            lines=list(order.lines.select_related("variant__product")),
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=expires_at,
        )
    except payments.PaymentError as error:
        log.warning("Stripe checkout failed for %s: %s", order.reference, error)
        _public_release(order.pk, PublicStatus.CANCELLED, expected=[PublicStatus.PENDING_PAYMENT])
        raise CheckoutUnavailable(
            _("Card payment is unavailable at the moment; nothing was charged. Please try again later.")
        ) from error
    PublicOrder.objects.filter(pk=order.pk).update(stripe_session_id=session.id)
    return session.url


def _public_release(order_pk, status, *, expected, actor=None, reason=""):
    """Move an order to `status`, releasing its reservation, if it is still in one of `expected`."""
    with transaction.atomic():
        order = PublicOrder.objects.select_for_update().get(pk=order_pk)
        if order.status not in expected:
            return order, False
        _order_moves(order, StockMove.Kind.RELEASE, actor=actor, reason=reason)
        order.status = status
        order.save(update_fields=["status", "updated"])
    return order, True


def public_order_cancel_checkout(*, order):
    """The buyer came back from Stripe without paying: expire the session so that it cannot be
    paid any more, then release the stock. If Stripe says it was paid meanwhile, keep it."""
    if order.status != PublicStatus.PENDING_PAYMENT:
        return order
    if order.stripe_session_id:
        try:
            session = payments.checkout_session_expire(order.stripe_session_id)
        except payments.PaymentError:
            return order  # paid meanwhile, or Stripe unreachable: the webhooks or the sweep settle it
        if getattr(session, "status", "") != "expired":
            return order
    order, _changed = _public_release(order.pk, PublicStatus.EXPIRED, expected=[PublicStatus.PENDING_PAYMENT])
    return order


def _public_stored(order, *, lock=False):
    """The stored order, locked if asked (matched on id and reference: another organisation's
    object finds nothing here)."""
    orders = PublicOrder.objects.select_for_update(of=("self",)) if lock else PublicOrder.objects
    stored = orders.select_related("collect_chapter").filter(pk=order.pk, reference=order.reference).first()
    if stored is None:
        raise NotAllowed(MANAGE_ORDERS)
    return stored


def public_order_fulfil(*, actor, order):
    """The goods left: posted (paid online) or handed over at the chapter (paid there)."""
    with transaction.atomic():
        order = _public_stored(order, lock=True)
        chapter = order.collect_chapter
        if not handles_orders_of(actor, chapter):
            raise NotAllowed(MANAGE_ORDERS)
        if order.status not in (PublicStatus.PAID, PublicStatus.TO_COLLECT):
            raise InvalidAction(_("Only a paid order, or one to collect, can be handed over."))
        _order_moves(order, StockMove.Kind.SHIPMENT, actor=actor)
        if order.status == PublicStatus.TO_COLLECT:
            order.paid = timezone.now()
        order.status = PublicStatus.FULFILLED
        order.save(update_fields=["status", "paid", "updated"])
        audit(actor=actor, action="shop.public_order_fulfil", chapter=chapter, order=order.reference)
    return order


def public_order_cancel(*, actor, order, reason=""):
    """Logistics cancels an order not yet paid or collected, or the collecting chapter one whose
    buyer never came (the reservation returns)."""
    order = _public_stored(order)
    if not handles_orders_of(actor, order.collect_chapter):
        raise NotAllowed(MANAGE_ORDERS)
    if order.status == PublicStatus.PENDING_PAYMENT:
        if not can(actor, MANAGE_ORDERS, order.collect_chapter):  # a payment under way: logistics'
            raise NotAllowed(MANAGE_ORDERS)
        order = public_order_cancel_checkout(order=order)
        if order.status == PublicStatus.PENDING_PAYMENT:
            raise InvalidAction(_("Stripe could not close the payment page; try again in a moment."))
    else:
        order, changed = _public_release(
            order.pk, PublicStatus.CANCELLED, expected=[PublicStatus.TO_COLLECT], actor=actor, reason=reason
        )
        if not changed:
            raise InvalidAction(_("Only an order awaiting payment or collection can be cancelled."))
    audit(
        actor=actor,
        action="shop.public_order_cancel",
        chapter=order.collect_chapter,
        order=order.reference,
        reason=reason,
    )
    return order


def public_order_refund(*, actor, order):
    """Refund a card payment through Stripe; the stock returns if the goods had not left."""
    _require(actor, MANAGE_ORDERS)
    order = _public_stored(order)
    if order.payment != PublicOrder.Payment.STRIPE or order.status not in (PublicStatus.PAID, PublicStatus.FULFILLED):
        raise InvalidAction(_("Only an order paid by card can be refunded here."))
    try:
        payments.refund_create(payment_intent=order.stripe_payment_intent, reference=order.reference)
    except payments.PaymentError as error:
        log.warning("Stripe refund failed for %s: %s", order.reference, error)
        raise InvalidAction(_("Stripe refused the refund or could not be reached; nothing changed.")) from error
    order = _refunded(order.pk, actor=actor)
    audit(actor=actor, action="shop.public_order_refund", order=order.reference)
    return order


def _refunded(order_pk, *, actor=None):
    with transaction.atomic():
        order = PublicOrder.objects.select_for_update().get(pk=order_pk)
        if order.status == PublicStatus.PAID:
            _order_moves(order, StockMove.Kind.RELEASE, actor=actor, reason="refund")
        if order.status in (PublicStatus.PAID, PublicStatus.FULFILLED):
            order.status = PublicStatus.REFUNDED
            order.save(update_fields=["status", "updated"])
    return order


def checkouts_settle(*, older_than=None):
    """For orders still awaiting payment after their session's lifetime (a lost webhook): ask
    Stripe, and release the stock of those that did not complete. Returns how many were released."""
    if older_than is None:
        older_than = datetime.timedelta(minutes=settings.SHOP_CHECKOUT_MINUTES + 5)
    cutoff = timezone.now() - older_than
    released = 0
    for order in PublicOrder.objects.filter(status=PublicStatus.PENDING_PAYMENT, created__lt=cutoff):
        if not order.stripe_session_id:
            _public_release(order.pk, PublicStatus.CANCELLED, expected=[PublicStatus.PENDING_PAYMENT])
            released += 1
            continue
        try:
            session = payments.checkout_session_retrieve(order.stripe_session_id)
            if session.status == "open":
                session = payments.checkout_session_expire(order.stripe_session_id)
        except payments.PaymentError as error:
            log.warning("Could not settle %s: %s", order.reference, error)
            continue
        if session.status == "expired":
            _order, changed = _public_release(order.pk, PublicStatus.EXPIRED, expected=[PublicStatus.PENDING_PAYMENT])
            released += changed
    return released


# Stripe webhooks ----------------------------------------------------------------------------------


def stripe_event_apply(event):
    """Apply a verified event exactly once. Returns what was done, for the log and the tests.

    The event is stored by id in the same transaction as its effect: a duplicate delivery finds it
    and does nothing; a failure rolls both back and Stripe's retry applies it."""
    with transaction.atomic():
        record, created = StripeEvent.objects.get_or_create(
            event_id=event["id"], defaults={"type": str(event.get("type", ""))[:100], "payload": event}
        )
        if not created:
            return "duplicate"
        handler = WEBHOOK_HANDLERS.get(record.type)
        data = event["data"].get("object")
        outcome = handler(data) if handler and isinstance(data, dict) else "ignored"
        record.outcome = outcome
        record.save(update_fields=["outcome"])
    return outcome


def _order_for_session(session):
    session_id = session.get("id")
    if not isinstance(session_id, str) or not session_id:
        return None
    return PublicOrder.objects.select_for_update().filter(stripe_session_id=session_id).first()


def _on_session_completed(session):
    order = _order_for_session(session)
    if order is None:
        return "unknown session"
    if session.get("payment_status") != "paid":
        return "awaiting asynchronous payment"
    if order.status != PublicStatus.PENDING_PAYMENT:
        return f"already {order.status}"
    if session.get("amount_total") not in (None, order.total):
        log.error(
            "Stripe session %s paid %s for order %s of %s",
            session.get("id"),
            session.get("amount_total"),
            order.reference,
            order.total,
        )
        return "amount mismatch"
    order.status = PublicStatus.PAID
    order.paid = timezone.now()
    order.stripe_payment_intent = str(session.get("payment_intent") or "")
    order.save(update_fields=["status", "paid", "stripe_payment_intent", "updated"])
    _buyer_recorded(order)
    from shop import tasks

    tasks.public_order_mail.enqueue_on_commit(order.pk, "paid")
    # A refund that arrived before this event (deliveries are not ordered) applies now.
    if (
        order.stripe_payment_intent
        and StripeEvent.objects.filter(
            type="charge.refunded", payload__data__object__payment_intent=order.stripe_payment_intent
        ).exists()
    ):
        _refunded(order.pk)
        return "paid, then refunded"
    return "paid"


def _on_session_expired(session):
    order = _order_for_session(session)
    if order is None:
        return "unknown session"
    _order, changed = _public_release(order.pk, PublicStatus.EXPIRED, expected=[PublicStatus.PENDING_PAYMENT])
    return "expired" if changed else f"already {order.status}"


def _on_charge_refunded(charge):
    payment_intent = charge.get("payment_intent")
    if not isinstance(payment_intent, str) or not payment_intent:
        return "no payment intent"
    order = PublicOrder.objects.filter(stripe_payment_intent=payment_intent).first()
    if order is None:
        return "unknown payment (kept for when it is paid)"
    if charge.get("refunded") is False:
        return "partial refund: left to logistics"
    order = _refunded(order.pk)
    return order.status


WEBHOOK_HANDLERS = {
    "checkout.session.completed": _on_session_completed,
    "checkout.session.async_payment_succeeded": _on_session_completed,
    "checkout.session.expired": _on_session_expired,
    "checkout.session.async_payment_failed": _on_session_expired,
    "charge.refunded": _on_charge_refunded,
}


# Personal data ------------------------------------------------------------------------------------


def personal_data(user):
    orders = PublicOrder.objects.filter(email__iexact=user.email)
    return {
        "public_orders": [
            {
                "reference": order.reference,
                "status": order.status,
                "total": order.total_display,
                "created": order.created.isoformat(),
                "address": order.address,
            }
            for order in orders
        ],
        "chapter_orders_requested": list(
            ChapterOrder.objects.filter(requested_by=user).values_list("reference", flat=True)
        ),
    }


def personal_data_erase(user):
    """Orders are accounting records and stay; the buyer's name, address and email do not."""
    email = getattr(user, "former_email", "") or user.email
    PublicOrder.objects.filter(email__iexact=email).update(full_name="—", email="erased@invalid", address="")


def chapters_for_collection():
    return Chapter.objects.filter(archived__isnull=True).order_by("path")
