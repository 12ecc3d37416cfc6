"""Which provider carries an organisation's mailings: its own Brevo account when it gave one
(Mailings → Settings), else the platform's (MAILINGS_PROVIDER, or the platform's email backend)."""

from django.conf import settings
from django.core import mail

from mailings.models import MailingSettings
from tenancy import crypto

BREVO_BACKEND = "mailings.brevo.EmailBackend"


def _own():
    found = MailingSettings.objects.first()
    return found if found is not None and found.brevo_api_key else None


def email_connection():
    """A connection to the organisation's provider for its mailings."""
    own = _own()
    if own is None:
        return mail.get_connection(settings.MAILINGS_EMAIL_BACKEND)
    return mail.get_connection(BREVO_BACKEND, api_key=crypto.decrypt(own.brevo_api_key))


def sms_api_key():
    """The organisation's own Brevo key for SMS, or "" for the platform's settings."""
    own = _own()
    return crypto.decrypt(own.brevo_api_key) if own is not None else ""


def webhook_secret():
    """The "user:password" the organisation gave its Brevo webhooks, or "" for the platform's."""
    found = MailingSettings.objects.first()
    return crypto.decrypt(found.brevo_webhook_secret) if found is not None else ""
