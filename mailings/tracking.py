"""What the provider reports after a message left, through anymail's tracking webhook: deliveries,
bounces and complaints, matched to the recipient row by the provider's message id.

A hard bounce suppresses the address (no mailing goes to it again); a soft bounce is counted; a
complaint ("this is spam") withdraws the person's every email consent, in their name, and
suppresses the address; an unsubscribe through the provider's own link withdraws the mailing's
purpose. The webhook arrives on the organisation's own address, so all of this happens in its
schema, and a message id of another organisation matches nothing here.
"""

import logging

from anymail.signals import EventType
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from mailings.models import Recipient, Suppression
from people import services as people_services
from people.models import Channel, Consent, Purpose

logger = logging.getLogger(__name__)

SOFT = {"soft_bounce", "deferred"}  # the provider's own names for a temporary failure


def _esp_name(event):
    raw = event.esp_event
    return str(raw.get("event", "")) if isinstance(raw, dict) else ""


def _withdraw(recipient, purposes, source):
    for purpose in purposes:
        people_services.consent_record(
            person=recipient.person,
            channel=Channel.EMAIL,
            purpose=purpose,
            status=Consent.Status.WITHDRAWN,
            basis=Consent.Basis.PERSON_REQUEST,
            source=source[:200],
            by_person=True,
        )


def _suppress(recipient, reason, details):
    Suppression.objects.get_or_create(
        email=recipient.address.lower(),
        defaults={"reason": reason, "mailing": recipient.mailing, "details": details[:300]},
    )


def tracking_received(sender, event, esp_name, **kwargs):
    """anymail's `tracking` signal: one event of one message."""
    if not event.message_id:
        return
    with transaction.atomic():
        recipient = (
            Recipient.objects.select_for_update()
            .select_related("mailing", "person")
            .filter(message_id=event.message_id)
            .first()
        )
        if recipient is None:
            return
        when = event.timestamp or timezone.now()
        subject = recipient.mailing.subject
        if event.event_type == EventType.DELIVERED:
            Recipient.objects.filter(pk=recipient.pk, delivered__isnull=True).update(delivered=when)
        elif event.event_type == EventType.DEFERRED or (
            event.event_type == EventType.BOUNCED and _esp_name(event) in SOFT
        ):
            Recipient.objects.filter(pk=recipient.pk).update(bounce="soft", soft_bounces=F("soft_bounces") + 1)
        elif event.event_type == EventType.BOUNCED:
            Recipient.objects.filter(pk=recipient.pk).update(bounce="hard")
            _suppress(recipient, Suppression.Reason.HARD_BOUNCE, event.description or event.mta_response or "")
        elif event.event_type == EventType.COMPLAINED:
            Recipient.objects.filter(pk=recipient.pk, complained__isnull=True).update(complained=when)
            _suppress(recipient, Suppression.Reason.COMPLAINT, event.description or "")
            _withdraw(recipient, Purpose.values, _("Marked the mailing “%(subject)s” as spam") % {"subject": subject})
        elif event.event_type == EventType.UNSUBSCRIBED:
            Recipient.objects.filter(pk=recipient.pk, unsubscribed__isnull=True).update(unsubscribed=when)
            _withdraw(
                recipient,
                [recipient.mailing.purpose],
                _("Unsubscribed from the mailing “%(subject)s” at the provider") % {"subject": subject},
            )
