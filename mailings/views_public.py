"""The links in every message: unsubscribe (RFC 8058 one-click: a POST with no sign-in and no CSRF
token, as mail clients send it) and the preferences page. A link that does not verify gets the
same page whatever is wrong with it."""

from django import forms
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from mailings import sending, unsubscribe
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
