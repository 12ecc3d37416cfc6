"""What the shop does when the core tells it something happened (chapters.signals)."""

from django.utils.translation import gettext as _

from chapters.services import InvalidAction
from shop import services
from shop.models import StockMove, Variant


def material_listed(sender, **kwargs):
    """What an event may name as its material: the catalogue's variants of active products."""
    variants = Variant.objects.filter(active=True, product__active=True).select_related("product")
    variants = variants.order_by("product__name", "pk")
    return [(variant.pk, str(variant)) for variant in variants]


def material_handed_out(sender, chapter, quantities, actor, reason, **kwargs):
    """Material handed out at an event leaves the chapter's own stock (an adjustment with its
    reason); a correction brings back what was counted twice. Short stock refuses the whole."""
    known = set(Variant.objects.filter(pk__in=list(quantities)).values_list("pk", flat=True))
    if set(quantities) - known:
        raise InvalidAction(_("That material is no longer in the shop's catalogue."))
    location = services.chapter_location(chapter)
    moves = [
        services.Move(StockMove.Kind.ADJUSTMENT, variant_id, delta, source_id=location.pk)
        if delta > 0
        else services.Move(StockMove.Kind.ADJUSTMENT, variant_id, -delta, target_id=location.pk)
        for variant_id, delta in sorted(quantities.items())
        if delta
    ]
    services._moves(moves, actor=actor, reason=reason)
