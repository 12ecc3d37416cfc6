from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth import login
from django.db import connection
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.forms import InvitationAcceptForm
from accounts.handoff import user_for_token
from accounts.models import Invitation, User

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def welcome(request, token):
    """The founder's first arrival from the platform site: sign in once, then the app."""
    user = user_for_token(token, connection.schema_name, User.objects.all())
    if user is None:
        return render(request, "accounts/welcome_expired.html", status=400)
    login(request, user, backend=MODEL_BACKEND)
    address = EmailAddress.objects.filter(user=user, primary=True, verified=False).first()
    if address is not None:
        address.send_confirmation(request, signup=True)
        messages.info(request, _("We sent you an email to confirm your address: %(email)s.") % {"email": user.email})
    messages.success(request, _("Welcome! Your organisation is ready."))
    return redirect("app_home")


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    invitation = Invitation.objects.filter(token=token).first()
    if invitation is None or not invitation.is_usable:
        return render(request, "accounts/invitation_unusable.html", status=404)
    if User.objects.filter(email=invitation.email).exists():
        messages.info(request, _("You already have an account here: please sign in."))
        return redirect("account_login")
    form = InvitationAcceptForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(
                invitation=invitation,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
            )
        except services.InvitationUnusable:
            return render(request, "accounts/invitation_unusable.html", status=404)
        login(request, user, backend=MODEL_BACKEND)
        messages.success(request, _("Welcome! Your account is ready."))
        return redirect("app_home")
    return render(request, "accounts/invitation_accept.html", {"form": form, "invitation": invitation})
