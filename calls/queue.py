"""The call queue: who is called, by whom, and when.

`freeze` turns the campaign's audience into `Target` rows. `take_next` gives a caller the next
person: their own promised call-backs first, then whoever has waited longest, among the targets
whose turn has come, that no one holds, whose time zone is inside calling hours, who still consent
to be phoned for the campaign's purpose and still have a number that is not known to be wrong. The
row is taken with `FOR UPDATE SKIP LOCKED`, so callers asking at the same moment never wait on each
other nor get the same person, and leased: a lease that lapses (the caller closed the page, lost
their connection) puts the person back, and the call page renews it while it is open.
"""

import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from calls import zones
from calls.models import Call, Campaign, Target, WrongNumber
from people.models import Channel, PersonPhone


def lease_length():
    return datetime.timedelta(seconds=settings.CALLS_LEASE_SECONDS)


def consent_key(campaign):
    return f"{Channel.PHONE}:{campaign.purpose}"


def good_phones():
    """Numbers no caller reported as wrong."""
    return PersonPhone.objects.exclude(Exists(WrongNumber.objects.filter(number=OuterRef("number"))))


def number_for(person_id):
    """The number a caller dials for a person: their primary one first, never one reported wrong."""
    return (
        good_phones()
        .filter(person_id=person_id)
        .order_by("-is_primary", "-is_mobile", "pk")
        .values_list("number", flat=True)
        .first()
    )


def reachable(people, campaign):
    """Of these people, those who may be phoned for the campaign: consent and a good number."""
    return people.filter(consents__contains=[consent_key(campaign)]).filter(
        Exists(good_phones().filter(person=OuterRef("pk")))
    )


def freeze(campaign, people, *, batch=5000):
    """Put `people` (a queryset: the campaign's audience, already checked) into the campaign's list,
    each with the time zone of the number they will be called on. People already in it keep their
    place and history. Returns how many joined."""
    rows = (
        good_phones()
        .filter(person__in=reachable(people, campaign).values("pk"))
        .order_by("person_id", "-is_primary", "-is_mobile", "pk")
        .distinct("person_id")
        .values_list("person_id", "number")
    )
    now = timezone.now()
    found_zones = set(campaign.zones)
    with transaction.atomic():
        # bulk_create with ignore_conflicts returns every row given, inserted or not: count instead.
        before = Target.objects.filter(campaign=campaign).count()
        chunk = []
        for person_id, number in rows.iterator(chunk_size=batch):
            zone = zones.zone_of(number)
            found_zones.add(zone)
            chunk.append(Target(campaign=campaign, person_id=person_id, zone=zone, not_before=now))
            if len(chunk) >= batch:
                Target.objects.bulk_create(chunk, ignore_conflicts=True)
                chunk = []
        if chunk:
            Target.objects.bulk_create(chunk, ignore_conflicts=True)
        added = Target.objects.filter(campaign=campaign).count() - before
        Campaign.objects.filter(pk=campaign.pk).update(zones=sorted(found_zones))
        campaign.zones = sorted(found_zones)
    return added


_PICK = """
    SELECT t.id, t.person_id FROM calls_target t
    WHERE t.campaign_id = %(campaign)s AND t.status = 'queued' AND t.not_before <= %(now)s
      AND (t.lease_until IS NULL OR t.lease_until < %(now)s)
      AND {whose}
      AND t.zone = ANY(%(zones)s)
      AND EXISTS (
        SELECT 1 FROM people_person p
        WHERE p.id = t.person_id AND p.merged_into_id IS NULL AND p.consents @> ARRAY[%(consent)s]::varchar[]
      )
      AND EXISTS (
        SELECT 1 FROM people_personphone ph
        WHERE ph.person_id = t.person_id
          AND NOT EXISTS (SELECT 1 FROM calls_wrongnumber w WHERE w.number = ph.number)
      )
    ORDER BY t.not_before, t.id
    LIMIT 1
    FOR UPDATE OF t SKIP LOCKED
"""
_PROMISED = "t.preferred_caller_id = %(caller)s"
_ANYONE = "(t.preferred_caller_id IS NULL OR t.preferred_caller_id = %(caller)s OR t.preferred_until < %(now)s)"


def _pick(campaign, caller, now, open_zones):
    params = {
        "campaign": campaign.pk,
        "now": now,
        "zones": open_zones,
        "consent": consent_key(campaign),
        "caller": caller.pk,
    }
    with connection.cursor() as cursor:
        for whose in (_PROMISED, _ANYONE):
            cursor.execute(_PICK.format(whose=whose), params)
            row = cursor.fetchone()
            if row is not None:
                return row
    return None, None


def held_by(campaign, caller, now=None):
    """The call the caller has under way in the campaign, if their lease still holds it."""
    now = now or timezone.now()
    target = (
        Target.objects.filter(campaign=campaign, leased_by=caller, status=Target.Status.QUEUED, lease_until__gte=now)
        .select_related("call")
        .first()
    )
    if target is not None and target.call is not None and target.call.ended is None:
        return target.call
    return None


def take_next(campaign, caller, now=None):
    """The caller's call under way, or a new one with the next person; None when no one can be
    called now (the list is done, or everyone left is outside calling hours or cooling down)."""
    now = now or timezone.now()
    with transaction.atomic():
        current = held_by(campaign, caller, now)
        if current is not None:
            return current
        open_zones = zones.open_zones(campaign, now)
        if not open_zones:
            return None
        target_id, person_id = _pick(campaign, caller, now, open_zones)
        if target_id is None:
            return None
        call = Call.objects.create(
            campaign=campaign, target_id=target_id, person_id=person_id, caller=caller, started=now
        )
        Target.objects.filter(pk=target_id).update(leased_by=caller, lease_until=now + lease_length(), call=call)
    return call


def renew(call, caller, now=None):
    """Keep the caller's hold on the person while their page is open. False when it is lost (the
    lease lapsed and someone else took the person, or the call is over)."""
    now = now or timezone.now()
    if call.ended is not None or call.caller_id != caller.pk:
        return False
    return bool(
        Target.objects.filter(pk=call.target_id, call=call, status=Target.Status.QUEUED).update(
            leased_by=caller, lease_until=now + lease_length()
        )
    )


def holds(call, caller):
    """Whether this call is still the caller's to make (the person was not given to someone else)."""
    return (
        call.ended is None
        and call.caller_id == caller.pk
        and Target.objects.filter(pk=call.target_id, call=call, status=Target.Status.QUEUED).exists()
    )


def release(call, caller):
    """The caller stops before calling: the person goes back to the queue at once. The call ends
    with no outcome (it was not made: it counts for nothing), its reveals kept. Returns whether
    there was one to release."""
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(pk=call.pk, caller=caller, ended__isnull=True).first()
        if call is None:
            return False
        Target.objects.filter(pk=call.target_id, call=call).update(leased_by=None, lease_until=None, call=None)
        call.ended = timezone.now()
        call.save(update_fields=["ended"])
    return True


def retire_person(person_id, outcome):
    """A person who asked not to be called leaves every campaign's list at once."""
    return Target.objects.filter(person_id=person_id, status=Target.Status.QUEUED).update(
        status=Target.Status.DONE, last_outcome=outcome, leased_by=None, lease_until=None
    )


def retire_number(number, outcome):
    """After a wrong number: the people called on it who have no other good number leave every
    campaign's list."""
    stranded = (
        Target.objects.filter(status=Target.Status.QUEUED, person__phones__number=number)
        .exclude(Exists(good_phones().filter(person=OuterRef("person"))))
        .values("pk")
    )
    return Target.objects.filter(pk__in=stranded).update(
        status=Target.Status.DONE, last_outcome=outcome, leased_by=None, lease_until=None
    )
