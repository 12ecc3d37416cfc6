"""The rights of people who are not members: anyone asks, by a link mailed to their address, to see
and download what the organisation holds about them, change their consents, or be erased.

What a visitor is told never depends on whether the address is known: the request is counted,
then handed to a task that looks the address up and mails a link only if the base (or a feature
app, through people.signals.address_data_requested) holds something about it. The link carries
the address, signed with a salt naming the organisation's schema (a link of one organisation
is worthless on another) and valid LINK_HOURS. A member's address gets no erasure: members sign
in and use their profile's "my data" and "erase my account", which also close their account.
"""

import dataclasses
import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chapters.services import InvalidAction, audit
from people import services, signals
from people.models import Channel, Consent, Person, Purpose
from tenancy import crypto, rates
from tenancy.tasks import tenant_task

LINK_HOURS = 24
SOURCE = "rights page"
# The pairs a person may consent to, in the order the page shows them.
CONSENTS = [(channel, purpose) for channel in Channel.values for purpose in Purpose.values]


class InvalidLink(Exception):
    """A link that was tampered with, has expired, or belongs to another organisation."""


class TooManyRequests(Exception):
    """The client asked for too many links in the period."""


# The link ------------------------------------------------------------------------------------


def _signer():
    return signing.TimestampSigner(salt=f"people.rights:{connection.schema_name}")


def link_token(email):
    return _signer().sign_object({"email": email})


def email_from_token(token):
    """The address a link was made for, or InvalidLink (tampered, expired, another organisation's)."""
    try:
        data = _signer().unsign_object(token, max_age=datetime.timedelta(hours=LINK_HOURS))
    except (signing.BadSignature, ValueError) as error:
        raise InvalidLink from error
    email = data.get("email") if isinstance(data, dict) else None
    if not isinstance(email, str) or not email:
        raise InvalidLink
    return email


# What the organisation holds about an address -----------------------------------------------


@dataclasses.dataclass
class Holdings:
    email: str
    person: Person | None
    member: bool
    # What the feature apps hold under the address: {"website": [...sign-ups...]}.
    elsewhere: dict

    @property
    def known(self):
        return self.person is not None or self.member or bool(self.elsewhere)

    @property
    def emails(self):
        if self.person is None:
            return [self.email]
        return [self.email, *(e for e in self.person.emails.values_list("email", flat=True) if e != self.email)]


def holdings_for(email):
    """Everything held about the address: the person it names, whether it is a member's, and the
    feature apps' records of every address of that person."""
    person = services.find(email=email)
    if person is not None and person.merged_into_id:
        person = None
    member = (person is not None and person.user_id is not None and person.user.is_active) or (
        get_user_model().objects.filter(email__iexact=email, is_active=True).exists()
    )
    holdings = Holdings(email=email, person=person, member=member, elsewhere={})
    for _receiver, answer in signals.address_data_requested.send(sender=Person, emails=holdings.emails):
        holdings.elsewhere.update({section: data for section, data in (answer or {}).items() if data})
    return holdings


# Asking for a link ---------------------------------------------------------------------------


def _rate(setting, default):
    return rates.parse(getattr(settings, setting, default))


def _counted(kind, value, allowed, seconds):
    """Count one more request; True while within `allowed` in the period."""
    return rates.within(f"people:rights:{kind}", value, allowed, seconds)


def rights_request(*, email, client, link_root, profile_url, organisation_name):
    """Someone asks for a link to their data. Raises TooManyRequests past the per-client limit
    (PEOPLE_RIGHTS_CLIENT_RATE_LIMIT, "10/h"); past the per-address limit (PEOPLE_RIGHTS_RATE_LIMIT,
    "3/h") nothing more is mailed and nothing is said, so that an address cannot be mail-bombed and
    the answer tells nothing. Whether the address is known is decided by the task, after commit,
    so the answer does not even take longer for a known address. The cache keys carry the schema.
    `link_root` is the absolute address of the rights page, which the link extends with its token."""
    email = services.normalise_email(email)
    if not email:
        raise InvalidAction(_("Enter your email address."))
    if not _counted("client", client, *_rate("PEOPLE_RIGHTS_CLIENT_RATE_LIMIT", "10/h")):
        raise TooManyRequests
    if not _counted("address", email, *_rate("PEOPLE_RIGHTS_RATE_LIMIT", "3/h")):
        return
    language = translation.get_language() or settings.LANGUAGE_CODE
    # The task table lives in the public schema: the address travels there encrypted.
    rights_mail.enqueue_on_commit(crypto.encrypt(email), link_root, profile_url, organisation_name, language)


@tenant_task
def rights_mail(encrypted_email, link_root, profile_url, organisation_name, language):
    """The link to the rights page, in the visitor's language, only if something is held about the
    address; a member is sent to their profile instead. The token is made here, never stored."""
    email = crypto.decrypt(encrypted_email)
    if not email:  # encrypted under a key Relais no longer has: the visitor asks again
        return
    holdings = holdings_for(email)
    if not holdings.known:
        return
    context = {
        "url": f"{link_root}{link_token(email)}/",
        "hours": LINK_HOURS,
        "member": holdings.member,
        "organisation_name": organisation_name,
        "profile_url": profile_url,
    }
    with translation.override(language):
        send_mail(
            subject=render_to_string("people/email/rights_subject.txt", context).strip(),
            message=render_to_string("people/email/rights_message.txt", context),
            from_email=None,
            recipient_list=[email],
        )
    audit(actor=None, action="people.rights_requested", person=_person_id(holdings), member=holdings.member)


def _person_id(holdings):
    return holdings.person.pk if holdings.person is not None else None


def _not_a_member(holdings):
    if holdings.member:
        raise InvalidAction(_("This address is a member's: sign in and use “My data” in your profile."))


# Acting on the link --------------------------------------------------------------------------


def rights_download(*, email):
    """Everything held about the address, JSON-ready; a download of something held is audit-logged
    (by person id, never by address)."""
    holdings = holdings_for(email)
    _not_a_member(holdings)
    data = {
        "format": "relais.rights.v1",
        "exported": timezone.now().isoformat(),
        "email": email,
        "person": services.export_person(holdings.person) if holdings.person is not None else None,
        **holdings.elsewhere,
    }
    if holdings.known:
        audit(actor=None, action="people.rights_downloaded", person=_person_id(holdings))
    return data


def rights_consents_change(*, email, wanted, wording):
    """The person sets their consents: `wanted` the "channel:purpose" keys they tick, `wording` the
    words shown beside each. A grant is theirs (explicit consent, art. 9(2)(a), in those words,
    allowed even after a withdrawal); an unticked consent they held is withdrawn at their request.
    Only changes are recorded, each an appended consent row; returns how many."""
    holdings = holdings_for(email)
    _not_a_member(holdings)
    if holdings.person is None:
        raise InvalidAction(_("We hold no consent of yours to change."))
    person, changes = holdings.person, []
    with transaction.atomic():
        for channel, purpose in CONSENTS:
            key = f"{channel}:{purpose}"
            if (key in wanted) == person.consented(channel, purpose):
                continue
            granted = key in wanted
            services.consent_record(
                person=person,
                channel=channel,
                purpose=purpose,
                status=Consent.Status.GRANTED if granted else Consent.Status.WITHDRAWN,
                basis=Consent.Basis.EXPLICIT_CONSENT if granted else Consent.Basis.PERSON_REQUEST,
                wording=wording[key],
                source=SOURCE,
                by_person=True,
            )
            changes.append({"consent": key, "granted": granted})
        if changes:
            audit(actor=None, action="people.rights_consents_changed", person=person.pk, changes=changes)
    return len(changes)


def rights_erase(*, email):
    """Erase what is held about the address: the person anonymised (people.services.person_erase keeps
    the row, so every count stays right) and the feature apps told through people.signals.person_erased,
    in one transaction. A member's address is refused: their account is erased from their profile.
    Returns False when nothing was held."""
    holdings = holdings_for(email)
    _not_a_member(holdings)
    if not holdings.known:
        return False
    emails = holdings.emails
    with transaction.atomic():
        person = services.person_erase(holdings.person) if holdings.person is not None else None
        signals.person_erased.send(sender=Person, person=person, emails=emails)
        audit(actor=None, action="people.rights_erased", person=_person_id(holdings))
    return True
