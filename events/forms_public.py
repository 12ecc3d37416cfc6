"""Forms of the campaign site's events: the filters of the list, and a visitor's answer."""

import datetime

from django import forms
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from chapters.models import Chapter
from chapters.services import InvalidAction
from events import services
from events.models import Event
from events.selectors import normalise_postcode
from people import services as people_services

HONEYPOT = "website"


def _postcode(value):
    postcode = normalise_postcode(value)
    if postcode and not postcode.isalnum():
        raise forms.ValidationError(_("A postcode has only letters and digits."))
    return postcode


class ChapterChoiceField(forms.ModelChoiceField):
    def to_python(self, value):
        if isinstance(value, str) and "\x00" in value:  # PostgreSQL refuses to compare it
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)

    def label_from_instance(self, chapter):
        return "\u00a0\u00a0" * (chapter.depth - 1) + chapter.name  # the tree, indented


class EventFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=[("", _("Any kind")), *Event.Kind.choices], required=False)
    chapter = ChapterChoiceField(
        label=_("Chapter"),
        queryset=Chapter.objects.filter(archived__isnull=True).order_by("path"),
        to_field_name="slug",
        empty_label=_("Every chapter"),
        required=False,
    )
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    postcode = forms.CharField(
        label=_("Near the postcode"),
        max_length=10,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "postal-code", "inputmode": "numeric", "size": 8}),
    )

    def clean_postcode(self):
        return _postcode(self.cleaned_data["postcode"])

    def filters(self):
        """The filters for selectors.public_events, from the fields given correctly."""
        self.is_valid()
        data = self.cleaned_data
        since = data.get("since")
        return {
            "kind": data.get("kind") or "",
            "chapter": data.get("chapter"),
            "since": timezone.make_aware(datetime.datetime.combine(since, datetime.time.min)) if since else None,
            "postcode": data.get("postcode") or "",
        }


def slot_label(slot):
    start, end = timezone.localtime(slot.start), timezone.localtime(slot.end)
    when = formats.date_format(start, "l j F Y") + ", " + formats.time_format(start) + "–" + formats.time_format(end)
    if start.date() != end.date():
        when = formats.date_format(start, "DATETIME_FORMAT") + " – " + formats.date_format(end, "DATETIME_FORMAT")
    left = slot.places_left
    if left is None:
        return when
    if left == 0:
        return _("%(when)s · full: join the waiting list") % {"when": when}
    return _("%(when)s · %(count)s places left") % {"when": when, "count": left}


class RsvpForm(forms.Form):
    """A visitor's answer. The timeslot is chosen among those still open when there are several."""

    timeslot = forms.TypedChoiceField(label=_("When"), coerce=int, widget=forms.RadioSelect)
    name = forms.CharField(label=_("Your name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(
        label=_("Your email address"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    phone = forms.CharField(
        label=_("Your phone number"),
        max_length=40,
        required=False,
        help_text=_("Optional: for reminders by text message, if you tick the box below."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
    )
    postcode = forms.CharField(
        label=_("Your postcode"),
        max_length=10,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "postal-code", "size": 8}),
    )
    wants_texts = forms.BooleanField(label=services.TEXTS_WORDING, required=False)
    wants_news = forms.BooleanField(label=services.NEWS_WORDING, required=False)
    # Left empty by people, filled by bots: they are told to check their mailbox and nothing happens.
    website = forms.CharField(
        required=False,
        label=_("Leave this field empty"),
        label_suffix="",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args, event, slots, **kwargs):
        super().__init__(*args, **kwargs)
        self.event, self.slots = event, {slot.pk: slot for slot in slots}
        if len(slots) > 1:
            self.fields["timeslot"].choices = [(slot.pk, slot_label(slot)) for slot in slots]
        else:
            del self.fields["timeslot"]
        if event.max_guests:
            self.fields["guests"] = forms.IntegerField(
                label=_("People coming with you"),
                help_text=_("Up to %(count)s.") % {"count": event.max_guests},
                min_value=0,
                max_value=event.max_guests,
                initial=0,
                required=False,
            )
            # Before the box and the honeypot, after the details.
            self.order_fields([name for name in self.fields if name not in ("wants_texts", "wants_news", HONEYPOT)])

    def is_bot(self):
        return bool(self.data.get(HONEYPOT, "").strip())

    def clean_postcode(self):
        return _postcode(self.cleaned_data["postcode"])

    def clean_phone(self):
        try:
            number, _mobile = people_services.normalise_phone(self.cleaned_data["phone"])
        except InvalidAction as error:
            raise forms.ValidationError(str(error)) from error
        return number

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("wants_texts") and not cleaned.get("phone") and "phone" not in self.errors:
            self.add_error("phone", _("Give your phone number to get reminders by text message."))
        return cleaned

    def clean_guests(self):
        return self.cleaned_data["guests"] or 0

    def chosen_slot(self):
        if "timeslot" in self.fields:
            return self.slots[self.cleaned_data["timeslot"]]
        return next(iter(self.slots.values()))
