"""Every write on the supporter base.

`person_record` is the one door through which every feed (member accounts, the campaign site's
forms, shop orders, imports, and later events and calls) brings a person in: it finds the person
by email, else by a phone number only one person has, else creates them, and adds what it learnt
without overwriting what was known. Consent rows are appended by `consent_record`, which keeps the
derived state on the person in the same transaction and never lets a grant from a feed override
the person's own withdrawal. Services that act for someone take the actor and check
`chapters.access.can` through people.access.
"""

import json
import re

import phonenumbers
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import forms as account_forms
from chapters.models import Chapter, Membership
from chapters.services import InvalidAction, NotAllowed, audit
from people import access, capabilities
from people.models import (
    Activity,
    Consent,
    CustomField,
    Person,
    PersonChapter,
    PersonEmail,
    PersonPhone,
    Source,
    Tag,
)

# A feed may only add to what the person said: these sources are the organisation's, not the person's.
FEEDS_THAT_CANNOT_RESUBSCRIBE = {"import", "form", "feed"}
MEMBER_FIELDS = ("full_name", "postcode", "commune", "address")


# Contact points ------------------------------------------------------------------------------


# Addresses of the usual shape, which Django's validator accepts too (a subset of its dot-atom user
# part and of its domain names): a file of a million lines is mostly these, and the validator's
# several expressions are most of the time an address takes.
PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.[a-z]{2,63}"
)


def normalise_email(raw):
    """The address, trimmed and lower-cased, or InvalidAction."""
    email = (raw or "").strip().lower()
    if not email:
        return ""
    if len(email) <= 254 and PLAIN_EMAIL.fullmatch(email):
        return email
    try:
        validate_email(email)
    except ValidationError as error:
        raise InvalidAction(_("“%(value)s” is not a valid email address.") % {"value": raw}) from error
    return email


MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def normalise_phone(raw, region="FR"):
    """(E.164 number, is it a mobile) or InvalidAction; ("", False) for nothing. The number is read
    as members' profiles read theirs (accounts.forms.normalise_phone), at most 40 characters of it."""
    try:
        number = account_forms.normalise_phone((raw or "").strip()[:40], region)
    except ValidationError as error:
        raise InvalidAction(error.messages[0]) from error
    if not number:
        return "", False
    return number, phonenumbers.number_type(phonenumbers.parse(number)) in MOBILE_TYPES


def _lock(*keys):
    """Serialise the feeds that may create the same person (same address, same number) until commit,
    so that two sign-ups in the same instant make one person, not two."""
    with connection.cursor() as cursor:
        for key in sorted(k for k in keys if k):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"people:{key}"])


def _add_email(person, email):
    if not email or person.emails.filter(email__iexact=email).exists():
        return
    primary = not person.emails.filter(is_primary=True).exists()
    PersonEmail.objects.create(person=person, email=email, is_primary=primary)


def _add_phone(person, number, mobile):
    if not number or person.phones.filter(number=number).exists():
        return
    primary = not person.phones.filter(is_primary=True).exists()
    PersonPhone.objects.create(person=person, number=number, is_mobile=mobile, is_primary=primary)


def find(*, email="", phone=""):
    """The person an address names, else the one person a number names, unless the details carry
    an address and that person has another (the same number with another address is someone to
    review as a likely duplicate, not the same human for sure); None otherwise."""
    if email:
        found = PersonEmail.objects.filter(email__iexact=email).select_related("person").first()
        if found is not None:
            return found.person
    if phone:
        owners = list(PersonPhone.objects.filter(number=phone).values_list("person", flat=True).distinct()[:2])
        if len(owners) == 1 and not (email and PersonEmail.objects.filter(person=owners[0]).exists()):
            return Person.objects.get(pk=owners[0])
    return None


# Entry ---------------------------------------------------------------------------------------


def person_record(
    *,
    source,
    source_detail="",
    email="",
    phone="",
    full_name="",
    postcode="",
    commune="",
    address="",
    language="",
    actor=None,
    activity=None,
    consents=(),
    chapter=None,
):
    """Find or create the person these details describe, and enrich them.

    Matching: the email address first (exact, case-insensitive), then a phone number held by
    exactly one person. What is already known is kept (a feed fills blanks; it never renames
    anyone); a new address or number is added beside the others. `activity` is (kind, summary,
    target) for the timeline; `consents` are dicts for consent_record, which refuses any that
    would override the person's withdrawal. `chapter` links the person to it explicitly (a join
    request into a chapter). Returns (person, created). Raises InvalidAction on an unreadable
    address or number, before writing anything.
    """
    email = normalise_email(email)
    number, mobile = normalise_phone(phone)
    if not email and not number and not full_name.strip():
        raise InvalidAction(_("A person needs at least a name, an email address or a phone number."))
    with transaction.atomic():
        _lock(email, number)
        person = find(email=email, phone=number)
        created = person is None
        if created:
            person = Person.objects.create(
                full_name=full_name.strip()[:150],
                postcode=_postcode(postcode),
                commune=commune.strip()[:120],
                address=address.strip(),
                language=language if language in dict(Person._meta.get_field("language").choices) else "",
                source=source if source in Source.values else Source.MANUAL,
                source_detail=source_detail[:200],
            )
        else:
            person = Person.objects.select_for_update().get(pk=person.pk)
            _fill_blanks(
                person,
                full_name=full_name.strip()[:150],
                postcode=_postcode(postcode),
                commune=commune.strip()[:120],
                address=address.strip(),
                language=language,
            )
        _add_email(person, email)
        _add_phone(person, number, mobile)
        if chapter is not None:
            PersonChapter.objects.get_or_create(person=person, chapter=chapter, reason=PersonChapter.Reason.EXPLICIT)
        if created:
            person_place(person)
            activity_record(
                person=person, kind=Activity.Kind.CREATED, actor=actor, summary=source_label(source, source_detail)
            )
        if activity is not None:
            kind, summary, target = activity
            activity_record(person=person, kind=kind, actor=actor, summary=summary, target=target)
        for consent in consents:
            consent_record(person=person, actor=actor, **consent)
    return person, created


def source_label(source, detail=""):
    label = str(dict(Source.choices).get(source, source))
    return f"{label}: {detail}" if detail else label


def _postcode(raw):
    return "".join((raw or "").split()).upper()[:10]


def _fill_blanks(person, **values):
    changed = [
        name
        for name, value in values.items()
        if value
        and not getattr(person, name)
        and (name != "language" or value in dict(person._meta.get_field(name).choices))
    ]
    for name in changed:
        setattr(person, name, values[name])
    if changed:
        person.save(update_fields=[*changed, "updated"])
        if "postcode" in changed:
            person_place(person)


# Chapters by area ----------------------------------------------------------------------------


def _area_patterns(chapter):
    """LIKE patterns of the postcodes a chapter's area lists: "59" covers 59000 to 59999."""
    return [f"{token.upper()}%" for token in chapter.area.replace(",", " ").split() if token.isalnum()]


def person_place(person):
    """The person's chapters by area, from their postcode (links made by hand or membership stay)."""
    PersonChapter.objects.filter(person=person, reason=PersonChapter.Reason.AREA).delete()
    if not person.postcode:
        return
    covering = [
        chapter
        for chapter in Chapter.objects.filter(archived__isnull=True).exclude(area="")
        if any(person.postcode.startswith(pattern[:-1]) for pattern in _area_patterns(chapter))
    ]
    PersonChapter.objects.bulk_create(
        [PersonChapter(person=person, chapter=chapter, reason=PersonChapter.Reason.AREA) for chapter in covering],
        ignore_conflicts=True,
    )


def chapter_area_apply(chapter):
    """Relink everyone by the chapter's area as it now is: one statement, however many people."""
    PersonChapter.objects.filter(chapter=chapter, reason=PersonChapter.Reason.AREA).delete()
    patterns = _area_patterns(chapter)
    if not patterns or chapter.archived is not None:
        return
    link, person = PersonChapter._meta.db_table, Person._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO "{link}" (person_id, chapter_id, reason, created)
                SELECT id, %s, %s, now() FROM "{person}" WHERE postcode LIKE ANY(%s)
                ON CONFLICT DO NOTHING""",
            [chapter.pk, PersonChapter.Reason.AREA, patterns],
        )


# Members -------------------------------------------------------------------------------------


def person_for_member(user):
    """The member's person record, created or linked (a supporter who became a member keeps their
    history) and brought in line with the account: the account is the truth for name, address,
    phone, postcode and language, so that the two never disagree."""
    with transaction.atomic():
        _lock(user.email.lower())
        person = Person.objects.select_for_update().filter(user=user).first()
        if person is None:
            person = find(email=user.email.lower())
            if person is not None and person.user_id is not None:
                person = None  # another account's address once: not this member's record
            if person is None:
                person = Person.objects.create(source=Source.MEMBER, user=user)
                activity_record(person=person, kind=Activity.Kind.CREATED, summary=source_label(Source.MEMBER))
            else:
                person.user = user
                person.save(update_fields=["user", "updated"])
        _sync_member(person, user)
    return person


def _sync_member(person, user):
    values = {
        "full_name": user.full_name,
        "postcode": _postcode(user.postcode),
        "commune": user.city[:120],
        "address": user.address,
    }
    changed = [name for name, value in values.items() if getattr(person, name) != value]
    for name in changed:
        setattr(person, name, values[name])
    if changed:
        person.save(update_fields=[*changed, "updated"])
    email = user.email.lower()
    # The account's address is the primary one; an older address of the account stays as secondary.
    PersonEmail.objects.filter(person=person, is_primary=True).exclude(email__iexact=email).update(is_primary=False)
    current = PersonEmail.objects.filter(email__iexact=email).first()
    if current is not None and current.person_id != person.pk:
        current.delete()  # the address moved to this member with their account
        current = None
    if current is None:
        PersonEmail.objects.create(person=person, email=email, is_primary=True)
    elif not current.is_primary:
        current.is_primary = True
        current.save(update_fields=["is_primary"])
    PersonPhone.objects.filter(person=person, is_primary=True).exclude(number=user.phone).update(is_primary=False)
    if user.phone:
        number, mobile = normalise_phone(user.phone)
        PersonPhone.objects.update_or_create(
            person=person, number=number, defaults={"is_primary": True, "is_mobile": mobile}
        )
    if "postcode" in changed:
        person_place(person)
    _link_memberships(person, user)


def _link_memberships(person, user):
    """The person's member links are exactly their active memberships."""
    active = set(
        Membership.objects.filter(user=user, status=Membership.Status.ACTIVE).values_list("chapter", flat=True)
    )
    links = PersonChapter.objects.filter(person=person, reason=PersonChapter.Reason.MEMBER)
    links.exclude(chapter__in=active).delete()
    linked = set(links.values_list("chapter", flat=True))
    PersonChapter.objects.bulk_create(
        [PersonChapter(person=person, chapter_id=pk, reason=PersonChapter.Reason.MEMBER) for pk in active - linked],
        ignore_conflicts=True,
    )


def member_link(*, user, chapter, started):
    """A membership became active: the person is the chapter's as a member, on their timeline."""
    person = person_for_member(user)
    activity_record(
        person=person,
        kind=Activity.Kind.MEMBERSHIP,
        summary=_("Became a member of %(chapter)s") % {"chapter": chapter.name},
        target=chapter,
    )
    if started:
        for purpose in ("news", "events"):
            consent_record(
                person=person,
                channel="email",
                purpose=purpose,
                status=Consent.Status.GRANTED,
                basis=Consent.Basis.MEMBERSHIP,
                source="membership",
                wording=_("Members receive their organisation's news and invitations."),
            )


def member_unlink(*, user, chapter):
    person = Person.objects.filter(user=user).first()
    if person is None:
        return
    _link_memberships(person, user)
    activity_record(
        person=person,
        kind=Activity.Kind.MEMBERSHIP,
        summary=_("Left %(chapter)s") % {"chapter": chapter.name},
        target=chapter,
    )


# Consent -------------------------------------------------------------------------------------


def consent_record(*, person, channel, purpose, status, basis, source, wording="", actor=None, by_person=False):
    """Append a consent change and update the person's current state, in one transaction.

    A grant never overrides a withdrawal unless the person gives it themselves (`by_person`: their
    profile, their rights page): an import, a form or an organiser's entry after an unsubscribe is
    kept out, and None is returned. A member's consent rests on their membership (art. 9(2)(d));
    anyone else's on their explicit consent (art. 9(2)(a)), which a grant must record in the
    words they were shown.
    """
    if status == Consent.Status.GRANTED and basis == Consent.Basis.EXPLICIT_CONSENT and not wording.strip():
        raise InvalidAction(_("Record the words the person agreed to: explicit consent needs them."))
    key = f"{channel}:{purpose}"
    with transaction.atomic():
        person = Person.objects.select_for_update(no_key=True).get(pk=person.pk)
        latest = person.consent_history.filter(channel=channel, purpose=purpose).first()
        if latest is not None and latest.status == status and latest.basis == basis:
            return None  # nothing changes: the history records changes, not repetitions
        if (
            status == Consent.Status.GRANTED
            and latest is not None
            and latest.status == Consent.Status.WITHDRAWN
            and not by_person
        ):
            return None
        consent = Consent.objects.create(
            person=person,
            channel=channel,
            purpose=purpose,
            status=status,
            basis=basis,
            wording=wording,
            source=source[:200],
            recorded_by=actor,
        )
        held = set(person.consents)
        held = held | {key} if status == Consent.Status.GRANTED else held - {key}
        person.consents = sorted(held)
        person.save(update_fields=["consents", "updated"])
        activity_record(
            person=person,
            kind=Activity.Kind.CONSENT,
            actor=actor,
            summary=f"{consent.get_channel_display()} · {consent.get_purpose_display()}: "
            f"{consent.get_status_display()}",
        )
    return consent


def consent_change(*, actor, person, channel, purpose, status, wording="", source=""):
    """An organiser records a consent the person gave (on paper, by phone) or a withdrawal they asked for."""
    access.require(actor, capabilities.EDIT, person)
    basis = (
        Consent.Basis.PERSON_REQUEST
        if status == Consent.Status.WITHDRAWN
        else Consent.Basis.MEMBERSHIP
        if person.user_id and person.user.is_active
        else Consent.Basis.EXPLICIT_CONSENT
    )
    consent = consent_record(
        person=person,
        channel=channel,
        purpose=purpose,
        status=status,
        basis=basis,
        wording=wording,
        source=source or _("Entered by %(name)s") % {"name": actor.get_full_name()},
        actor=actor,
    )
    if consent is None and status == Consent.Status.GRANTED:
        latest = person.consent_history.filter(channel=channel, purpose=purpose).first()
        if latest is not None and latest.status == Consent.Status.WITHDRAWN:
            raise InvalidAction(
                _("This person withdrew this consent: only they can give it again, from their own page.")
            )
    if consent is not None:
        _audit(actor, "person.consent_changed", person, channel=channel, purpose=purpose, status=status)
    return consent


# Timeline ------------------------------------------------------------------------------------


def activity_record(*, person, kind, summary="", actor=None, target=None, details=None, when=None):
    """Add a touch to the person's timeline. `target` is the object it is about, if any."""
    return Activity.objects.create(
        person=person,
        kind=kind,
        summary=str(summary)[:300],
        actor=actor,
        details=details or {},
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=str(target.pk) if target is not None else "",
        created=when or timezone.now(),
    )


def answers_record(*, person, actor, summary, tags=(), fields=None, details=None, target=None, kind=Activity.Kind.CALL):
    """What a person said to a feature app (a call's survey) goes into their record: tags added
    (created as needed), custom fields set, one activity on the timeline. The feature app has
    checked that the actor may record it (a caller of a campaign holds no people capability). A
    value that does not fit its field stays on the timeline only. Returns the activity."""
    with transaction.atomic():
        if tags:
            through = Person.tags.through
            through.objects.bulk_create(
                [through(person_id=person.pk, tag_id=tag.pk) for tag in _tags_named(tags)], ignore_conflicts=True
            )
        values = {}
        known = {field.key: field for field in CustomField.objects.filter(key__in=list(fields or {}))}
        for key, raw in (fields or {}).items():
            if key in known:
                try:
                    values[key] = field_value(known[key], raw)
                except InvalidAction:
                    continue
        if values:
            Person.objects.filter(pk=person.pk).update(
                fields=RawSQL("fields || %s::jsonb", [json.dumps(values)]), updated=timezone.now()
            )
        return activity_record(person=person, kind=kind, actor=actor, summary=summary, target=target, details=details)


def note_add(*, actor, person, text):
    access.require(actor, capabilities.EDIT, person)
    text = text.strip()
    if not text:
        raise InvalidAction(_("Write the note first."))
    return activity_record(person=person, kind=Activity.Kind.NOTE, actor=actor, summary=text[:300])


# Editing -------------------------------------------------------------------------------------

EDITABLE = ("full_name", "language", "address", "postcode", "commune", "polling_station")


def person_create(*, actor, chapter, full_name, emails=(), phones=(), fields=None, **details):
    """An organiser enters someone by hand, into a chapter where they hold people.edit (None: the
    organisation's own, for who holds it organisation-wide). Refused with Duplicate if an address
    or number already names someone: the organiser is sent to that person instead."""
    if not access.can_edit_in(actor, chapter):
        raise NotAllowed(capabilities.EDIT)
    emails = list(dict.fromkeys(normalise_email(email) for email in emails if email.strip()))
    numbers = list(dict.fromkeys(normalise_phone(phone) for phone in phones if phone.strip()))
    for email in emails:
        if (existing := find(email=email)) is not None:
            raise Duplicate(existing)
    for number, _mobile in numbers:
        if (existing := find(phone=number)) is not None:
            raise Duplicate(existing)
    values = clean_fields(fields or {})
    with transaction.atomic():
        person, _created = person_record(
            source=Source.MANUAL,
            source_detail=actor.get_full_name(),
            email=emails[0] if emails else "",
            phone=numbers[0][0] if numbers else "",
            full_name=full_name,
            actor=actor,
            chapter=chapter,
            **{name: details[name] for name in ("postcode", "commune", "address", "language") if name in details},
        )
        for email in emails[1:]:
            _add_email(person, email)
        for number, mobile in numbers[1:]:
            _add_phone(person, number, mobile)
        person.fields = values
        person.polling_station = details.get("polling_station", "")[:40]
        person.save(update_fields=["fields", "polling_station", "updated"])
        _audit(actor, "person.created", person, chapter=chapter)
    return person


class Duplicate(InvalidAction):
    """The details name someone already in the base."""

    def __init__(self, person):
        super().__init__(_("This person is already in the base."))
        self.person = person


def person_update(*, actor, person, emails=None, phones=None, fields=None, **changes):
    """Edit a person. A member's name, addresses, phone and postcode are their account's: they
    change them in their profile, and the two never disagree."""
    access.require(actor, capabilities.EDIT, person)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"Not editable: {sorted(unknown)}")
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        if person.user_id:
            changes = {name: value for name, value in changes.items() if name not in MEMBER_FIELDS}
            emails = phones = None
        if "postcode" in changes:
            changes["postcode"] = _postcode(changes["postcode"])
        changed = [name for name, value in changes.items() if getattr(person, name) != value]
        for name in changed:
            setattr(person, name, changes[name])
        if fields is not None:
            values = clean_fields(fields)
            if values != person.fields:
                person.fields = values
                changed.append("fields")
        if changed:
            person.save(update_fields=[*changed, "updated"])
        if "postcode" in changed:
            person_place(person)
        if emails is not None:
            changed += _replace_emails(person, emails)
        if phones is not None:
            changed += _replace_phones(person, phones)
        if changed:
            labels = [str(Person._meta.get_field(name).verbose_name) for name in changed if name in EDITABLE] + [
                name for name in changed if name not in EDITABLE
            ]
            activity_record(person=person, kind=Activity.Kind.EDIT, actor=actor, summary=", ".join(labels))
            _audit(actor, "person.updated", person, fields=changed)
    return person


def _replace_emails(person, emails):
    wanted = [normalise_email(email) for email in emails if email.strip()]
    current = list(person.emails.values_list("email", flat=True))
    if [e.lower() for e in current] == wanted:
        return []
    for email in wanted:
        owner = PersonEmail.objects.filter(email__iexact=email).exclude(person=person).first()
        if owner is not None:
            raise InvalidAction(_("%(email)s belongs to someone else in the base.") % {"email": email})
    person.emails.all().delete()
    PersonEmail.objects.bulk_create(
        [
            PersonEmail(person=person, email=email, is_primary=index == 0)
            for index, email in enumerate(dict.fromkeys(wanted))
        ]
    )
    return ["emails"]


def _replace_phones(person, phones):
    wanted = list(dict.fromkeys(normalise_phone(phone) for phone in phones if phone.strip()))
    current = list(person.phones.values_list("number", "is_mobile"))
    if current == wanted:
        return []
    person.phones.all().delete()
    PersonPhone.objects.bulk_create(
        [
            PersonPhone(person=person, number=number, is_mobile=mobile, is_primary=index == 0)
            for index, (number, mobile) in enumerate(wanted)
        ]
    )
    return ["phones"]


def clean_fields(values):
    """Custom field values by key, each checked against its field's kind; unknown keys dropped,
    blanks removed. Raises InvalidAction naming the first bad value."""
    cleaned = {}
    for field in CustomField.objects.all():
        raw = values.get(field.key)
        if raw is None or raw == "":
            continue
        cleaned[field.key] = field_value(field, raw)
    return cleaned


def field_value(field, raw):
    import datetime

    text = str(raw).strip()
    error = InvalidAction(_("“%(value)s” is not a valid %(field)s.") % {"value": text[:60], "field": field.name})
    if field.kind == CustomField.Kind.NUMBER:
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            raise error from None
        if number != number or abs(number) > 1e15:
            raise error
        return int(number) if number.is_integer() else number
    if field.kind == CustomField.Kind.DATE:
        try:
            return datetime.date.fromisoformat(text).isoformat()
        except ValueError:
            raise error from None
    if field.kind == CustomField.Kind.YES_NO:
        if text.lower() in ("1", "true", "yes", "oui", "on"):
            return True
        if text.lower() in ("0", "false", "no", "non", "off"):
            return False
        raise error
    if field.kind == CustomField.Kind.CHOICE:
        if text not in field.choices:
            raise error
        return text
    return text[:500]


def person_chapter_add(*, actor, person, chapter):
    """Link a person to a chapter by hand: the actor edits people there and may already see the person."""
    access.require(actor, capabilities.EDIT, person)
    if not access.can_edit_in(actor, chapter):
        raise NotAllowed(capabilities.EDIT)
    _link, created = PersonChapter.objects.get_or_create(
        person=person, chapter=chapter, reason=PersonChapter.Reason.EXPLICIT
    )
    if created:
        _audit(actor, "person.chapter_added", person, chapter=chapter)
    return created


# Tags and custom fields ----------------------------------------------------------------------


def parse_tag_names(raw):
    names = [" ".join(name.split())[:60] for name in raw.replace(";", ",").split(",")]
    return list(dict.fromkeys(name for name in names if name))


def _tags_named(names):
    """The tags of these names, created as needed. Two transactions creating the same new tag at
    once (two callers recording the same answer) both get it: the second insert waits for the
    first and then does nothing, where a plain insert would fail on the unique name."""
    tags = []
    for name in names:
        tag = Tag.objects.filter(name__iexact=name).first()
        if tag is None:
            Tag.objects.bulk_create([Tag(name=name)], ignore_conflicts=True)
            tag = Tag.objects.filter(name__iexact=name).first()
        tags.append(tag)
    return tags


def tags_set(*, actor, person, names):
    """The person's tags become exactly these (created as needed)."""
    access.require(actor, capabilities.EDIT, person)
    with transaction.atomic():
        before = set(person.tags.values_list("name", flat=True))
        tags = _tags_named(names)
        person.tags.set(tags)
        after = {tag.name for tag in tags}
        if before != after:
            activity_record(
                person=person,
                kind=Activity.Kind.EDIT,
                actor=actor,
                summary=_("Tags: %(tags)s") % {"tags": ", ".join(sorted(after)) or "—"},
            )
    return after


def people_bulk_edit(*, actor, people, add=(), remove=(), field=None, value=None):
    """Tags added and removed, and a custom field set to `value` (a value checked by field_value;
    None clears it), on a selection of people, in one transaction: a selection holding someone the
    actor may not edit is refused whole, before anything changes. Audit-logged; returns how many."""
    people = list(people)
    with transaction.atomic():
        if add or remove or field is None:
            tags_bulk(actor=actor, people=people, add=add, remove=remove)
        if field is not None:
            fields_bulk(actor=actor, people=people, field=field, value=value)
    return len(people)


def fields_bulk(*, actor, people, field, value):
    """One custom field set (or cleared, value None) on a selection of people, in one statement."""
    if any(not access.can(actor, capabilities.EDIT, person) for person in people):
        raise NotAllowed(capabilities.EDIT)
    ids = [person.pk for person in people]
    with transaction.atomic():
        chosen = Person.objects.filter(pk__in=ids)
        if value is None:
            chosen.update(fields=RawSQL("fields - %s", [field.key]), updated=timezone.now())
        else:
            chosen.update(
                fields=RawSQL("fields || jsonb_build_object(%s, %s::jsonb)", [field.key, json.dumps(value)]),
                updated=timezone.now(),
            )
        summary = _("%(field)s: %(value)s") % {"field": field.name, "value": "—" if value is None else value}
        Activity.objects.bulk_create(
            [Activity(person_id=pk, kind=Activity.Kind.EDIT, actor=actor, summary=str(summary)[:300]) for pk in ids]
        )
        audit(actor=actor, action="people.field_set", people=len(ids), field=field.key, value=value)
    return len(ids)


def tags_bulk(*, actor, people, add=(), remove=()):
    """Add and remove tags on a selection of people: those the actor may not edit are refused
    together, before anything changes. Returns how many people were changed."""
    people = list(people)
    refused = [person for person in people if not access.can(actor, capabilities.EDIT, person)]
    if refused:
        raise NotAllowed(capabilities.EDIT)
    with transaction.atomic():
        adding, removing = _tags_named(add), list(Tag.objects.filter(name__in=remove))
        through = Person.tags.through
        ids = [person.pk for person in people]
        through.objects.bulk_create(
            [through(person_id=pk, tag_id=tag.pk) for pk in ids for tag in adding], ignore_conflicts=True
        )
        through.objects.filter(person_id__in=ids, tag__in=removing).delete()
        audit(
            actor=actor,
            action="people.tagged",
            people=len(ids),
            added=[tag.name for tag in adding],
            removed=[tag.name for tag in removing],
        )
    return len(ids)


def custom_field_save(*, actor, field=None, name, key, kind, choices=()):
    """Define or change a custom field: the organisation's, for whoever edits people organisation-wide."""
    if not access.can_edit_in(actor, None):
        raise NotAllowed(capabilities.EDIT)
    with transaction.atomic():
        field = field or CustomField()
        if field.pk and field.kind != kind and Person.objects.filter(fields__has_key=field.key).exists():
            raise InvalidAction(_("People have values in this field: its kind can no longer change."))
        field.name, field.kind, field.choices = name, kind, list(choices)
        if not field.pk:
            field.key = key
        field.save()
        audit(actor=actor, action="people.field_saved", field=field.key, kind=kind)
    return field


def _audit(actor, action, person, chapter=None, **details):
    """An audit entry about a person, filed under the chapter through which the actor reaches them."""
    if chapter is None:
        chapter = access.chapter_reached_through(actor, person)
    audit(actor=actor, action=action, chapter=chapter, person=person.pk, **details)


# Personal data -------------------------------------------------------------------------------


def personal_data(user):
    """What the base holds about a member, for their download."""
    person = Person.objects.filter(user=user).first()
    return export_person(person) if person is not None else None


def export_person(person):
    def when(value):
        return value.isoformat() if value else None

    return {
        "name": person.full_name,
        "emails": list(person.emails.values_list("email", flat=True)),
        "phones": list(person.phones.values_list("number", flat=True)),
        "address": person.address,
        "postcode": person.postcode,
        "commune": person.commune,
        "polling_station": person.polling_station,
        "language": person.language,
        "source": person.source,
        "added": when(person.created),
        "tags": list(person.tags.values_list("name", flat=True)),
        "fields": person.fields,
        "chapters": [link.chapter.name for link in person.chapter_links.select_related("chapter")],
        "consents": [
            {
                "channel": c.channel,
                "purpose": c.purpose,
                "status": c.status,
                "basis": c.basis,
                "wording": c.wording,
                "source": c.source,
                "when": when(c.created),
            }
            for c in person.consent_history.order_by("created", "pk")
        ],
        "timeline": [
            {"kind": a.kind, "summary": a.summary, "when": when(a.created)}
            for a in person.activities.order_by("created", "pk")
        ],
    }


def person_erase(person):
    """Forget who the person is and keep what they did: the row stays (the counts of signatures,
    orders and sign-ups stay right), anonymised, with its timeline stripped of words."""
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        person.emails.all().delete()
        person.phones.all().delete()
        person.consent_history.all().delete()
        person.tags.clear()
        person.chapter_links.exclude(reason=PersonChapter.Reason.AREA).delete()
        person.activities.filter(kind__in=[Activity.Kind.NOTE, Activity.Kind.EDIT, Activity.Kind.CONSENT]).delete()
        person.activities.update(summary="", details={}, actor=None)
        person.full_name = person.address = person.commune = person.polling_station = person.source_detail = ""
        person.fields, person.consents, person.user = {}, [], None
        person.save()
    return person


def personal_data_erase(user):
    person = Person.objects.filter(user=user).first()
    if person is not None:
        person_erase(person)
