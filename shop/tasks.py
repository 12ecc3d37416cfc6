"""Mail the shop sends, outside the request that caused it (tenant tasks, retried by the worker)."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django_tenants.utils import get_tenant_model

from accounts.models import User
from chapters.selectors import role_holders
from shop.capabilities import MANAGE_ORDERS, ORDER_FOR_CHAPTER
from shop.models import ChapterOrder, PublicOrder
from tenancy.tasks import tenant_task

TO_LOGISTICS = {"request", "receive", "cancel"}
TO_CHAPTER = {"approve", "refuse", "prepare", "ship", "receive", "cancel"}


def _absolute(path):
    organisation = get_tenant_model().objects.get(schema_name=connection.schema_name)
    domain = organisation.get_primary_domain()
    scheme = "https" if settings.SESSION_COOKIE_SECURE else "http"
    port = f":{settings.PLATFORM_PORT}" if settings.PLATFORM_PORT else ""
    return f"{scheme}://{domain.domain}{port}{path}"


def _orderers(chapter):
    """Who holds the ordering role on that very chapter (not on a chapter above it)."""
    return User.objects.filter(
        is_active=True,
        role_assignments__chapter=chapter,
        role_assignments__role__capabilities__contains=[ORDER_FOR_CHAPTER],
    ).distinct()


def _chapter_side(order):
    """Who ordered, and who holds the ordering role on that very chapter."""
    people = set(_orderers(order.chapter))
    if order.requested_by is not None and order.requested_by.is_active:
        people.add(order.requested_by)
    return people


def _order_mail(template, order, path, recipients, language, **context):
    """Mail about an order: its lines and a link to its page come with the template's context."""
    context = {
        "order": order,
        "lines": order.lines.select_related("variant__product"),
        "url": _absolute(path),
        **context,
    }
    _mail(template, context, recipients, language)


def _mail(template, context, recipients, language):
    with translation.override(language or settings.LANGUAGE_CODE):
        send_mail(
            subject=render_to_string(f"shop/email/{template}_subject.txt", context).strip(),
            message=render_to_string(f"shop/email/{template}_message.txt", context),
            from_email=None,
            recipient_list=sorted(recipients),
        )


@tenant_task
def chapter_order_mail(order_id, action, language):
    order = ChapterOrder.objects.select_related("chapter", "requested_by").filter(pk=order_id).first()
    if order is None:
        return
    people = set()
    if action in TO_LOGISTICS:
        people |= set(role_holders(MANAGE_ORDERS, order.chapter))
    if action in TO_CHAPTER:
        people |= _chapter_side(order)
    recipients = {person.email for person in people if person.email}
    if not recipients:
        return
    path = reverse("shop_chapter_order", args=[order.reference])
    _order_mail("chapter_order", order, path, recipients, language, action=action)


@tenant_task
def transfer_mail(chapter_id, source_name, variant, quantity):
    from chapters.models import Chapter

    chapter = Chapter.objects.filter(pk=chapter_id).first()
    if chapter is None:
        return
    recipients = {person.email for person in _orderers(chapter) if person.email}
    if recipients:
        context = {"chapter": chapter, "source": source_name, "variant": variant, "quantity": quantity}
        _mail("transfer", context, recipients, settings.LANGUAGE_CODE)


@tenant_task
def public_order_mail(order_id, kind):
    order = PublicOrder.objects.select_related("collect_chapter").filter(pk=order_id).first()
    if order is None or not order.email or order.email == "erased@invalid":
        return
    path = reverse("shop_order", args=[order.token])
    _order_mail("public_order", order, path, {order.email}, order.language, kind=kind)
