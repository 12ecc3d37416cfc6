"""Phone banks in the member app, under /app/calls/: the list, a campaign's page (for callers: start
calling; for organisers: its list, questions, callers, dashboard and export), the call page where a
caller sees one person's number and records what came of the call, and the organisation's settings.
Each view parses input, calls one service, renders; what a user may not see is a 404."""

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import User
from calls import access, capabilities, forms, queue, selectors, services, zones
from calls.models import WEEKDAYS, Call, Caller, CallSettings, Campaign, Outcome, Question, Reveal, Target
from chapters.access import can, can_anywhere
from chapters.markdown import render_markdown
from chapters.member_files import csv_lines
from chapters.services import InvalidAction, NotAllowed
from people import segments

LIST_PAGE = 20
ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")


def _readable(number):
    """+33612345678 as 06 12 34 56 78 (a number abroad keeps its country code)."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number
    national = phonenumbers.region_code_for_number(parsed) == "FR"  # as people.services.normalise_phone reads numbers
    return phonenumbers.format_number(
        parsed, phonenumbers.PhoneNumberFormat.NATIONAL if national else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def _campaign(request, pk, *, manage=False):
    return access.get_campaign_for(request.user, pk, manage=manage)


def _own_call(request, campaign, call_pk):
    """The caller's own call of this campaign; anyone else's (or none): 404."""
    call = (
        Call.objects.filter(pk=call_pk, campaign=campaign, caller=request.user)
        .select_related("person", "campaign__chapter")
        .first()
    )
    if call is None:
        raise Http404
    return call


def _zone(name):
    """The caller's time zone as their browser names it, or the organisation's."""
    if ZONE_NAME.fullmatch(name):
        try:
            return ZoneInfo(name)
        except (ValueError, OSError, ZoneInfoNotFoundError):
            pass
    return timezone.get_default_timezone()


# The list, a campaign ------------------------------------------------------------------------------


@login_required
def campaign_list(request):
    campaigns = (
        access.campaigns_for(request.user)
        .select_related("chapter")
        .annotate(
            to_call=Count("targets", filter=Q(targets__status=Target.Status.QUEUED)),
            listed=Count("targets"),
        )
        .order_by("-created", "-pk")
    )
    page = Paginator(campaigns, LIST_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "calls/list.html",
        {
            "page": page,
            "may_create": can_anywhere(request.user, capabilities.MANAGE),
            "may_configure": can(request.user, capabilities.MANAGE),
        },
    )


@login_required
def campaign_detail(request, pk):
    campaign = _campaign(request, pk)
    manages = access.may_manage(request.user, campaign)
    now = timezone.now()
    current = queue.held_by(campaign, request.user, now)
    context = {
        "campaign": campaign,
        "manages": manages,
        "current": current,
        "mine": Call.objects.filter(campaign=campaign, caller=request.user).exclude(outcome="").count(),
        "questions": campaign.questions.all(),
        "open_now": bool(zones.open_zones(campaign, now)) if campaign.zones else None,
        "next_opening": None,
        "leaderboard": CallSettings.load().leaderboard or manages,
        "days": [str(label) for number, label in WEEKDAYS if number in campaign.calling_days],
    }
    if campaign.is_open and campaign.zones and not context["open_now"]:
        context["next_opening"] = zones.next_opening(campaign, now)
    if manages:
        context["figures"] = selectors.stats(campaign, now, for_organiser=False)
        context["audience_count"] = (
            services.audience(actor=request.user, campaign=campaign).count()
            if campaign.status == Campaign.Status.DRAFT
            else None
        )
    return render(request, "calls/detail.html", context)


def _campaign_form(request, data, campaign=None):
    chapters = access.chapters_for_campaigns(request.user)
    usable = segments.segments_for(request.user)
    initial = {}
    if campaign is not None:
        initial = {
            name: getattr(campaign, name)
            for name in forms.CampaignForm.base_fields
            if name not in ("chapter", "segment")
        }
        initial["chapter"], initial["segment"] = campaign.chapter.slug, str(campaign.segment_id)
    return forms.CampaignForm(data, chapters=chapters, segments=usable, initial=initial)


def _save_campaign(request, form, campaign=None):
    try:
        return services.campaign_save(actor=request.user, campaign=campaign, **form.values())
    except InvalidAction as error:
        form.add_error(None, error)
    except NotAllowed:
        form.add_error("segment", _("You may not use this segment."))
    return None


@login_required
def campaign_create(request):
    if not access.chapters_for_campaigns(request.user).exists():
        raise Http404
    form = _campaign_form(request, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        campaign = _save_campaign(request, form)
        if campaign is not None:
            messages.success(request, _("Campaign created. Add its questions, then open it to callers."))
            return redirect("call_questions", campaign.pk)
    return render(request, "calls/form.html", {"form": form, "campaign": None})


@login_required
def campaign_edit(request, pk):
    campaign = _campaign(request, pk, manage=True)
    form = _campaign_form(request, request.POST if request.method == "POST" else None, campaign)
    if request.method == "POST" and form.is_valid() and _save_campaign(request, form, campaign) is not None:
        messages.success(request, _("Campaign saved."))
        return redirect("call_campaign", campaign.pk)
    return render(request, "calls/form.html", {"form": form, "campaign": campaign})


@login_required
def campaign_questions(request, pk):
    campaign = _campaign(request, pk, manage=True)
    form = forms.QuestionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.question_add(
                actor=request.user,
                campaign=campaign,
                kind=data["kind"],
                text=data["text"],
                choices=services.parse_choices(data["choices"]),
                tag=data["tag"],
                field_key=data["field_key"],
            )
        except InvalidAction as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Question added."))
            return redirect("call_questions", campaign.pk)
    return render(
        request, "calls/questions.html", {"campaign": campaign, "form": form, "questions": campaign.questions.all()}
    )


@login_required
def question_delete(request, pk, question_pk):
    campaign = _campaign(request, pk, manage=True)
    question = Question.objects.filter(pk=question_pk, campaign=campaign).first()
    if question is None:
        raise Http404
    if request.method == "POST":
        try:
            services.question_delete(actor=request.user, question=question)
        except InvalidAction as error:
            messages.error(request, error.messages[0])
        else:
            messages.success(request, _("Question deleted."))
        return redirect("call_questions", campaign.pk)
    return render(request, "calls/question_delete.html", {"campaign": campaign, "question": question})


@login_required
def campaign_callers(request, pk):
    campaign = _campaign(request, pk, manage=True)
    form = forms.InviteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = User.objects.filter(email__iexact=form.cleaned_data["email"], is_active=True).first()
        if user is None:
            form.add_error("email", _("No member of the organisation has this address."))
        else:
            services.caller_invite(actor=request.user, campaign=campaign, user=user)
            messages.success(request, _("%(name)s may now call for this campaign.") % {"name": user.get_full_name()})
            return redirect("call_callers", campaign.pk)
    callers = Caller.objects.filter(campaign=campaign).select_related("user").order_by("user__full_name", "pk")
    page = Paginator(callers, 50).get_page(request.GET.get("page"))
    return render(request, "calls/callers.html", {"campaign": campaign, "form": form, "page": page})


@login_required
def caller_remove(request, pk, caller_pk):
    campaign = _campaign(request, pk, manage=True)
    caller = Caller.objects.filter(pk=caller_pk, campaign=campaign).select_related("user").first()
    if caller is None:
        raise Http404
    if request.method == "POST":
        services.caller_remove(actor=request.user, caller=caller)
        messages.success(
            request, _("%(name)s no longer calls for this campaign.") % {"name": caller.user.get_full_name()}
        )
        return redirect("call_callers", campaign.pk)
    return render(request, "calls/caller_remove.html", {"campaign": campaign, "caller": caller})


STATUS_ACTIONS = {
    "open": None,
    "pause": Campaign.Status.PAUSED,
    "resume": Campaign.Status.OPEN,
    "close": Campaign.Status.CLOSED,
}


@login_required
def campaign_status(request, pk):
    """Open (freeze the list, or add the segment's newcomers), pause, resume or close: a
    confirmation page, then the change on POST."""
    campaign = _campaign(request, pk, manage=True)
    action = request.POST.get("action") or request.GET.get("action", "")
    if action not in STATUS_ACTIONS:
        messages.error(request, _("Choose what to do with the campaign."))
        return redirect("call_campaign", campaign.pk)
    if request.method != "POST":
        return render(request, "calls/status_confirm.html", {"campaign": campaign, "action": action})
    try:
        if action == "open":
            added = services.campaign_open(actor=request.user, campaign=campaign)
            messages.success(request, _("The campaign is open: %(count)s people joined its list.") % {"count": added})
        else:
            services.campaign_set_status(actor=request.user, campaign=campaign, status=STATUS_ACTIONS[action])
            messages.success(request, _("The campaign is now: %(status)s.") % {"status": campaign.get_status_display()})
    except InvalidAction as error:
        messages.error(request, error.messages[0])
    return redirect("call_campaign", campaign.pk)


@login_required
def campaign_dashboard(request, pk):
    campaign = _campaign(request, pk, manage=True)
    figures = selectors.stats(campaign)
    questions = list(campaign.questions.all())
    for question in questions:
        counts = figures["answers"].get(str(question.pk), {})
        question.text_count = figures["texts"].get(str(question.pk), 0)
        if question.kind == Question.Kind.CHOICE:
            labels = [choice["label"] for choice in question.choices]
        elif question.kind == Question.Kind.SCALE:
            labels = [str(value) for value in services.SCALE]
        else:
            labels = ["yes", "no"]
        question.rows = [(label, counts.get(label, 0)) for label in labels]
    outcome_rows = [(value, label, figures["outcomes"][value]) for value, label in Outcome.choices]
    return render(
        request,
        "calls/dashboard.html",
        {"campaign": campaign, "figures": figures, "questions": questions, "outcome_rows": outcome_rows},
    )


@login_required
def campaign_export(request, pk):
    """The results as CSV, for the organisers: no phone number is in it."""
    campaign = _campaign(request, pk, manage=True)
    services.audit_export(actor=request.user, campaign=campaign)
    header, rows = selectors.export(campaign)
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="calls-{campaign.pk}-{timezone.localdate():%Y-%m-%d}.csv"'
    return response


@login_required
def campaign_reveals(request, pk):
    """Who was shown whose number, when: the log every reveal writes, for the organisers (it names
    the people called, never their numbers)."""
    campaign = _campaign(request, pk, manage=True)
    reveals = (
        Reveal.objects.filter(call__campaign=campaign)
        .select_related("caller", "person", "call")
        .order_by("-created", "-pk")
    )
    page = Paginator(reveals, 50).get_page(request.GET.get("page"))
    return render(request, "calls/reveals.html", {"campaign": campaign, "page": page})


@login_required
def calls_settings(request):
    if not can(request.user, capabilities.MANAGE):
        raise Http404
    current = CallSettings.load()
    form = forms.SettingsForm(
        request.POST if request.method == "POST" else None, initial={"leaderboard": current.leaderboard}
    )
    if request.method == "POST" and form.is_valid():
        services.settings_save(actor=request.user, leaderboard=form.cleaned_data["leaderboard"])
        messages.success(request, _("Settings saved."))
        return redirect("calls")
    return render(request, "calls/settings.html", {"form": form})


# Calling -------------------------------------------------------------------------------------------


@login_required
@require_POST
def call_next(request, pk):
    campaign = _campaign(request, pk)
    try:
        call = services.call_next(actor=request.user, campaign=campaign)
    except (InvalidAction, NotAllowed) as error:
        messages.error(
            request, error.messages[0] if isinstance(error, InvalidAction) else _("You may not call for this campaign.")
        )
        return redirect("call_campaign", campaign.pk)
    if call is None:
        messages.info(
            request,
            _(
                "No one to call right now: everyone left is outside calling hours, waiting before another try, "
                "or already called."
            ),
        )
        return redirect("call_campaign", campaign.pk)
    return redirect("call_page", campaign.pk, call.pk)


@login_required
def call_page(request, pk, call_pk):
    campaign = _campaign(request, pk)
    call = _own_call(request, campaign, call_pk)
    if call.outcome:
        messages.info(request, _("This call is recorded."))
        return redirect("call_campaign", campaign.pk)
    form = forms.ResultForm(request.POST if request.method == "POST" else None)
    questions = list(campaign.questions.all())
    given = request.POST if request.method == "POST" else {}
    # "Call back at" is in the caller's own time: their browser names its zone.
    with timezone.override(_zone(given.get("zone", ""))):
        valid = request.method == "POST" and form.is_valid()
    if valid:
        data = form.cleaned_data
        try:
            services.call_record(
                actor=request.user,
                call=call,
                outcome=data["outcome"],
                answers={str(question.pk): given.get(f"q{question.pk}", "") for question in questions},
                call_back_at=data["call_back_at"],
                note=data["note"],
            )
        except InvalidAction as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Call recorded."))
            if request.POST.get("then") == "stop":
                return redirect("call_campaign", campaign.pk)
            return call_next(request, campaign.pk)
    number = services.call_reveal(actor=request.user, call=call)
    if number is None:
        messages.info(request, _("This person went back to the list: someone else may be calling them now."))
        return redirect("call_campaign", campaign.pk)
    for question in questions:
        question.given = given.get(f"q{question.pk}", "")
    return render(
        request,
        "calls/call.html",
        {
            "campaign": campaign,
            "call": call,
            "person": call.person,
            "number": number,
            "number_shown": _readable(number),
            "script": render_markdown(services.script_for(campaign, call.person, request.user)),
            "questions": questions,
            "form": form,
            "keep_seconds": max(15, queue.lease_length().seconds // 3),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def call_keep(request, pk, call_pk):
    """The call page's heartbeat: renew the lease on the person (JSON)."""
    campaign = _campaign(request, pk)
    call = _own_call(request, campaign, call_pk)
    if not services.call_keep(actor=request.user, call=call):
        return JsonResponse(
            {"ok": False, "error": {"code": "lease_lost", "message": _("This person went back to the list.")}},
            status=409,
        )
    return JsonResponse({"ok": True, "seconds": queue.lease_length().seconds})


@login_required
@require_POST
def call_release(request, pk, call_pk):
    campaign = _campaign(request, pk)
    call = _own_call(request, campaign, call_pk)
    if services.call_release(actor=request.user, call=call):
        messages.info(request, _("You stopped: this person went back to the list, for someone else to call."))
    return redirect("call_campaign", campaign.pk)
