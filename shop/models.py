"""The shop: a catalogue, a stock ledger, chapter orders and public orders.

Money is an integer number of minor units (cents) with its currency; no floats anywhere.
Stock is an append-only ledger of moves (`StockMove`); `StockLevel` is the per-variant,
per-location sum of that ledger, kept by the services in the same transaction as each move so that
it can be locked (`SELECT … FOR UPDATE`) when stock is reserved. Database constraints forbid a
negative level whatever the code above them does.
"""

import secrets

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from chapters.models import Chapter

CURRENCY = RegexValidator(r"^[A-Z]{3}$", _("A currency is three capital letters, such as EUR."))


def new_reference(prefix):
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on the phone
    return prefix + "-" + "".join(secrets.choice(alphabet) for _ in range(8))


def format_money(amount, currency):
    """1250, "EUR" -> "12.50 EUR" (the template filter localises the separator)."""
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    return f"{sign}{amount // 100}.{amount % 100:02d} {currency}"


class Product(models.Model):
    class Kind(models.TextChoices):
        LEAFLET = "leaflet", _("Leaflet")
        POSTER = "poster", _("Poster")
        STICKER = "sticker", _("Sticker")
        GOODIE = "goodie", _("Goodie")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.GOODIE)
    description = models.TextField(_("description"), blank=True)
    price = models.PositiveIntegerField(
        _("price (in cents)"), help_text=_("Per unit of sale (per pack for leaflets), in cents: 1250 is 12.50.")
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR", validators=[CURRENCY])
    pack_size = models.PositiveIntegerField(
        _("pack size"),
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("How many pieces one unit of sale holds: leaflets go by packs of 500."),
    )
    chapter_orderable = models.BooleanField(_("chapters can order it"), default=True)
    public = models.BooleanField(_("on sale to the public"), default=False)
    max_per_chapter_order = models.PositiveIntegerField(
        _("maximum per chapter order"), null=True, blank=True, help_text=_("In units of sale. Empty: no maximum.")
    )
    active = models.BooleanField(_("active"), default=True, help_text=_("Inactive products are hidden everywhere."))
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["kind", "name"]

    def __str__(self):
        return self.name

    @property
    def price_display(self):
        return format_money(self.price, self.currency)


class ProductPhoto(models.Model):
    """A photo of a product: a Wagtail image, so renditions and per-organisation media serving come
    with it."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="photos")
    image = models.ForeignKey("wagtailimages.Image", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self):
        return f"{self.product} #{self.position}"


class Variant(models.Model):
    """What is stocked and sold: a product in one size and colour. Every product has at least one."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    size = models.CharField(_("size"), max_length=40, blank=True)
    colour = models.CharField(_("colour"), max_length=40, blank=True)
    sku = models.CharField(_("SKU"), max_length=60, unique=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering = ["product", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["product", "size", "colour"], name="shop_variant_unique_options")
        ]

    def __str__(self):
        return f"{self.product.name} {self.label}".strip()

    @property
    def label(self):
        return " / ".join(part for part in (self.size, self.colour) if part)


class Location(models.Model):
    class Kind(models.TextChoices):
        WAREHOUSE = "warehouse", _("National warehouse")
        DEPOT = "depot", _("Regional depot")
        CHAPTER = "chapter", _("Chapter stock")

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    chapter = models.OneToOneField(
        Chapter, on_delete=models.PROTECT, null=True, blank=True, related_name="stock_location"
    )
    address = models.TextField(_("address"), blank=True)

    class Meta:
        verbose_name = _("stock location")
        verbose_name_plural = _("stock locations")
        ordering = ["kind", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="chapter", chapter__isnull=False) | (~Q(kind="chapter") & Q(chapter__isnull=True)),
                name="shop_location_chapter_iff_chapter_kind",
            ),
            models.UniqueConstraint(fields=["kind"], condition=Q(kind="warehouse"), name="shop_one_warehouse"),
        ]

    def __str__(self):
        if self.kind == self.Kind.WAREHOUSE and self.name == "National warehouse":
            return str(_("National warehouse"))  # created by a migration, in English
        return self.name


class StockLevel(models.Model):
    """The ledger summed for one variant at one location: what is there and how much of it is
    promised to an order. Written only by shop.services, next to the move that changes it."""

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="levels")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="levels")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["variant", "location"], name="shop_level_unique"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="shop_level_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="shop_level_reserved_not_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="shop_level_reserved_within_stock"),
        ]

    def __str__(self):
        return f"{self.variant} @ {self.location}: {self.on_hand} ({self.reserved} reserved)"

    @property
    def available(self):
        return self.on_hand - self.reserved


class StockMove(models.Model):
    """One line of the ledger. Never updated, never deleted.

    receipt     +quantity on hand at `to_location` (goods arrive)
    reservation +quantity reserved at `from_location` (promised to an order)
    release     -quantity reserved at `from_location` (the promise is withdrawn)
    shipment    -quantity on hand and reserved at `from_location` (reserved goods leave)
    transfer    -quantity at `from_location`, +quantity at `to_location`
    adjustment  +quantity at `to_location` or -quantity at `from_location`, with a reason
    """

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        RESERVATION = "reservation", _("Reservation")
        RELEASE = "release", _("Release")
        SHIPMENT = "shipment", _("Shipment")
        TRANSFER = "transfer", _("Transfer")
        ADJUSTMENT = "adjustment", _("Adjustment")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="moves")
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    from_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="moves_out"
    )
    to_location = models.ForeignKey(Location, on_delete=models.PROTECT, null=True, blank=True, related_name="moves_in")
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    chapter_order = models.ForeignKey(
        "ChapterOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="moves"
    )
    public_order = models.ForeignKey(
        "PublicOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="moves"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("stock move")
        verbose_name_plural = _("stock moves")
        ordering = ["-created", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shop_move_quantity_positive"),
            models.CheckConstraint(
                condition=(
                    Q(kind="receipt", from_location__isnull=True, to_location__isnull=False)
                    # One equality per kind, not `IN (...)`: PostgreSQL deparses an IN list in a form
                    # that reads back differently once the schema clone re-executes it.
                    | Q(kind="reservation", from_location__isnull=False, to_location__isnull=True)
                    | Q(kind="release", from_location__isnull=False, to_location__isnull=True)
                    | Q(kind="shipment", from_location__isnull=False, to_location__isnull=True)
                    | Q(kind="transfer", from_location__isnull=False, to_location__isnull=False)
                    | Q(kind="adjustment", from_location__isnull=True, to_location__isnull=False)
                    | Q(kind="adjustment", from_location__isnull=False, to_location__isnull=True)
                ),
                name="shop_move_locations_match_kind",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.quantity} × {self.variant}"


class Allowance(models.Model):
    """What a chapter may order over a period, set by national logistics: a budget (in cents, at
    catalogue prices), a number of units of sale, or both. No allowance covering today: no limit."""

    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="shop_allowances")
    starts = models.DateField(_("from"))
    ends = models.DateField(_("until (included)"))
    budget = models.PositiveIntegerField(_("budget (in cents)"), null=True, blank=True)
    units = models.PositiveIntegerField(_("units of sale"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR", validators=[CURRENCY])

    class Meta:
        verbose_name = _("chapter allowance")
        verbose_name_plural = _("chapter allowances")
        ordering = ["chapter__path", "-starts"]
        constraints = [
            models.CheckConstraint(condition=Q(ends__gte=F("starts")), name="shop_allowance_period_order"),
            models.CheckConstraint(
                condition=Q(budget__isnull=False) | Q(units__isnull=False), name="shop_allowance_has_a_limit"
            ),
        ]

    def __str__(self):
        return f"{self.chapter} {self.starts}–{self.ends}"


class ChapterOrder(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", pgettext_lazy("order", "Requested")
        APPROVED = "approved", pgettext_lazy("order", "Approved")
        REFUSED = "refused", pgettext_lazy("order", "Refused")
        PREPARED = "prepared", pgettext_lazy("order", "Prepared")
        SHIPPED = "shipped", pgettext_lazy("order", "Shipped")
        RECEIVED = "received", pgettext_lazy("order", "Received")
        CANCELLED = "cancelled", pgettext_lazy("order", "Cancelled")

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    chapter = models.ForeignKey(Chapter, on_delete=models.PROTECT, related_name="shop_orders")
    source = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    note = models.TextField(_("note"), blank=True)
    refusal_reason = models.TextField(_("reason for refusal"), blank=True)
    cancellation_reason = models.TextField(_("reason for cancellation"), blank=True)
    carrier = models.CharField(_("carrier"), max_length=80, blank=True)
    tracking_reference = models.CharField(_("tracking reference"), max_length=120, blank=True)
    total = models.PositiveIntegerField(_("total (in cents)"), default=0)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    units = models.PositiveIntegerField(_("units of sale"), default=0)
    created = models.DateTimeField(_("requested"), auto_now_add=True, db_index=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("chapter order")
        verbose_name_plural = _("chapter orders")
        ordering = ["-created", "-pk"]

    def __str__(self):
        return self.reference

    @property
    def total_display(self):
        return format_money(self.total, self.currency)


class ChapterOrderLine(models.Model):
    order = models.ForeignKey(ChapterOrder, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    unit_price = models.PositiveIntegerField(_("unit price (in cents)"))

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["order", "variant"], name="shop_chapter_line_unique")]

    def __str__(self):
        return f"{self.quantity} × {self.variant}"

    @property
    def pieces(self):
        return self.quantity * self.variant.product.pack_size


class ChapterOrderEvent(models.Model):
    """The order's history, shown on its page (the audit log keeps the same, organisation-wide)."""

    order = models.ForeignKey(ChapterOrder, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=20, choices=ChapterOrder.Status.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    note = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "pk"]

    def __str__(self):
        return f"{self.order} {self.status}"


class PublicOrder(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
        PAID = "paid", _("Paid")
        TO_COLLECT = "to_collect", _("To pay and collect at a chapter")
        FULFILLED = "fulfilled", _("Sent or handed over")
        EXPIRED = "expired", _("Payment not completed")
        CANCELLED = "cancelled", pgettext_lazy("order", "Cancelled")
        REFUNDED = "refunded", _("Refunded")

    class Payment(models.TextChoices):
        STRIPE = "stripe", _("Card, through Stripe")
        COLLECT = "collect", _("Pay and collect at a chapter")

    reference = models.CharField(_("reference"), max_length=20, unique=True)
    token = models.CharField(max_length=43, unique=True)  # the buyer's link to the order, no account needed
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    payment = models.CharField(_("payment"), max_length=20, choices=Payment.choices)
    full_name = models.CharField(_("name"), max_length=120)
    email = models.EmailField(_("email"))
    address = models.TextField(_("delivery address"), blank=True)
    collect_chapter = models.ForeignKey(
        Chapter, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("collect at")
    )
    source = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    total = models.PositiveIntegerField(_("total (in cents)"), default=0)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    language = models.CharField(max_length=10, blank=True)
    stripe_session_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_payment_intent = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(_("ordered"), auto_now_add=True, db_index=True)
    paid = models.DateTimeField(_("paid"), null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("public order")
        verbose_name_plural = _("public orders")
        ordering = ["-created", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_session_id"], condition=~Q(stripe_session_id=""), name="shop_one_order_per_session"
            )
        ]

    def __str__(self):
        return self.reference

    @property
    def total_display(self):
        return format_money(self.total, self.currency)


class PublicOrderLine(models.Model):
    order = models.ForeignKey(PublicOrder, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.PositiveIntegerField()

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["order", "variant"], name="shop_public_line_unique")]

    def __str__(self):
        return f"{self.quantity} × {self.variant}"

    @property
    def amount(self):
        return self.quantity * self.unit_price


class StripeEvent(models.Model):
    """Every verified webhook event, by Stripe's id: a second delivery of the same id is a no-op."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    received = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received"]

    def __str__(self):
        return f"{self.event_id} {self.type}"


class ShopSettings(models.Model):
    """One row per organisation: its Stripe account and how the public pays."""

    currency = models.CharField(_("currency"), max_length=3, default="EUR", validators=[CURRENCY])
    stripe_publishable_key = models.CharField(_("Stripe publishable key"), max_length=255, blank=True)
    stripe_secret_key = models.TextField(blank=True)  # encrypted (tenancy.crypto), never shown back
    stripe_webhook_secret = models.TextField(blank=True)  # encrypted
    stripe_secret_hint = models.CharField(max_length=40, blank=True)  # "sk_test_…4242"
    stripe_webhook_hint = models.CharField(max_length=40, blank=True)
    collect_at_chapters = models.BooleanField(
        _("offer to pay and collect at a chapter"),
        default=True,
        help_text=_("Always offered when Stripe is not configured."),
    )
    shop_contact = models.EmailField(_("shop contact address"), blank=True)

    class Meta:
        verbose_name = _("shop settings")

    def __str__(self):
        return str(_("shop settings"))

    @classmethod
    def load(cls):
        settings_row, _created = cls.objects.get_or_create(pk=1)
        return settings_row

    @property
    def stripe_configured(self):
        return bool(self.stripe_secret_key and self.stripe_webhook_secret)
