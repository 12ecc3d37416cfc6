"""The base at a glance: the figures and series the organisers' home charts, for the viewer's scope.

Three queries over the people the viewer may see (the totals and consent rates in one, sign-ups by
source and week, growth by month), kept in the cache for a few minutes per scope: the home is
opened often and the figures move slowly. The key names the scope (the chapters where the viewer
holds people.view), so two coordinators of the same chapters share it and no one reads another's.
"""

import datetime
import hashlib

from django.core.cache import cache
from django.db.models import Count, Max, Q
from django.db.models.functions import TruncMonth, TruncWeek
from django.template.loader import render_to_string
from django.utils import timezone

from chapters.access import can, can_anywhere, grants
from people import access, capabilities
from people.models import Channel, Person, Purpose, Source

CACHE_SECONDS = 300
WEEKS = 12
MONTHS = 12


def _scope_key(user):
    if can(user, capabilities.VIEW):
        scope = "organisation"
    else:
        scope = ",".join(sorted(grant.path for grant in grants(user) if capabilities.VIEW in grant.capabilities))
    return "people.glance." + hashlib.sha256(scope.encode()).hexdigest()[:32]


def glance(user):
    """The figures for the people the user may see (see the module's docstring), cached. The key
    also names the newest person (an index lookup), so that a newcomer shows at once."""
    newest = Person.objects.aggregate(newest=Max("pk"))["newest"]
    key = f"{_scope_key(user)}.{newest}"
    found = cache.get(key)
    if found is None:
        found = _figures(access.within(user, capabilities.VIEW))
        cache.set(key, found, CACHE_SECONDS)
    return found


def _month_start(day, back):
    year, month = divmod(day.year * 12 + day.month - 1 - back, 12)
    return datetime.date(year, month + 1, 1)


def _figures(people):
    now = timezone.localtime()
    keys = [f"{channel}:{purpose}" for channel in Channel.values for purpose in Purpose.values]
    totals = people.aggregate(
        people=Count("pk"),
        members=Count("pk", filter=Q(user__isnull=False)),
        **{key.replace(":", "__"): Count("pk", filter=Q(consents__contains=[key])) for key in keys},
    )
    week_start = (now - datetime.timedelta(days=now.weekday(), weeks=WEEKS - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    weeks = [(week_start + datetime.timedelta(weeks=n)).date() for n in range(WEEKS)]
    by_week = {}
    for row in (
        people.filter(created__gte=week_start)
        .annotate(week=TruncWeek("created"))
        .values("week", "source")
        .annotate(count=Count("pk"))
        .order_by()
    ):
        by_week[(row["week"].date(), row["source"])] = row["count"]
    sources = [source for source in Source.values if any(by_week.get((week, source)) for week in weeks)]

    first_month = _month_start(now.date(), MONTHS - 1)
    months = [_month_start(now.date(), back) for back in range(MONTHS - 1, -1, -1)]
    start = timezone.make_aware(datetime.datetime.combine(first_month, datetime.time()))
    per_month = {
        row["month"].date(): row["count"]
        for row in people.filter(created__gte=start)
        .annotate(month=TruncMonth("created"))
        .values("month")
        .annotate(count=Count("pk"))
        .order_by()
    }
    running, growth = totals["people"] - sum(per_month.values()), []
    for month in months:
        running += per_month.get(month, 0)
        growth.append(running)

    total = totals["people"] or 1
    labels = dict(Source.choices)
    return {
        "people": totals["people"],
        "members": totals["members"],
        "consents": [
            {
                "channel": channel,
                "purpose": purpose,
                "count": totals[f"{channel}__{purpose}"],
                "percent": round(100 * totals[f"{channel}__{purpose}"] / total),
            }
            for channel in Channel.values
            for purpose in Purpose.values
        ],
        "weeks": [week.isoformat() for week in weeks],
        "signups": [
            {
                "source": source,
                "label": str(labels[source]),
                "counts": [by_week.get((week, source), 0) for week in weeks],
            }
            for source in sources
        ],
        "months": [month.isoformat() for month in months],
        "growth": growth,
    }


def panel(request):
    """The home's panel, for those who may see people somewhere."""
    user = request.user
    if not user.is_authenticated or not can_anywhere(user, capabilities.VIEW):
        return None
    figures = glance(user)
    channels, purposes = dict(Channel.choices), dict(Purpose.choices)
    for row in figures["consents"]:
        row["label"] = f"{channels[row['channel']]} · {purposes[row['purpose']]}"
    chart = {
        "weeks": figures["weeks"],
        "signups": figures["signups"],
        "months": figures["months"],
        "growth": figures["growth"],
    }
    return render_to_string("people/glance.html", {"figures": figures, "chart": chart}, request=request)
