"""Every write of phone banks: campaigns, their questions and callers, opening and closing them, and
the result of a call, which goes into the person's record in the same transaction as the call.

A result is recorded once: a second submission of the same call (a double tap, a retry after a
lost connection) returns the first one unchanged.
"""

import datetime
import re

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from calls import access, capabilities, events, queue
from calls.models import UNREACHED, Call, Caller, CallSettings, Campaign, Outcome, Question, Reveal, Target, WrongNumber
from chapters import access as chapter_access
from chapters.services import InvalidAction, NotAllowed, audit
from people import capabilities as people_capabilities
from people import segments
from people import services as people
from people.models import Activity, Channel, Consent, CustomField, Purpose
from tenancy import rates

MAX_TEXT_ANSWER = 1000
SCALE = range(1, 6)
TOKEN = re.compile(r"\{(first_name|full_name|commune|chapter|caller)\}")


def _audit(actor, action, campaign, **details):
    audit(actor=actor, action=action, chapter=campaign.chapter, campaign=campaign.pk, **details)


def _require_manage(actor, campaign=None, chapter=None):
    chapter = chapter if chapter is not None else campaign.chapter
    if not chapter_access.can(actor, capabilities.MANAGE, chapter):
        raise NotAllowed(capabilities.MANAGE)


def audience(*, actor, campaign):
    """The people the campaign would call if its list were frozen now by `actor`: the people of
    its segment within its chapter that the actor may reach, who consented to be phoned for its
    purpose and have a number not reported wrong."""
    found = segments.audience_for(actor, campaign.segment, capabilities.MANAGE, chapter=campaign.chapter)
    return queue.reachable(segments.within_chapter(found, campaign.chapter), campaign)


# Campaigns ---------------------------------------------------------------------------------------


def campaign_save(*, actor, campaign=None, chapter, segment, **values):
    """Create or change a campaign. Its segment must be one the actor may use; once the list is
    frozen (opened), the segment, chapter and purpose no longer change."""
    _require_manage(actor, chapter=chapter)
    if campaign is not None:
        _require_manage(actor, campaign)
    if not segments.may_use(actor, segment, people_capabilities.VIEW):
        raise NotAllowed(people_capabilities.VIEW)
    if values.get("calling_from") and values.get("calling_until") and values["calling_from"] >= values["calling_until"]:
        raise InvalidAction(_("Calling hours must end after they start."))
    if values.get("ends") and values.get("starts") and values["ends"] < values["starts"]:
        raise InvalidAction(_("The campaign must end after it starts."))
    with transaction.atomic():
        creating = campaign is None
        if creating:
            campaign = Campaign(created_by=actor)
        elif campaign.status != Campaign.Status.DRAFT and (
            campaign.segment_id != segment.pk
            or campaign.chapter_id != chapter.pk
            or values.get("purpose", campaign.purpose) != campaign.purpose
        ):
            raise InvalidAction(_("The list is made: its segment, chapter and purpose can no longer change."))
        campaign.chapter, campaign.segment = chapter, segment
        for name, value in values.items():
            setattr(campaign, name, value)
        campaign.save()
        _audit(actor, "calls.campaign_created" if creating else "calls.campaign_saved", campaign, title=campaign.title)
    return campaign


def campaign_open(*, actor, campaign):
    """Freeze the list (or add the segment's newcomers to it) and open the campaign to callers."""
    _require_manage(actor, campaign)
    if campaign.status == Campaign.Status.CLOSED:
        raise InvalidAction(_("This campaign is closed."))
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        added = queue.freeze(campaign, audience(actor=actor, campaign=campaign))
        if not campaign.targets.exists():
            raise InvalidAction(
                _("No one in this segment can be called: they need a phone number and to have agreed to be phoned.")
            )
        campaign.status = Campaign.Status.OPEN
        campaign.opened = campaign.opened or timezone.now()
        campaign.save(update_fields=["status", "opened", "updated"])
        _audit(actor, "calls.campaign_opened", campaign, added=added)
        events.campaign_changed(campaign)
    return added


def campaign_set_status(*, actor, campaign, status):
    """Pause, resume or close an open campaign. A closed one stays closed."""
    _require_manage(actor, campaign)
    allowed = {
        Campaign.Status.PAUSED: {Campaign.Status.OPEN},
        Campaign.Status.OPEN: {Campaign.Status.PAUSED},
        Campaign.Status.CLOSED: {Campaign.Status.OPEN, Campaign.Status.PAUSED, Campaign.Status.DRAFT},
    }
    if campaign.status not in allowed.get(status, set()):
        raise InvalidAction(_("This campaign cannot go from “%(from)s” to “%(to)s”.")
                            % {"from": campaign.get_status_display(), "to": Campaign.Status(status).label})  # fmt: skip
    with transaction.atomic():
        campaign.status = status
        campaign.save(update_fields=["status", "updated"])
        _audit(actor, "calls.campaign_status", campaign, status=status)
        events.campaign_changed(campaign)
    return campaign


# Questions -----------------------------------------------------------------------------------------


def parse_choices(raw):
    """ "Label" or "Label -> tag", one per line: [{"label", "tag"}]."""
    choices = []
    for line in raw.replace("\r", "").split("\n"):
        label, _arrow, tag = line.partition("->")
        label, tag = " ".join(label.split())[:80], " ".join(tag.split())[:60]
        if label and label not in [choice["label"] for choice in choices]:
            choices.append({"label": label, "tag": tag})
    return choices


def question_add(*, actor, campaign, kind, text, choices=(), tag="", field_key=""):
    _require_manage(actor, campaign)
    text = " ".join(text.split())
    if not text:
        raise InvalidAction(_("Write the question."))
    choices = list(choices) if kind == Question.Kind.CHOICE else []
    if kind == Question.Kind.CHOICE and len(choices) < 2:
        raise InvalidAction(_("A choice needs two answers at least, one per line."))
    field = None
    if field_key:
        field = CustomField.objects.filter(key=field_key).first()
        if field is None:
            raise InvalidAction(_("No such custom field."))
        _check_field_fits(kind, field, choices)
    with transaction.atomic():
        position = (campaign.questions.order_by("-position").values_list("position", flat=True).first() or 0) + 1
        question = Question.objects.create(
            campaign=campaign,
            position=position,
            kind=kind,
            text=text[:300],
            choices=choices,
            tag=" ".join(tag.split())[:60] if kind == Question.Kind.YES_NO else "",
            field_key=field.key if field else "",
        )
        _audit(actor, "calls.question_added", campaign, question=text[:100])
    return question


def _check_field_fits(kind, field, choices):
    """A question fills a custom field only with values the field takes."""
    fits = {
        Question.Kind.TEXT: {CustomField.Kind.TEXT},
        Question.Kind.SCALE: {CustomField.Kind.NUMBER, CustomField.Kind.TEXT},
        Question.Kind.YES_NO: {CustomField.Kind.YES_NO, CustomField.Kind.TEXT},
        Question.Kind.CHOICE: {CustomField.Kind.CHOICE, CustomField.Kind.TEXT},
    }[kind]
    if field.kind not in fits:
        raise InvalidAction(
            _("The field “%(field)s” (%(kind)s) cannot hold this question's answers.")
            % {"field": field.name, "kind": field.get_kind_display()}
        )
    missing = [
        choice["label"]
        for choice in choices
        if field.kind == CustomField.Kind.CHOICE and choice["label"] not in field.choices
    ]
    if missing:
        raise InvalidAction(
            _("“%(label)s” is not one of the choices of the field “%(field)s”.")
            % {"label": missing[0], "field": field.name}
        )


def question_delete(*, actor, question):
    campaign = question.campaign
    _require_manage(actor, campaign)
    if Call.objects.filter(campaign=campaign, answers__has_key=str(question.pk)).exists():
        raise InvalidAction(
            _("People have answered this question: it stays, so that their answers keep their meaning.")
        )
    question.delete()
    _audit(actor, "calls.question_deleted", campaign)


# Callers ---------------------------------------------------------------------------------------------


def caller_invite(*, actor, campaign, user):
    """Invite a member of the organisation to call for the campaign."""
    _require_manage(actor, campaign)
    if not user.is_active:
        raise InvalidAction(_("This account is closed."))
    caller, created = Caller.objects.get_or_create(campaign=campaign, user=user, defaults={"invited_by": actor})
    if created:
        _audit(actor, "calls.caller_invited", campaign, user=user.pk)
    return caller


def caller_remove(*, actor, caller):
    campaign = caller.campaign
    _require_manage(actor, campaign)
    with transaction.atomic():
        Target.objects.filter(campaign=campaign, leased_by=caller.user, status=Target.Status.QUEUED).update(
            leased_by=None, lease_until=None, call=None
        )
        caller.delete()
        _audit(actor, "calls.caller_removed", campaign, user=caller.user_id)


# Calling -------------------------------------------------------------------------------------------


def _require_caller(actor, campaign):
    if not access.may_call(actor, campaign):
        raise NotAllowed("calls.call")
    if not campaign.is_open:
        raise InvalidAction(_("This campaign is not open for calls at the moment."))


def call_next(*, actor, campaign, now=None):
    """The caller's call under way, or their next person (None: no one to call now). A caller who
    asks for new people faster than anyone can call them (CALLS_PEOPLE_RATE) is refused for a while:
    numbers are given to be called, not collected."""
    _require_caller(actor, campaign)
    current = queue.held_by(campaign, actor, now)
    if current is not None:
        return current
    allowed, seconds = rates.parse(settings.CALLS_PEOPLE_RATE)
    if not rates.within("calls:people", str(actor.pk), allowed, seconds):
        raise InvalidAction(_("You asked for many people in a short time: take a break, and come back in a while."))
    return queue.take_next(campaign, actor, now)


def call_reveal(*, actor, call):
    """The number to dial for the call's person, logged as seen by the caller. None when the call
    is no longer theirs to make (or the person has no good number left)."""
    if not queue.holds(call, actor):
        return None
    number = queue.number_for(call.person_id)
    if number is not None:
        Reveal.objects.create(call=call, caller=actor, person_id=call.person_id, number=number)
    return number


def script_for(campaign, person, caller):
    """The campaign's script with the person's and the caller's details in place of the tokens."""
    values = {
        "first_name": (person.full_name.split() or [""])[0],
        "full_name": person.full_name,
        "commune": person.commune,
        "chapter": campaign.chapter.name,
        "caller": caller.get_short_name(),
    }
    return TOKEN.sub(lambda match: values[match.group(1)] or "…", campaign.script)


def clean_answers(campaign, raw, questions=None):
    """{question id: answer} from the posted values {str(question id): text}: a choice's label, an
    integer from 1 to 5, a boolean, or a text. Unanswered questions are left out. Raises
    InvalidAction naming the first answer that does not fit."""
    cleaned = {}
    for question in campaign.questions.all() if questions is None else questions:
        value = str(raw.get(str(question.pk), "") or "").replace("\x00", "").strip()
        if not value:
            continue
        wrong = InvalidAction(
            _("“%(value)s” is not an answer to “%(question)s”.") % {"value": value[:40], "question": question.text}
        )
        if question.kind == Question.Kind.CHOICE:
            if value not in [choice["label"] for choice in question.choices]:
                raise wrong
            cleaned[str(question.pk)] = value
        elif question.kind == Question.Kind.SCALE:
            if not (value.isascii() and value.isdigit() and int(value) in SCALE):
                raise wrong
            cleaned[str(question.pk)] = int(value)
        elif question.kind == Question.Kind.YES_NO:
            if value not in ("yes", "no"):
                raise wrong
            cleaned[str(question.pk)] = value == "yes"
        else:
            cleaned[str(question.pk)] = value[:MAX_TEXT_ANSWER]
    return cleaned


def _record_effects(campaign, questions, answers):
    """The tags and custom field values the answers write into the person's record."""
    tags, fields = [], {}
    for question in questions:
        answer = answers.get(str(question.pk))
        if answer is None:
            continue
        if question.kind == Question.Kind.YES_NO and answer is True and question.tag:
            tags.append(question.tag)
        if question.kind == Question.Kind.CHOICE:
            tags += [choice["tag"] for choice in question.choices if choice["label"] == answer and choice["tag"]]
        if question.field_key:
            fields[question.field_key] = ("yes" if answer else "no") if isinstance(answer, bool) else answer
    return tags, fields


def call_record(*, actor, call, outcome, answers=None, call_back_at=None, note="", now=None):
    """Record what came of a call, in one transaction with everything it changes: the call, the
    person's place in the queue, their record and timeline, and for "do not call again" their
    consent to be phoned (withdrawn for every purpose, so that no campaign calls them again) or
    for a wrong number the organisation's list of wrong numbers."""
    now = now or timezone.now()
    if call.caller_id != actor.pk:
        raise NotAllowed("calls.call")
    if outcome not in Outcome.values:
        raise InvalidAction(_("Choose what came of the call."))
    campaign = call.campaign
    questions = list(campaign.questions.all())
    answers = clean_answers(campaign, answers or {}, questions)
    note = str(note or "").replace("\x00", "").strip()[:500]
    if outcome == Outcome.CALL_BACK:
        if call_back_at is None:
            raise InvalidAction(_("Say when to call back."))
        if call_back_at <= now:
            raise InvalidAction(_("The time to call back must be in the future."))
        if call_back_at > now + datetime.timedelta(days=settings.CALLS_CALL_BACK_DAYS):
            raise InvalidAction(_("Call back within %(days)s days at most.") % {"days": settings.CALLS_CALL_BACK_DAYS})
    else:
        call_back_at = None
    with transaction.atomic():
        call = (
            Call.objects.select_for_update(of=("self",), no_key=True)
            .select_related("campaign", "person")
            .get(pk=call.pk)
        )
        if call.outcome:
            return call  # recorded already: the same call submitted twice counts once
        number = queue.number_for(call.person_id) if outcome == Outcome.WRONG_NUMBER else None
        target = Target.objects.select_for_update(no_key=True).get(pk=call.target_id)
        call.outcome, call.answers, call.note, call.call_back_at = outcome, answers, note, call_back_at
        call.ended = now
        call.save(update_fields=["outcome", "answers", "note", "call_back_at", "ended"])
        _reschedule(target, call, campaign, outcome, call_back_at, now)
        tags, fields = _record_effects(campaign, questions, answers)
        people.answers_record(
            person=call.person,
            actor=actor,
            summary=_timeline_summary(campaign, outcome, questions, answers),
            tags=tags,
            fields=fields,
            details={"campaign": campaign.pk, "outcome": outcome, "answers": answers, "note": note},
            target=campaign,
        )
        if outcome == Outcome.DO_NOT_CALL:
            _do_not_call(call.person, actor, campaign)
        elif outcome == Outcome.WRONG_NUMBER and number:
            WrongNumber.objects.get_or_create(number=number, defaults={"reported_by": actor, "campaign": campaign})
            queue.retire_number(number, outcome)
        events.call_recorded(call, questions, done=target.status == Target.Status.DONE)
    return call


def _reschedule(target, call, campaign, outcome, call_back_at, now):
    if target.call_id == call.pk:  # still theirs: the lease ends with the call
        target.leased_by, target.lease_until, target.call = None, None, None
    target.last_outcome = outcome
    target.preferred_caller, target.preferred_until = None, None
    if outcome in UNREACHED:
        target.attempts += 1
        if target.attempts >= campaign.max_attempts:
            target.status = Target.Status.DONE
        else:
            target.not_before = now + datetime.timedelta(hours=campaign.cooldown_hours)
    elif outcome == Outcome.CALL_BACK:
        target.not_before = call_back_at
        target.preferred_caller = call.caller
        target.preferred_until = call_back_at + datetime.timedelta(minutes=settings.CALLS_CALL_BACK_KEPT_MINUTES)
    else:
        target.status = Target.Status.DONE
    target.save()


def _do_not_call(person, actor, campaign):
    for purpose in Purpose.values:
        people.consent_record(
            person=person,
            channel=Channel.PHONE,
            purpose=purpose,
            status=Consent.Status.WITHDRAWN,
            basis=Consent.Basis.PERSON_REQUEST,
            source=_("Asked not to be called again (phone bank “%(title)s”)") % {"title": campaign.title},
            actor=actor,
        )
    queue.retire_person(person.pk, Outcome.DO_NOT_CALL)


def _timeline_summary(campaign, outcome, questions, answers):
    said = []
    for question in questions:
        answer = answers.get(str(question.pk))
        if answer is None:
            continue
        shown = (_("yes") if answer else _("no")) if isinstance(answer, bool) else str(answer)
        said.append(f"{question.text} {shown}")
    text = _("Call (%(campaign)s): %(outcome)s") % {"campaign": campaign.title, "outcome": Outcome(outcome).label}
    return f"{text}. {' · '.join(said)}" if said else text


def call_keep(*, actor, call, now=None):
    return queue.renew(call, actor, now)


def call_release(*, actor, call):
    return queue.release(call, actor)


# Settings, personal data ------------------------------------------------------------------------


def settings_save(*, actor, leaderboard):
    if not chapter_access.can(actor, capabilities.MANAGE):
        raise NotAllowed(capabilities.MANAGE)
    found = CallSettings.load()
    found.leaderboard = leaderboard
    found.save()
    audit(actor=actor, action="calls.settings_saved", leaderboard=leaderboard)
    return found


def personal_data(user):
    """What phone banks hold about a member: the calls they made (how many, when)."""
    calls = Call.objects.filter(caller=user).exclude(outcome="")
    return {
        "calls_made": calls.count(),
        "campaigns_invited_to": list(Caller.objects.filter(user=user).values_list("campaign__title", flat=True)),
    }


def personal_data_erase(user):
    """A member's account is erased: their invitations go; the calls they made stay, unsigned."""
    Caller.objects.filter(user=user).delete()


def person_erased(sender, person, emails, **kwargs):
    """A person asked to be erased: what they said on calls, and every trace of their number, go;
    the calls stay counted."""
    if person is None:
        return
    Call.objects.filter(person=person).update(answers={}, note="")
    Reveal.objects.filter(person=person).update(number="")
    queue.retire_person(person.pk, Outcome.DO_NOT_CALL)
    Activity.objects.filter(person=person, kind=Activity.Kind.CALL).update(details={})


def audit_export(*, actor, campaign):
    """An organiser exported the results (the export itself is a read: calls/selectors.py)."""
    _require_manage(actor, campaign)
    _audit(actor, "calls.results_exported", campaign)
