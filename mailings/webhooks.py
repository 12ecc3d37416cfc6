"""The provider's tracking webhook, on the organisation's own address (its schema): anymail's view
for Brevo, which authenticates the provider by the HTTP basic-auth credentials in the webhook's
address (ANYMAIL_WEBHOOK_SECRET, "user:password"). Without that secret anymail would only warn
and accept anyone's events; here it refuses them."""

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.webhooks.brevo import BrevoTrackingWebhookView


class BrevoTracking(BrevoTrackingWebhookView):
    warn_if_no_basic_auth = False

    def validate_request(self, request):
        if not self.basic_auth:
            raise AnymailWebhookValidationFailure("No webhook secret is set (ANYMAIL_WEBHOOK_SECRET): events refused.")
