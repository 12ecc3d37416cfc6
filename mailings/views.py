"""Mailings in the member app: the list, the form, a mailing's page (audience, preview, test,
send or schedule, progress and report), and cancelling. Each view parses input, calls
mailings.sending, renders."""

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.decorators import csp
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from chapters import access as chapter_access
from chapters.services import InvalidAction, NotAllowed
from mailings import audience, capabilities, events, rendering, selectors, sending, sms
from mailings.forms import MailingForm, MailingSettingsForm, ScheduleForm, initial_from
from mailings.models import Mailing, MailingSettings

LIST_PAGE = 25


def _require_anywhere(user):
    if not chapter_access.can_anywhere(user, capabilities.SEND):
        raise Http404


def _base_url(request):
    return request.build_absolute_uri("/")


@login_required
def mailing_list(request):
    _require_anywhere(request.user)
    page = Paginator(selectors.mailings_for(request.user), LIST_PAGE).get_page(request.GET.get("page"))
    return render(request, "mailings/list.html", {"page": page, "may_approve": sending.may_approve(request.user)})


def _save(request, form, mailing=None):
    try:
        return sending.mailing_save(
            actor=request.user,
            mailing=mailing,
            chapter=form.chosen_chapter(),
            segment=form.chosen_segment(),
            purpose=form.cleaned_data["purpose"],
            language=form.cleaned_data["language"],
            subject=form.cleaned_data["subject"],
            preview_text=form.cleaned_data["preview_text"],
            sender_name=form.cleaned_data["sender_name"],
            blocks=form.blocks() if form.cleaned_data["channel"] == Mailing.Channel.EMAIL else (),
            channel=form.cleaned_data["channel"],
            sms_text=form.cleaned_data["sms_text"],
        )
    except (InvalidAction, NotAllowed) as error:
        form.add_error(
            None, error.messages[0] if isinstance(error, InvalidAction) else _("You may not send this mailing.")
        )
        return None


@login_required
def mailing_create(request):
    _require_anywhere(request.user)
    form = MailingForm(request.POST or None, user=request.user, initial={"language": request.LANGUAGE_CODE})
    if request.method == "POST" and form.is_valid():
        mailing = _save(request, form)
        if mailing is not None:
            messages.success(request, _("Draft saved. Check its audience and preview, then send it."))
            return redirect("mailing", mailing.pk)
    return render(request, "mailings/form.html", {"form": form, "mailing": None})


@login_required
def mailing_edit(request, pk):
    mailing = selectors.mailing_for(request.user, pk)
    if mailing.status not in (Mailing.Status.DRAFT, Mailing.Status.AWAITING, Mailing.Status.SCHEDULED):
        messages.error(request, _("This mailing has been sent: it can no longer be changed."))
        return redirect("mailing", mailing.pk)
    form = MailingForm(request.POST or None, user=request.user, initial=initial_from(mailing))
    if request.method == "POST" and form.is_valid() and _save(request, form, mailing) is not None:
        messages.success(request, _("Draft saved."))
        return redirect("mailing", mailing.pk)
    return render(request, "mailings/form.html", {"form": form, "mailing": mailing})


@login_required
def mailing_detail(request, pk):
    mailing = selectors.mailing_for(request.user, pk)
    context = {
        "status_labels": dict(Mailing.Status.choices),
        "mailing": mailing,
        "counts": sending.counts(mailing),
        "schedule_form": ScheduleForm(),
        "may_approve": sending.may_approve(request.user),
        "needs_approval": sending.needs_approval(request.user),
    }
    if mailing.status == Mailing.Status.DRAFT:
        try:
            context["audience"] = audience.count_of(mailing, request.user)
        except NotAllowed:
            context["audience"] = 0
    if mailing.channel == Mailing.Channel.SMS:
        content = sending.sms_content(mailing)
        part_count, encoding = sms.parts(sending.sms_render(content, rendering.SAMPLE_VALUES))
        recipients = context.get("audience", context["counts"]["total"])
        context["sms"] = {
            "text": content,
            "parts": part_count,
            "unicode": encoding == sms.UCS2,
            "cost": sms.cost(part_count, recipients),
            "recipients": recipients,
            "sender": sending.sms_sender(),
        }
    return render(request, "mailings/detail.html", context)


# The preview is an email, framed by the mailing's page: its inline styles and remote images as a
# mail client shows them, nothing that runs (the HTML was sanitised too), framed by us only.
PREVIEW_POLICY = {
    "default-src": [NONE],
    "style-src": [UNSAFE_INLINE],
    "img-src": ["https:", "http:", "data:"],
    "frame-ancestors": [SELF],
}


@login_required
@xframe_options_sameorigin
@csp(PREVIEW_POLICY)
def mailing_preview(request, pk):
    """The mailing as a recipient sees it, with sample values (shown in frames of two widths)."""
    mailing = selectors.mailing_for(request.user, pk)
    if mailing.channel == Mailing.Channel.SMS:
        text = sending.sms_render(sending.sms_content(mailing), rendering.SAMPLE_VALUES)
        return HttpResponse(text, content_type="text/plain; charset=utf-8")
    rendered = rendering.preview(mailing, rendering.look_for())
    if request.GET.get("part") == "text":
        return HttpResponse(rendered.text, content_type="text/plain; charset=utf-8")
    return HttpResponse(rendered.html)


@login_required
def mailing_count(request, pk):
    mailing = selectors.mailing_for(request.user, pk)
    try:
        count = audience.count_of(mailing, request.user)
    except NotAllowed:
        count = 0
    return JsonResponse(events.frame(mailing, sending.counts(mailing)) | {"count": count})


def _acted(request, mailing, act, done):
    """Carry out `act()` on the mailing, tell the sender what came of it (`done(result)`, or why it
    was refused), and go back to the mailing's page. A capability the user lacks is the same 404
    as a mailing they cannot see."""
    try:
        result = act()
    except NotAllowed:
        raise Http404 from None
    except InvalidAction as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, done(result))
    return redirect("mailing", mailing.pk)


@login_required
@require_POST
def mailing_test(request, pk):
    mailing = selectors.mailing_for(request.user, pk)
    return _acted(
        request,
        mailing,
        lambda: sending.mailing_test_send(actor=request.user, mailing=mailing, base_url=_base_url(request)),
        lambda address: _("A test was sent to %(address)s.") % {"address": address},
    )


@login_required
@require_POST
def mailing_send(request, pk):
    mailing = selectors.mailing_for(request.user, pk)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid date and time."))
        return redirect("mailing", mailing.pk)
    when = form.cleaned_data["when"]

    def done(_sent):
        if when is None:
            return _("Sending has started.")
        return _("The mailing will be sent on %(when)s.") % {"when": when.strftime("%Y-%m-%d %H:%M")}

    return _acted(
        request,
        mailing,
        lambda: sending.mailing_send(actor=request.user, mailing=mailing, base_url=_base_url(request), when=when),
        done,
    )


@login_required
@require_POST
def mailing_cancel(request, pk):
    mailing = selectors.mailing_for(request.user, pk)
    return _acted(
        request,
        mailing,
        lambda: sending.mailing_cancel(actor=request.user, mailing=mailing),
        lambda _cancelled: _("The mailing is cancelled: nothing more will be sent."),
    )


@login_required
@require_POST
def mailing_approve(request, pk):
    mailing = selectors.mailing_for(request.user, pk)
    return _acted(
        request,
        mailing,
        lambda: sending.mailing_approve(actor=request.user, mailing=mailing),
        lambda _approved: _("Approved: the mailing goes out as its sender planned."),
    )


@login_required
@require_POST
def mailing_reject(request, pk):
    mailing = selectors.mailing_for(request.user, pk)
    return _acted(
        request,
        mailing,
        lambda: sending.mailing_reject(actor=request.user, mailing=mailing, note=request.POST.get("note", "")),
        lambda _rejected: _("The mailing went back to its sender, with your note."),
    )


@login_required
def mailing_settings(request):
    if not sending.may_approve(request.user):
        raise Http404
    form = MailingSettingsForm(request.POST or None, instance=MailingSettings.objects.first())
    if request.method == "POST" and form.is_valid():
        sending.settings_save(actor=request.user, form=form)
        messages.success(request, _("Settings saved."))
        return redirect("mailings")
    return render(
        request,
        "mailings/settings.html",
        {
            "form": form,
            "tracking_url": request.build_absolute_uri(reverse("mailings:brevo_tracking")),
            "sms_url": request.build_absolute_uri(reverse("mailings:brevo_sms")),
        },
    )
