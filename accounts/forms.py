import re

import phonenumbers
from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from accounts.models import User


class SignupForm(forms.Form):
    """Extra field of allauth's signup form (ACCOUNT_SIGNUP_FORM_CLASS)."""

    full_name = forms.CharField(label=_("Full name"), max_length=150)

    def signup(self, request, user):
        user.full_name = self.cleaned_data["full_name"]
        user.save(update_fields=["full_name"])


class InvitationForm(forms.Form):
    emails = forms.CharField(
        label=_("Email addresses"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One or more addresses, separated by commas, spaces or new lines (at most 50)."),
    )

    def clean_emails(self):
        raw = self.cleaned_data["emails"].replace(",", " ").replace(";", " ").split()
        field = forms.EmailField()
        emails, invalid = [], []
        for candidate in raw:
            try:
                email = field.clean(candidate).lower()
            except forms.ValidationError:
                invalid.append(candidate)
            else:
                if email not in emails:
                    emails.append(email)
        if invalid:
            raise forms.ValidationError(
                _("These are not valid email addresses: %(invalid)s"), params={"invalid": ", ".join(invalid)}
            )
        if not emails:
            raise forms.ValidationError(_("Enter at least one email address."))
        if len(emails) > 50:
            raise forms.ValidationError(_("At most 50 invitations at a time."))
        return emails


class InvitationAcceptForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password (again)"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args, email, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords differ."))
        elif password1:
            try:
                password_validation.validate_password(
                    password1, User(email=self.email, full_name=cleaned.get("full_name", ""))
                )
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


def normalise_phone(raw, region="FR"):
    """The number in international form (+33612345678), or ValidationError."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise forms.ValidationError(
            _("“%(value)s” is not a valid phone number. Use the international form, e.g. +33 6 12 34 56 78."),
            params={"value": raw},
            code="phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_tags(raw):
    """'Graphisme, Cuisine ; tractage' -> ['graphisme', 'cuisine', 'tractage'] (at most 20)."""
    tags = []
    for part in re.split(r"[,;\n]", raw or ""):
        tag = " ".join(part.split()).lower()[:50]
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > 20:
        raise forms.ValidationError(_("At most 20 entries."), code="too_many")
    return tags


class ProfileForm(forms.ModelForm):
    skills = forms.CharField(
        label=_("Skills"), required=False, help_text=_("Separated by commas, e.g. graphic design, first aid")
    )
    interests = forms.CharField(
        label=_("Interests"), required=False, help_text=_("Separated by commas, e.g. housing, ecology")
    )

    class Meta:
        model = User
        fields = list(User.PROFILE_FIELDS)
        widgets = {"visibility": forms.RadioSelect}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["full_name"].required = True
        if self.instance.pk and not self.is_bound:
            self.initial["skills"] = ", ".join(self.instance.skills)
            self.initial["interests"] = ", ".join(self.instance.interests)

    def clean_phone(self):
        return normalise_phone(self.cleaned_data["phone"])

    def clean_skills(self):
        return parse_tags(self.cleaned_data["skills"])

    def clean_interests(self):
        return parse_tags(self.cleaned_data["interests"])
