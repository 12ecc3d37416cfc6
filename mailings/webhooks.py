"""The providers' tracking webhooks, on the organisation's own address (its schema): anymail's views,
which turn each provider's events into anymail's `tracking` signal (mailings/tracking.py).

- Brevo authenticates its webhooks by HTTP basic-auth credentials in the webhook's address
  (ANYMAIL_WEBHOOK_SECRET, "user:password"). Without that secret anymail would only warn and accept
  anyone's events; here they are refused.
- Mailgun signs each event: an HMAC-SHA256 of its timestamp and token with the webhook signing key
  (ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY), which anymail checks. Without a key anymail would fail at
  every request; here the events are refused, with the same 400.
"""

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.webhooks.base import AnymailBaseWebhookView
from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from django.core.exceptions import ImproperlyConfigured


class BrevoTracking(BrevoTrackingWebhookView):
    """The organisation's own webhook credentials when it gave its own Brevo account's, else the
    platform's."""

    warn_if_no_basic_auth = False

    def __init__(self, **kwargs):
        from mailings import providers

        own = providers.webhook_secret()
        super().__init__(**({"webhook_secret": own} if own else {}), **kwargs)

    def validate_request(self, request):
        if not self.basic_auth:
            raise AnymailWebhookValidationFailure("No webhook secret is set (ANYMAIL_WEBHOOK_SECRET): events refused.")


class MailgunTracking(MailgunTrackingWebhookView):
    def __init__(self, **kwargs):
        try:
            super().__init__(**kwargs)
        except ImproperlyConfigured:  # no key: the view still answers, refusing every event
            AnymailBaseWebhookView.__init__(self, **kwargs)
            self.webhook_signing_key = None

    def run_validators(self, request):
        if not self.webhook_signing_key:
            raise AnymailWebhookValidationFailure(
                "No Mailgun signing key is set (ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY): events refused."
            )
        super().run_validators(request)
