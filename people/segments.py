"""Segments: saved, named audiences, and the one function that turns an audience into people.

A definition is JSON:

    {"all": [condition, ...], "include": [segment id, ...], "exclude": [segment id, ...]}

Every condition of "all" must hold (an empty list: everyone); when "include" names segments, a
person must also be in one of them; a person in any "exclude" segment is left out. Conditions:

    {"type": "chapters", "chapters": [id, ...]}               in one of these chapters or below
    {"type": "tags", "tags": [id, ...], "match": "any"|"all"|"none"}
    {"type": "consent", "channel": "email", "purpose": "news"} currently granted
    {"type": "field", "field": key, "op": op, "value": v}     op: equals contains greater less
                                                              before after set not_set, as the kind fits
    {"type": "activity", "kind": k, "target_type": "app.model", "target_id": "12", "days": 90}
    {"type": "postcode", "prefixes": ["59", "62"]}
    {"type": "commune", "communes": ["Lille"]}
    {"type": "member", "member": true|false}
    {"type": "created", "from": "2025-01-01", "to": "2025-12-31"}   either bound may be null

`people_in(definition)` compiles a definition to one queryset of people, unscoped: the only way
any app turns an audience into people (each applies its own scope). `audience_for(user, segment,
capability)` is the scoped answer: the definition, within the segment's own chapter (a chapter's
segment never reaches beyond it), within what the user holds the capability on.
"""

import datetime
import tempfile
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Exists, Func, OuterRef, Prefetch, Q, Value
from django.db.models.deletion import ProtectedError
from django.db.models.fields.json import KeyTransform
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chapters import access as chapter_access
from chapters.member_files import csv_lines, safe_cell
from chapters.models import Chapter
from chapters.services import InvalidAction, NotAllowed, audit
from people import access, capabilities
from people.models import (
    Activity,
    Channel,
    CustomField,
    Person,
    PersonChapter,
    PersonEmail,
    PersonPhone,
    Purpose,
    Segment,
    Tag,
)

MAX_CONDITIONS = 50
MAX_LIST = 200  # ids, prefixes or communes in one condition
MAX_DEPTH = 8  # segments within segments
MAX_DAYS = 36_500
FIRST_PAGE = 50
EXPORT_FORMATS = ("csv", "xlsx")

FIELD_OPERATORS = {
    CustomField.Kind.TEXT: ("equals", "contains", "set", "not_set"),
    CustomField.Kind.NUMBER: ("equals", "greater", "less", "set", "not_set"),
    CustomField.Kind.DATE: ("equals", "before", "after", "set", "not_set"),
    CustomField.Kind.CHOICE: ("equals", "set", "not_set"),
    CustomField.Kind.YES_NO: ("equals", "set", "not_set"),
}
OPERATOR_LABELS = {
    "equals": gettext_lazy("is"),
    "contains": gettext_lazy("contains"),
    "greater": gettext_lazy("is greater than"),
    "less": gettext_lazy("is less than"),
    "before": gettext_lazy("is before"),
    "after": gettext_lazy("is after"),
    "set": gettext_lazy("is filled in"),
    "not_set": gettext_lazy("is empty"),
}
NEEDS_NO_VALUE = {"set", "not_set"}
JSON_TYPE = {
    CustomField.Kind.TEXT: "string",
    CustomField.Kind.NUMBER: "number",
    CustomField.Kind.DATE: "string",
    CustomField.Kind.CHOICE: "string",
    CustomField.Kind.YES_NO: "boolean",
}
TAG_MATCHES = ("any", "all", "none")


class InvalidDefinition(InvalidAction):
    """A definition that cannot be read: the message says why, the code is stable for clients."""

    def __init__(self, message, code):
        super().__init__(message, code=code)


# Validation ---------------------------------------------------------------------------------------


def _wrong(where, what):
    return InvalidDefinition(
        _("%(where)s: %(what)s.") % {"where": where, "what": what},
        "wrong_type",
    )


def _ids(value, where):
    if not isinstance(value, list) or not value:
        raise _wrong(where, _("a non-empty list of ids is expected"))
    if len(value) > MAX_LIST:
        raise InvalidDefinition(
            _("%(where)s: at most %(count)d values.") % {"where": where, "count": MAX_LIST}, "too_many"
        )
    if not all(type(item) is int and 0 < item < 2**31 for item in value):
        raise _wrong(where, _("ids are whole numbers"))
    return sorted(set(value))


def _texts(value, where, *, max_length):
    if not isinstance(value, list) or not value:
        raise _wrong(where, _("a non-empty list of texts is expected"))
    if len(value) > MAX_LIST:
        raise InvalidDefinition(
            _("%(where)s: at most %(count)d values.") % {"where": where, "count": MAX_LIST}, "too_many"
        )
    cleaned = []
    for item in value:
        if not isinstance(item, str):
            raise _wrong(where, _("texts are expected"))
        text = " ".join(item.replace("\x00", "").split())
        if not text or len(text) > max_length:
            raise InvalidDefinition(
                _("%(where)s: each value has 1 to %(count)d characters.") % {"where": where, "count": max_length},
                "bad_value",
            )
        cleaned.append(text)
    return list(dict.fromkeys(cleaned))


def _date(value, where):
    if value is None:
        return None
    if not isinstance(value, str):
        raise _wrong(where, _("a date written YYYY-MM-DD is expected"))
    try:
        return datetime.date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidDefinition(
            _("%(where)s: “%(value)s” is not a date written YYYY-MM-DD.") % {"where": where, "value": value[:20]},
            "bad_value",
        ) from None


def _keys(condition, where, required, optional=()):
    unknown = set(condition) - {"type", *required, *optional}
    if unknown:
        raise InvalidDefinition(
            _("%(where)s: unknown key “%(key)s”.") % {"where": where, "key": sorted(unknown)[0][:40]}, "unknown_key"
        )
    missing = [key for key in required if key not in condition]
    if missing:
        raise InvalidDefinition(
            _("%(where)s: “%(key)s” is missing.") % {"where": where, "key": missing[0]}, "missing_key"
        )


@dataclass
class _Lookups:
    """The rows a definition names, read once per validation."""

    chapter_ids: set
    tag_ids: set
    field_keys: set
    segment_ids: set


def _check_condition(condition, where, found):
    """The condition, checked and normalised; records the ids it names in `found`."""
    if not isinstance(condition, dict):
        raise _wrong(where, _("a condition is an object"))
    kind = condition.get("type")
    if kind == "chapters":
        _keys(condition, where, ["chapters"])
        ids = _ids(condition["chapters"], where)
        found.chapter_ids.update(ids)
        return {"type": kind, "chapters": ids}
    if kind == "tags":
        _keys(condition, where, ["tags"], ["match"])
        match = condition.get("match", "any")
        if match not in TAG_MATCHES:
            raise InvalidDefinition(_("%(where)s: “match” is one of any, all, none.") % {"where": where}, "bad_value")
        ids = _ids(condition["tags"], where)
        found.tag_ids.update(ids)
        return {"type": kind, "tags": ids, "match": match}
    if kind == "consent":
        _keys(condition, where, ["channel", "purpose"])
        if condition["channel"] not in Channel.values or condition["purpose"] not in Purpose.values:
            raise InvalidDefinition(_("%(where)s: unknown channel or purpose.") % {"where": where}, "bad_value")
        return {"type": kind, "channel": condition["channel"], "purpose": condition["purpose"]}
    if kind == "field":
        _keys(condition, where, ["field", "op"], ["value"])
        key, op = condition["field"], condition["op"]
        if not isinstance(key, str) or not isinstance(op, str):
            raise _wrong(where, _("“field” and “op” are texts"))
        found.field_keys.add(key[:40])
        cleaned = {"type": kind, "field": key, "op": op}
        if op not in NEEDS_NO_VALUE:
            if "value" not in condition:
                raise InvalidDefinition(_("%(where)s: “value” is missing.") % {"where": where}, "missing_key")
            value = condition["value"]
            if not isinstance(value, str | int | float | bool) or (isinstance(value, str) and len(value) > 500):
                raise _wrong(where, _("the value is a text, a number or yes/no"))
            cleaned["value"] = value
        return cleaned  # checked against the field's kind once the fields are read
    if kind == "activity":
        _keys(condition, where, ["kind"], ["target_type", "target_id", "days"])
        if condition["kind"] not in Activity.Kind.values:
            raise InvalidDefinition(_("%(where)s: unknown kind of activity.") % {"where": where}, "bad_value")
        cleaned = {"type": kind, "kind": condition["kind"]}
        target_type, target_id = condition.get("target_type"), condition.get("target_id")
        if target_id is not None and target_type is None:
            raise InvalidDefinition(_("%(where)s: “target_id” needs “target_type”.") % {"where": where}, "missing_key")
        if target_type is not None:
            if not isinstance(target_type, str) or target_type.count(".") != 1:
                raise _wrong(where, _("“target_type” is written app.model"))
            app_label, model = target_type.lower().split(".")
            if not ContentType.objects.filter(app_label=app_label, model=model).exists():
                raise InvalidDefinition(_("%(where)s: unknown “target_type”.") % {"where": where}, "bad_value")
            cleaned["target_type"] = f"{app_label}.{model}"
        if target_id is not None:
            if not isinstance(target_id, str | int) or isinstance(target_id, bool) or not 0 < len(str(target_id)) <= 40:
                raise _wrong(where, _("“target_id” is a short text"))
            cleaned["target_id"] = str(target_id)
        if "days" in condition and condition["days"] is not None:
            days = condition["days"]
            if type(days) is not int or not 0 < days <= MAX_DAYS:
                raise InvalidDefinition(
                    _("%(where)s: “days” is a whole number from 1 to %(max)d.") % {"where": where, "max": MAX_DAYS},
                    "bad_value",
                )
            cleaned["days"] = days
        return cleaned
    if kind == "postcode":
        _keys(condition, where, ["prefixes"])
        prefixes = [p.replace(" ", "").upper() for p in _texts(condition["prefixes"], where, max_length=10)]
        return {"type": kind, "prefixes": list(dict.fromkeys(prefixes))}
    if kind == "commune":
        _keys(condition, where, ["communes"])
        return {"type": kind, "communes": _texts(condition["communes"], where, max_length=120)}
    if kind == "member":
        _keys(condition, where, ["member"])
        if not isinstance(condition["member"], bool):
            raise _wrong(where, _("“member” is true or false"))
        return {"type": kind, "member": condition["member"]}
    if kind == "created":
        _keys(condition, where, [], ["from", "to"])
        start, end = _date(condition.get("from"), where), _date(condition.get("to"), where)
        if start is None and end is None:
            raise InvalidDefinition(_("%(where)s: give a first or a last day.") % {"where": where}, "missing_key")
        if start and end and start > end:
            raise InvalidDefinition(_("%(where)s: the first day is after the last.") % {"where": where}, "bad_value")
        return {"type": kind, "from": start, "to": end}
    raise InvalidDefinition(
        _("%(where)s: unknown condition “%(type)s”.") % {"where": where, "type": str(kind)[:40]}, "unknown_condition"
    )


def _check_field(condition, field, where):
    op = condition["op"]
    if op not in FIELD_OPERATORS[field.kind]:
        raise InvalidDefinition(
            _("%(where)s: “%(op)s” does not apply to the field “%(field)s”.")
            % {"where": where, "op": op[:20], "field": field.name},
            "bad_operator",
        )
    if op in NEEDS_NO_VALUE:
        condition.pop("value", None)
        return
    value = condition["value"]
    if field.kind == CustomField.Kind.YES_NO:
        if not isinstance(value, bool):
            raise _wrong(where, _("the value is true or false"))
        return
    if field.kind == CustomField.Kind.NUMBER and isinstance(value, bool):
        raise _wrong(where, _("the value is a number"))
    if field.kind == CustomField.Kind.TEXT:
        text = " ".join(str(value).split())
        if not text:
            raise InvalidDefinition(_("%(where)s: the value is empty.") % {"where": where}, "bad_value")
        condition["value"] = text
        return
    from people.services import field_value

    try:
        condition["value"] = field_value(field, value)
    except InvalidAction as error:
        raise InvalidDefinition(f"{where}: {error.messages[0]}", "bad_value") from None


def validate_definition(definition, *, segment=None, usable_segments=None, check_names=True):
    """The definition, checked strictly and normalised; raises InvalidDefinition (with a code).

    Every chapter, tag, custom field and segment it names must exist; `usable_segments` (a Segment
    queryset) narrows which segments may be included or excluded; `segment` is the one being
    saved, which must not end up inside itself. Without `check_names` (compiling a stored
    definition), only the shape and the custom field values are checked: what has been deleted
    since matches nobody."""
    if not isinstance(definition, dict):
        raise InvalidDefinition(_("A definition is an object."), "not_an_object")
    unknown = set(definition) - {"all", "include", "exclude"}
    if unknown:
        raise InvalidDefinition(_("Unknown key “%(key)s”.") % {"key": str(sorted(unknown)[0])[:40]}, "unknown_key")
    conditions = definition.get("all", [])
    if not isinstance(conditions, list):
        raise InvalidDefinition(_("“all” is a list of conditions."), "wrong_type")
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidDefinition(_("At most %(count)d conditions.") % {"count": MAX_CONDITIONS}, "too_many")
    found = _Lookups(set(), set(), set(), set())
    cleaned = {
        "all": [
            _check_condition(condition, _("Condition %(number)d") % {"number": number}, found)
            for number, condition in enumerate(conditions, start=1)
        ]
    }
    for key, label in (("include", _("Segments to include")), ("exclude", _("Segments to leave out"))):
        if definition.get(key):
            cleaned[key] = _ids(definition[key], label)
            found.segment_ids.update(cleaned[key])
    if check_names:
        _check_names(cleaned, found, segment=segment, usable_segments=usable_segments)
    else:
        _check_fields(cleaned, found)
    return cleaned


def _check_names(cleaned, found, *, segment, usable_segments):
    if found.chapter_ids and Chapter.objects.filter(pk__in=found.chapter_ids).count() != len(found.chapter_ids):
        raise InvalidDefinition(_("A chosen chapter does not exist."), "unknown_chapter")
    if found.tag_ids and Tag.objects.filter(pk__in=found.tag_ids).count() != len(found.tag_ids):
        raise InvalidDefinition(_("A chosen tag does not exist."), "unknown_tag")
    fields = _check_fields(cleaned, found)
    if len(fields) != len(found.field_keys):
        raise InvalidDefinition(_("A chosen custom field does not exist."), "unknown_field")
    if found.segment_ids:
        if segment is not None and segment.pk in found.segment_ids:
            raise InvalidDefinition(_("A segment cannot include or leave out itself."), "cycle")
        segments = Segment.objects.all() if usable_segments is None else usable_segments
        if segments.filter(pk__in=found.segment_ids).count() != len(found.segment_ids):
            raise InvalidDefinition(_("A chosen segment does not exist."), "unknown_segment")
        _check_no_cycle(found.segment_ids, segment)


def _check_fields(cleaned, found):
    """Check each field condition against its field's kind; returns the fields found by key."""
    if not found.field_keys:
        return {}
    fields = {field.key: field for field in CustomField.objects.filter(key__in=found.field_keys)}
    for number, condition in enumerate(cleaned["all"], start=1):
        if condition["type"] == "field" and condition["field"] in fields:
            _check_field(condition, fields[condition["field"]], _("Condition %(number)d") % {"number": number})
    return fields


def _referenced(definition):
    if not isinstance(definition, dict):
        return set()
    ids = set()
    for key in ("include", "exclude"):
        value = definition.get(key) or []
        if isinstance(value, list):
            ids.update(item for item in value if type(item) is int)
    return ids


def _check_no_cycle(ids, segment):
    """Walk the segments these ids lead to, breadth first: none may lead back to `segment`, and
    the chain is at most MAX_DEPTH deep."""
    seen, frontier, depth = set(), set(ids), 0
    while frontier:
        depth += 1
        if depth > MAX_DEPTH:
            raise InvalidDefinition(
                _("Segments within segments go at most %(count)d deep.") % {"count": MAX_DEPTH}, "too_deep"
            )
        if segment is not None and segment.pk in frontier:
            raise InvalidDefinition(
                _("This would put the segment inside itself, through the segments it includes or leaves out."),
                "cycle",
            )
        seen |= frontier
        definitions = Segment.objects.filter(pk__in=frontier).values_list("definition", flat=True)
        frontier = set().union(*(_referenced(definition) for definition in definitions)) - seen


# Compiling ----------------------------------------------------------------------------------------


def _start_of(day):
    return timezone.make_aware(datetime.datetime.combine(datetime.date.fromisoformat(day), datetime.time.min))


def _field_condition(condition, field):
    key, op = condition["field"], condition.get("op")
    if op == "set":
        return Q(fields__has_key=key)
    if op == "not_set":
        return ~Q(fields__has_key=key)
    value = condition["value"]
    # The value is compared with jsonb's own order, which sorts types before values: pin the type.
    typed = Exact(Func(KeyTransform(key, "fields"), function="jsonb_typeof"), Value(JSON_TYPE[field.kind]))
    if op == "contains":
        return Q(typed, **{f"fields__{key}__icontains": value})
    if op == "equals" and field.kind == CustomField.Kind.TEXT:
        return Q(typed, **{f"fields__{key}__iexact": value})
    lookup = {"equals": "exact", "greater": "gt", "after": "gt", "less": "lt", "before": "lt"}[op]
    return Q(typed, **{f"fields__{key}__{lookup}": value})


def _condition(condition, fields, chapters):
    kind = condition["type"]
    if kind == "chapters":
        paths = Q(pk__in=[])
        for chapter_id in condition["chapters"]:
            if chapter_id in chapters:
                paths |= Q(chapter__path__startswith=chapters[chapter_id])
        return Exists(PersonChapter.objects.filter(paths, person=OuterRef("pk")))
    if kind == "tags":
        through = Person.tags.through.objects
        if condition["match"] == "all":
            both = Q()
            for tag_id in condition["tags"]:
                both &= Exists(through.filter(person_id=OuterRef("pk"), tag_id=tag_id))
            return both
        tagged = Exists(through.filter(person_id=OuterRef("pk"), tag_id__in=condition["tags"]))
        return ~tagged if condition["match"] == "none" else tagged
    if kind == "consent":
        return Q(consents__contains=[f"{condition['channel']}:{condition['purpose']}"])
    if kind == "field":
        field = fields.get(condition["field"])
        return _field_condition(condition, field) if field is not None else Q(pk__in=[])
    if kind == "activity":
        touches = Activity.objects.filter(person=OuterRef("pk"), kind=condition["kind"])
        if "target_type" in condition:
            app_label, model = condition["target_type"].split(".")
            touches = touches.filter(target_type__app_label=app_label, target_type__model=model)
        if "target_id" in condition:
            touches = touches.filter(target_id=condition["target_id"])
        if "days" in condition:
            touches = touches.filter(created__gte=timezone.now() - datetime.timedelta(days=condition["days"]))
        return Exists(touches)
    if kind == "postcode":
        prefixes = Q(pk__in=[])
        for prefix in condition["prefixes"]:
            prefixes |= Q(postcode__startswith=prefix)
        return prefixes
    if kind == "commune":
        communes = Q(pk__in=[])
        for commune in condition["communes"]:
            communes |= Q(commune__iexact=commune)
        return communes
    if kind == "member":
        return Q(user__isnull=not condition["member"])
    assert kind == "created", kind
    span = Q()
    if condition["from"]:
        span &= Q(created__gte=_start_of(condition["from"]))
    if condition["to"]:
        span &= Q(created__lt=_start_of(condition["to"]) + datetime.timedelta(days=1))
    return span


def people_in(definition, *, _within=()):
    """Every person the definition describes (merged records left out), as one queryset, whoever
    asks: the caller applies its own scope. Raises InvalidDefinition for a definition that cannot
    be read, or that leads back into itself through the segments it names."""
    cleaned = validate_definition(definition, check_names=False)
    conditions = cleaned["all"]
    keys = {condition["field"] for condition in conditions if condition["type"] == "field"}
    fields = {field.key: field for field in CustomField.objects.filter(key__in=keys)} if keys else {}
    chapter_ids = {pk for condition in conditions if condition["type"] == "chapters" for pk in condition["chapters"]}
    chapters = dict(Chapter.objects.filter(pk__in=chapter_ids).values_list("pk", "path")) if chapter_ids else {}
    people = Person.objects.filter(merged_into__isnull=True)
    for condition in conditions:
        people = people.filter(_condition(condition, fields, chapters))
    named_ids = [*cleaned.get("include", ()), *cleaned.get("exclude", ())]
    named = dict(Segment.objects.filter(pk__in=named_ids).values_list("pk", "definition")) if named_ids else {}

    def inside(pk):
        if pk not in named:  # deleted since: nobody is in it
            return Q(pk__in=[])
        if pk in _within or len(_within) >= MAX_DEPTH:
            raise InvalidDefinition(_("These segments include each other."), "cycle")
        return Exists(people_in(named[pk], _within=(*_within, pk)).filter(pk=OuterRef("pk")))

    if cleaned.get("include"):
        either = Q(pk__in=[])
        for pk in cleaned["include"]:
            either |= inside(pk)
        people = people.filter(either)
    for pk in cleaned.get("exclude", ()):
        people = people.exclude(inside(pk))
    return people


def example_definition(*, chapter, tag, channel, purpose):
    """A definition of three conditions (a chapter and below, a tag, a consent): for the bench,
    and a readable example of the format."""
    return {
        "all": [
            {"type": "chapters", "chapters": [chapter.pk]},
            {"type": "tags", "tags": [tag.pk], "match": "any"},
            {"type": "consent", "channel": channel, "purpose": purpose},
        ]
    }


def within_chapter(people, chapter):
    """A chapter's segment reaches the people of that chapter and below, and no one else."""
    if chapter is None:
        return people
    return people.filter(
        Exists(PersonChapter.objects.filter(person=OuterRef("pk"), chapter__path__startswith=chapter.path))
    )


def _definition_and_owner(segment_or_definition, owner):
    if isinstance(segment_or_definition, Segment):
        return segment_or_definition.definition, segment_or_definition.chapter, segment_or_definition
    return segment_or_definition, owner, None


def audience_for(user, segment_or_definition, capability=capabilities.VIEW, *, chapter=None):
    """The people of a segment (or of a definition owned by `chapter`, None: the organisation)
    that `user` holds `capability` on: whoever built the segment, it never reveals anyone outside
    the user's chapters. Raises NotAllowed when the user may not use the segment."""
    definition, owner, segment = _definition_and_owner(segment_or_definition, chapter)
    if segment is not None and not may_use(user, segment, capabilities.VIEW):
        raise NotAllowed(capabilities.VIEW)
    return access.within(user, capability, within_chapter(people_in(definition), owner))


# Who may do what with a segment -----------------------------------------------------------------


def may_use(user, segment, capability):
    """A chapter's segment: for who holds the capability on its chapter (roles apply downwards).
    The organisation's own: seen, counted and exported by who holds the capability anywhere
    (each within their chapters); changed only with it organisation-wide."""
    if not user.is_authenticated:
        return False
    if segment.chapter_id is not None:
        return chapter_access.can(user, capability, segment.chapter)
    if capability == capabilities.EDIT:
        return chapter_access.can(user, capability)
    return chapter_access.can_anywhere(user, capability)


def segments_for(user, capability=capabilities.VIEW):
    """The segments the user may use with the capability, by name."""
    if not user.is_authenticated or not chapter_access.can_anywhere(user, capability):
        return Segment.objects.none()
    visible = Q(chapter__in=Chapter.objects.filter(chapter_access.chapters_where(user, capability)))
    if capability != capabilities.EDIT or chapter_access.can(user, capability):
        visible |= Q(chapter__isnull=True)
    return Segment.objects.filter(visible).select_related("chapter", "created_by").order_by("name", "pk")


def get_segment_for(user, pk, capability=capabilities.VIEW):
    """The segment if the user may use it with the capability; the same 404 otherwise."""
    from django.http import Http404

    segment = segments_for(user, capability).filter(pk=pk).first()
    if segment is None:
        raise Http404
    return segment


def owners_for(user):
    """The chapters where the user may save segments, in tree order (and whether the organisation)."""
    chapters = Chapter.objects.filter(
        chapter_access.chapters_where(user, capabilities.EDIT), archived__isnull=True
    ).order_by("path")
    return chapters, chapter_access.can(user, capabilities.EDIT)


def counts_whole_owner(user, segment):
    """Whether the user's count of the segment is its count for its owner: they see all of it."""
    if segment.chapter_id is None:
        return chapter_access.can(user, capabilities.VIEW)
    return chapter_access.can(user, capabilities.VIEW, segment.chapter)


# Services -----------------------------------------------------------------------------------------


def segment_count(*, actor, segment):
    """How many of the segment's people the actor may see. When the actor sees all of the
    segment's own scope, the count is kept on the segment for its list."""
    count = audience_for(actor, segment).count()
    if counts_whole_owner(actor, segment):
        now = timezone.now()
        Segment.objects.filter(pk=segment.pk).update(last_count=count, counted=now)
        segment.last_count, segment.counted = count, now
    return count


def segment_save(*, actor, segment=None, name, description="", chapter, definition):
    """Create or change a segment owned by `chapter` (None: the organisation). The actor needs
    people.edit there (organisation-wide for the organisation's own), and on the segment's
    current chapter when changing it; the definition may name only segments the actor sees.
    Raises NotAllowed, InvalidDefinition or InvalidAction; nothing is written then."""
    if segment is not None and not may_use(actor, segment, capabilities.EDIT):
        raise NotAllowed(capabilities.EDIT)
    if not chapter_access.can(actor, capabilities.EDIT, chapter):
        raise NotAllowed(capabilities.EDIT)
    cleaned = validate_definition(definition, segment=segment, usable_segments=segments_for(actor))
    _check_chapters_inside(cleaned, chapter)
    name = " ".join(name.split())[:120]
    if not name:
        raise InvalidAction(_("Give the segment a name."))
    creating = segment is None
    segment = segment or Segment(created_by=actor)
    segment.name, segment.description, segment.chapter, segment.definition = name, description.strip(), chapter, cleaned
    try:
        with transaction.atomic():
            segment.save()
            audit(
                actor=actor,
                action="people.segment_created" if creating else "people.segment_changed",
                chapter=chapter,
                segment=segment.pk,
                name=segment.name,
            )
    except IntegrityError:
        raise InvalidAction(_("Another segment of this chapter has this name.")) from None
    segment_count(actor=actor, segment=segment)
    return segment


def _check_chapters_inside(cleaned, chapter):
    """A chapter's segment reaches its own people only: a condition on a chapter outside it would
    always count nobody, and says the builder misunderstood."""
    if chapter is None:
        return
    ids = {pk for condition in cleaned["all"] if condition["type"] == "chapters" for pk in condition["chapters"]}
    if ids and Chapter.objects.filter(pk__in=ids).exclude(path__startswith=chapter.path).exists():
        raise InvalidDefinition(
            _("The segment belongs to %(chapter)s: choose chapters within it.") % {"chapter": chapter.name},
            "chapter_outside",
        )


def segment_delete(*, actor, segment):
    """Delete a segment (people.edit on its chapter). A segment others include cannot go."""
    if not may_use(actor, segment, capabilities.EDIT):
        raise NotAllowed(capabilities.EDIT)
    with transaction.atomic():
        users = [
            other.name
            for other in Segment.objects.exclude(pk=segment.pk).only("name", "definition")
            if segment.pk in _referenced(other.definition)
        ]
        if users:
            raise InvalidAction(
                _("Other segments include or leave out this one: %(names)s. Change them first.")
                % {"names": ", ".join(sorted(users))}
            )
        audit(
            actor=actor, action="people.segment_deleted", chapter=segment.chapter, segment=segment.pk, name=segment.name
        )
        try:
            with transaction.atomic():
                segment.delete()
        except ProtectedError as error:
            # What was sent to it (a mailing, later a call list) keeps naming its audience.
            uses = sorted({str(used) for used in error.protected_objects})
            raise InvalidAction(
                _("This segment is the audience of %(uses)s: it stays as long as they do.")
                % {"uses": ", ".join(f"“{use}”" for use in uses[:5])}
            ) from None


# Export -------------------------------------------------------------------------------------------

CONTACT_COLUMNS = ("email", "other_emails", "phone", "other_phones", "address")


def export_columns():
    fields = list(CustomField.objects.order_by("name").values_list("key", flat=True))
    head = ["id", "full_name", *CONTACT_COLUMNS, "postcode", "commune", "chapters", "tags", "member", "language"]
    return [*head, "source", "added", "consents", *(f"field:{key}" for key in fields)], fields


def _export_people(people):
    return people.order_by("pk").prefetch_related(
        Prefetch("chapter_links", queryset=PersonChapter.objects.select_related("chapter")),
        Prefetch("emails", queryset=PersonEmail.objects.order_by("-is_primary", "pk")),
        Prefetch("phones", queryset=PersonPhone.objects.order_by("-is_primary", "pk")),
        "tags",
    )


def _row(viewer, person, field_keys):
    shows = access.may_see_contacts(viewer, person)
    emails = [email.email for email in person.emails.all()] if shows else []
    phones = [phone.number for phone in person.phones.all()] if shows else []
    chapters = sorted({link.chapter.name for link in person.chapter_links.all()})
    values = [
        person.pk,
        person.full_name,
        emails[0] if emails else "",
        " ".join(emails[1:]),
        phones[0] if phones else "",
        " ".join(phones[1:]),
        person.address if shows else "",
        person.postcode,
        person.commune,
        ", ".join(chapters),
        ", ".join(tag.name for tag in person.tags.all()),
        "yes" if person.user_id else "no",
        person.language,
        person.source,
        timezone.localtime(person.created).date().isoformat(),
        " ".join(sorted(person.consents)),
        *(_export_value(person.fields.get(key)) for key in field_keys),
    ]
    return [value if isinstance(value, int) else safe_cell(value) for value in values]


def _export_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value if isinstance(value, int | float) else str(value)


def segment_export(*, actor, segment, file_format):
    """The segment's people the actor may export (people.export on the segment's chapter, or
    anywhere for the organisation's own; rows within the chapters where they hold it), with the
    contact columns filled only for the people whose contacts the actor may see. Every cell that
    a spreadsheet would run as a formula is defused. Audit-logged with the number of rows.

    Returns (filename, content type, content): for CSV an iterator of lines, streamed as read
    (2,000 people at a time); for XLSX a temporary file, written row by row in openpyxl's
    write-only mode, which the caller streams and closes."""
    if file_format not in EXPORT_FORMATS:
        raise InvalidAction(_("Export as CSV or XLSX."))
    if not may_use(actor, segment, capabilities.EXPORT) or not may_use(actor, segment, capabilities.VIEW):
        raise NotAllowed(capabilities.EXPORT)
    people = audience_for(actor, segment, capabilities.EXPORT)
    columns, field_keys = export_columns()
    stem = f"segment-{segment.pk}-{timezone.localdate():%Y-%m-%d}"

    def rows():
        for person in _export_people(people).iterator(chunk_size=2000):
            yield _row(actor, person, field_keys)

    if file_format == "csv":
        count = people.count()
        _audit_export(actor, segment, count, file_format)
        return f"{stem}.csv", "text/csv; charset=utf-8", csv_lines(columns, rows())
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("People")[:31])
    sheet.append(columns)
    count = 0
    for row in rows():
        sheet.append(row)
        count += 1
    output = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - the response closes it
    workbook.save(output)
    output.seek(0)
    _audit_export(actor, segment, count, file_format)
    return f"{stem}.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", output


def _audit_export(actor, segment, count, file_format):
    audit(
        actor=actor,
        action="people.segment_exported",
        chapter=segment.chapter,
        segment=segment.pk,
        name=segment.name,
        rows=count,
        format=file_format,
    )


# Reading back -------------------------------------------------------------------------------------


def first_page(people):
    """The newest FIRST_PAGE of an audience, with what a list shows of each."""
    from people.selectors import with_details

    return with_details(people.order_by("-created", "-id"))


def describe(definition):
    """The conditions of a definition in words, for the segment's page."""
    conditions = definition.get("all", [])
    ids = {"chapters": set(), "tags": set()}
    for condition in conditions:
        if condition.get("type") in ids:
            ids[condition["type"]].update(condition[condition["type"]])
    chapters = dict(Chapter.objects.filter(pk__in=ids["chapters"]).values_list("pk", "name"))
    tags = dict(Tag.objects.filter(pk__in=ids["tags"]).values_list("pk", "name"))
    fields = dict(CustomField.objects.values_list("key", "name"))
    named = dict(
        Segment.objects.filter(pk__in=[*definition.get("include", ()), *definition.get("exclude", ())]).values_list(
            "pk", "name"
        )
    )
    kinds, channels, purposes = dict(Activity.Kind.choices), dict(Channel.choices), dict(Purpose.choices)
    gone = _("(deleted)")

    def names(found, pks):
        return ", ".join(str(found.get(pk, gone)) for pk in pks)

    lines = []
    for condition in conditions:
        kind = condition.get("type")
        if kind == "chapters":
            lines.append(
                _("In %(chapters)s, or a chapter below") % {"chapters": names(chapters, condition["chapters"])}
            )
        elif kind == "tags":
            text = {
                "any": _("Tagged %(tags)s (any of them)"),
                "all": _("Tagged %(tags)s (all of them)"),
                "none": _("Not tagged %(tags)s"),
            }[condition.get("match", "any")]
            lines.append(text % {"tags": names(tags, condition["tags"])})
        elif kind == "consent":
            lines.append(
                _("Consent to %(channel)s for %(purpose)s")
                % {"channel": channels[condition["channel"]], "purpose": purposes[condition["purpose"]]}
            )
        elif kind == "field":
            value = condition.get("value", "")
            if isinstance(value, bool):
                value = _("yes") if value else _("no")
            lines.append(f"{fields.get(condition['field'], gone)} {OPERATOR_LABELS[condition['op']]} {value}".strip())
        elif kind == "activity":
            text = kinds[condition["kind"]]
            if condition.get("target_id"):
                app_label, model = condition["target_type"].split(".")
                summary = (
                    Activity.objects.filter(
                        kind=condition["kind"],
                        target_type__app_label=app_label,
                        target_type__model=model,
                        target_id=condition["target_id"],
                    )
                    .values_list("summary", flat=True)
                    .first()
                )
                text += f" “{summary or condition['target_id']}”"
            if condition.get("days"):
                text += " " + _("in the last %(days)d days") % {"days": condition["days"]}
            lines.append(text)
        elif kind == "postcode":
            lines.append(_("Postcode starts with %(prefixes)s") % {"prefixes": ", ".join(condition["prefixes"])})
        elif kind == "commune":
            lines.append(_("Lives in %(communes)s") % {"communes": ", ".join(condition["communes"])})
        elif kind == "member":
            lines.append(_("Members") if condition["member"] else _("Not members"))
        elif kind == "created":
            lines.append(
                _("Added between %(start)s and %(end)s")
                % {"start": condition.get("from") or "…", "end": condition.get("to") or "…"}
            )
    if definition.get("include"):
        lines.append(_("Also in one of: %(segments)s") % {"segments": names(named, definition["include"])})
    if definition.get("exclude"):
        lines.append(_("Leaving out: %(segments)s") % {"segments": names(named, definition["exclude"])})
    return lines
