"""Two-factor authentication: offered to every member, required of administrators.

Every member may turn on an authenticator app (TOTP, with recovery codes) from their space. Whoever
holds an administrative capability (chapters.capabilities.ADMINISTRATIVE: roles, members,
chapters, the audit log, exports, payments, refunds, the whole website) must: until they have
one, the member app, the site editor and the admin send them to set it up, and while they hold
such a capability they cannot turn it off. MFA_REQUIRED_FOR_ADMINISTRATORS (on in production)
switches the requirement. Secrets are stored encrypted (tenancy.crypto).
"""

from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name

from chapters.access import holds_administrative_capability
from tenancy import crypto

GUARDED_PREFIXES = ("/app/", "/cms/", "/admin/")


def has_authenticator_app(user):
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def must_set_up_second_factor(user):
    return (
        settings.MFA_REQUIRED_FOR_ADMINISTRATORS
        and user.is_authenticated
        and holds_administrative_capability(user)
        and not has_authenticator_app(user)
    )


class RequireSecondFactorMiddleware:
    """Sends an administrator without an authenticator app to set one up (JSON calls get a 403
    with the code `two_factor_required`), before any view of the member app, the site editor or
    the admin runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.path_info.startswith(GUARDED_PREFIXES)
            and connection.schema_name != get_public_schema_name()
            and must_set_up_second_factor(request.user)
        ):
            message = _(
                "Your role lets you administer the organisation: protect your account with an "
                "authenticator app before going on."
            )
            if "application/json" in request.headers.get("Accept", "") or request.content_type == "application/json":
                return JsonResponse({"error": {"code": "two_factor_required", "message": message}}, status=403)
            messages.warning(request, message)
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text):
        """Authenticator secrets and recovery seeds are stored encrypted, as Stripe keys are: a
        copy of the database alone does not let anyone make the codes."""
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text):
        return crypto.decrypt(encrypted_text)

    def can_delete_authenticator(self, authenticator):
        """An administrator keeps their authenticator app while they hold the role."""
        if authenticator.type == Authenticator.Type.TOTP and settings.MFA_REQUIRED_FOR_ADMINISTRATORS:
            return not holds_administrative_capability(authenticator.user)
        return True
