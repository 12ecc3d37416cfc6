"""Mail sent by the chat, outside the request that caused it."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from django_tenants.utils import get_tenant_domain_model

from chat.access import can_read
from chat.models import Message
from chat.selectors import room_name
from tenancy.tasks import tenant_task


def organisation_url(path):
    """An absolute link into the current organisation, for mail."""
    Domain = get_tenant_domain_model()
    domain = Domain.objects.filter(tenant__schema_name=connection.schema_name, is_primary=True).first()
    port = f":{settings.PLATFORM_PORT}" if settings.PLATFORM_PORT else ""
    return f"{settings.PLATFORM_SCHEME}://{domain.domain}{port}{path}"


@tenant_task
def mention_mail(message_id, user_id):
    """Tell someone a message mentions them, if it still exists and they can still read it."""
    message = Message.objects.select_related("room__chapter", "author").filter(pk=message_id).first()
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if message is None or user is None or message.deleted or not can_read(user, message.room):
        return
    context = {
        "message": message,
        "room_name": room_name(message.room, user),
        "url": organisation_url(f"{reverse('chat')}?room={message.room_id}"),
    }
    send_mail(
        subject=render_to_string("chat/email/mention_subject.txt", context).strip(),
        message=render_to_string("chat/email/mention_message.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
