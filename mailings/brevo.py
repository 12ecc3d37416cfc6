"""anymail's Brevo backend, able to hand a whole batch of different messages over in one request.

A mailing renders each recipient's message itself (mailings/rendering.py: tokens, escaping, the
unsubscribe links), so the batch is not one template with parameters: each of Brevo's
`messageVersions` (up to 1,000 per request) carries its recipient's own subject, HTML and text
(Brevo's API takes them per version) and, through anymail's `merge_headers`, its own
List-Unsubscribe. Set `merge_content = {address: {"subject", "htmlContent", "textContent"}}` on
the message; anymail does the rest (the request, errors, a message id per recipient)."""

from anymail.backends.brevo import BrevoPayload
from anymail.backends.brevo import EmailBackend as BrevoBackend

MAX_VERSIONS = 1000  # Brevo's limit per request
CONTENT = ("subject", "htmlContent", "textContent")


class BatchPayload(BrevoPayload):
    def serialize_json(self, data):
        contents = getattr(self.message, "merge_content", None)
        if contents and data is self.data and "messageVersions" in data:
            for version in data["messageVersions"]:
                content = contents[version["to"][0]["email"]]
                version.update((key, content[key]) for key in CONTENT if key in content)
        return super().serialize_json(data)


class EmailBackend(BrevoBackend):
    batch_size = MAX_VERSIONS

    def build_message_payload(self, message, defaults):
        return BatchPayload(message, defaults, self)
