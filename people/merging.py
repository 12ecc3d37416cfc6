"""Likely duplicates and merging.

Exact matches never get this far: people.services.person_record merges them at entry. What is
left are people who are probably the same human written two ways. `duplicates_find` lists them
for review in a few SQL statements (one GROUP BY per rule, whatever the size of the base);
`pair_dismiss` says two of them are different people, for good; `person_merge` folds one person
into another, keeping every row of both, and `merge_undo` puts everything back within
UNDO_DAYS; after that `merges_expire` deletes the merged person for good.
"""

import datetime

from django.db import IntegrityError, connection, models, transaction
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chapters import access as chapter_access
from chapters.models import Chapter
from chapters.services import InvalidAction, NotAllowed, audit
from people import access, capabilities, selectors, services
from people.models import (
    Activity,
    Consent,
    CustomField,
    DuplicatePair,
    Merge,
    Person,
    PersonChapter,
    PersonEmail,
    PersonPhone,
)
from tenancy.tasks import tenant_task

UNDO_DAYS = 30
# A group larger than this shares a common name or a switchboard number: not one human written twice.
LARGEST_GROUP = 20

REASONS = {
    "same_name_postcode": gettext_lazy("Same name and postcode"),
    "same_phone": gettext_lazy("Same mobile number (or same name and landline), another email address"),
    "same_name_email": gettext_lazy("Same name, same email address at another provider"),
    "same_name_no_postcode": gettext_lazy("Same name, one without a postcode"),
}

# The person's own values a merge chooses between, in the order the merge screen shows them.
FIELDS = ("full_name", "language", "address", "postcode", "commune", "polling_station")


def reason_label(reason):
    return REASONS.get(reason, reason)


# Finding ------------------------------------------------------------------------------------


def _rules():
    """(reason, SQL that selects the groups of ids of one likely human), strongest first: a pair
    found by two rules is shown with the first. A name is compared only when it has two words."""
    person, email, phone = Person._meta.db_table, PersonEmail._meta.db_table, PersonPhone._meta.db_table
    live = "p.merged_into_id IS NULL"
    named = "p.name_key LIKE '%% %%'"
    size = f"BETWEEN 2 AND {LARGEST_GROUP}"
    return [
        (
            "same_name_postcode",
            f"""SELECT array_agg(p.id) AS ids, array_agg(p.id) AS anchors FROM "{person}" p
                WHERE {live} AND {named} AND p.postcode <> ''
                GROUP BY p.postcode, p.name_key HAVING count(*) {size}""",
        ),
        (
            # A mobile is one human's; a landline is a household's, so it counts only with the same name.
            "same_phone",
            f"""SELECT array_agg(DISTINCT p.id) AS ids, array_agg(DISTINCT p.id) AS anchors
                FROM "{phone}" ph JOIN "{person}" p ON p.id = ph.person_id
                WHERE {live} AND (ph.is_mobile OR {named})
                GROUP BY ph.number, CASE WHEN ph.is_mobile THEN '' ELSE p.name_key END
                HAVING count(DISTINCT p.id) {size}""",
        ),
        (
            "same_name_email",
            f"""SELECT array_agg(DISTINCT p.id) AS ids, array_agg(DISTINCT p.id) AS anchors
                FROM "{email}" e JOIN "{person}" p ON p.id = e.person_id
                WHERE {live} AND {named}
                GROUP BY p.name_key, lower(split_part(e.email, '@', 1))
                HAVING count(DISTINCT p.id) {size}""",
        ),
        (
            # Each pair has at least one person without a postcode (the anchors).
            "same_name_no_postcode",
            f"""SELECT array_agg(p.id) AS ids, array_agg(p.id) FILTER (WHERE p.postcode = '') AS anchors
                FROM "{person}" p WHERE {live} AND {named}
                GROUP BY p.name_key HAVING count(*) {size} AND bool_or(p.postcode = '')""",
        ),
    ]


def duplicates_find():
    """Record every likely pair not yet recorded; a pair once recorded (dismissed or waiting) is
    never added again. One INSERT … SELECT per rule. Returns how many pairs were added."""
    pair = DuplicatePair._meta.db_table
    added = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for reason, groups in _rules():
            cursor.execute(
                f"""INSERT INTO "{pair}" (person_a_id, person_b_id, reason, found)
                    SELECT DISTINCT LEAST(a, b), GREATEST(a, b), %s, now()
                    FROM ({groups}) g, unnest(g.anchors) a, unnest(g.ids) b
                    WHERE a <> b
                    ON CONFLICT (person_a_id, person_b_id) DO NOTHING""",
                [reason],
            )
            added += cursor.rowcount
    return added


@tenant_task
def duplicates_find_task():
    """The worker's run of duplicates_find, in the organisation that asked."""
    return duplicates_find()


def duplicates_find_request(*, actor):
    """Someone who merges people somewhere asks for a look now: the worker does it after commit."""
    if not chapter_access.can_anywhere(actor, capabilities.MERGE):
        raise NotAllowed(capabilities.MERGE)
    duplicates_find_task.enqueue_on_commit()


# Reading ------------------------------------------------------------------------------------


def _reach(user):
    """Every person, hidden or not, the user holds people.merge on (their own chapter links)."""
    if chapter_access.can(user, capabilities.MERGE):
        return Person.objects.all()
    chapters = Chapter.objects.filter(chapter_access.chapters_where(user, capabilities.MERGE))
    return Person.objects.filter(Exists(PersonChapter.objects.filter(person=OuterRef("pk"), chapter__in=chapters)))


def pairs_for(user):
    """The pairs waiting for review where the user holds people.merge on both people, newest first."""
    people = access.within(user, capabilities.MERGE)
    return (
        DuplicatePair.objects.filter(dismissed__isnull=True, person_a__in=people, person_b__in=people)
        .select_related("person_a", "person_b")
        .order_by("-found", "-pk")
    )


def get_pair_for(user, pk):
    """The pair, if it waits for review and the user may merge both people; else 404."""
    return _one_for(user, pairs_for, pk)


def _one_for(user, rows, pk):
    """The row `pk` of rows(user); the same 404 whether it does not exist or is out of reach."""
    if not user.is_authenticated:
        raise Http404
    found = rows(user).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def merges_for(user):
    """The merges the user may see: people.merge on both people (the merged person keeps their
    chapter links, so the check reads the same before and after the merge), newest first."""
    reach = _reach(user)
    later = Merge.objects.filter(kept=OuterRef("kept"), undone__isnull=True, created__gt=OuterRef("created"))
    return (
        Merge.objects.filter(kept__in=reach, merged__in=reach)
        .annotate(merged_since=Exists(later))  # read with the list, for undo_refusal
        .select_related("kept", "merged", "actor")
    )


def get_merge_for(user, pk):
    return _one_for(user, merges_for, pk)


def undo_deadline(merge):
    return merge.created + datetime.timedelta(days=UNDO_DAYS)


def undo_refusal(merge):
    """Why the merge can no longer be undone, or None. Merges come undone last first: one made
    since on the kept person may have moved the same rows again."""
    if merge.undone is not None:
        return _("This merge was already undone.")
    if not {"kept", "moved"} <= set(merge.snapshot):
        return _("This merge did not record what it moved: it cannot be undone.")
    if timezone.now() >= undo_deadline(merge):
        return _("A merge can be undone for %(days)s days only.") % {"days": UNDO_DAYS}
    if merge.kept.merged_into_id is not None:
        return _("The kept person was merged into someone else since: undo that merge first.")
    merged_since = getattr(merge, "merged_since", None)
    if merged_since is None:
        later = Merge.objects.filter(kept=merge.kept, undone__isnull=True, created__gt=merge.created)
        merged_since = later.exclude(pk=merge.pk).exists()
    if merged_since:
        return _("This person was merged with someone else since: undo that merge first.")
    return None


def merge_refusal(kept, merged):
    """Why these two cannot be merged this way round, or None."""
    if kept.user_id and merged.user_id:
        return _(
            "Both people have a member account: they cannot be merged. If one human holds two accounts, "
            "close one of them first."
        )
    if merged.user_id:
        return _("A member's record is the one kept: keep the member and merge the other into them.")
    return None


def pairs_shown(user, pairs):
    """For each pair, both people with what the list shows of them (read in a fixed number of
    queries), whether the viewer may see their contact details, and the reason in words."""
    ids = {pk for pair in pairs for pk in (pair.person_a_id, pair.person_b_id)}
    people = {person.pk: person for person in selectors.with_details(Person.objects.filter(pk__in=ids))}
    for person in people.values():
        person.shows_contacts = access.may_see_contacts(user, person)
    return [
        {
            "pair": pair,
            "a": people[pair.person_a_id],
            "b": people[pair.person_b_id],
            "reason": reason_label(pair.reason),
        }
        for pair in pairs
    ]


def merge_defaults(kept, merged, custom_fields):
    """For each field, whose value a merge keeps unless told otherwise: the kept person's, else
    the other's where the kept person's is blank. Keys: FIELDS and "field:<key>"."""
    chosen = {}
    for name in FIELDS:
        chosen[name] = "merged" if _blank(getattr(kept, name)) and not _blank(getattr(merged, name)) else "kept"
    for field in custom_fields:
        kept_value, merged_value = kept.fields.get(field.key), merged.fields.get(field.key)
        chosen[f"field:{field.key}"] = "merged" if _blank(kept_value) and not _blank(merged_value) else "kept"
    return chosen


def _blank(value):
    return value is None or value == ""


def kept_of(person_a, person_b):
    """Who a merge keeps by default: the member (their record follows their account), else the
    older record (it carries the longer history)."""
    if person_b.user_id and not person_a.user_id:
        return person_b, person_a
    if person_a.user_id and not person_b.user_id:
        return person_a, person_b
    return (
        (person_a, person_b)
        if (person_a.created, person_a.pk) <= (person_b.created, person_b.pk)
        else (person_b, person_a)
    )


# Review -------------------------------------------------------------------------------------


def pair_dismiss(*, actor, pair):
    """Two people are not the same human: the pair leaves the list and is never added again."""
    with transaction.atomic():
        pair = DuplicatePair.objects.select_for_update().select_related("person_a", "person_b").get(pk=pair.pk)
        for person in (pair.person_a, pair.person_b):
            access.require(actor, capabilities.MERGE, person)
        if pair.dismissed is not None:
            return pair
        pair.dismissed, pair.dismissed_by = timezone.now(), actor
        pair.save(update_fields=["dismissed", "dismissed_by"])
        audit(
            actor=actor,
            action="people.duplicate_dismissed",
            chapter=access.chapter_reached_through(actor, pair.person_a),
            people=[pair.person_a_id, pair.person_b_id],
            reason=pair.reason,
        )
    return pair


# Merging ------------------------------------------------------------------------------------


def _lock(*people):
    """Both rows, locked in key order so that two merges of the same people cannot deadlock."""
    ids = sorted(person.pk for person in people)
    locked = {person.pk: person for person in Person.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    return [locked.get(person.pk) for person in people]


def _other_relations():
    """Foreign keys to Person that other apps add (RSVPs, call results, orders…): moved as they are."""
    handled = {PersonEmail, PersonPhone, Consent, Activity, PersonChapter, DuplicatePair, Merge, Person}
    return [
        relation
        for relation in Person._meta.get_fields(include_hidden=True)
        if relation.one_to_many
        and relation.auto_created
        and relation.related_model not in handled
        and not relation.related_model._meta.auto_created  # the tags' table, moved above
    ]


def _move(queryset, field, kept):
    """Move rows to the kept person; a row that would break a unique rule there (the same RSVP
    twice) stays with the merged person. Returns the ids moved."""
    ids = list(queryset.values_list("pk", flat=True))
    try:
        with transaction.atomic():
            queryset.model.objects.filter(pk__in=ids).update(**{field: kept})
        return ids
    except IntegrityError:
        moved = []
        for pk in ids:
            try:
                with transaction.atomic():
                    queryset.model.objects.filter(pk=pk).update(**{field: kept})
                moved.append(pk)
            except IntegrityError:
                continue
        return moved


def consents_derive(person):
    """The consents a person holds from their whole history: for each channel and purpose, the
    latest row, a withdrawal winning over a grant of the same instant. Two records of one human
    bring two histories; a grant in one never outweighs a later or simultaneous withdrawal in the
    other, and a grant that is newer than every withdrawal stands (the person gave it after)."""
    latest = {}
    withdrawn_first = models.Case(models.When(status=Consent.Status.WITHDRAWN, then=0), default=1)
    for channel, purpose, status in (
        Consent.objects.filter(person=person)
        .order_by("-created", withdrawn_first, "-pk")
        .values_list("channel", "purpose", "status")
    ):
        latest.setdefault((channel, purpose), status)
    return sorted(f"{channel}:{purpose}" for (channel, purpose), status in latest.items() if status == "granted")


def person_merge(*, actor, kept, merged, choices=None):
    """Fold `merged` into `kept`; keep every row of both.

    Who may: people.merge on both people. `choices` maps FIELDS and "field:<key>" to "kept" or
    "merged" (missing: merge_defaults). Locks both rows in key order. Moves emails and phones (one
    primary each: the kept person's), consent rows (the consents are derived again from both
    histories), activities, tags, the rows of other apps; adds the merged person's chapter links
    to the kept person (the merged person keeps theirs, so rights over them stay as they were);
    fills the kept person's values as chosen. The merged person is hidden until the merge expires.
    Refuses two member accounts, and merges a member only into their own record. Audit-logged;
    everything in one transaction. Returns the Merge.
    """
    if kept.pk == merged.pk:
        raise InvalidAction(_("A person cannot be merged with themselves."))
    with transaction.atomic():
        kept, merged = _lock(kept, merged)
        if kept is None or merged is None or kept.merged_into_id or merged.merged_into_id:
            raise InvalidAction(_("One of these people was merged or deleted meanwhile."))
        for person in (kept, merged):
            access.require(actor, capabilities.MERGE, person)
        refusal = merge_refusal(kept, merged)
        if refusal:
            raise InvalidAction(refusal)
        custom_fields = list(CustomField.objects.all())
        chosen = {**merge_defaults(kept, merged, custom_fields), **(choices or {})}
        snapshot = {"kept": _values(kept), "moved": {}}
        moved = snapshot["moved"]

        for name in FIELDS:
            if chosen.get(name) == "merged" and not (kept.user_id and name in services.MEMBER_FIELDS):
                setattr(kept, name, getattr(merged, name))
        values = {**merged.fields, **kept.fields}
        for field in custom_fields:
            source = merged if chosen.get(f"field:{field.key}") == "merged" else kept
            values.pop(field.key, None)
            if not _blank(source.fields.get(field.key)):
                values[field.key] = source.fields[field.key]
        kept.fields = values
        if (merged.created, merged.pk) < (kept.created, kept.pk):
            # The human first came to the organisation through the merged record.
            kept.source, kept.source_detail, kept.created = merged.source, merged.source_detail, merged.created

        moved["emails"], snapshot["primary_emails"] = _move_contacts(PersonEmail, merged, kept)
        moved["phones"], snapshot["primary_phones"] = _move_contacts(PersonPhone, merged, kept)
        moved["consents"] = _move(Consent.objects.filter(person=merged), "person", kept)
        moved["activities"] = _move(Activity.objects.filter(person=merged), "person", kept)
        through = Person.tags.through
        moved["tags"] = _move(
            through.objects.filter(person=merged).exclude(tag__in=through.objects.filter(person=kept).values("tag")),
            "person",
            kept,
        )
        held = set(kept.chapter_links.values_list("chapter", "reason"))
        added = PersonChapter.objects.bulk_create(
            [
                PersonChapter(person=kept, chapter_id=link.chapter_id, reason=link.reason)
                for link in merged.chapter_links.exclude(reason=PersonChapter.Reason.AREA)
                if (link.chapter_id, link.reason) not in held
            ]
        )
        snapshot["chapter_links_added"] = [link.pk for link in added]
        moved["other"] = {
            f"{relation.related_model._meta.label_lower}.{relation.field.name}": _move(
                relation.related_model._default_manager.filter(**{relation.field.name: merged}),
                relation.field.name,
                kept,
            )
            for relation in _other_relations()
        }

        kept.consents = consents_derive(kept)
        kept.save()
        if kept.postcode != snapshot["kept"]["postcode"]:
            services.person_place(kept)
        # Hidden and holding no consent, so that no audience that forgets to leave them out reaches them.
        merged.merged_into, merged.consents = kept, []
        merged.save(update_fields=["merged_into", "consents", "updated"])
        merge = Merge.objects.create(kept=kept, merged=merged, snapshot=snapshot, actor=actor)
        activity = services.activity_record(
            person=kept,
            kind=Activity.Kind.EDIT,
            actor=actor,
            summary=_("Merged with %(name)s (#%(id)s)") % {"name": merged, "id": merged.pk},
            details={"merge": merge.pk, "merged": merged.pk},
        )
        merge.snapshot["activity"] = activity.pk
        merge.save(update_fields=["snapshot"])
        audit(
            actor=actor,
            action="people.merged",
            chapter=access.chapter_reached_through(actor, kept),
            kept=kept.pk,
            merged=merged.pk,
            merge=merge.pk,
        )
    return merge


def _values(person):
    values = {name: getattr(person, name) for name in FIELDS}
    values.update(
        fields=person.fields,
        consents=list(person.consents),
        source=person.source,
        source_detail=person.source_detail,
        created=person.created.isoformat(),
    )
    return values


def _move_contacts(model, merged, kept):
    """Move addresses or numbers; the kept person's primary stays primary. A number the kept
    person already has stays with the merged person (it is kept all the same). Returns (moved
    ids, ids that were primary)."""
    rows = model.objects.filter(person=merged)
    if model is PersonPhone:
        rows = rows.exclude(number__in=PersonPhone.objects.filter(person=kept).values("number"))
    ids = list(rows.values_list("pk", flat=True))
    primary = list(rows.filter(is_primary=True).values_list("pk", flat=True))
    if model.objects.filter(person=kept, is_primary=True).exists():
        model.objects.filter(pk__in=ids).update(person=kept, is_primary=False)
    else:
        model.objects.filter(pk__in=ids).update(person=kept)
    return ids, primary


def merge_undo(*, actor, merge):
    """Put both people back as they were: the kept person's former values, every moved row back
    with the merged person, the added chapter links and the merge's timeline entry removed, the
    merged person shown again. Who may: people.merge on both. Within UNDO_DAYS, last merge first.
    Locks both rows in key order; audit-logged; one transaction."""
    with transaction.atomic():
        merge = Merge.objects.select_for_update().get(pk=merge.pk)
        kept, merged = _lock(merge.kept, merge.merged)
        merge.kept, merge.merged = kept, merged
        for person in (kept, merged):
            access.require(actor, capabilities.MERGE, person)
        refusal = undo_refusal(merge)
        if refusal:
            raise InvalidAction(refusal)
        snapshot, moved = merge.snapshot, merge.snapshot["moved"]  # both checked by undo_refusal
        Activity.objects.filter(pk=snapshot.get("activity"), person=kept).delete()
        for model, key in ((PersonEmail, "emails"), (PersonPhone, "phones")):
            model.objects.filter(pk__in=moved.get(key, []), person=kept).update(person=merged, is_primary=False)
            model.objects.filter(pk__in=snapshot.get(f"primary_{key}", []), person=merged).update(is_primary=True)
        Consent.objects.filter(pk__in=moved.get("consents", []), person=kept).update(person=merged)
        Activity.objects.filter(pk__in=moved.get("activities", []), person=kept).update(person=merged)
        Person.tags.through.objects.filter(pk__in=moved.get("tags", []), person=kept).update(person=merged)
        PersonChapter.objects.filter(pk__in=snapshot.get("chapter_links_added", []), person=kept).delete()
        relations = {
            f"{relation.related_model._meta.label_lower}.{relation.field.name}": relation
            for relation in _other_relations()
        }
        for key, ids in moved.get("other", {}).items():
            if key in relations:
                field = relations[key].field.name
                relations[key].related_model._default_manager.filter(pk__in=ids, **{field: kept}).update(
                    **{field: merged}
                )

        former = snapshot["kept"]
        postcode_changed = kept.postcode != former["postcode"]
        for name in FIELDS:
            setattr(kept, name, former[name])
        kept.fields, kept.source, kept.source_detail = former["fields"], former["source"], former["source_detail"]
        kept.created = datetime.datetime.fromisoformat(former["created"])
        kept.consents = consents_derive(kept)
        kept.save()
        if postcode_changed:
            services.person_place(kept)
        merged.merged_into = None
        merged.consents = consents_derive(merged)
        merged.save(update_fields=["merged_into", "consents", "updated"])
        merge.undone = timezone.now()
        merge.save(update_fields=["undone"])
        audit(
            actor=actor,
            action="people.merge_undone",
            chapter=access.chapter_reached_through(actor, kept),
            kept=kept.pk,
            merged=merged.pk,
            merge=merge.pk,
        )
    return merge


def merges_expire(now=None):
    """Delete for good the people merged more than UNDO_DAYS ago and not brought back (with what
    stayed with them: numbers the kept person also has, their own chapter links). Their Merge rows
    go with them; the audit log keeps the merge. Returns how many people were deleted."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=UNDO_DAYS)
    with transaction.atomic():
        expired = Merge.objects.filter(undone__isnull=True, created__lte=cutoff, merged__merged_into__isnull=False)
        ids = list(expired.values_list("merged", flat=True))
        if not ids:
            return 0
        audit(actor=None, action="people.merges_expired", people=ids)
        Person.objects.filter(pk__in=ids, merged_into__isnull=False).delete()
    return len(ids)


@tenant_task
def merges_expire_task():
    """The daily expiry of merges that can no longer be undone (settings.SCHEDULED_TASKS)."""
    merges_expire()
