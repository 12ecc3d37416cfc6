"""SMS: what a text costs before it is sent, when it may leave, how it is handed to the provider,
and what a reply of "STOP" does.

A text is counted as the network bills it (3GPP TS 23.038, ex GSM 03.38): when every character is
in the GSM 7-bit default alphabet or its extension table it is sent in septets, 160 to a single
part, 153 to each part of a longer one (the other 7 hold the concatenation header), an extension
character taking two septets (an escape, then the character); any other character makes the whole
text UCS-2, 70 UTF-16 code units to a single part, 67 to each part of a longer one, a character
outside the Basic Multilingual Plane (an emoji) taking two. A part never splits an escape sequence
or a surrogate pair, which may take one part more than the plain division.

Marketing texts carry the opt-out mention Brevo asks for: "[STOP_CODE]", which Brevo replaces,
when it sends, with the short number its STOP replies reach. A reply of STOP comes back through
its SMS webhook (mailings/sms_webhooks.py) and withdraws at once every SMS consent of everyone
holding that number in the organisation.
"""

import datetime
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils.translation import gettext as _

# The email engine's reading of a network error (refused before sending, or maybe sent), shared.
from mailings.outcomes import FAILED, NOT_SENT, UNKNOWN
from mailings.outcomes import of as _outcome
from people import services as people_services
from people.models import Channel, Consent, Person, PersonPhone, Purpose

GSM7, UCS2 = "gsm7", "ucs2"
SINGLE = {GSM7: 160, UCS2: 70}  # septets or UTF-16 code units in a text of one part
PART = {GSM7: 153, UCS2: 67}  # in each part of a longer one

# 3GPP TS 23.038 §6.2.1: the default alphabet (0x09 is the capital Ç), and the extension table
# reached by an escape (form feed, ^ { } \ [ ~ ] | €).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

DEFAULT_PRICE_PER_PART = Decimal("0.045")
CENT = Decimal("0.01")

# Brevo replaces this placeholder, when it sends, with the short number STOP replies go to: a
# French short number has 5 digits, which is what the placeholder is counted as.
STOP_CODE = "[STOP_CODE]"
STOP_CODE_STAND_IN = "00000"
OPT_OUT = {
    "fr": f"STOP au {STOP_CODE}",
    "en": f"Reply STOP to {STOP_CODE}",
}

QUIET_FROM, QUIET_UNTIL = datetime.time(21), datetime.time(8)  # no SMS between, local time

# A reply that is one of these, whatever its case, accents, spacing and punctuation, asks to stop.
STOP_WORDS = frozenset(
    {
        "STOP",
        "STOP SMS",
        "STOPSMS",
        "STOP ALL",
        "STOPALL",
        "ARRET",
        "ARRET SMS",
        "ARRETER",
        "ARRETEZ",
        "UNSUBSCRIBE",
        "UNSUB",
        "DESABONNER",
        "DESABONNEMENT",
        "DESINSCRIRE",
        "DESINSCRIPTION",
        "FIN",
        "END",
        "QUIT",
        "CANCEL",
        "OPTOUT",
        "OPT OUT",
    }
)
POLITENESS = re.compile(r" (MERCI|SVP|STP|PLEASE|THANKS|THANK YOU)$")
NOT_A_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


# Counting -------------------------------------------------------------------------------------


def _units(text):
    """The encoding of the text and what each character takes in it."""
    if all(char in GSM_BASIC or char in GSM_EXTENSION for char in text):
        return GSM7, [2 if char in GSM_EXTENSION else 1 for char in text]
    return UCS2, [len(char.encode("utf-16-le")) // 2 for char in text]


def parts(text):
    """(number of parts, "gsm7" or "ucs2") of the text as the network bills it; an empty text is
    0 parts. Brevo's stop-code placeholder counts as the 5-digit number it becomes."""
    encoding, units = _units(text.replace(STOP_CODE, STOP_CODE_STAND_IN))
    if not units:
        return 0, encoding
    if sum(units) <= SINGLE[encoding]:
        return 1, encoding
    count, filled = 1, 0
    for unit in units:
        if filled + unit > PART[encoding]:
            count, filled = count + 1, 0
        filled += unit
    return count, encoding


def cost(part_count, recipients):
    """The price of sending `part_count` parts to each of `recipients`, rounded to the cent: what
    the sender is shown before sending."""
    price = Decimal(str(getattr(settings, "MAILINGS_SMS_PRICE_PER_PART", DEFAULT_PRICE_PER_PART)))
    return (price * part_count * recipients).quantize(CENT, rounding=ROUND_HALF_UP)


def with_opt_out(text, language):
    """The text with the opt-out mention of its language after it, unless it carries a stop code
    already (the mention of any language, or the mailing's own wording of it)."""
    if STOP_CODE.lower() in text.lower():
        return text
    mention = OPT_OUT.get(language) or OPT_OUT.get(settings.LANGUAGE_CODE) or OPT_OUT["fr"]
    return f"{text.rstrip()}\n{mention}" if text.strip() else mention


# When ----------------------------------------------------------------------------------------


def quiet_until(moment, tz=None):
    """`moment` when an SMS may leave then, else the next 08:00 in `tz` (the organisation's time
    zone; settings.TIME_ZONE's when None): none leaves between 21:00 and 08:00 local time. The
    local hour is read from the instant, so the nights the clocks change are as long as they are."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("quiet_until needs an aware datetime")
    tz = tz or ZoneInfo(settings.TIME_ZONE)
    local = moment.astimezone(tz)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return moment
    day = local.date() + datetime.timedelta(days=1) if local.time() >= QUIET_FROM else local.date()
    # Through UTC and back: a wall-clock time a change of the clocks skipped comes out as the
    # instant it names (never the case of 08:00 in Europe, but cheap to be right about).
    return datetime.datetime.combine(day, QUIET_UNTIL, tzinfo=tz).astimezone(datetime.UTC).astimezone(tz)


# STOP ----------------------------------------------------------------------------------------


def _normalised(text):
    """Upper case, no accents, every run of anything but letters and digits one space."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return NOT_A_LETTER_OR_DIGIT.sub(" ", plain.upper()).strip()


def is_stop(text):
    """Whether an inbound SMS asks to stop: one of the usual words alone ("STOP", "Stop.",
    "arrêt", "STOP SMS", "UNSUBSCRIBE"...), possibly followed by "merci" or "please"; a sentence
    that merely contains one of them is not."""
    words = _normalised(text)
    return words in STOP_WORDS or POLITENESS.sub("", words) in STOP_WORDS


def stop_received(number_e164, text):
    """A reply `text` from `number_e164` (E.164): when it asks to stop, withdraw at once, in their
    name, the SMS consent of every purpose of every person of this schema holding that number
    (even purposes they never granted: no import or form may grant them after this). Returns how
    many people had a consent changed; anything else than STOP changes nothing."""
    if not is_stop(text):
        return 0
    source = _("Replied STOP by SMS")
    changed = 0
    with transaction.atomic():
        holders = PersonPhone.objects.filter(number=number_e164).values("person")
        for person in Person.objects.filter(pk__in=holders).order_by("pk"):
            written = [
                people_services.consent_record(
                    person=person,
                    channel=Channel.SMS,
                    purpose=purpose,
                    status=Consent.Status.WITHDRAWN,
                    basis=Consent.Basis.PERSON_REQUEST,
                    source=source,
                    by_person=True,
                )
                for purpose in Purpose.values
            ]
            if any(consent is not None for consent in written):
                changed += 1
    return changed


# Providers -----------------------------------------------------------------------------------


class SmsError(Exception):
    """A text the provider did not take: `outcome` is sending.FAILED (refused: it did not leave),
    NOT_SENT (the provider never got it: it may be sent again later) or UNKNOWN (it may have left:
    never sent again)."""

    def __init__(self, outcome, message):
        super().__init__(message)
        self.outcome, self.message = outcome, message


class SmsProvider:
    def send(self, *, sender, recipient, content, tag=""):
        """Hand one text to the provider; its message id, or SmsError."""
        raise NotImplementedError


def _http_outcome(status):
    """What an HTTP error answer means, as sending._outcome reads the email provider's."""
    if status == 429:
        return NOT_SENT
    if 400 <= status < 500 and status != 408:
        return FAILED
    return UNKNOWN


class BrevoSms(SmsProvider):
    """Brevo's transactional SMS API (POST /v3/transactionalSMS/send), sent as marketing: Brevo
    replaces the stop code, routes STOP replies, and delays what it may not send at night, on
    Sundays and French public holidays."""

    def __init__(self, api_key, api_url="https://api.brevo.com/v3/", timeout=10):
        self.api_key, self.api_url, self.timeout = api_key, api_url.rstrip("/") + "/", timeout

    def send(self, *, sender, recipient, content, tag=""):
        body = {
            "sender": sender,
            "recipient": re.sub(r"\D", "", recipient),  # international digits, without "+"
            "content": content,
            "type": "marketing",
        }
        if parts(content)[1] == UCS2:
            body["unicodeEnabled"] = True
        if tag:
            body["tag"] = tag
        try:
            response = requests.post(
                self.api_url + "transactionalSMS/send",
                json=body,
                headers={"api-key": self.api_key, "accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise SmsError(_outcome(error), str(error)[:300]) from error
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if response.status_code >= 300:
            code, detail = answer.get("code"), answer.get("message") or response.reason or ""
            message = f"{response.status_code} {code}: {detail}" if code else f"{response.status_code}: {detail}"
            raise SmsError(_http_outcome(response.status_code), message[:300])
        return str(answer.get("messageId", ""))


def provider():
    """The organisation's own Brevo account when it gave one, else the SMS provider the settings
    name (MAILINGS_SMS_PROVIDER), or ImproperlyConfigured."""
    from mailings import providers

    own_key = providers.sms_api_key()
    if own_key:
        return BrevoSms(own_key, getattr(settings, "MAILINGS_SMS_API_URL", "") or "https://api.brevo.com/v3/")
    name = getattr(settings, "MAILINGS_SMS_PROVIDER", "")
    if not name:
        raise ImproperlyConfigured('No SMS provider is set: set MAILINGS_SMS_PROVIDER ("brevo") to send SMS.')
    if name != "brevo":
        raise ImproperlyConfigured(f'Unknown SMS provider {name!r} in MAILINGS_SMS_PROVIDER: only "brevo" is known.')
    api_key = getattr(settings, "MAILINGS_SMS_API_KEY", "")
    if not api_key:
        raise ImproperlyConfigured('MAILINGS_SMS_PROVIDER is "brevo" but MAILINGS_SMS_API_KEY is not set.')
    api_url = getattr(settings, "MAILINGS_SMS_API_URL", "") or "https://api.brevo.com/v3/"
    return BrevoSms(api_key, api_url)
