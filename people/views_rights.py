"""The public rights page (/my-data/): ask for a link by email, then, through the link, download
what is held, change consents, or be erased. Nobody signs in; the signed link is the key.

The pages reached through a link are never cached and never indexed: they show a person's data.
"""

import functools

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chapters.services import InvalidAction
from people import rights
from people.forms_rights import RightsConsentsForm, RightsEraseForm, RightsRequestForm
from tenancy import clients


def _request_page(request, form, status=200):
    context = {"form": form, "hours": rights.LINK_HOURS}
    return TemplateResponse(request, "people/rights/request.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def request_link(request):
    form = RightsRequestForm(request.POST if request.method == "POST" else None)
    if request.method == "GET":
        return _request_page(request, form)
    if form.is_bot():
        return TemplateResponse(request, "people/rights/sent.html")
    if not form.is_valid():
        return _request_page(request, form, status=400)
    try:
        rights.rights_request(
            email=form.cleaned_data["email"],
            client=clients.client_address(request),
            link_root=request.build_absolute_uri(reverse("people_rights_request")),
            profile_url=request.build_absolute_uri(reverse("profile")),
            organisation_name=request.tenant.name,
        )
    except rights.TooManyRequests:
        return TemplateResponse(request, "people/rights/too_many.html", status=429)
    except InvalidAction as error:
        form.add_error("email", str(error))
        return _request_page(request, form, status=400)
    return TemplateResponse(request, "people/rights/sent.html")


def _holdings(token):
    """What the link's address holds, or None for a link that is not valid here."""
    try:
        return rights.holdings_for(rights.email_from_token(token))
    except rights.InvalidLink:
        return None


def _for_the_link(view):
    """The view, given what the link's address holds; the invalid-link page for a link that is not
    valid here, and the sign-in advice for a member's address."""

    @functools.wraps(view)
    def wrapped(request, token):
        holdings = _holdings(token)
        if holdings is None:
            return _invalid(request)
        if holdings.member:
            return _member(request)
        return view(request, token, holdings)

    return wrapped


def _invalid(request):
    return TemplateResponse(request, "people/rights/invalid.html", status=404)


def _member(request):
    return TemplateResponse(request, "people/rights/member.html")


def _home(request, token, holdings, form=None, status=200):
    if form is None and holdings.person is not None:
        form = RightsConsentsForm(person=holdings.person, organisation_name=request.tenant.name)
    context = {"token": token, "holdings": holdings, "form": form}
    return TemplateResponse(request, "people/rights/home.html", context, status=status)


@never_cache
@require_GET
@_for_the_link
def home(request, token, holdings):
    return _home(request, token, holdings)


@never_cache
@require_GET
@_for_the_link
def download(request, token, holdings):
    data = rights.rights_download(email=holdings.email)
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@never_cache
@require_POST
@_for_the_link
def consents(request, token, holdings):
    if holdings.person is None:
        return redirect("people_rights_home", token=token)
    form = RightsConsentsForm(request.POST, person=holdings.person, organisation_name=request.tenant.name)
    if not form.is_valid():
        return _home(request, token, holdings, form, status=400)
    changed = rights.rights_consents_change(email=holdings.email, wanted=form.wanted(), wording=form.wording())
    messages.success(request, _("Your choices were saved.") if changed else _("Nothing changed."))
    return redirect("people_rights_home", token=token)


@never_cache
@require_http_methods(["GET", "POST"])
@_for_the_link
def erase(request, token, holdings):
    if not holdings.known:
        return _home(request, token, holdings)
    form = RightsEraseForm(request.POST if request.method == "POST" else None)
    if request.method == "GET":
        return TemplateResponse(request, "people/rights/erase.html", {"token": token, "form": form})
    if not form.is_valid():
        return TemplateResponse(request, "people/rights/erase.html", {"token": token, "form": form}, status=400)
    rights.rights_erase(email=holdings.email)
    return TemplateResponse(request, "people/rights/erased.html")
