from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth import login
from django.db import connection
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.handoff import user_for_token
from accounts.models import User

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
