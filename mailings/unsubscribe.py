"""Leaving a mailing list: the one-click unsubscribe of RFC 8058 and the page where a recipient
chooses what they receive. Both are reached by the signed link of one message, without signing
in, and both are recorded as consent rows on the person (people.services.consent_record), in the
person's own name: a later import or form never overrides them."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mailings.models import Recipient
from people import services as people_services
from people.models import Channel, Consent, Purpose


def unsubscribe(recipient):
    """Withdraw the recipient's email consent for the mailing's purpose. Idempotent: a second
    click changes nothing."""
    with transaction.atomic():
        mailing = recipient.mailing
        people_services.consent_record(
            person=recipient.person,
            channel=Channel.EMAIL,
            purpose=mailing.purpose,
            status=Consent.Status.WITHDRAWN,
            basis=Consent.Basis.PERSON_REQUEST,
            source=(_("Unsubscribe link of the mailing “%(subject)s”") % {"subject": mailing.subject})[:200],
            by_person=True,
        )
        Recipient.objects.filter(pk=recipient.pk, unsubscribed__isnull=True).update(unsubscribed=timezone.now())


def wanted(person):
    """The email purposes the person receives now."""
    return [purpose for purpose in Purpose.values if f"{Channel.EMAIL}:{purpose}" in person.consents]


def preferences_save(recipient, chosen, wording):
    """Set the person's email consents to `chosen` (purposes), in their own name."""
    person = recipient.person
    basis = Consent.Basis.MEMBERSHIP if person.user_id else Consent.Basis.EXPLICIT_CONSENT
    source = (_("Preferences page of the mailing “%(subject)s”") % {"subject": recipient.mailing.subject})[:200]
    with transaction.atomic():
        for purpose in Purpose.values:
            held = f"{Channel.EMAIL}:{purpose}" in person.consents
            if (purpose in chosen) == held:
                continue
            people_services.consent_record(
                person=person,
                channel=Channel.EMAIL,
                purpose=purpose,
                status=Consent.Status.GRANTED if purpose in chosen else Consent.Status.WITHDRAWN,
                basis=basis if purpose in chosen else Consent.Basis.PERSON_REQUEST,
                source=source,
                wording=wording,
                by_person=True,
            )
            person.refresh_from_db(fields=["consents"])
        if recipient.mailing.purpose not in chosen:
            Recipient.objects.filter(pk=recipient.pk, unsubscribed__isnull=True).update(unsubscribed=timezone.now())
