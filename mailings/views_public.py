"""The links in every message: unsubscribe (RFC 8058 one-click: a POST with no sign-in and no CSRF
token, as mail clients send it) and the preferences page. A link that does not verify gets the
same page whatever is wrong with it."""

import base64

from django import forms
from django.http import HttpResponse, HttpResponseNotFound, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from mailings import engagement, sending, unsubscribe
from people.models import Purpose

PREFERENCES_WORDING = gettext_lazy("I want to receive the organisation's emails about what I ticked.")


def _invalid(request):
    return render(request, "mailings/public/invalid.html", status=404)


@csrf_exempt  # RFC 8058: the mail client posts without any token; the signed link is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request, token):
    recipient = sending.recipient_from_token(token)
    if recipient is None:
        return _invalid(request)
    if request.method == "POST":
        unsubscribe.unsubscribe(recipient)
        return render(request, "mailings/public/unsubscribed.html", {"recipient": recipient})
    return render(request, "mailings/public/unsubscribe.html", {"recipient": recipient, "token": token})


class PreferencesForm(forms.Form):
    purposes = forms.MultipleChoiceField(
        label=gettext_lazy("Emails I want to receive"),
        choices=Purpose.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


@require_http_methods(["GET", "POST"])
def preferences_view(request, token):
    recipient = sending.recipient_from_token(token)
    if recipient is None:
        return _invalid(request)
    form = PreferencesForm(request.POST or None, initial={"purposes": unsubscribe.wanted(recipient.person)})
    saved = False
    if request.method == "POST" and form.is_valid():
        unsubscribe.preferences_save(recipient, form.cleaned_data["purposes"], str(PREFERENCES_WORDING))
        recipient.person.refresh_from_db(fields=["consents"])
        form = PreferencesForm(initial={"purposes": unsubscribe.wanted(recipient.person)})
        saved = True
    return render(
        request,
        "mailings/public/preferences.html",
        {
            "recipient": recipient,
            "form": form,
            "saved": saved,
            "wording": PREFERENCES_WORDING,
            "title": _("Your emails"),
        },
    )


# A transparent GIF of one pixel.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@require_http_methods(["GET", "HEAD"])
def opened_view(request, token):
    """The invisible image of a tracked mailing: the first time it is shown, the message counts as
    opened (a mailing not tracked records nothing). A link that does not verify: not found."""
    recipient = sending.recipient_from_token(token)
    if recipient is None:
        return HttpResponseNotFound(content_type="image/gif")
    if recipient.mailing.tracked:
        engagement.opened(recipient)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD"])
def click_view(request, token, rank):
    """A link of a tracked mailing: counted, then on to where it leads."""
    recipient = sending.recipient_from_token(token)
    if recipient is None or not recipient.mailing.tracked:
        return _invalid(request)
    target = engagement.clicked(recipient, rank)
    if target is None:
        return _invalid(request)
    return HttpResponseRedirect(target)
