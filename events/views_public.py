"""Events on the campaign site, under /events/ (and /en/events/): the list of public events to
come, an event's page with the visitor's answer form, its .ics file, the confirm and cancel links
of the answer mails, and a member's private calendar feed.

None of these pages goes through the campaign site's page cache (cms/cache.py serves Wagtail's
pages only): an event's page shows the places left as they are now. Visitors without a session
share a copy of it kept under a key made of what it shows that changes (_anonymous_page_key), so
that the copy is never behind the places taken.

The answer form is kept from bots as the campaign site's forms are: a honeypot field, and a rate
limit per client address and per email address, counted in the cache under keys that carry the
organisation's schema.
"""

import hashlib
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from chapters.markdown import render_markdown
from chapters.services import InvalidAction
from events import calendar, selectors, services
from events.forms_public import EventFilterForm, RsvpForm, slot_label
from events.models import CalendarFeed, Event, Rsvp
from tenancy import clients, rates

PER_PAGE = 20
# Answers are counted per client address and per email address over this period (the limits are
# settings.EVENTS_RSVP_CLIENT_LIMIT and EVENTS_RSVP_ADDRESS_LIMIT).
RATE_PERIOD = 3600
RATE_KEY = "events:rsvp-rate"
PAGE_SECONDS = 60  # a visitor's copy of an event's page, kept while nothing on it changes
# What events.models.new_token makes; anything else is not looked up (a NUL would not even reach SQL).
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


@require_GET
def event_list(request):
    form = EventFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else {}
    events = selectors.public_events(**filters)
    page = Paginator(events, PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    for event in page:
        places = [slot.places_left for slot in event.timeslots.all() if slot.end >= now]
        event.full = bool(places) and all(left == 0 for left in places)
        event.slot_count = len(places)
    filtered = any(value for value in filters.values())
    return TemplateResponse(request, "events/public/list.html", {"form": form, "page": page, "filtered": filtered})


def _event_for_visitors(pk):
    """The event as the public sees it (public; published or cancelled), or 404."""
    event = Event.objects.select_related("chapter").filter(pk=pk).first()
    if event is None or not services.may_see(AnonymousUser(), event):
        raise Http404
    return event


def _slots(event):
    """Every timeslot of the event, labelled, and those still open for answers."""
    now = timezone.now()
    slots = list(event.timeslots.all())
    for slot in slots:
        slot.label, slot.over = slot_label(slot), slot.end < now
    published = event.status == Event.Status.PUBLISHED
    return slots, [slot for slot in slots if published and not slot.over]


def _detail(request, event, form=None, status=200):
    slots, open_slots = _slots(event)
    member = request.user.is_authenticated
    if form is None and open_slots and not member:
        form = RsvpForm(event=event, slots=open_slots)
    context = {
        "event": event,
        "description_html": render_markdown(event.description),
        "slots": slots,
        "open": bool(open_slots),
        "form": form,
        "member_url": reverse("event", args=[event.pk]) if member else "",
    }
    return TemplateResponse(request, "events/public/detail.html", context, status=status)


def _anonymous_page_key(request, event):
    """The key under which a visitor's copy of the event's page is kept, or None when the page is
    someone's own (a session: signed in, or a form's errors; flash messages). The key holds what
    the page shows that changes: the event's last change, each timeslot's places taken, and the
    minute (a timeslot that ends closes its answers)."""
    if any(name in request.COOKIES for name in (settings.SESSION_COOKIE_NAME, "messages")):
        return None
    taken = ",".join(f"{slot.pk}:{slot.taken}" for slot in event.timeslots.all())
    minute = int(timezone.now().timestamp() // 60)
    state = f"{request.get_host()}|{translation.get_language()}|{event.updated.timestamp()}|{taken}|{minute}"
    digest = hashlib.sha256(state.encode()).hexdigest()[:32]
    return f"events:page:{connection.schema_name}:{event.pk}:{digest}"


def _visitors_page(request, event):
    """The event's page for a visitor, from the cache when nothing on it changed (on the night of a
    debate, many visitors open the same page: its header and menu cost most of its time)."""
    key = _anonymous_page_key(request, event)
    html = cache.get(key) if key else None
    if html is not None:
        return HttpResponse(html)
    response = _detail(request, event)
    if key:
        response.render()
        cache.set(key, response.content, PAGE_SECONDS)
    return response


# The visitors' form carries no CSRF token, so that the page can be kept for every visitor (the
# campaign site's sign-up forms do the same): it acts for nobody signed in (a member's POST only
# shows the page again), and an answer reaches no one's record until its address is confirmed.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def event_detail(request, pk):
    """An event's page; a visitor answers from it (a member answers from the members' area)."""
    event = Event.objects.select_related("chapter").prefetch_related("timeslots").filter(pk=pk).first()
    if event is None:
        raise Http404
    if not services.may_see(AnonymousUser(), event):
        if services.may_see(request.user, event):  # a member's link to an event only members see
            return redirect("event", pk=event.pk)
        raise Http404
    if request.method == "GET" and not request.user.is_authenticated:
        return _visitors_page(request, event)
    if request.method == "GET" or request.user.is_authenticated:
        return _detail(request, event)
    _all, slots = _slots(event)
    if not slots:
        return _detail(request, event, status=400)
    form = RsvpForm(request.POST, event=event, slots=slots)
    if form.is_bot():
        return TemplateResponse(request, "events/public/sent.html", {"event": event})
    if not form.is_valid():
        return _detail(request, event, form, status=400)
    if _over_limit(request, form.cleaned_data["email"]):
        return TemplateResponse(request, "events/public/too_many.html", {"event": event}, status=429)
    data = form.cleaned_data
    try:
        rsvp, created = services.rsvp_public(
            timeslot=form.chosen_slot(),
            name=data["name"],
            email=data["email"],
            phone=data["phone"],
            postcode=data["postcode"],
            guests=data.get("guests", 0),
            wants_news=data["wants_news"],
            wants_texts=data["wants_texts"],
            base_url=request.build_absolute_uri("/"),
            language=request.LANGUAGE_CODE,
        )
    except InvalidAction as error:
        form.add_error(None, str(error))
        return _detail(request, event, form, status=400)
    # An address that had answered already is sent the mail again, and the page tells no more than
    # that: whether someone answered, and how, is for them to know.
    context = {"event": event}
    if created:
        context.update(rsvp=rsvp, slot_label=slot_label(rsvp.timeslot), position=selectors.waiting_position(rsvp))
    return TemplateResponse(request, "events/public/sent.html", context)


def _over_limit(request, email):
    return not (
        rates.within(
            f"{RATE_KEY}:client", clients.client_address(request), settings.EVENTS_RSVP_CLIENT_LIMIT, RATE_PERIOD
        )
        and rates.within(f"{RATE_KEY}:address", email.lower(), settings.EVENTS_RSVP_ADDRESS_LIMIT, RATE_PERIOD)
    )


def _host(request):
    return urlsplit(request.build_absolute_uri("/")).hostname or "relais"


@require_GET
def event_ics(request, pk):
    event = _event_for_visitors(pk)  # members get theirs from the members' area
    url = request.build_absolute_uri(reverse("event_public", args=[event.pk]))
    response = HttpResponse(calendar.event_ics(event, url=url, host=_host(request)), content_type="text/calendar")
    response["Content-Disposition"] = f'attachment; filename="event-{event.pk}.ics"'
    return response


# The links of the answer mails ---------------------------------------------------------------------


def _answer(token):
    if not TOKEN.fullmatch(token):
        return None
    return Rsvp.objects.select_related("timeslot__event").filter(token=token).first()


def _invalid_link(request):
    return TemplateResponse(request, "events/public/invalid_link.html", status=404)


def _answer_context(rsvp, **extra):
    return {
        "rsvp": rsvp,
        "event": rsvp.timeslot.event,
        "slot_label": slot_label(rsvp.timeslot),
        "position": selectors.waiting_position(rsvp) if rsvp.status == Rsvp.Status.WAITING else None,
        **extra,
    }


@never_cache
@require_http_methods(["GET", "POST"])
def rsvp_confirm(request, token):
    """The link in the confirmation mail. GET asks for a click (mail scanners follow links and
    must change nothing); POST confirms."""
    rsvp = _answer(token)
    if rsvp is None:
        return _invalid_link(request)
    if request.method == "GET" or rsvp.confirmed_at is not None or rsvp.status == Rsvp.Status.CANCELLED:
        return TemplateResponse(request, "events/public/confirm.html", _answer_context(rsvp))
    try:
        rsvp = services.rsvp_confirm(rsvp=rsvp)
    except InvalidAction as error:
        rsvp.refresh_from_db()
        return TemplateResponse(request, "events/public/confirm.html", _answer_context(rsvp, error=str(error)))
    return TemplateResponse(request, "events/public/confirm.html", _answer_context(rsvp, done=True))


@never_cache
@require_http_methods(["GET", "POST"])
def rsvp_cancel(request, token):
    """The link to free one's place. GET asks to confirm; POST cancels, and the place goes to
    the first one waiting."""
    rsvp = _answer(token)
    if rsvp is None:
        return _invalid_link(request)
    if request.method == "GET" or rsvp.status == Rsvp.Status.CANCELLED:
        return TemplateResponse(request, "events/public/cancel.html", _answer_context(rsvp))
    rsvp = services.rsvp_cancel(rsvp=rsvp)
    return TemplateResponse(request, "events/public/cancel.html", _answer_context(rsvp, done=True))


# A member's calendar -------------------------------------------------------------------------------


@never_cache
@require_GET
def calendar_feed(request, token):
    """What the member said they attend, for their calendar app: the address is the key."""
    feed = CalendarFeed.objects.select_related("user").filter(token=token).first() if TOKEN.fullmatch(token) else None
    if feed is None or not feed.user.is_active:
        raise Http404
    body = calendar.feed_ics(
        selectors.feed_answers(feed),
        name=_("My events · %(organisation)s") % {"organisation": request.tenant.name},
        url_for=lambda event: request.build_absolute_uri(reverse("event", args=[event.pk])),
        host=_host(request),
    )
    response = HttpResponse(body, content_type="text/calendar")
    response["Content-Disposition"] = 'inline; filename="events.ics"'
    return response
