"""Spam protection without third-party services: a honeypot field and a rate limit.

The honeypot is a text field hidden from people (and announced to screen readers as "leave
empty"); a bot that fills it is told its submission was received and nothing is stored. The rate
limit counts submissions per client address and per organisation in the cache (the key carries
the schema), CMS_SIGNUP_RATE_LIMIT ("5/h" by default).
"""

from django import forms
from django.conf import settings
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from tenancy import clients, rates

HONEYPOT = "website"


def with_honeypot(form):
    form.fields[HONEYPOT] = forms.CharField(
        required=False,
        label=_("Leave this field empty"),
        label_suffix="",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    return form


def is_bot(data):
    return bool(data.get(HONEYPOT, "").strip())


def _limit():
    return rates.parse(settings.CMS_SIGNUP_RATE_LIMIT)


def client_address(request):
    return clients.client_address(request)


def over_limit(request):
    """Count this submission; True when the client sent too many in the period."""
    return not rates.within("cms:signup-rate", client_address(request), *_limit())


def too_many_response(request):
    return TemplateResponse(request, "cms/too_many.html", status=429)


def check(request, page):
    """For Wagtail form pages: a response that ends the submission, or None to go on."""
    if is_bot(request.POST):
        return TemplateResponse(request, "cms/form_page_landing.html", {"page": page}) if page else HttpResponse()
    if over_limit(request):
        return too_many_response(request)
    return None
