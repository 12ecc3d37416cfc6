"""Forms of events in the member app: the event (with its timeslots and material as two small
formsets that work without JavaScript), an answer, the check-in page's walk-in, the report, the
figures' filter and the organisation's settings."""

import datetime

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from chapters import signals as chapter_signals
from events import services
from events.models import Event

LOCAL_DATETIME = "%Y-%m-%dT%H:%M"
COPY_SHIFT = datetime.timedelta(weeks=1)
STATS_DEFAULT_DAYS = 90
STATS_MAX_DAYS = 3 * 366


def _datetime_field(label):
    return forms.DateTimeField(
        label=label,
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_DATETIME),
    )


def listed_material():
    """[(variant id, label)] of what an event may name as its material: the answers of every
    receiver of chapters.signals.material_listed (the shop's), merged."""
    listed = {}
    for _receiver, answer in chapter_signals.material_listed.send(sender=Event):
        listed.update(dict(answer or ()))
    return sorted(listed.items(), key=lambda item: str(item[1]))


class EventForm(forms.Form):
    chapter = forms.ChoiceField(label=_("Chapter"))
    kind = forms.ChoiceField(label=_("Kind"), choices=Event.Kind.choices, initial=Event.Kind.MEETING)
    title = forms.CharField(label=_("Title"), max_length=150)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 6})
    )
    language = forms.ChoiceField(label=_("Language of the event"), choices=settings.LANGUAGES)
    place = forms.CharField(label=_("Place"), max_length=200, required=False, help_text=_("A name people know it by."))
    address = forms.CharField(
        label=_("Address"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    postcode = forms.CharField(label=_("Postcode"), max_length=10, required=False)
    online_url = forms.URLField(
        label=_("Online link"), required=False, assume_scheme="https", help_text=_("For an online event.")
    )
    capacity = forms.IntegerField(
        label=_("Places"),
        required=False,
        min_value=1,
        max_value=services.MAX_CAPACITY,
        help_text=_("For each timeslot, guests included. Empty: no limit."),
    )
    max_guests = forms.IntegerField(
        label=_("Guests a person may bring"), min_value=0, max_value=services.MAX_GUESTS, initial=3
    )
    visibility = forms.ChoiceField(
        label=_("Who may see it"), choices=Event.Visibility.choices, initial=Event.Visibility.PUBLIC
    )

    def __init__(self, *args, chapters, **kwargs):
        super().__init__(*args, **kwargs)
        self.chapters = {chapter.slug: chapter for chapter in chapters}
        self.fields["chapter"].choices = [(chapter.slug, chapter.name) for chapter in chapters]

    def chosen_chapter(self):
        return self.chapters[self.cleaned_data["chapter"]]

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError(_("Give the event a title."))
        return title


class TimeslotForm(forms.Form):
    start = _datetime_field(_("Starts"))
    end = _datetime_field(_("Ends"))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if (start is None) != (end is None) and not self.errors:
            raise forms.ValidationError(_("Give both the start and the end of the timeslot."))
        if start is not None and end is not None and end <= start:
            raise forms.ValidationError(_("A timeslot ends after it starts."))
        return cleaned


class BaseTimeslotFormSet(forms.BaseFormSet):
    def slots(self):
        return [
            (form.cleaned_data["start"], form.cleaned_data["end"])
            for form in self.forms
            if form.cleaned_data.get("start") is not None and form.cleaned_data.get("end") is not None
        ]

    def clean(self):
        if any(self.errors):
            return
        if not self.slots():
            raise forms.ValidationError(_("Give the event a start and an end."))


TimeslotFormSet = forms.formset_factory(
    TimeslotForm,
    formset=BaseTimeslotFormSet,
    extra=0,
    max_num=services.MAX_SLOTS,
    absolute_max=services.MAX_SLOTS,
    validate_max=True,
)


class MaterialForm(forms.Form):
    variant = forms.TypedChoiceField(label=_("Material"), required=False, coerce=int, empty_value=None)
    quantity = forms.IntegerField(
        label=_("Quantity"), required=False, min_value=1, max_value=services.MAX_MATERIAL_QUANTITY
    )

    def __init__(self, *args, listed=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["variant"].choices = [("", "—")] + [(str(pk), label) for pk, label in listed]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("variant") is not None and not cleaned.get("quantity") and not self.errors:
            self.add_error("quantity", _("Say how many the event needs."))
        return cleaned


class BaseMaterialFormSet(forms.BaseFormSet):
    def material(self):
        return [
            (form.cleaned_data["variant"], form.cleaned_data["quantity"])
            for form in self.forms
            if form.cleaned_data.get("variant") is not None
        ]

    def clean(self):
        if any(self.errors):
            return
        chosen = [variant for variant, _quantity in self.material()]
        if len(chosen) != len(set(chosen)):
            raise forms.ValidationError(_("Name each material once, with the whole quantity."))


MaterialFormSet = forms.formset_factory(
    MaterialForm,
    formset=BaseMaterialFormSet,
    extra=0,
    max_num=50,
    absolute_max=50,
    validate_max=True,
)

SLOT_ROWS = 3  # rows shown without JavaScript, at least
MATERIAL_ROWS = 3


def event_forms(data=None, *, chapters, event=None, copy=None, language="fr"):
    """The event form and its two formsets, filled from `event` (editing), from `copy` (a new event
    like another, a week later) or empty."""
    listed = listed_material()
    source = event or copy
    shift = COPY_SHIFT if copy is not None else datetime.timedelta()
    if source is not None:
        initial = {
            name: getattr(source, name)
            for name in (
                "kind", "title", "description", "language", "place", "address", "postcode", "online_url",
                "capacity", "max_guests", "visibility",
            )
        }  # fmt: skip
        if any(chapter.pk == source.chapter_id for chapter in chapters):
            initial["chapter"] = source.chapter.slug
        slots = [
            {"start": timezone.localtime(slot.start) + shift, "end": timezone.localtime(slot.end) + shift}
            for slot in source.timeslots.all()
        ]
        material = [{"variant": item["variant"], "quantity": item["quantity"]} for item in source.material]
    else:
        initial, slots, material = {"language": language}, [], []
    if data is None:
        slots += [{}] * max(SLOT_ROWS - len(slots), 1)
        material += [{}] * max(MATERIAL_ROWS - len(material), 1)
    form = EventForm(data, chapters=chapters, initial=initial)
    slot_forms = TimeslotFormSet(data, prefix="slots", initial=slots or None)
    material_forms = MaterialFormSet(data, prefix="material", initial=material or None, form_kwargs={"listed": listed})
    return form, slot_forms, material_forms


class RsvpForm(forms.Form):
    timeslot = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    guests = forms.IntegerField(label=_("Guests"), min_value=0, max_value=services.MAX_GUESTS, required=False)


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Why it is cancelled"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Said to everyone who answered."),
    )


class WalkInForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    postcode = forms.CharField(label=_("Postcode"), max_length=10, required=False)
    wants_news = forms.BooleanField(label=_("Wants to hear about our events and campaigns by email"), required=False)

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not any((cleaned.get(key) or "").strip() for key in ("name", "email", "phone")):
            raise forms.ValidationError(_("Give at least a name, an email address or a phone number."))
        return cleaned


class ReportForm(forms.Form):
    contacts_made = forms.IntegerField(
        label=_("Contacts made"),
        required=False,
        min_value=0,
        max_value=services.MAX_MATERIAL_QUANTITY,
        help_text=_("People met who left their details or agreed to be contacted."),
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 5})
    )

    def __init__(self, *args, event, **kwargs):
        super().__init__(*args, **kwargs)
        self.material = list(event.material)
        for item in self.material:
            self.fields[f"handed_{item['variant']}"] = forms.IntegerField(
                label=item["label"],
                required=False,
                min_value=0,
                max_value=services.MAX_MATERIAL_QUANTITY,
                initial=(event.handed_out or {}).get(str(item["variant"])),
                help_text=_("%(count)s planned") % {"count": item["quantity"]},
            )
        self.fields["contacts_made"].initial = event.contacts_made
        self.fields["notes"].initial = event.report_notes

    def material_fields(self):
        return [self[f"handed_{item['variant']}"] for item in self.material]

    def handed_out(self):
        return {item["variant"]: self.cleaned_data.get(f"handed_{item['variant']}") or 0 for item in self.material}


class StatsForm(forms.Form):
    chapter = forms.ChoiceField(label=_("Chapter"), required=False)
    first = forms.DateField(
        label=pgettext_lazy("period", "From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    last = forms.DateField(
        label=pgettext_lazy("period", "To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, chapters, **kwargs):
        super().__init__(*args, **kwargs)
        self.chapters = {chapter.slug: chapter for chapter in chapters}
        self.fields["chapter"].choices = [("", _("All my chapters"))] + [
            (chapter.slug, chapter.name) for chapter in chapters
        ]

    def clean(self):
        cleaned = super().clean()
        today = timezone.localdate()
        last = cleaned.get("last") or today
        first = cleaned.get("first") or last - datetime.timedelta(days=STATS_DEFAULT_DAYS)
        if first > last:
            raise forms.ValidationError(_("The period starts before it ends."))
        if (last - first).days > STATS_MAX_DAYS:
            raise forms.ValidationError(_("Choose a period of three years at most."))
        cleaned["first"], cleaned["last"] = first, last
        return cleaned

    def period(self):
        """(first day, last day, chapter or None): the valid choice, else the default."""
        if self.is_valid():
            data = self.cleaned_data
            return data["first"], data["last"], self.chapters.get(data["chapter"])
        today = timezone.localdate()
        return today - datetime.timedelta(days=STATS_DEFAULT_DAYS), today, None


class SettingsForm(forms.Form):
    members_propose = forms.BooleanField(
        label=_("Members may propose events"),
        required=False,
        help_text=_("A member's event waits for a coordinator of the chapter to publish it."),
    )


def checkin_value(raw):
    """The "present" of a check-in form post ("1"/"0", "true"/"false"), else None."""
    return {"1": True, "true": True, "on": True, "0": False, "false": False, "": None}.get(str(raw).lower())
