"""The public shop under /shop/: catalogue, cart (in the session, no account needed), checkout,
the buyer's order page, and Stripe's webhook."""

import logging

from django import forms
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.core.paginator import Paginator
from django.db import DatabaseError, DataError
from django.db.models import Prefetch, Sum
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chapters.models import Chapter
from chapters.services import InvalidAction
from shop import payments, services
from shop.models import Product, PublicOrder, ShopSettings, StockLevel, Variant
from tenancy.errors import RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)

CART = "shop_cart"
MAX_CART_LINES = 50


def _available(variant_ids):
    """Units on sale now, per variant: what the national warehouse has that no order holds."""
    warehouse = services.warehouse()
    levels = StockLevel.objects.filter(location=warehouse, variant_id__in=variant_ids)
    return {level.variant_id: level.available for level in levels}


def _public_products():
    variants = Variant.objects.filter(active=True).order_by("pk")
    return (
        Product.objects.filter(active=True, public=True)
        .prefetch_related(Prefetch("variants", queryset=variants), "photos__image")
        .order_by("kind", "name")
    )


def index(request):
    page = Paginator(_public_products(), 24).get_page(request.GET.get("page"))
    stock = _available([variant.pk for product in page for variant in product.variants.all()])
    for product in page:
        product.in_stock = any(stock.get(variant.pk, 0) > 0 for variant in product.variants.all())
    return render(request, "shop/public/index.html", {"page": page, "cart_count": _cart_count(request)})


def product(request, slug):
    product = get_object_or_404(_public_products(), slug=slug)
    variants = list(product.variants.all())
    stock = _available([variant.pk for variant in variants])
    for variant in variants:
        variant.available = max(stock.get(variant.pk, 0), 0)
    return render(
        request,
        "shop/public/product.html",
        {"product": product, "variants": variants, "cart_count": _cart_count(request)},
    )


# The cart -----------------------------------------------------------------------------------------


def _cart(request):
    cart = request.session.get(CART)
    return cart if isinstance(cart, dict) else {}


def _cart_count(request):
    return sum(quantity for _variant, quantity in services.cart_lines(_cart(request))) if CART in request.session else 0


def _quantity(value):
    try:
        quantity = int(value)
    except (TypeError, ValueError):
        return None
    return quantity if 0 <= quantity <= 99 else None


@require_POST
def cart_add(request):
    variant_id = request.POST.get("variant", "")
    variant = None
    if variant_id.isascii() and variant_id.isdigit() and len(variant_id) < 12:  # "²".isdigit(), int("²") fails
        variant = Variant.objects.filter(
            pk=int(variant_id), active=True, product__active=True, product__public=True
        ).first()
    quantity = _quantity(request.POST.get("quantity", "1"))
    if variant is None:
        messages.error(request, _("That product is not on sale."))
        return redirect("shop_index")
    if not quantity:
        messages.error(request, _("Choose a quantity between 1 and 99."))
        return redirect("shop_product", variant.product.slug)
    cart = _cart(request)
    if str(variant.pk) not in cart and len(cart) >= MAX_CART_LINES:
        messages.error(request, _("Your cart is full."))
        return redirect("shop_cart")
    cart[str(variant.pk)] = min(cart.get(str(variant.pk), 0) + quantity, 99)
    request.session[CART] = cart
    messages.success(request, _("%(product)s is in your cart.") % {"product": variant})
    return redirect("shop_cart")


@never_cache
def cart(request):
    lines = services.cart_lines(_cart(request))
    stock = _available([variant.pk for variant, _quantity in lines])
    rows = [
        {
            "variant": variant,
            "quantity": quantity,
            "amount": variant.product.price * quantity,
            "short": quantity > stock.get(variant.pk, 0),
        }
        for variant, quantity in lines
    ]
    currencies = {row["variant"].product.currency for row in rows}
    total = sum(row["amount"] for row in rows)
    return render(
        request,
        "shop/public/cart.html",
        {
            "rows": rows,
            "total": total,
            "currency": currencies.pop() if len(currencies) == 1 else "",
            "cart_count": sum(q for _v, q in lines),
        },
    )


@require_POST
def cart_update(request):
    cart = {}
    for variant, quantity in services.cart_lines(_cart(request)):
        wanted = _quantity(request.POST.get(f"quantity-{variant.pk}", quantity))
        if wanted is None:
            messages.error(request, _("A quantity is a whole number between 0 and 99."))
            return redirect("shop_cart")
        if wanted and request.POST.get("remove") != str(variant.pk):
            cart[str(variant.pk)] = wanted
    request.session[CART] = cart
    return redirect("shop_cart")


# Checkout -----------------------------------------------------------------------------------------


class CheckoutForm(forms.Form):
    full_name = forms.CharField(label=gettext_lazy("Your name"), max_length=120)
    email = forms.EmailField(label=gettext_lazy("Email"), help_text=gettext_lazy("Where we send the receipt."))
    payment = forms.ChoiceField(label=gettext_lazy("How do you pay?"), widget=forms.RadioSelect)
    address = forms.CharField(
        label=gettext_lazy("Delivery address"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )
    collect_chapter = forms.ModelChoiceField(
        label=gettext_lazy("Chapter where you collect and pay"), queryset=Chapter.objects.none(), required=False
    )

    def __init__(self, *args, methods, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(PublicOrder.Payment.choices)
        self.fields["payment"].choices = [(method, labels[method]) for method in methods]
        self.fields["payment"].initial = methods[0]
        if PublicOrder.Payment.COLLECT in methods:
            self.fields["collect_chapter"].queryset = services.chapters_for_collection()
        else:
            del self.fields["collect_chapter"]
        if PublicOrder.Payment.STRIPE not in methods:
            del self.fields["address"]

    def clean(self):
        data = super().clean()
        if data.get("payment") == PublicOrder.Payment.STRIPE and not (data.get("address") or "").strip():
            self.add_error("address", _("Give the delivery address."))
        if data.get("payment") == PublicOrder.Payment.COLLECT and not data.get("collect_chapter"):
            self.add_error("collect_chapter", _("Choose the chapter where you will collect the order."))
        return data


@never_cache
def checkout(request):
    lines = services.cart_lines(_cart(request))
    if not lines:
        messages.info(request, _("Your cart is empty: choose something first."))
        return redirect("shop_index")
    methods = services.payment_methods(ShopSettings.load())
    form = CheckoutForm(request.POST or None, methods=methods)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            order = services.public_order_place(
                lines=lines,
                full_name=data["full_name"],
                email=data["email"],
                payment=data["payment"],
                address=data.get("address") or "",
                collect_chapter=data.get("collect_chapter"),
                language=get_language() or "",
            )
            target = reverse("shop_order", args=[order.token])
            if order.payment == PublicOrder.Payment.STRIPE:
                target = services.checkout_start(
                    order=order,
                    success_url=request.build_absolute_uri(target) + "?from=checkout",
                    cancel_url=request.build_absolute_uri(reverse("shop_order_cancel", args=[order.token])),
                )
            request.session[CART] = {}  # only once the order stands: after a Stripe failure it is kept
            return redirect(target)
        except InvalidAction as error:
            form.add_error(None, error.message)
    total = sum(variant.product.price * quantity for variant, quantity in lines)
    currency = lines[0][0].product.currency
    return render(
        request,
        "shop/public/checkout.html",
        {"form": form, "lines": lines, "total": total, "currency": currency, "cart_count": sum(q for _v, q in lines)},
    )


def _order(token):
    if not isinstance(token, str) or len(token) > 64:
        raise Http404
    return get_object_or_404(PublicOrder.objects.select_related("collect_chapter"), token=token)


@never_cache
def order(request, token):
    order = _order(token)
    lines = order.lines.select_related("variant__product")
    return render(
        request,
        "shop/public/order.html",
        {
            "order": order,
            "lines": lines,
            "units": lines.aggregate(units=Sum("quantity"))["units"],
            "awaiting": order.status == PublicOrder.Status.PENDING_PAYMENT,
            "from_checkout": request.GET.get("from") == "checkout",
        },
    )


@never_cache
def order_cancel(request, token):
    """Where Stripe's Cancel button leads: the buyer confirms before the order is dropped."""
    order = _order(token)
    if request.method == "POST":
        order = services.public_order_cancel_checkout(order=order)
        if order.status == PublicOrder.Status.EXPIRED:
            messages.success(request, _("Your order is cancelled; nothing was charged."))
        else:
            messages.info(request, _("This order can no longer be cancelled here."))
        return redirect("shop_order", order.token)
    return render(request, "shop/public/order_cancel.html", {"order": order})


# Stripe -------------------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's events for this organisation, verified with its own signing secret."""
    try:
        if not ShopSettings.load().stripe_configured:
            return JsonResponse({"error": "not_configured"}, status=400)
        event = payments.webhook_event(request.body, request.headers.get("Stripe-Signature", ""))
        if event is None:
            return JsonResponse({"error": "invalid_signature"}, status=400)
        outcome = services.stripe_event_apply(event)
    except RequestDataTooBig:
        return JsonResponse({"error": "too_large"}, status=413)
    except payments.UnreadableEvent:
        return JsonResponse({"error": "unreadable"}, status=400)
    except DataError:
        # A value PostgreSQL refuses (a NUL, NaN in JSON, an id longer than Stripe's): a retry
        # would fail the same way, so this is no outage.
        log.exception("A Stripe event could not be stored")
        return JsonResponse({"error": "unreadable"}, status=400)
    except DatabaseError:
        # Not applied, and not recorded: Stripe retries, and the retry applies it once.
        log.exception("A Stripe event was not applied; Stripe will retry")
        response = JsonResponse({"error": "unavailable"}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return JsonResponse({"received": True, "outcome": outcome})
