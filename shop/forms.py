"""Forms of the shop's member pages. Amounts are typed as "12.50" and cleaned to integer cents."""

import re
from decimal import Decimal

from django import forms
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from chapters.forms import ChapterChoiceField, ReadableImageField, offer
from chapters.models import Chapter
from shop.models import CURRENCY, ChapterOrder, Location, Product, PublicOrder, Variant
from shop.services import MAX_LINE_QUANTITY

AMOUNT = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,2})?")


def date_widget():
    # A date picker takes ISO dates whatever the language (the French input format would be ignored).
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class MoneyField(forms.CharField):
    """An amount typed with at most two decimals ("12.50" or "12,50"), cleaned to integer cents.
    Parsed with Decimal, never a float."""

    default_error_messages = {
        "invalid": _("Enter an amount such as 12.50: digits, and at most two after the decimal point."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value // 100}.{value % 100:02d}"
        return value

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        text = value.replace("\u00a0", "").replace(" ", "").replace(",", ".")
        if not AMOUNT.fullmatch(text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return int(Decimal(text) * 100)


def quantity_field(label, *, required=True, max_value=MAX_LINE_QUANTITY, min_value=1):
    return forms.IntegerField(label=label, required=required, min_value=min_value, max_value=max_value)


class LocationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, location):
        return f"{location} ({location.get_kind_display()})"


class VariantChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, variant):
        return f"{variant} · {variant.sku}"


def variant_choices():
    return Variant.objects.select_related("product").order_by("product__name", "pk")


def read_choices_once(*forms_on_one_page):
    """Give the fields of these forms that offer the same objects one list of choices, read once:
    a ModelChoiceField reads its queryset again each time it is rendered, and the stock page shows
    several forms offering the same products and places. Submitted values are still checked
    against each field's queryset."""
    read = {}
    for form in forms_on_one_page:
        for field in form.fields.values():
            if isinstance(field, forms.ModelChoiceField) and not hasattr(field, "_choices"):
                key = str(field.queryset.query)
                if key not in read:
                    read[key] = list(field.queryset)
                offer(field, read[key])  # each field keeps its own labels and empty choice


# Catalogue ----------------------------------------------------------------------------------------


def _names(text):
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class ProductForm(forms.ModelForm):
    price = MoneyField(label=_("Price"), help_text=_("Per unit of sale (per pack for leaflets), such as 12.50."))
    sizes = forms.CharField(
        label=_("Sizes"),
        required=False,
        max_length=400,
        help_text=_("Optional, separated by commas: S, M, L. Each size and colour becomes a variant."),
    )
    colours = forms.CharField(
        label=_("Colours"), required=False, max_length=400, help_text=_("Optional, separated by commas.")
    )

    class Meta:
        model = Product
        fields = [
            "name",
            "slug",
            "kind",
            "description",
            "price",
            "currency",
            "pack_size",
            "chapter_orderable",
            "public",
            "max_per_chapter_order",
            "active",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].help_text = _("Used in the public shop's addresses. Left empty, it is made from the name.")
        if self.instance.pk:
            del self.fields["sizes"]
            del self.fields["colours"]

    def clean_slug(self):
        slug = self.cleaned_data.get("slug") or slugify(self.cleaned_data.get("name", ""))[:80]
        if not slug:
            raise forms.ValidationError(_("Give the product a name or an address."))
        if Product.objects.filter(slug=slug).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(
                _("Another product already uses the address “%(slug)s”."), params={"slug": slug}
            )
        return slug

    def clean_currency(self):
        return self.cleaned_data["currency"].upper()

    def variants(self):
        """[(size, colour)] for a new product, or None for its single default variant."""
        sizes, colours = _names(self.cleaned_data.get("sizes")), _names(self.cleaned_data.get("colours"))
        if not (sizes or colours):
            return None
        return [(size, colour) for size in sizes or [""] for colour in colours or [""]]

    def clean(self):
        cleaned = super().clean()
        for size, colour in self.variants() or []:
            if len(size) > 40 or len(colour) > 40:
                raise forms.ValidationError(_("A size or a colour is 40 characters at most."))
        return cleaned


class VariantForm(forms.Form):
    size = forms.CharField(label=_("Size"), max_length=40, required=False)
    colour = forms.CharField(label=_("Colour"), max_length=40, required=False)
    sku = forms.CharField(
        label=_("SKU"), max_length=60, required=False, help_text=_("Left empty, it is made from the product.")
    )

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("size") or cleaned.get("colour")):
            raise forms.ValidationError(_("Give a size, a colour, or both."))
        return cleaned


class PhotoForm(forms.Form):
    image = ReadableImageField(label=_("Photo"))


# Stock --------------------------------------------------------------------------------------------


class StockForm(forms.Form):
    """A form on stock at one of `locations`; without `locations`, the location is the page's
    (a chapter's own stock) and there is no field for it."""

    location_fields = ["location"]

    def __init__(self, *args, locations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["variant"].queryset = variant_choices()
        for name in self.location_fields:
            if locations is None:
                del self.fields[name]
            else:
                self.fields[name].queryset = locations


class ReceiveForm(StockForm):
    variant = VariantChoiceField(label=_("Product"), queryset=Variant.objects.none())
    location = LocationChoiceField(label=_("At"), queryset=Location.objects.none())
    quantity = quantity_field(_("Quantity (units of sale)"))
    reason = forms.CharField(label=_("Note (optional)"), max_length=200, required=False)


class AdjustForm(StockForm):
    variant = VariantChoiceField(label=_("Product"), queryset=Variant.objects.none())
    location = LocationChoiceField(label=_("At"), queryset=Location.objects.none())
    delta = forms.IntegerField(
        label=_("Change"),
        min_value=-MAX_LINE_QUANTITY,
        max_value=MAX_LINE_QUANTITY,
        help_text=_("Units to add, or to remove with a minus sign: -20."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, help_text=_("After a count, breakage, loss…"))

    def clean_delta(self):
        if self.cleaned_data["delta"] == 0:
            raise forms.ValidationError(_("An adjustment adds or removes at least one unit."))
        return self.cleaned_data["delta"]


class TransferForm(StockForm):
    """From a location (or the page's chapter stock) to another location or to a chapter."""

    location_fields = ["source", "target_location"]

    variant = VariantChoiceField(label=_("Product"), queryset=Variant.objects.none())
    source = LocationChoiceField(label=_("From"), queryset=Location.objects.none())
    target_location = LocationChoiceField(
        label=_("To a stock location"), queryset=Location.objects.none(), required=False
    )
    target_chapter = ChapterChoiceField(label=_("To a chapter"), queryset=Chapter.objects.none(), required=False)
    quantity = quantity_field(_("Quantity (units of sale)"))
    reason = forms.CharField(label=_("Note (optional)"), max_length=200, required=False)

    def __init__(self, *args, chapters, targets=None, **kwargs):
        super().__init__(*args, locations=targets, **kwargs)
        self.fields["target_chapter"].queryset = chapters

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("target_location")) == bool(cleaned.get("target_chapter")):
            raise forms.ValidationError(_("Choose where the stock goes: a stock location or a chapter."))
        return cleaned


class DepotForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    address = forms.CharField(label=_("Address"), required=False, max_length=1000, widget=forms.Textarea({"rows": 3}))


class LedgerFilterForm(forms.Form):
    location = LocationChoiceField(label=_("Location"), queryset=Location.objects.none(), required=False)
    variant = VariantChoiceField(label=_("Product"), queryset=Variant.objects.none(), required=False)

    def __init__(self, *args, locations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations
        self.fields["variant"].queryset = variant_choices()


class AllowanceForm(forms.Form):
    chapter = ChapterChoiceField(label=_("Chapter"), queryset=Chapter.objects.none())
    starts = forms.DateField(label=_("From"), widget=date_widget())
    ends = forms.DateField(label=_("Until (included)"), widget=date_widget())
    budget = MoneyField(label=_("Budget"), required=False, help_text=_("At catalogue prices, such as 250.00."))
    units = forms.IntegerField(
        label=_("Units of sale"), required=False, min_value=1, max_value=10_000_000, help_text=_("Packs, posters…")
    )

    def __init__(self, *args, chapters=None, **kwargs):
        super().__init__(*args, **kwargs)
        if chapters is None:  # editing: the chapter stays
            del self.fields["chapter"]
        else:
            self.fields["chapter"].queryset = chapters

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("budget") is None and cleaned.get("units") is None and not self.errors:
            raise forms.ValidationError(_("Give a budget, a number of units, or both."))
        return cleaned


# Chapter orders -----------------------------------------------------------------------------------


class ChapterOrderForm(forms.Form):
    """One quantity per orderable variant, and a note for logistics."""

    note = forms.CharField(
        label=_("Note for national logistics (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, variants, **kwargs):
        super().__init__(*args, **kwargs)
        self.variants = variants
        for variant in variants:
            most = min(variant.product.max_per_chapter_order or MAX_LINE_QUANTITY, MAX_LINE_QUANTITY)
            self.fields[f"quantity_{variant.pk}"] = forms.IntegerField(
                label=str(variant),
                required=False,
                min_value=0,
                max_value=most,
                widget=forms.NumberInput(attrs={"min": 0, "max": most, "inputmode": "numeric"}),
            )

    def rows(self):
        return [(variant, self[f"quantity_{variant.pk}"]) for variant in self.variants]

    def lines(self):
        return [
            (variant, self.cleaned_data[f"quantity_{variant.pk}"])
            for variant in self.variants
            if self.cleaned_data.get(f"quantity_{variant.pk}")
        ]

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not self.lines():
            raise forms.ValidationError(_("Say how many you need of at least one product."))
        return cleaned


class RefuseForm(forms.Form):
    reason = forms.CharField(label=_("Reason (the chapter will read it)"), max_length=2000)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=2000)


class ShipForm(forms.Form):
    carrier = forms.CharField(label=_("Carrier"), max_length=80, help_text=_("Or “hand delivery”."))
    tracking_reference = forms.CharField(label=_("Tracking reference"), max_length=120, required=False)


class ConfirmForm(forms.Form):
    confirm = forms.BooleanField(label=_("I confirm"))


class ChapterOrderFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *ChapterOrder.Status.choices]
    )
    chapter = ChapterChoiceField(
        label=_("Chapter"), queryset=Chapter.objects.none(), required=False, to_field_name="slug", empty_label=_("Any")
    )

    def __init__(self, *args, chapters, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chapter"].queryset = chapters


class PublicOrderFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *PublicOrder.Status.choices]
    )


class PeriodForm(forms.Form):
    starts = forms.DateField(label=_("From"), required=False, widget=date_widget())
    ends = forms.DateField(label=_("Until (included)"), required=False, widget=date_widget())


# Settings -----------------------------------------------------------------------------------------


def _secret_field(label, help_text):
    return forms.CharField(
        label=label,
        required=False,
        max_length=255,
        strip=True,
        help_text=help_text,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )


class CurrencyField(forms.CharField):
    def to_python(self, value):
        return super().to_python(value).upper()


class ShopSettingsForm(forms.Form):
    currency = CurrencyField(label=_("Currency"), max_length=3, validators=[CURRENCY], help_text=_("Such as EUR."))
    collect_at_chapters = forms.BooleanField(
        label=_("Offer to pay and collect at a chapter"),
        required=False,
        help_text=_("Always offered when Stripe is not configured."),
    )
    shop_contact = forms.EmailField(label=_("Shop contact address"), required=False)
    publishable_key = forms.CharField(
        label=_("Stripe publishable key"), required=False, max_length=255, help_text=_("Starts with pk_.")
    )
    secret_key = _secret_field(
        _("Stripe secret key"), _("Starts with sk_ or rk_. Leave empty to keep the current one.")
    )
    webhook_secret = _secret_field(
        _("Stripe webhook signing secret"), _("Starts with whsec_. Leave empty to keep the current one.")
    )

    PREFIXES = {"publishable_key": ("pk_",), "secret_key": ("sk_", "rk_"), "webhook_secret": ("whsec_",)}

    def clean(self):
        cleaned = super().clean()
        for name, prefixes in self.PREFIXES.items():
            value = cleaned.get(name)
            if value and (not value.startswith(prefixes) or any(character.isspace() for character in value)):
                self.add_error(name, _("This does not look like the right Stripe key."))
        return cleaned
