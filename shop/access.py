"""Who may handle what in the shop: the checks that services, selectors and views share, written
once on top of chapters.access.can.

The get_<obj>_for helpers load or refuse with the same 404 for a missing object and a forbidden
one (nobody learns what exists), as chapters.access.get_chapter_for does.
"""

from django.db.models import OuterRef, Q, Subquery
from django.http import Http404

from chapters.access import can, can_anywhere, chapters_where, get_chapter_for
from chapters.models import Chapter
from shop.capabilities import MANAGE_ORDERS, MANAGE_STOCK, ORDER_FOR_CHAPTER
from shop.models import ChapterOrder, Location, PublicOrder


def handles_orders_of(user, chapter):
    """Whether the user handles the orders of `chapter`: logistics over it, or someone who orders
    for it. For None (a public order sent by post), national logistics only."""
    return can(user, MANAGE_ORDERS, chapter) or (chapter is not None and can(user, ORDER_FOR_CHAPTER, chapter))


def order_chapters(user):
    """A filter on Chapter: the chapters whose orders the user handles (handles_orders_of)."""
    return chapters_where(user, MANAGE_ORDERS) | chapters_where(user, ORDER_FOR_CHAPTER)


def follows_orders(user):
    """Whether the user handles the orders of at least one chapter (the shop's order pages)."""
    return can_anywhere(user, MANAGE_ORDERS) or can_anywhere(user, ORDER_FOR_CHAPTER)


def public_order_scope(user):
    """A filter on PublicOrder for the orders the user handles: all of them for logistics of the
    whole organisation; otherwise those to collect at a chapter whose orders they handle."""
    if can(user, MANAGE_ORDERS):
        return Q()
    return Q(payment=PublicOrder.Payment.COLLECT, collect_chapter__in=Chapter.objects.filter(order_chapters(user)))


def handles_stock_of(user, chapter):
    """Whether the user works on a chapter's own stock: national logistics, or who orders for it."""
    return can(user, MANAGE_STOCK) or can(user, ORDER_FOR_CHAPTER, chapter)


def reads_reports(user):
    """Whether the user reads the shop's reports: national logistics of stock or of orders."""
    return can(user, MANAGE_STOCK) or can(user, MANAGE_ORDERS)


def get_chapter_order_for(user, reference):
    """The chapter order, if the user handles its chapter's orders; else 404."""
    order = ChapterOrder.objects.select_related("chapter", "source", "requested_by").filter(reference=reference).first()
    if order is None or not handles_orders_of(user, order.chapter):
        raise Http404
    return order


def get_public_order_for(user, reference):
    """The public order, if the user handles it; else 404."""
    order = (
        PublicOrder.objects.filter(public_order_scope(user), reference=reference)
        .select_related("collect_chapter", "source")
        .first()
    )
    if order is None:
        raise Http404
    return order


def get_stock_chapter_for(user, slug):
    """The chapter whose own stock a page is about, if the user works on it; else 404. Its stock
    location's id comes with it (`stock_location_id`, None until its first move)."""
    own_place = Location.objects.filter(chapter=OuterRef("pk")).values("pk")[:1]
    chapter = get_chapter_for(user, slug, chapters=Chapter.objects.annotate(stock_location_id=Subquery(own_place)))
    if not handles_stock_of(user, chapter):
        raise Http404
    return chapter
