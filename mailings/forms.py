"""The mailing form: who sends it, to which segment, for which purpose, and its words.

The body is written as a few fields (an image, the text in markdown, a button) and stored as
blocks (mailings/rendering.py)."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from chapters import access as chapter_access
from chapters.models import Chapter
from mailings import capabilities, rendering
from mailings.models import Mailing, MailingSettings
from people import segments
from people.models import Purpose

ORGANISATION = ""


class MailingForm(forms.Form):
    channel = forms.ChoiceField(label=_("Send by"), choices=Mailing.Channel.choices, initial=Mailing.Channel.EMAIL)
    sender = forms.ChoiceField(label=_("Sent by"), required=False)  # "": the organisation
    segment = forms.ChoiceField(
        label=pgettext_lazy("mailing audience", "To"),
        required=False,
        help_text=_("Everyone who consented, or the people of a segment."),
    )
    purpose = forms.ChoiceField(
        label=pgettext_lazy("mailing purpose", "About"),
        choices=Purpose.choices,
        help_text=_("Only people who agreed to hear about it receive it."),
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    subject = forms.CharField(
        label=_("Subject"), max_length=200, help_text=_("For an SMS: its title in the list of mailings.")
    )
    preview_text = forms.CharField(label=_("Preview text"), max_length=200, required=False)
    sender_name = forms.CharField(label=_("Sender's name"), max_length=100, required=False)
    image_src = forms.URLField(label=_("Image at the top (address)"), required=False, assume_scheme="https")
    image_alt = forms.CharField(label=_("Image description"), max_length=200, required=False)
    sms_text = forms.CharField(
        label=_("Text of the SMS"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=1000,
        required=False,
        help_text=_(
            "The opt-out mention is added at the end. 160 characters make one part (70 with accents "
            "such as ç, or emoji): the cost is shown before sending."
        ),
    )
    body = forms.CharField(
        label=_("Text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 14}),
        max_length=rendering.MAX_MARKDOWN,
        help_text=_(
            "Markdown: **bold**, *italic*, [a link](https://…), lists. "
            'Tokens: {first_name|"Bonjour"}, {full_name}, {commune}.'
        ),
    )
    button_label = forms.CharField(label=_("Button"), max_length=80, required=False)
    button_href = forms.URLField(label=_("Button link"), required=False, assume_scheme="https")
    closing = forms.CharField(
        label=_("After a dividing line"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=rendering.MAX_MARKDOWN,
        required=False,
        help_text=_("Markdown too: a signature, a reminder. A line of three dashes (---) in a text also divides it."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        chapters = Chapter.objects.filter(chapter_access.chapters_where(user, capabilities.SEND)).order_by("path")
        choices = [(ORGANISATION, _("The organisation"))] if chapter_access.can(user, capabilities.SEND) else []
        self.fields["sender"].choices = choices + [(str(chapter.pk), chapter.name) for chapter in chapters]
        self.chapters = {str(chapter.pk): chapter for chapter in chapters}
        usable = segments.segments_for(user)
        self.fields["segment"].choices = [("", _("Everyone who consented"))] + [(str(s.pk), s.name) for s in usable]
        self.segments = {str(s.pk): s for s in usable}

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("sender") and ORGANISATION not in dict(self.fields["sender"].choices):
            self.add_error("sender", _("Choose the chapter it is sent by."))
        if cleaned.get("channel") == Mailing.Channel.SMS:
            if not (cleaned.get("sms_text") or "").strip():
                self.add_error("sms_text", _("Write the text of the SMS."))
            return cleaned
        if not (cleaned.get("body") or "").strip():
            self.add_error("body", _("Write the text of the email."))
        if cleaned.get("button_label") and not cleaned.get("button_href"):
            self.add_error("button_href", _("A button needs a link."))
        if cleaned.get("button_href") and not cleaned.get("button_label"):
            self.add_error("button_label", _("A button needs a label."))
        return cleaned

    def chosen_chapter(self):
        return self.chapters.get(self.cleaned_data["sender"])

    def chosen_segment(self):
        return self.segments.get(self.cleaned_data["segment"] or "")

    def blocks(self):
        data = self.cleaned_data
        blocks = []
        if data.get("image_src"):
            blocks.append({"type": "image", "src": data["image_src"], "alt": data.get("image_alt", "")})
        blocks.append({"type": "text", "markdown": data["body"]})
        if data.get("button_label"):
            blocks.append({"type": "button", "label": data["button_label"], "href": data["button_href"]})
        if (data.get("closing") or "").strip():
            blocks += [{"type": "divider"}, {"type": "text", "markdown": data["closing"]}]
        return blocks


def initial_from(mailing):
    initial = {
        "channel": mailing.channel,
        "sms_text": mailing.sms_text,
        "sender": str(mailing.chapter_id or ""),
        "segment": str(mailing.segment_id or ""),
        "purpose": mailing.purpose,
        "language": mailing.language,
        "subject": mailing.subject,
        "preview_text": mailing.preview_text,
        "sender_name": mailing.sender_name,
    }
    texts, closing, divided = [], [], False
    for block in mailing.blocks:
        if block.get("type") == "image" and "image_src" not in initial:
            initial |= {"image_src": block.get("src", ""), "image_alt": block.get("alt", "")}
        elif block.get("type") == "divider":
            divided = True
        elif block.get("type") == "text":
            (closing if divided else texts).append(block.get("markdown", ""))
        elif block.get("type") == "button" and "button_label" not in initial:
            initial |= {"button_label": block.get("label", ""), "button_href": block.get("href", "")}
    initial["body"], initial["closing"] = "\n\n".join(texts), "\n\n".join(closing)
    return initial


class ScheduleForm(forms.Form):
    when = forms.DateTimeField(
        label=_("Send at"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )


class MailingSettingsForm(forms.ModelForm):
    brevo_key = forms.CharField(
        label=_("Your own Brevo API key"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text=_(
            "Leave empty to keep the one saved (or to send through the platform's provider if none is). "
            "Your email and SMS then go through your Brevo account."
        ),
    )
    brevo_hook = forms.CharField(
        label=_("Credentials of your Brevo webhooks"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text=_('As "user:password": give Brevo the webhook address with them in it.'),
    )
    forget_brevo = forms.BooleanField(label=_("Forget my Brevo account: use the platform's provider"), required=False)

    class Meta:
        model = MailingSettings
        fields = ["chapters_need_approval", "sms_sender", "track_opens_clicks"]

    def clean_brevo_hook(self):
        hook = self.cleaned_data["brevo_hook"].strip()
        if hook and ":" not in hook:
            raise forms.ValidationError(_('Write it as "user:password".'))
        return hook
