from allauth.core import ratelimit
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.handoff import handoff_url
from tenants import services
from tenants.forms import OrganisationSignupForm


def landing(request):
    return render(request, "tenants/landing.html")


@require_http_methods(["GET", "POST"])
def organisation_signup(request):
    form = OrganisationSignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not ratelimit.consume(request, action="signup"):
            form.add_error(None, _("Too many organisations were created from your address. Try again later."))
        else:
            data = form.cleaned_data
            try:
                organisation, founder = services.organisation_create(
                    name=data["name"],
                    slug=data["slug"],
                    founder_name=data["full_name"],
                    founder_email=data["email"],
                    founder_password=data["password"],
                )
            except (IntegrityError, ValidationError):
                # Another signup took the slug between validation and creation.
                form.add_error("slug", _("This address was taken a moment ago. Please choose another one."))
            else:
                return redirect(handoff_url(request, organisation, founder))
    return render(request, "tenants/signup.html", {"form": form})
