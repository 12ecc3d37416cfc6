"""Sending a mailing, so that nobody receives it twice and no outcome is lost.

A mailing starts (now, or when its time comes): its audience is frozen into Recipient rows, one
per person, and the first batch is claimed. Then a chain of tasks, one per batch, each one
transaction of the worker:

    batch n:  hand over the rows claimed for n (status "sending", committed by batch n-1),
              each marked sent / failed / unknown; claim the rows of batch n+1; enqueue it.

Rows are claimed ("sending") in a transaction that commits before any of them is handed to the
provider. If a worker dies while handing over batch n, its transaction rolls back, but the claim
does not: the task is delivered again, sees that it already ran once (its result lists more than
one worker) and marks the rows still "sending" as unknown, without sending them. A message the
provider did not answer for (a timeout, its own error) is unknown too. Unknown is reported, never
retried: a recipient may miss a mailing, never receive it twice. The rows the provider certainly
did not receive (it refused the connection, asked us to slow down) go back to the queue.

Batches of all the organisation's mailings share one pace (Pace): each claim reserves the next
slot at the organisation's rate, and the batch task runs at its slot. Tasks are enqueued in the
transaction that decides them (the task table is in the same database): a batch's successor is
queued if and only if the batch's outcomes commit.
"""

import datetime
import logging
from email.utils import formataddr, parseaddr

from anymail.exceptions import AnymailAPIError
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import mail, signing
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chapters import access as chapter_access
from chapters.services import InvalidAction, NotAllowed, audit
from mailings import audience, capabilities, engagement, outcomes, providers, rendering, sms
from mailings.models import Mailing, MailingSettings, Pace, Recipient, Suppression
from mailings.outcomes import FAILED, NOT_SENT, SENT, UNKNOWN
from people import capabilities as people_capabilities
from people import services as people_services
from people.models import Activity, Purpose
from tenancy import crypto

logger = logging.getLogger(__name__)

CANCEL_CHECK_EVERY = 20  # messages between two looks at whether the mailing was cancelled
TROUBLE_PAUSE = datetime.timedelta(seconds=30)  # after the provider failed, before the next try
UNSUBSCRIBE_SALT = "mailings.unsubscribe"


def rate():
    """Messages per second an organisation sends at most, all its mailings together."""
    return settings.MAILINGS_RATE_PER_SECOND


# Links in every message ---------------------------------------------------------------------


def _signer():
    # The organisation is in the salt: ids repeat across schemas, and a link of one organisation
    # must open nothing on another's address.
    return signing.Signer(salt=f"{UNSUBSCRIBE_SALT}:{connection.schema_name}")


def recipient_token(recipient_id):
    """The key of a message's links: signed, the same every time (a link never expires: an
    unsubscribe must work years later), valid on its organisation's address only."""
    return _signer().sign_object(recipient_id, compress=True)


def recipient_from_token(token):
    """The recipient a link was made for, or None (a forged, damaged or other organisation's link)."""
    try:
        pk = _signer().unsign_object(token)
    except signing.BadSignature:
        return None
    if not isinstance(pk, int):
        return None
    return Recipient.objects.select_related("mailing", "person").filter(pk=pk).first()


def links(base_url, recipient_id):
    token = recipient_token(recipient_id)
    base = base_url.rstrip("/")
    return (
        base + reverse("mailings:unsubscribe", args=[token]),
        base + reverse("mailings:preferences", args=[token]),
    )


# Handing messages to the provider ----------------------------------------------------------


ONE_CLICK = {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}  # RFC 8058


def _rendered(compiled, recipient, base_url):
    """The recipient's own message, and the address of its unsubscribe link."""
    unsubscribe_url, preferences_url = links(base_url, recipient.pk)
    values = person_values(recipient.person, recipient.address)
    return compiled.render(values | {"unsubscribe_url": unsubscribe_url, "preferences_url": preferences_url}), (
        unsubscribe_url
    )


def _sent_form(compiled, recipient, mailing):
    """The recipient's message as it leaves: with its links through the click counter when the
    mailing is tracked."""
    rendered, unsubscribe_url = _rendered(compiled, recipient, mailing.base_url)
    if mailing.tracked:
        html = engagement.tracked(rendered.html, mailing.base_url, recipient_token(recipient.pk))
        rendered = rendering.Message(subject=rendered.subject, html=html, text=rendered.text)
    return rendered, unsubscribe_url


def _email(rendered, from_email, to, headers):
    message = mail.EmailMultiAlternatives(
        subject=rendered.subject, body=rendered.text, from_email=from_email, to=to, headers=headers
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


def _message(compiled, recipient, mailing, from_email):
    rendered, unsubscribe_url = _sent_form(compiled, recipient, mailing)
    return _email(rendered, from_email, [recipient.address], {"List-Unsubscribe": f"<{unsubscribe_url}>", **ONE_CLICK})


def _batch_message(compiled, rows, mailing, from_email):
    """One request for many recipients (a backend with `batch_size`, mailings/brevo.py): each
    recipient's own subject, HTML, text and List-Unsubscribe ride in its own version; what the
    request carries for all is the message with nobody's details in it."""
    contents, headers = {}, {}
    for row in rows:
        rendered, unsubscribe_url = _sent_form(compiled, row, mailing)
        contents[row.address] = {
            "subject": rendered.subject,
            "htmlContent": rendered.html,
            "textContent": rendered.text,
        }
        headers[row.address] = {"List-Unsubscribe": f"<{unsubscribe_url}>"}
    nobody = compiled.render({"unsubscribe_url": mailing.base_url, "preferences_url": mailing.base_url})
    message = _email(nobody, from_email, [row.address for row in rows], dict(ONE_CLICK))
    message.merge_headers, message.merge_content = headers, contents
    return message


def hand_over(message, connection_):
    """(outcome, {address: the provider's message id}, error text) for one message, sent to one
    recipient or, in one request, to a batch of them."""
    try:
        connection_.send_messages([message])
    except AnymailAPIError as error:
        return outcomes.of(error), {}, str(error)[:300]
    except Exception as error:  # a backend that is not anymail's: whether it left is not known
        logger.warning("Mailing message to %s: %s", message.to[:3], error)
        return UNKNOWN, {}, str(error)[:300]
    status = getattr(message, "anymail_status", None)
    recipients = status.recipients if status is not None else {}
    return SENT, {address: (found.message_id or "") for address, found in recipients.items()}, ""


def person_values(person, email):
    first, _space, last = person.full_name.partition(" ")
    return {
        "first_name": first,
        "last_name": last,
        "full_name": person.full_name,
        "email": email,
        "commune": person.commune,
        "postcode": person.postcode,
    }


def from_address(mailing, look):
    """The platform's sending address, under the name of the mailing's sender."""
    name = mailing.sender_name or (mailing.chapter.name if mailing.chapter_id else look.name)
    return formataddr((name, parseaddr(settings.MAILINGS_FROM_EMAIL)[1]))


def compiled_for(mailing):
    """The mailing ready to render for each recipient, and the organisation's look."""
    look = rendering.look_for()
    with translation.override(mailing.language):
        compiled = rendering.compile_mailing(
            subject=mailing.subject,
            preview_text=mailing.preview_text,
            blocks=mailing.blocks,
            language=mailing.language,
            look=look,
            purpose_label=str(Purpose(mailing.purpose).label),
        )
    return compiled, look


# The chain -----------------------------------------------------------------------------------


def _reserve_slot(count):
    """The moment the next `count` messages may leave, the organisation's pace moved past them."""
    pace = Pace.objects.select_for_update().first() or Pace.objects.create()
    now = timezone.now()
    start = max(pace.next_free, now)
    pace.next_free = start + datetime.timedelta(seconds=count / rate())
    pace.save(update_fields=["next_free"])
    return start


def _claim(mailing, batch, not_before=None):
    """Mark the next queued rows as batch `batch`; their task runs at the pace's slot (and not
    before `not_before`)."""
    ids = list(
        Recipient.objects.filter(mailing=mailing, status=Recipient.Status.QUEUED)
        .order_by("id")
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)[: settings.MAILINGS_BATCH_SIZE]
    )
    if not ids:
        return False
    Recipient.objects.filter(pk__in=ids).update(status=Recipient.Status.SENDING, batch=batch)
    start = max(_reserve_slot(len(ids)), not_before or timezone.now())
    if mailing.channel == Mailing.Channel.SMS:
        start = sms.quiet_until(start)  # none leaves between 21:00 and 08:00
    from mailings.tasks import mailing_batch

    task = mailing_batch if start <= timezone.now() else mailing_batch.using(run_after=start)
    task.enqueue(mailing.pk, batch)
    return True


def _finish_if_done(mailing):
    if mailing.status != Mailing.Status.SENDING:
        return
    if Recipient.objects.filter(
        mailing=mailing, status__in=[Recipient.Status.QUEUED, Recipient.Status.SENDING]
    ).exists():
        return
    mailing.finished = timezone.now()
    Mailing.objects.filter(pk=mailing.pk, status=Mailing.Status.SENDING).update(
        status=Mailing.Status.SENT, finished=mailing.finished
    )
    mailing.status = Mailing.Status.SENT  # the last progress frame says so
    audit(actor=mailing.sent_by, action="mailings.sent", chapter=mailing.chapter, mailing=mailing.pk, **counts(mailing))


def start(mailing_id):
    """Freeze the audience of a mailing whose time has come and claim its first batch (the task of
    a send, now or scheduled). Runs once: a mailing already sending, cancelled or rescheduled is
    left alone."""
    mailing = (
        Mailing.objects.select_for_update(of=("self",))
        .select_related("chapter", "segment", "sent_by")
        .get(pk=mailing_id)
    )
    if mailing.status != Mailing.Status.SCHEDULED or (mailing.scheduled_for and mailing.scheduled_for > timezone.now()):
        return
    actor = mailing.sent_by
    try:
        found = audience.of(mailing, actor)
    except NotAllowed:
        # The sender lost the right to send here between the click and now.
        Mailing.objects.filter(pk=mailing.pk).update(status=Mailing.Status.CANCELLED, finished=timezone.now())
        return
    sql, params = found.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {Recipient._meta.db_table} (mailing_id, person_id, address, status, message_id, error,
                                                         bounce, soft_bounces, clicks)
                SELECT DISTINCT ON (lower(audience.email))
                       %s, audience.person_id, audience.email, 'queued', '', '', '', 0, 0
                FROM ({sql}) AS audience(person_id, email)
                ORDER BY lower(audience.email), audience.person_id
                ON CONFLICT DO NOTHING""",
            [mailing.pk, *params],
        )
    total = Recipient.objects.filter(mailing=mailing).count()
    mailing.status, mailing.started, mailing.recipients_count = Mailing.Status.SENDING, timezone.now(), total
    mailing.save(update_fields=["status", "started", "recipients_count", "updated"])
    progress_changed(mailing)
    if not _claim(mailing, 1):
        _finish_if_done(mailing)


def send_batch(mailing_id, batch, *, retried=False):
    """Hand over the rows of `batch`, then claim the next one (the task of each batch)."""
    mailing = Mailing.objects.select_related("chapter").get(pk=mailing_id)
    rows = Recipient.objects.filter(mailing=mailing, batch=batch, status=Recipient.Status.SENDING)
    not_before = None
    if retried:
        # This batch was being handed over by a worker that died: what it sent is not known.
        rows.update(status=Recipient.Status.UNKNOWN, error=_("The worker stopped while handing this message over."))
    elif mailing.status == Mailing.Status.CANCELLED:
        rows.update(status=Recipient.Status.CANCELLED)
    else:
        rows = _still_wanted(mailing, list(rows.select_related("person").order_by("id")))
        if mailing.channel == Mailing.Channel.SMS:
            not_before = _hand_over_texts(mailing, rows)
        elif _hand_over_batch(mailing, rows):
            not_before = timezone.now() + TROUBLE_PAUSE
    mailing.refresh_from_db(fields=["status"])
    if mailing.status != Mailing.Status.SENDING or not _claim(mailing, batch + 1, not_before):
        _finish_if_done(mailing)
    progress_changed(mailing)


def _still_wanted(mailing, rows):
    """The rows whose person still consents (and, by email, whose address was not suppressed) at
    their turn; the others are cancelled: an unsubscribe during a long send is obeyed at once."""
    channel = "sms" if mailing.channel == Mailing.Channel.SMS else "email"
    key = f"{channel}:{mailing.purpose}"
    suppressed = set()
    if channel == "email":
        suppressed = set(
            Suppression.objects.filter(email__in=[row.address.lower() for row in rows]).values_list("email", flat=True)
        )
    gone = [row for row in rows if key not in row.person.consents or row.address.lower() in suppressed]
    if gone:
        Recipient.objects.filter(pk__in=[row.pk for row in gone]).update(
            status=Recipient.Status.CANCELLED, error=_("Unsubscribed before their turn came.")
        )
    return [row for row in rows if row not in gone]


def _hand_over_batch(mailing, rows):
    """Hand the rows over (one by one, or in requests of many when the provider's backend takes
    batches) and write their outcomes together; returns True when the provider is in trouble (the
    rows not handed over went back to the queue, to be tried again after a pause). Outcomes are
    written at the end, in the batch's transaction: a worker that dies before has them all marked
    unknown by the task's next delivery."""
    if not rows:
        return False
    compiled, look = compiled_for(mailing)
    sender = from_address(mailing, look)
    statuses = {SENT: Recipient.Status.SENT, FAILED: Recipient.Status.FAILED, UNKNOWN: Recipient.Status.UNKNOWN}
    done, back, trouble, position = [], [], False, 0
    with providers.email_connection() as provider:
        size = max(1, getattr(provider, "batch_size", 1))
        while position < len(rows):
            if position and (size > 1 or position % CANCEL_CHECK_EVERY == 0) and _cancelled(mailing):
                Recipient.objects.filter(pk__in=[r.pk for r in rows[position:]]).update(
                    status=Recipient.Status.CANCELLED
                )
                break
            chunk = rows[position : position + size]
            if size > 1:
                message = _batch_message(compiled, chunk, mailing, sender)
            else:
                message = _message(compiled, chunk[0], mailing, sender)
            outcome, ids, error = hand_over(message, provider)
            if outcome == NOT_SENT:
                back, trouble = rows[position:], True
                break
            now = timezone.now() if outcome == SENT else None
            for row in chunk:
                row.status, row.error, row.sent = statuses[outcome], error, now
                row.message_id = ids.get(row.address, "")[:200]
            done += chunk
            position += len(chunk)
            if outcome == UNKNOWN:
                # The provider is in trouble: the rest waits rather than piling up unknowns.
                back, trouble = rows[position:], True
                break
    _record(mailing, done, back, Activity.Kind.EMAIL)
    return trouble


def sms_content(mailing):
    """The text every recipient gets, tokens not yet filled in, with the opt-out mention."""
    return sms.with_opt_out(mailing.sms_text, mailing.language)


def sms_render(content, values):
    """The text with each token replaced by the recipient's value, or its fallback."""
    plain = {name: " ".join(str(value or "").split()) for name, value in values.items()}
    return rendering.TOKEN.sub(lambda token: plain.get(token["name"]) or token["fallback"] or "", content)


def sms_sender():
    found = MailingSettings.objects.first()
    return (found.sms_sender if found else "") or settings.MAILINGS_SMS_SENDER


def _hand_over_texts(mailing, rows):
    """Hand the SMS of the rows over one by one and write their outcomes together, as
    _hand_over_batch does for email. Returns when the rest may be tried again: after a pause when
    the provider is in trouble, at 08:00 when the night came meanwhile; None when all went."""
    if not rows:
        return None
    try:
        provider = sms.provider()
    except ImproperlyConfigured as error:
        Recipient.objects.filter(pk__in=[row.pk for row in rows]).update(
            status=Recipient.Status.FAILED, error=str(error)[:300]
        )
        return None
    content, sender = sms_content(mailing), sms_sender()
    statuses = {SENT: Recipient.Status.SENT, FAILED: Recipient.Status.FAILED, UNKNOWN: Recipient.Status.UNKNOWN}
    done, back, not_before = [], [], None
    for position, row in enumerate(rows):
        now = timezone.now()
        if sms.quiet_until(now) != now:
            back, not_before = rows[position:], sms.quiet_until(now)
            break
        if position and position % CANCEL_CHECK_EVERY == 0 and _cancelled(mailing):
            Recipient.objects.filter(pk__in=[r.pk for r in rows[position:]]).update(status=Recipient.Status.CANCELLED)
            break
        text = sms_render(content, person_values(row.person, ""))
        try:
            message_id, outcome, error = (
                provider.send(sender=sender, recipient=row.address, content=text, tag=f"mailing-{mailing.pk}"),
                SENT,
                "",
            )
        except sms.SmsError as refusal:
            message_id, outcome, error = "", refusal.outcome, refusal.message
        if outcome == NOT_SENT:
            back, not_before = rows[position:], now + TROUBLE_PAUSE
            break
        row.status, row.message_id, row.error = statuses[outcome], message_id[:200], error[:300]
        row.sent = now if outcome == SENT else None
        done.append(row)
        if outcome == UNKNOWN:
            back, not_before = rows[position + 1 :], now + TROUBLE_PAUSE
            break
    _record(mailing, done, back, Activity.Kind.SMS)
    return not_before


def _write_outcomes(done):
    """One UPDATE per kind of outcome, each row with its message id (Django's bulk_update writes
    a CASE per column and row: 20 times slower on a batch of 1,000)."""
    groups = {}
    for row in done:
        groups.setdefault((row.status, row.error, row.sent), []).append(row)
    with connection.cursor() as cursor:
        for (status, error, sent), rows in groups.items():
            cursor.execute(
                f"""UPDATE {Recipient._meta.db_table} AS r SET status = %s, error = %s, sent = %s, message_id = v.id
                    FROM unnest(%s::bigint[], %s::text[]) AS v(pk, id) WHERE r.id = v.pk""",
                [status, error, sent, [row.pk for row in rows], [row.message_id for row in rows]],
            )


def _record(mailing, done, back, kind):
    """The outcomes of a batch, the rows not handed over back in the queue, and a line on the
    timeline of each person the message reached."""
    _write_outcomes(done)
    if back:
        Recipient.objects.filter(pk__in=[r.pk for r in back]).update(status=Recipient.Status.QUEUED, batch=None)
    summary = (_("Mailing: %(subject)s") % {"subject": mailing.subject})[:300]
    mailing_type = ContentType.objects.get_for_model(Mailing)
    Activity.objects.bulk_create(
        Activity(
            person_id=row.person_id, kind=kind, summary=summary, target_type=mailing_type, target_id=str(mailing.pk)
        )
        for row in done
        if row.status == Recipient.Status.SENT
    )


def _test_text(actor, mailing):
    try:
        number, _mobile = people_services.normalise_phone(actor.phone or "")
    except InvalidAction:
        number = ""
    if not number:
        raise InvalidAction(_("Add your mobile number to your profile to receive a test SMS."))
    first, _space, last = actor.get_full_name().partition(" ")
    values = {"first_name": first, "last_name": last, "full_name": actor.get_full_name(), "email": actor.email}
    try:
        sms.provider().send(
            sender=sms_sender(), recipient=number, content=sms_render(sms_content(mailing), values), tag="test"
        )
    except ImproperlyConfigured:
        raise InvalidAction(_("No SMS provider is set up: ask the platform's operator.")) from None
    except sms.SmsError as refusal:
        raise InvalidAction(_("The test could not be sent: %(error)s") % {"error": refusal.message}) from None
    return number


def _cancelled(mailing):
    return Mailing.objects.filter(pk=mailing.pk, status=Mailing.Status.CANCELLED).exists()


# What the sender sees ----------------------------------------------------------------------


def counts(mailing):
    """The recipients by outcome, and the reactions reported by the provider."""
    found = Recipient.objects.filter(mailing=mailing).aggregate(
        total=Count("id"),
        **{status: Count("id", filter=Q(status=status)) for status in Recipient.Status.values},
        delivered=Count("id", filter=Q(delivered__isnull=False)),
        hard_bounces=Count("id", filter=Q(bounce="hard")),
        soft_bounces=Count("id", filter=Q(soft_bounces__gt=0)),
        complaints=Count("id", filter=Q(complained__isnull=False)),
        unsubscribes=Count("id", filter=Q(unsubscribed__isnull=False)),
        opens=Count("id", filter=Q(opened__isnull=False)),
        clickers=Count("id", filter=Q(clicks__gt=0)),
    )
    found["remaining"] = found[Recipient.Status.QUEUED] + found[Recipient.Status.SENDING]
    return found


def progress_changed(mailing):
    from mailings import events

    events.progress(mailing, counts(mailing))


# Services ----------------------------------------------------------------------------------


def _require_send(actor, chapter):
    if not audience.may_send_from(actor, chapter):
        raise NotAllowed(capabilities.SEND)


SMS_MAX_PARTS = 6


def mailing_save(
    *,
    actor,
    mailing=None,
    chapter,
    segment,
    purpose,
    language,
    subject,
    preview_text="",
    sender_name="",
    blocks=(),
    channel=Mailing.Channel.EMAIL,
    sms_text="",
    members_only=None,
):
    """Create or change a draft, an email (subject and blocks) or an SMS (a text; its subject is
    only its title in the list). Only mailings not yet sending change: a scheduled one, or one
    awaiting approval, becomes a draft again (it is sent once confirmed anew)."""
    _require_send(actor, chapter)
    if segment is not None and not audience.segments.may_use(actor, segment, people_capabilities.VIEW):
        raise NotAllowed(people_capabilities.VIEW)
    if channel not in Mailing.Channel.values:
        raise InvalidAction(_("Choose email or SMS."))
    for text in (subject, preview_text):
        rendering.validate_tokens(text)
    if not subject.strip():
        raise InvalidAction(_("A mailing needs a subject."))
    if channel == Mailing.Channel.SMS:
        cleaned, sms_text = [], sms_text.strip()
        rendering.validate_tokens(sms_text, where=_("Text"))
        if not sms_text:
            raise InvalidAction(_("Write the text of the SMS."))
        if sms.parts(sms.with_opt_out(sms_text, language))[0] > SMS_MAX_PARTS:
            raise InvalidAction(
                _("This SMS would take more than %(parts)s parts: shorten it.") % {"parts": SMS_MAX_PARTS}
            )
    else:
        cleaned, sms_text = rendering.validate_blocks(list(blocks)), ""
    with transaction.atomic():
        if mailing is None:
            mailing = Mailing(created_by=actor)
        else:
            mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
            if mailing.status not in (Mailing.Status.DRAFT, Mailing.Status.AWAITING, Mailing.Status.SCHEDULED):
                raise InvalidAction(_("This mailing has been sent: it can no longer be changed."))
            _require_send(actor, mailing.chapter)
        mailing.chapter, mailing.segment, mailing.purpose, mailing.language = chapter, segment, purpose, language
        mailing.subject, mailing.preview_text, mailing.sender_name = subject.strip(), preview_text.strip(), sender_name
        mailing.blocks, mailing.status, mailing.scheduled_for = cleaned, Mailing.Status.DRAFT, None
        mailing.channel, mailing.sms_text = channel, sms_text
        if members_only is not None:
            mailing.members_only = members_only
        mailing.save()
    return mailing


def needs_approval(actor):
    """Whether a mailing sent by `actor` waits for a national approval: when the organisation asks
    for it and the actor does not send for the whole organisation."""
    found = MailingSettings.objects.first()
    return bool(found and found.chapters_need_approval) and not chapter_access.can(actor, capabilities.SEND)


def may_approve(actor):
    return chapter_access.can(actor, capabilities.SEND)


def _schedule(mailing, when):
    """Queue the start of a mailing, now or at `when` (a time gone by is now)."""
    from mailings.tasks import mailing_start

    later = when is not None and when > timezone.now()
    mailing.status, mailing.scheduled_for = Mailing.Status.SCHEDULED, when if later else None
    mailing.save(update_fields=["status", "scheduled_for", "sent_by", "base_url", "approved_by", "updated"])
    (mailing_start.using(run_after=when) if later else mailing_start).enqueue(mailing.pk)


def mailing_send(*, actor, mailing, base_url, when=None):
    """Send a draft now (`when` None) or at `when`: the audience is counted, and frozen, at that
    moment. Where the organisation asks for it, a chapter's mailing waits for approval first."""
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        _require_send(actor, mailing.chapter)
        if mailing.status != Mailing.Status.DRAFT:
            raise InvalidAction(
                _("Only a draft can be sent; this mailing is %(status)s.")
                % {"status": mailing.get_status_display().lower()}
            )
        if when is not None and when <= timezone.now():
            raise InvalidAction(_("Choose a time in the future, or send it now."))
        if not audience.count_of(mailing, actor):
            raise InvalidAction(_("Nobody would receive this mailing: check its segment and purpose."))
        mailing.sent_by, mailing.base_url, mailing.review_note = actor, base_url, ""
        found = MailingSettings.objects.first()
        mailing.tracked = bool(found and found.track_opens_clicks) and mailing.channel == Mailing.Channel.EMAIL
        details = {"mailing": mailing.pk, "title": mailing.subject, "scheduled": when.isoformat() if when else None}
        if needs_approval(actor):
            mailing.status, mailing.scheduled_for = Mailing.Status.AWAITING, when
            mailing.save(
                update_fields=["status", "scheduled_for", "sent_by", "base_url", "review_note", "tracked", "updated"]
            )
            audit(actor=actor, action="mailings.approval_asked", chapter=mailing.chapter, **details)
            return mailing
        mailing.save(update_fields=["review_note", "tracked"])
        _schedule(mailing, when)
        audit(actor=actor, action="mailings.send", chapter=mailing.chapter, **details)
    return mailing


def mailing_approve(*, actor, mailing):
    """Someone who sends for the whole organisation lets a chapter's mailing go, at the time its
    sender chose (now, if that time has passed)."""
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if not may_approve(actor):
            raise NotAllowed(capabilities.SEND)
        if mailing.status != Mailing.Status.AWAITING:
            raise InvalidAction(_("This mailing is not awaiting approval."))
        mailing.approved_by = actor
        _schedule(mailing, mailing.scheduled_for)
        audit(
            actor=actor, action="mailings.approved", chapter=mailing.chapter, mailing=mailing.pk, title=mailing.subject
        )
    return mailing


def mailing_reject(*, actor, mailing, note):
    """Send a chapter's mailing back to its draft, with what to change."""
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if not may_approve(actor):
            raise NotAllowed(capabilities.SEND)
        if mailing.status != Mailing.Status.AWAITING:
            raise InvalidAction(_("This mailing is not awaiting approval."))
        if not note.strip():
            raise InvalidAction(_("Say what to change: the sender reads it on the mailing's page."))
        mailing.status, mailing.scheduled_for, mailing.review_note = Mailing.Status.DRAFT, None, note.strip()[:500]
        mailing.save(update_fields=["status", "scheduled_for", "review_note", "updated"])
        audit(actor=actor, action="mailings.rejected", chapter=mailing.chapter, mailing=mailing.pk, note=note[:500])
    return mailing


def settings_save(*, actor, form):
    """Save the organisation's mailing settings (a valid MailingSettingsForm): for those who send
    for the whole organisation. Its own Brevo key and webhook credentials are kept encrypted; an
    empty field keeps what was saved."""
    if not may_approve(actor):
        raise NotAllowed(capabilities.SEND)
    found = form.save(commit=False)
    data = form.cleaned_data
    if data.get("forget_brevo"):
        found.brevo_api_key = found.brevo_api_key_hint = found.brevo_webhook_secret = ""
        found.brevo_webhook_secret_hint = ""
    if data.get("brevo_key"):
        found.brevo_api_key, found.brevo_api_key_hint = (
            crypto.encrypt(data["brevo_key"]),
            crypto.hint(data["brevo_key"]),
        )
    if data.get("brevo_hook"):
        found.brevo_webhook_secret = crypto.encrypt(data["brevo_hook"])
        found.brevo_webhook_secret_hint = crypto.hint(data["brevo_hook"])
    found.save()
    changed = [name for name in form.changed_data if not name.startswith(("brevo_", "forget_"))]
    audit(
        actor=actor,
        action="mailings.settings",
        own_brevo=bool(found.brevo_api_key),
        **{name: data[name] for name in changed},
    )
    return found


def mailing_cancel(*, actor, mailing):
    """Stop what has not left yet: a scheduled mailing is cancelled, and so are the queued messages
    of one being sent (a batch being handed over stops within a few messages)."""
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        _require_send(actor, mailing.chapter)
        if mailing.status not in (Mailing.Status.AWAITING, Mailing.Status.SCHEDULED, Mailing.Status.SENDING):
            raise InvalidAction(_("Only a mailing that is scheduled or being sent can be cancelled."))
        mailing.status, mailing.finished = Mailing.Status.CANCELLED, timezone.now()
        mailing.save(update_fields=["status", "finished", "updated"])
        Recipient.objects.filter(mailing=mailing, status=Recipient.Status.QUEUED).update(
            status=Recipient.Status.CANCELLED
        )
        audit(actor=actor, action="mailings.cancel", chapter=mailing.chapter, mailing=mailing.pk)
        progress_changed(mailing)
    return mailing


def mailing_test_send(*, actor, mailing, base_url):
    """Send the mailing to the actor's own address (or, an SMS, to the number of their profile),
    with their own name in its tokens."""
    _require_send(actor, mailing.chapter)
    if mailing.channel == Mailing.Channel.SMS:
        return _test_text(actor, mailing)
    compiled, look = compiled_for(mailing)
    base = base_url.rstrip("/")
    values = {
        "first_name": actor.first_name if hasattr(actor, "first_name") else "",
        "last_name": getattr(actor, "last_name", ""),
        "full_name": actor.get_full_name(),
        "email": actor.email,
        "commune": "",
        "postcode": "",
        "unsubscribe_url": base + "/",
        "preferences_url": base + "/",
    }
    rendered = compiled.render(values)
    message = mail.EmailMultiAlternatives(
        subject=_("[Test] %(subject)s") % {"subject": rendered.subject},
        body=rendered.text,
        from_email=from_address(mailing, look),
        to=[actor.email],
    )
    message.attach_alternative(rendered.html, "text/html")
    with providers.email_connection() as provider:
        outcome, _id, error = hand_over(message, provider)
    if outcome != SENT:
        raise InvalidAction(_("The test could not be sent: %(error)s") % {"error": error or outcome})
    return actor.email
