"""The organisation's Stripe account, through the Stripe library and nothing else.

Each organisation has its own keys (ShopSettings, encrypted). settings.STRIPE_API_BASE, when set,
points the library's own `base_addresses` at another server: the local fake in tests.
"""

import json

import stripe
from django.conf import settings

from shop.models import ShopSettings
from tenancy import crypto


class PaymentError(Exception):
    """Stripe could not be reached or refused the request; the message is for logs, not people."""


class UnreadableEvent(Exception):
    """A webhook body that is not UTF-8 text, so no Stripe event, whoever signed it."""


def client(shop_settings=None):
    shop_settings = shop_settings or ShopSettings.load()
    secret_key = crypto.decrypt(shop_settings.stripe_secret_key)
    if not secret_key:
        raise PaymentError("Stripe is not configured")
    options = {"http_client": stripe.RequestsClient(timeout=20), "max_network_retries": 2}
    if settings.STRIPE_API_BASE:
        options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(secret_key, **options)


def _call(method, *args, **kwargs):
    try:
        return method(*args, **kwargs)
    except stripe.StripeError as error:
        raise PaymentError(str(error)) from error


def checkout_session_create(*, order, lines, success_url, cancel_url, expires_at):
    params = {
        "mode": "payment",
        "customer_email": order.email,
        "client_reference_id": order.reference,
        "metadata": {"order": order.reference},
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": int(expires_at.timestamp()),
        "line_items": [
            {
                "quantity": line.quantity,
                "price_data": {
                    "currency": order.currency.lower(),
                    "unit_amount": line.unit_price,
                    "product_data": {"name": str(line.variant)},
                },
            }
            for line in lines
        ],
    }
    # The order reference as idempotency key: a retried request never opens a second session.
    return _call(client().v1.checkout.sessions.create, params, {"idempotency_key": f"checkout-{order.reference}"})


def checkout_session_retrieve(session_id):
    return _call(client().v1.checkout.sessions.retrieve, session_id)


def checkout_session_expire(session_id):
    return _call(client().v1.checkout.sessions.expire, session_id)


def refund_create(*, payment_intent, reference):
    return _call(
        client().v1.refunds.create, {"payment_intent": payment_intent}, {"idempotency_key": f"refund-{reference}"}
    )


def webhook_event(payload, signature):
    """The verified event as a dict, or None if the signature does not match the organisation's
    secret (or is older than the library's five-minute tolerance: a replay). Raises
    UnreadableEvent for a body that is not UTF-8: Stripe sends JSON text, and its library can only
    verify a signature over text."""
    secret = crypto.decrypt(ShopSettings.load().stripe_webhook_secret)
    if not secret or not signature:
        return None
    try:
        text = payload.decode()
    except UnicodeDecodeError as error:
        raise UnreadableEvent from error
    try:
        stripe.WebhookSignature.verify_header(text, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE)
        event = json.loads(text)
    except (ValueError, RecursionError, stripe.SignatureVerificationError):
        return None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("data"), dict):
        return None
    return event
