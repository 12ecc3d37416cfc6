from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from chapters.forms import ChapterChoiceField
from chapters.services import InvalidAction
from people import services
from people.models import Channel, Consent, CustomField, Person, Purpose


def _lines(value):
    return [line.strip() for line in value.replace(",", "\n").splitlines() if line.strip()]


class PersonForm(forms.ModelForm):
    """A person's details, their addresses and numbers (one per line, the first is primary) and
    the organisation's custom fields. A member's name, contacts and postcode are their account's."""

    emails = forms.CharField(
        label=_("Email addresses"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000,
        help_text=_("One per line; the first is the main one."),
    )  # fmt: skip
    phones = forms.CharField(
        label=_("Phone numbers"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000,
        help_text=_("One per line, e.g. +33 6 12 34 56 78; the first is the main one."),
    )  # fmt: skip

    class Meta:
        model = Person
        fields = ["full_name", "language", "address", "postcode", "commune", "polling_station"]
        widgets = {"address": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, custom_fields=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.custom_fields = list(custom_fields)
        person = self.instance
        if person.pk:
            self.fields["emails"].initial = "\n".join(person.emails.values_list("email", flat=True))
            self.fields["phones"].initial = "\n".join(person.phones.values_list("number", flat=True))
        for field in self.custom_fields:
            self.fields[f"field_{field.key}"] = _custom_form_field(field, person.fields.get(field.key))
        if person.user_id:
            for name in (*services.MEMBER_FIELDS, "emails", "phones"):
                self.fields[name].disabled = True
                self.fields[name].help_text = _("A member changes this in their own profile.")

    def clean_emails(self):
        emails = _lines(self.cleaned_data["emails"])
        try:
            return [services.normalise_email(email) for email in emails]
        except InvalidAction as error:
            raise forms.ValidationError(error.messages) from error

    def clean_phones(self):
        phones = _lines(self.cleaned_data["phones"])
        try:
            for phone in phones:
                services.normalise_phone(phone)
        except InvalidAction as error:
            raise forms.ValidationError(error.messages) from error
        return phones

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk and not (
            (cleaned.get("full_name") or "").strip() or cleaned.get("emails") or cleaned.get("phones")
        ):
            raise forms.ValidationError(_("Give at least a name, an email address or a phone number."))
        return cleaned

    def custom_values(self):
        return {field.key: self.cleaned_data.get(f"field_{field.key}") for field in self.custom_fields}

    def custom_bound_fields(self):
        return [self[f"field_{field.key}"] for field in self.custom_fields]


class CustomValueField(forms.Field):
    def __init__(self, custom, **kwargs):
        self.custom = custom
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return None
        try:
            return services.field_value(self.custom, value)
        except InvalidAction as error:
            raise forms.ValidationError(error.messages) from error


def _custom_form_field(field, initial):
    kind = CustomField.Kind
    widget = {
        kind.TEXT: forms.TextInput(attrs={"maxlength": 500}),
        kind.NUMBER: forms.TextInput(attrs={"inputmode": "decimal"}),
        kind.DATE: forms.DateInput(attrs={"type": "date"}),
        kind.CHOICE: forms.Select(choices=[("", "—"), *[(c, c) for c in field.choices]]),
        kind.YES_NO: forms.Select(choices=[("", "—"), ("yes", _("Yes")), ("no", _("No"))]),
    }[field.kind]
    if field.kind == kind.YES_NO and initial is not None:
        initial = "yes" if initial else "no"
    return CustomValueField(field, label=field.name, required=False, widget=widget, initial=initial)


class NewPersonForm(PersonForm):
    chapter = ChapterChoiceField(queryset=None, label=_("Chapter"), required=False, empty_label=None)

    def __init__(self, *args, chapters, organisation_wide, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chapter"].queryset = chapters
        if organisation_wide:
            self.fields["chapter"].empty_label = _("The organisation (no chapter)")
        else:
            self.fields["chapter"].required = True


class NoteForm(forms.Form):
    text = forms.CharField(label=_("Note"), max_length=300, widget=forms.Textarea(attrs={"rows": 2}))


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices)
    status = forms.ChoiceField(label=_("Status"), choices=Consent.Status.choices)
    wording = forms.CharField(
        label=_("Words the person agreed to"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required for a consent: what they were asked, as they saw or heard it."),
    )
    source = forms.CharField(
        label=_("Where"), required=False, max_length=200, help_text=_("e.g. “paper form at the market, 12 May”")
    )


class TagsForm(forms.Form):
    tags = forms.CharField(
        label=pgettext_lazy("people", "Tags"), required=False, max_length=1000, help_text=_("Separated by commas.")
    )

    def clean_tags(self):
        return services.parse_tag_names(self.cleaned_data["tags"])


class SelectedIds(forms.Field):
    """The ids of the people ticked in a list (checkboxes named alike)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        ids = value if isinstance(value, list | tuple) else [value] if value else []
        if (
            not ids
            or len(ids) > 1000
            or not all(isinstance(pk, str) and pk.isascii() and pk.isdigit() and len(pk) < 12 for pk in ids)
        ):
            raise forms.ValidationError(_("Select between one and 1,000 people."), code="selection")
        return sorted({int(pk) for pk in ids})


class BulkEditForm(forms.Form):
    """Tags added and removed, and a custom field set (or cleared), on the people ticked in a list."""

    people = SelectedIds()
    add = forms.CharField(label=_("Add tags"), required=False, max_length=1000)
    remove = forms.CharField(label=_("Remove tags"), required=False, max_length=1000)
    field = forms.ModelChoiceField(
        queryset=CustomField.objects.all(), to_field_name="key", required=False, label=_("Set the field"),
        empty_label=_("No field"),
    )  # fmt: skip
    value = forms.CharField(
        label=_("To"), required=False, max_length=500, help_text=_("Left empty, the field is cleared.")
    )

    def clean(self):
        cleaned = super().clean()
        cleaned["add"] = services.parse_tag_names(cleaned.get("add") or "")
        cleaned["remove"] = services.parse_tag_names(cleaned.get("remove") or "")
        field, raw = cleaned.get("field"), (cleaned.get("value") or "").strip()
        if field is not None:
            try:
                cleaned["value"] = services.field_value(field, raw) if raw else None
            except InvalidAction as error:
                self.add_error("value", error.messages)
        if not cleaned["add"] and not cleaned["remove"] and field is None and not self.errors:
            raise forms.ValidationError(_("Name a tag to add or to remove, or a field to set."))
        return cleaned


class CustomFieldForm(forms.ModelForm):
    key = forms.CharField(
        label=_("Key"),
        max_length=40,
        validators=[RegexValidator(r"^[a-z][a-z0-9_]*$", _("Lower-case letters, digits and _."))],
        help_text=_("Its column name in imports and exports; it cannot change later."),
    )
    choices = forms.CharField(
        label=_("Choices"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For a choice field: the values, one per line."),
    )  # fmt: skip

    class Meta:
        model = CustomField
        fields = ["name", "kind"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["key"].disabled = True
            self.fields["key"].initial = self.instance.key
            self.fields["choices"].initial = "\n".join(self.instance.choices)

    def clean_key(self):
        key = self.cleaned_data["key"]
        if CustomField.objects.filter(key=key).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("Another field has this key."))
        return key

    def clean_choices(self):
        choices = list(dict.fromkeys(line.strip()[:80] for line in self.cleaned_data["choices"].splitlines()))
        return [choice for choice in choices if choice]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == CustomField.Kind.CHOICE and not cleaned.get("choices"):
            self.add_error("choices", _("A choice field needs its choices."))
        return cleaned
