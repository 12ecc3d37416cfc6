"""A task of the fault tests with both kinds of effect a task has: rows written (a stock move)
and a mail sent, in that order, as the shop's tasks would."""

from django.core.mail import send_mail

from accounts.models import User
from shop import services
from shop.models import Variant
from tenancy.tasks import tenant_task


@tenant_task
def receive_and_announce(variant_id, quantity, actor_email):
    variant = Variant.objects.select_related("product").get(pk=variant_id)
    actor = User.objects.get(email=actor_email)
    services.stock_receive(
        actor=actor, variant=variant, location=services.warehouse(), quantity=quantity, reason="delivery"
    )
    send_mail(
        subject=f"{quantity} × {variant} arrived",
        message="They are in the warehouse.",
        from_email=None,
        recipient_list=[actor_email],
    )
