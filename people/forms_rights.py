"""Forms of the public rights page (/my-data/)."""

from django import forms
from django.utils.translation import gettext_lazy

from people.models import Channel, Purpose
from people.rights import CONSENTS

HONEYPOT = "website"

# The words beside each box, which a grant records as the wording the person agreed to.
WORDING = {
    "news": gettext_lazy("I agree that %(organisation)s contacts me %(channel)s with its news and campaigns."),
    "events": gettext_lazy("I agree that %(organisation)s contacts me %(channel)s about its events."),
    "fundraising": gettext_lazy("I agree that %(organisation)s contacts me %(channel)s to ask for donations."),
}
CHANNEL_WORDS = {
    "email": gettext_lazy("by email"),
    "sms": gettext_lazy("by text message"),
    "phone": gettext_lazy("by phone"),
    "post": gettext_lazy("by post"),
}


class RightsRequestForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("Your email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    # Left empty by people, filled by bots: they are told a link was sent and nothing happens.
    website = forms.CharField(
        required=False,
        label=gettext_lazy("Leave this field empty"),
        label_suffix="",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def is_bot(self):
        return bool(self.data.get(HONEYPOT, "").strip())


def consent_field_name(key):
    return "consent_" + key.replace(":", "_")


class RightsConsentsForm(forms.Form):
    """One box per channel and purpose, ticked where the person consents today."""

    def __init__(self, *args, person, organisation_name, **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = []
        for channel in Channel:
            names = []
            for purpose in Purpose:
                key = f"{channel.value}:{purpose.value}"
                name = consent_field_name(key)
                self.fields[name] = forms.BooleanField(
                    required=False,
                    label=WORDING[purpose.value]
                    % {"organisation": organisation_name, "channel": CHANNEL_WORDS[channel.value]},
                    initial=person.consented(channel.value, purpose.value),
                )
                names.append(name)
            self.groups.append((channel.label, [self[name] for name in names]))

    def wanted(self):
        """The "channel:purpose" keys ticked."""
        return {f"{c}:{p}" for c, p in CONSENTS if self.cleaned_data.get(consent_field_name(f"{c}:{p}"))}

    def wording(self):
        """The words shown beside each box, in the page's language: what the person agreed to."""
        return {f"{c}:{p}": str(self.fields[consent_field_name(f"{c}:{p}")].label) for c, p in CONSENTS}


class RightsEraseForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand: my details will be erased and cannot be recovered."),
        error_messages={"required": gettext_lazy("Tick the box to confirm the erasure.")},
    )
