"""Mail sent by the campaign site, outside the request that caused it."""

import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation
from wagtail.models import Site

from cms.models import Signup
from tenancy.tasks import tenant_task


@tenant_task
def confirmation_mail(signup_id, url):
    """The double opt-in link, in the language the visitor used."""
    signup = Signup.objects.select_related("page", "chapter").filter(pk=signup_id, confirmed__isnull=True).first()
    if signup is None:
        return
    site = Site.objects.filter(is_default_site=True).first()
    context = {"signup": signup, "url": url, "site_name": site.site_name if site else ""}
    with translation.override(signup.language or settings.LANGUAGE_CODE):
        send_mail(
            subject=render_to_string("cms/email/confirm_subject.txt", context).strip(),
            message=render_to_string("cms/email/confirm_message.txt", context),
            from_email=None,
            recipient_list=[signup.email],
        )


@tenant_task
def signups_purge_due():
    """Delete the sign-ups nobody confirmed within PEOPLE_UNCONFIRMED_SIGNUP_DAYS (scheduled daily)."""
    from cms import services

    services.signups_purge(older_than=datetime.timedelta(days=settings.PEOPLE_UNCONFIRMED_SIGNUP_DAYS))
