"""Forms of phone banks: the campaign, a question, inviting a caller, a call's result and the
organisation's settings. Questions' answers are read by services.clean_answers, not by a form:
their fields depend on the campaign."""

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from calls.models import WEEKDAYS, Campaign, Outcome, Question
from people.models import CustomField, Purpose

LOCAL_DATETIME = "%Y-%m-%dT%H:%M"


def _no_nul(value):
    return value.replace("\x00", "")


class CampaignForm(forms.Form):
    chapter = forms.ChoiceField(label=_("Chapter"))
    title = forms.CharField(label=_("Title"), max_length=150)
    description = forms.CharField(
        label=_("For the callers"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why these calls matter, and anything callers should know."),
    )  # fmt: skip
    segment = forms.ChoiceField(label=_("Who is called"), help_text=_("A segment of the supporter base."))
    purpose = forms.ChoiceField(
        label=_("Purpose"), choices=Purpose.choices, initial=Purpose.NEWS,
        help_text=_("Only people who agreed to be phoned for this purpose are called."),
    )  # fmt: skip
    script = forms.CharField(
        label=_("Script"), required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("What the caller says. {first_name}, {full_name}, {commune}, {chapter} and {caller} are replaced "
                    "by the person's details and the caller's first name."),
    )  # fmt: skip
    calling_from = forms.TimeField(
        label=_("Call from"),
        initial=datetime.time(10, 0),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    calling_until = forms.TimeField(
        label=_("Call until"),
        initial=datetime.time(20, 30),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    calling_days = forms.TypedMultipleChoiceField(
        label=_("Days"), choices=WEEKDAYS, coerce=int, initial=[1, 2, 3, 4, 5, 6], widget=forms.CheckboxSelectMultiple,
        help_text=_("Hours and days are those of the person called, wherever they live."),
        error_messages={"required": _("Choose one day at least.")},
    )  # fmt: skip
    cooldown_hours = forms.IntegerField(
        label=_("Hours between two attempts"), min_value=0, max_value=24 * 14, initial=4
    )
    max_attempts = forms.IntegerField(label=_("Attempts at most"), min_value=1, max_value=20, initial=3)
    callers = forms.ChoiceField(
        label=_("Who may call"),
        choices=Campaign.Callers.choices,
        initial=Campaign.Callers.MEMBERS,
        widget=forms.RadioSelect,
    )
    starts = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    ends = forms.DateField(
        label=_("Until"), required=False, help_text=_("Empty: until it is closed."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )  # fmt: skip

    def __init__(self, *args, chapters, segments, **kwargs):
        super().__init__(*args, **kwargs)
        self.chapters = {chapter.slug: chapter for chapter in chapters}
        self.segments = {str(segment.pk): segment for segment in segments}
        self.fields["chapter"].choices = [(chapter.slug, chapter.name) for chapter in chapters]
        self.fields["segment"].choices = [
            (str(segment.pk), f"{segment.name} ({segment.chapter.name if segment.chapter else _('organisation')})")
            for segment in segments
        ]
        self.fields["starts"].initial = timezone.localdate()

    def clean_title(self):
        title = " ".join(_no_nul(self.cleaned_data["title"]).split())
        if not title:
            raise forms.ValidationError(_("Give the campaign a title."))
        return title

    def clean_description(self):
        return _no_nul(self.cleaned_data["description"]).strip()

    def clean_script(self):
        return _no_nul(self.cleaned_data["script"]).strip()

    def clean_calling_days(self):
        days = sorted(set(self.cleaned_data["calling_days"]))
        if not days:
            raise forms.ValidationError(_("Choose one day at least."))
        return days

    def clean(self):
        data = super().clean()
        if data.get("calling_from") and data.get("calling_until") and data["calling_from"] >= data["calling_until"]:
            self.add_error("calling_until", _("Calling hours must end after they start."))
        if data.get("starts") and data.get("ends") and data["ends"] < data["starts"]:
            self.add_error("ends", _("The campaign must end after it starts."))
        return data

    def values(self):
        data = dict(self.cleaned_data)
        chapter, segment = self.chapters[data.pop("chapter")], self.segments[data.pop("segment")]
        return {"chapter": chapter, "segment": segment, **data}


class QuestionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Question.Kind.choices, initial=Question.Kind.CHOICE)
    text = forms.CharField(label=_("Question"), max_length=300)
    choices = forms.CharField(
        label=_("Answers"), required=False, max_length=3000, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For a choice: one answer per line. Add “-> tag” after an answer to tag who gives it."),
    )  # fmt: skip
    tag = forms.CharField(label=_("Tag added on a yes"), required=False, max_length=60)
    field_key = forms.ChoiceField(label=_("Custom field it fills"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field_key"].choices = [("", _("None: on the timeline only"))] + [
            (field.key, field.name) for field in CustomField.objects.all()
        ]

    def clean_text(self):
        return " ".join(_no_nul(self.cleaned_data["text"]).split())

    def clean_choices(self):
        return _no_nul(self.cleaned_data["choices"])

    def clean_tag(self):
        return " ".join(_no_nul(self.cleaned_data["tag"]).split())


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email address of the member"), max_length=254)


class ResultForm(forms.Form):
    outcome = forms.ChoiceField(label=_("What came of the call"), choices=Outcome.choices, widget=forms.RadioSelect)
    call_back_at = forms.DateTimeField(
        label=_("Call back at"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_DATETIME),
        help_text=_("Your time. The person comes back to you then."),
    )  # fmt: skip
    note = forms.CharField(label=_("Note"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_note(self):
        return _no_nul(self.cleaned_data["note"]).strip()

    def clean(self):
        data = super().clean()
        if data.get("outcome") == Outcome.CALL_BACK and not data.get("call_back_at"):
            self.add_error("call_back_at", _("Say when to call back."))
        return data


class SettingsForm(forms.Form):
    leaderboard = forms.BooleanField(
        label=_("Show callers a leaderboard"),
        required=False,
        help_text=_(
            "Callers then see who made the most calls in each campaign. Off, they see only their count and the team's."
        ),
    )
