"""Events in the member app, under /app/events/: the list and an event's page (answer in one click),
creating, editing, copying, publishing and cancelling, the check-in page of the day, the report
after it, the organisers' figures, the organisation's settings and a member's calendar address.
Each view parses input, calls one service of events/services.py, renders; what a user may not see
is a 404."""

import json
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from chapters.access import can, can_anywhere
from chapters.services import InvalidAction, NotAllowed
from events import calendar, capabilities, forms, selectors, services
from events.models import Event, EventSettings, Rsvp

LIST_PAGE = 20
AN_ID = re.compile(r"[0-9]{1,10}")


def _an_id(raw):
    """Whether a field names a row by its id: ASCII digits only ("²".isdigit() is true in Python)."""
    return bool(AN_ID.fullmatch(raw))


def _base_url(request):
    return request.build_absolute_uri("/")


def _event_url(request, event):
    return request.build_absolute_uri(reverse("event", args=[event.pk]))


def _posted(request):
    """The form's data on a POST (even an empty one: an unticked box), None otherwise."""
    return request.POST if request.method == "POST" else None


def _own_proposal(user, event):
    return event.status == Event.Status.PROPOSED and event.created_by_id == user.pk


def _editable_event(user, pk):
    """The event, for who may change or cancel it: its chapter's organisers, or the member who
    proposed it while it waits. Anyone else: 404."""
    event = selectors.event_for(user, pk)
    if not (services.may_manage(user, event) or _own_proposal(user, event)):
        raise Http404
    return event


# The list and an event's page ---------------------------------------------------------------------


@login_required
def event_list(request):
    past = request.GET.get("when") == "past"
    only_mine = request.GET.get("show") == "mine"
    events = selectors.events_for(request.user, past=past, only_mine=only_mine)
    page = Paginator(events, LIST_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "events/app/list.html",
        {
            "page": page,
            "past": past,
            "only_mine": only_mine,
            "may_create": selectors.may_create_somewhere(request.user),
            "manages": can_anywhere(request.user, capabilities.MANAGE),
            "may_configure": can(request.user, capabilities.MANAGE),
        },
    )


@login_required
def event_detail(request, pk):
    event = selectors.event_for(request.user, pk)
    manages = services.may_manage(request.user, event)
    answers = selectors.own_answers(request.user, event)
    slots = list(selectors.timeslots_with_counts(event))
    now = timezone.now()
    for slot in slots:
        slot.answer = answers.get(slot.pk)
        slot.is_over = slot.end < now
    ics_url = reverse("event_ics" if event.is_public else "event_member_ics", args=[event.pk])
    context = {
        "event": event,
        "slots": slots,
        "manages": manages,
        "own_proposal": _own_proposal(request.user, event),
        "open": event.status == Event.Status.PUBLISHED,
        "guest_choices": range(event.max_guests + 1),
        "ics_url": ics_url,
        "public_url": reverse("event_public", args=[event.pk]) if event.is_public else None,
        "started": event.start <= now,
        "may_create": selectors.may_create_somewhere(request.user),
    }
    if manages:
        context["checked_in"] = selectors.checked_in_count(event)
        if event.material:
            context["order_url"] = reverse("shop_order_for_chapter", args=[event.chapter.slug])
    return render(request, "events/app/detail.html", context)


@login_required
def event_member_ics(request, pk):
    """The event's timeslots as an .ics file, for any event the member may see (the campaign
    site's event_ics serves public events only)."""
    event = selectors.event_for(request.user, pk)
    content = calendar.event_ics(event, url=_event_url(request, event), host=request.get_host())
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="event-{event.pk}.ics"'
    return response


# Creating and changing ------------------------------------------------------------------------------


def _save(request, form, slot_forms, material_forms, event=None):
    data = form.cleaned_data
    try:
        return services.event_save(
            actor=request.user,
            event=event,
            chapter=form.chosen_chapter(),
            kind=data["kind"],
            title=data["title"],
            description=data["description"],
            language=data["language"],
            slots=slot_forms.slots(),
            place=data["place"],
            address=data["address"],
            postcode=data["postcode"],
            online_url=data["online_url"],
            capacity=data["capacity"],
            max_guests=data["max_guests"],
            visibility=data["visibility"],
            material=material_forms.material(),
        )
    except InvalidAction as error:
        form.add_error(None, error.messages[0])
    except NotAllowed:
        form.add_error("chapter", _("You may not create an event in this chapter."))
    return None


def _render_form(request, form, slot_forms, material_forms, event=None, copy=None):
    return render(
        request,
        "events/app/form.html",
        {
            "form": form,
            "slot_forms": slot_forms,
            "material_forms": material_forms,
            "event": event,
            "copy": copy,
            "proposing": not any(can(request.user, capabilities.MANAGE, chapter) for chapter in form.chapters.values()),
        },
    )


def _all_valid(*parts):
    valid = [part.is_valid() for part in parts]  # each part, so that every one shows its errors
    return all(valid)


def _copied_event(request):
    raw = request.GET.get("copy", "")
    if not raw:
        return None
    if not _an_id(raw):
        raise Http404
    return selectors.event_for(request.user, int(raw))


@login_required
def event_create(request):
    chapters = list(selectors.chapters_for_new_events(request.user))
    if not chapters:
        raise Http404
    copy = _copied_event(request)
    parts = forms.event_forms(_posted(request), chapters=chapters, copy=copy, language=request.LANGUAGE_CODE)
    if request.method == "POST" and _all_valid(*parts):
        event = _save(request, *parts)
        if event is not None:
            if event.status == Event.Status.PROPOSED:
                messages.success(request, _("Your proposal is saved: a coordinator of the chapter will publish it."))
            else:
                messages.success(request, _("The event is published."))
            return redirect("event", event.pk)
    return _render_form(request, *parts, copy=copy)


@login_required
def event_edit(request, pk):
    event = _editable_event(request.user, pk)
    if event.status == Event.Status.CANCELLED:
        messages.error(request, _("This event is cancelled: copy it to hold it again."))
        return redirect("event", event.pk)
    chapters = list(selectors.chapters_for_new_events(request.user))
    if not chapters:
        raise Http404
    parts = forms.event_forms(_posted(request), chapters=chapters, event=event)
    if request.method == "POST" and _all_valid(*parts) and _save(request, *parts, event=event) is not None:
        messages.success(request, _("The event is saved."))
        return redirect("event", event.pk)
    return _render_form(request, *parts, event=event)


@login_required
@require_POST
def event_publish(request, pk):
    event = selectors.managed_event_for(request.user, pk)
    try:
        services.event_publish(actor=request.user, event=event)
    except NotAllowed:
        raise Http404 from None
    except InvalidAction as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, _("The event is published."))
    return redirect("event", event.pk)


@login_required
def event_cancel(request, pk):
    """A page that asks first (and why, to tell those who answered); the POST cancels."""
    event = _editable_event(request.user, pk)
    if event.status == Event.Status.CANCELLED:
        messages.error(request, _("This event is already cancelled."))
        return redirect("event", event.pk)
    form = forms.CancelForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.event_cancel(actor=request.user, event=event, reason=form.cleaned_data["reason"])
        except NotAllowed:
            raise Http404 from None
        except InvalidAction as error:
            messages.error(request, error.messages[0])
        else:
            messages.success(request, _("The event is cancelled. Everyone who answered is told."))
        return redirect("event", event.pk)
    answers = Rsvp.objects.filter(timeslot__event=event).exclude(status=Rsvp.Status.CANCELLED).count()
    return render(request, "events/app/cancel.html", {"event": event, "form": form, "answers": answers})


# Answers ----------------------------------------------------------------------------------------------


@login_required
@require_POST
def event_rsvp(request, pk):
    event = selectors.event_for(request.user, pk)
    form = forms.RsvpForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a timeslot and how many guests you bring."))
        return redirect("event", event.pk)
    timeslot = event.timeslots.filter(pk=form.cleaned_data["timeslot"]).first()
    if timeslot is None:
        raise Http404
    try:
        rsvp, created = services.rsvp_member(
            actor=request.user, timeslot=timeslot, guests=form.cleaned_data["guests"] or 0, base_url=_base_url(request)
        )
    except NotAllowed:
        raise Http404 from None
    except InvalidAction as error:
        messages.error(request, error.messages[0])
        return redirect("event", event.pk)
    if not created:
        messages.info(request, _("You had already answered for this timeslot."))
    elif rsvp.status == Rsvp.Status.GOING:
        messages.success(request, _("You are going. A confirmation is on its way to your inbox."))
    else:
        messages.success(
            request,
            _(
                "The event is full: you are number %(position)s on the waiting list. "
                "You will be told if a place frees up."
            )
            % {"position": selectors.waiting_position(rsvp)},
        )
    return redirect("event", event.pk)


@login_required
@require_POST
def event_rsvp_cancel(request, pk):
    event = selectors.event_for(request.user, pk)
    raw = request.POST.get("rsvp", "")
    rsvp = None
    if _an_id(raw):
        rsvp = Rsvp.objects.filter(pk=int(raw), timeslot__event=event, user=request.user).first()
    if rsvp is None:
        messages.error(request, _("You have no answer to this event to cancel."))
        return redirect("event", event.pk)
    try:
        services.rsvp_cancel(rsvp=rsvp, actor=request.user)
    except NotAllowed:
        raise Http404 from None
    except InvalidAction as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, _("Your answer is cancelled."))
    return redirect("event", event.pk)


# On the day -----------------------------------------------------------------------------------------


def _chosen_timeslot(slots, raw):
    """The timeslot named by ?slot=, else the one under way or next (selectors.current_timeslot)."""
    if _an_id(raw):
        found = next((slot for slot in slots if slot.pk == int(raw)), None)
        if found is not None:
            return found
    return selectors.current_timeslot(slots)


def _attendees_page(request, event, slots, timeslot, walk_in_form=None, status=200):
    query = request.GET.get("q", "")[:100]
    going, waiting = selectors.attendees(timeslot, query=query) if timeslot else ([], [])
    context = {
        "event": event,
        "timeslot": timeslot,
        "slots": slots,
        "query": query,
        "going": going,
        "waiting": waiting,
        "counts": selectors.attendance_counts(timeslot) if timeslot else {},
        "walk_in_form": walk_in_form or forms.WalkInForm(),
        "open": event.status != Event.Status.CANCELLED,
    }
    return render(request, "events/app/attendees.html", context, status=status)


@login_required
def event_attendees(request, pk):
    event = selectors.managed_event_for(request.user, pk)
    slots = list(event.timeslots.all())
    return _attendees_page(request, event, slots, _chosen_timeslot(slots, request.GET.get("slot", "")))


def _json_error(code, message, status):
    return JsonResponse({"error": {"code": code, "message": str(message)}}, status=status)


def _back_to_attendees(event, data):
    query = {key: data[key] for key in ("slot", "q") if data.get(key)}
    url = reverse("event_attendees", args=[event.pk])
    return redirect(f"{url}?{urlencode(query)}" if query else url)


@require_POST
def event_checkin(request, pk, rsvp_pk):
    """Mark someone present or not. JSON {"present": true|false} answers JSON (errors with a
    stable code); a plain form post (present=1|0) goes back to the check-in page."""
    as_json = request.content_type == "application/json"
    if not request.user.is_authenticated:
        if as_json:
            return _json_error("unauthenticated", _("Sign in first."), 401)
        return redirect_to_login(reverse("event_attendees", args=[pk]))
    try:
        event = selectors.managed_event_for(request.user, pk)
        rsvp = selectors.managed_rsvp_for(request.user, event, rsvp_pk)
    except Http404:
        if as_json:
            return _json_error("not_found", _("No such answer."), 404)
        raise
    if as_json:
        try:
            data = json.loads(request.body or b"null")
        except (ValueError, RecursionError):
            return _json_error("bad_json", _("This request is not valid JSON."), 400)
        present = data.get("present") if isinstance(data, dict) else None
        if not isinstance(present, bool):
            return _json_error("bad_fields", _('Send {"present": true} or {"present": false}.'), 400)
    else:
        present = forms.checkin_value(request.POST.get("present", ""))
        if present is None:
            messages.error(request, _("Say whether they are present."))
            return _back_to_attendees(event, request.POST)
    try:
        rsvp = services.checkin_set(actor=request.user, rsvp=rsvp, present=present)
    except NotAllowed:
        if as_json:
            return _json_error("not_found", _("No such answer."), 404)
        raise Http404 from None
    except InvalidAction as error:
        if as_json:
            return _json_error("invalid", error.messages[0], 400)
        messages.error(request, error.messages[0])
        return _back_to_attendees(event, request.POST)
    if as_json:
        return JsonResponse(
            {
                "rsvp": rsvp.pk,
                "present": rsvp.checked_in_at is not None,
                "counts": selectors.attendance_counts(rsvp.timeslot),
            }
        )
    name = rsvp.name or rsvp.email or _("Someone")
    if present:
        messages.success(request, _("%(name)s is checked in.") % {"name": name})
    else:
        messages.success(request, _("%(name)s is no longer checked in.") % {"name": name})
    return _back_to_attendees(event, request.POST)


@login_required
@require_POST
def event_walk_in(request, pk):
    event = selectors.managed_event_for(request.user, pk)
    slots = list(event.timeslots.all())
    timeslot = _chosen_timeslot(slots, request.POST.get("slot", ""))
    if timeslot is None:
        raise Http404
    form = forms.WalkInForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            rsvp = services.walk_in_add(
                actor=request.user,
                timeslot=timeslot,
                name=data["name"],
                email=data["email"],
                phone=data["phone"],
                postcode=data["postcode"],
                wants_news=data["wants_news"],
            )
        except NotAllowed:
            raise Http404 from None
        except InvalidAction as error:
            form.add_error(None, error.messages[0])
        else:
            messages.success(request, _("%(name)s is added and checked in.") % {"name": rsvp.name or rsvp.email})
            return _back_to_attendees(event, {"slot": str(timeslot.pk)})
    return _attendees_page(request, event, slots, timeslot, walk_in_form=form, status=400)


# After the event ----------------------------------------------------------------------------------


@login_required
def event_report(request, pk):
    event = selectors.managed_event_for(request.user, pk)
    started = event.start <= timezone.now()
    form = forms.ReportForm(_posted(request), event=event)
    if request.method == "POST" and started and form.is_valid():
        try:
            services.report_save(
                actor=request.user,
                event=event,
                handed_out=form.handed_out(),
                contacts_made=form.cleaned_data["contacts_made"],
                notes=form.cleaned_data["notes"],
            )
        except NotAllowed:
            raise Http404 from None
        except InvalidAction as error:
            form.add_error(None, error.messages[0])
        else:
            messages.success(request, _("The report is saved."))
            return redirect("event", event.pk)
    return render(
        request,
        "events/app/report.html",
        {
            "event": event,
            "form": form,
            "started": started,
            "checked_in": selectors.checked_in_count(event),
            "answers": selectors.timeslots_with_counts(event),
        },
    )


@login_required
def events_stats(request):
    if not can_anywhere(request.user, capabilities.MANAGE):
        raise Http404
    chapters = list(selectors.managed_chapters(request.user))
    form = forms.StatsForm(request.GET or None, chapters=chapters)
    first, last, chapter = form.period()
    figures = selectors.stats(request.user, first=first, last=last, chapter=chapter)
    return render(
        request,
        "events/app/stats.html",
        {"form": form, "figures": figures, "first": first, "last": last, "chapter": chapter},
    )


# Settings and the member's calendar ---------------------------------------------------------------


@login_required
def events_settings(request):
    if not can(request.user, capabilities.MANAGE):
        raise Http404
    current = EventSettings.load()
    form = forms.SettingsForm(_posted(request), initial={"members_propose": current.members_propose})
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_save(actor=request.user, members_propose=form.cleaned_data["members_propose"])
        except NotAllowed:
            raise Http404 from None
        messages.success(request, _("Settings saved."))
        return redirect("events")
    return render(request, "events/app/settings.html", {"form": form})


@login_required
def events_calendar(request):
    """The member's private calendar address (the events they answered), made the first time it is
    shown; a POST replaces it with a new one."""
    if request.method == "POST":
        services.calendar_feed_renew(user=request.user)
        messages.success(request, _("Your calendar has a new address: the old one no longer works."))
        return redirect("events_calendar")
    feed = services.calendar_feed_get(user=request.user)
    url = request.build_absolute_uri(reverse("calendar_feed", args=[feed.token]))
    return render(
        request,
        "events/app/calendar.html",
        {"feed_url": url, "webcal_url": "webcal://" + url.split("://", 1)[1]},
    )
