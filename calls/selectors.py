"""Reads of phone banks that need more than one line: the dashboard's figures, the leaderboard,
the list page, and the rows of the results export."""

import datetime
import json

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from calls.models import Call, CallSettings, Outcome, Question, Target
from chapters.member_files import safe_cell

ACTIVE_WINDOW = datetime.timedelta(minutes=5)
LEADERBOARD_SIZE = 10


def _answers(campaign, questions):
    """{question id: {answer: count}} for closed questions, {question id: count} for free text."""
    figures = {str(question.pk): {} for question in questions if question.kind != Question.Kind.TEXT}
    texts = {str(question.pk): 0 for question in questions if question.kind == Question.Kind.TEXT}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.key, a.value, count(*) FROM calls_call c, jsonb_each(c.answers) a "
            "WHERE c.campaign_id = %s AND c.outcome <> '' GROUP BY 1, 2",
            [campaign.pk],
        )
        for key, value, count in cursor.fetchall():
            value = json.loads(value) if isinstance(value, str) else value
            if key in texts:
                texts[key] += count
            elif key in figures:
                shown = ("yes" if value else "no") if isinstance(value, bool) else str(value)
                figures[key][shown] = figures[key].get(shown, 0) + count
    return figures, texts


def stats(campaign, now=None, *, for_organiser=True, viewer=None):
    """The campaign's figures now: where the list stands, the calls and their outcomes, the pace,
    who is calling, and (for organisers) the answers so far."""
    now = now or timezone.now()
    targets = Target.objects.filter(campaign=campaign).aggregate(
        total=Count("pk"),
        done=Count("pk", filter=Q(status=Target.Status.DONE)),
        on_call=Count("pk", filter=Q(status=Target.Status.QUEUED, lease_until__gte=now)),
    )
    made = Call.objects.filter(campaign=campaign).exclude(outcome="")
    by_outcome = dict(made.values_list("outcome").annotate(n=Count("pk")).values_list("outcome", "n"))
    recent = made.filter(ended__gte=now - datetime.timedelta(minutes=10))
    figures = {
        "type": "stats",
        "status": campaign.status,
        "targets": targets["total"],
        "done": targets["done"],
        "remaining": targets["total"] - targets["done"],
        "on_call": targets["on_call"],
        "calls": sum(by_outcome.values()),
        "outcomes": {outcome: by_outcome.get(outcome, 0) for outcome in Outcome.values},
        "last_minute": recent.filter(ended__gte=now - datetime.timedelta(minutes=1)).count(),
        "per_minute_10": round(recent.count() / 10, 1),
        "callers_now": active_callers(campaign, now),
    }
    if viewer is not None:
        figures["mine"] = made.filter(caller=viewer).count()
    if for_organiser:
        questions = list(campaign.questions.all())
        figures["answers"], figures["texts"] = _answers(campaign, questions)
    if for_organiser or CallSettings.load().leaderboard:
        figures["leaderboard"] = leaderboard(campaign)
    return figures


def active_callers(campaign, now):
    """Callers on a call now or who ended one in the last five minutes."""
    on_call = Target.objects.filter(campaign=campaign, status=Target.Status.QUEUED, lease_until__gte=now).values_list(
        "leased_by", flat=True
    )
    recent = Call.objects.filter(campaign=campaign, ended__gte=now - ACTIVE_WINDOW).exclude(outcome="")
    # order_by(): with the default ordering, DISTINCT would run over (caller, started, id), a row per call
    return len(set(on_call) | set(recent.order_by().values_list("caller", flat=True).distinct()) - {None})


def _short(full_name):
    """ "Anne Live Durand" -> "Anne D.": a leaderboard names callers without their whole name."""
    words = full_name.split()
    if not words:
        return "…"
    return f"{words[0]} {words[-1][0]}." if len(words) > 1 else words[0]


def leaderboard(campaign):
    rows = (
        Call.objects.filter(campaign=campaign, caller__isnull=False)
        .exclude(outcome="")
        .values("caller", "caller__full_name", "caller__erased")
        .annotate(calls=Count("pk"))
        .order_by("-calls", "caller")[:LEADERBOARD_SIZE]
    )
    return [
        {"name": "…" if row["caller__erased"] else _short(row["caller__full_name"]), "calls": row["calls"]}
        for row in rows
    ]


def export(campaign):
    """The results as (header, rows), a call per row, oldest first: who was called (the person's id
    and name, never their number), by whom, when, the outcome and each answer; every cell a
    spreadsheet would run as a formula defused. The rows are read 2,000 calls at a time."""
    questions = list(campaign.questions.all())
    header = ["call", "person_id", "person", "caller", "ended", "outcome", "call_back_at", "note"]
    calls = (
        Call.objects.filter(campaign=campaign)
        .exclude(outcome="")
        .select_related("person", "caller")
        .order_by("ended", "pk")
    )

    def rows():
        for call in calls.iterator(chunk_size=2000):
            answers = [call.answers.get(str(question.pk), "") for question in questions]
            row = [
                call.pk,
                call.person_id,
                call.person.full_name,
                call.caller.get_full_name() if call.caller else "",
                timezone.localtime(call.ended).isoformat(timespec="minutes"),
                call.get_outcome_display(),
                timezone.localtime(call.call_back_at).isoformat(timespec="minutes") if call.call_back_at else "",
                call.note,
                *[("yes" if value else "no") if isinstance(value, bool) else value for value in answers],
            ]
            yield [safe_cell(value) for value in row]

    return [safe_cell(name) for name in header + [question.text for question in questions]], rows()
