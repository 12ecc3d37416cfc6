import re

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _
from django_tenants.postgresql_backend.base import is_valid_schema_name
from django_tenants.utils import schema_exists

from accounts.models import User
from tenants.models import Domain, Organisation

# Host names and schema names the platform keeps for itself.
RESERVED_SLUGS = frozenset(
    {
        "www", "admin", "api", "public", "static", "media", "platform", "app", "cms", "ws", "mail",
        "smtp", "ftp", "help", "support", "status", "docs", "blog", "assets", "cdn", "relais",
        "template", "information-schema", "postgres", "root", "test", "localhost",
    }
)  # fmt: skip
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")


def validate_slug(slug):
    if not SLUG_PATTERN.match(slug) or "--" in slug or not is_valid_schema_name(slug):
        raise forms.ValidationError(
            _(
                "Use 3 to 40 characters: lowercase letters, digits and single hyphens, "
                "starting with a letter and not ending with a hyphen."
            ),
            code="invalid",
        )
    if slug in RESERVED_SLUGS:
        raise forms.ValidationError(
            _("“%(slug)s” is reserved by the platform. Please choose another address."),
            code="reserved",
            params={"slug": slug},
        )
    hostname = f"{slug}.{settings.PLATFORM_DOMAIN}"
    taken = (
        Organisation.objects.filter(schema_name=slug).exists()
        or Domain.objects.filter(domain=hostname).exists()
        or schema_exists(slug)
    )
    if taken:
        raise forms.ValidationError(
            _("The address %(hostname)s is already taken. Please choose another one."),
            code="taken",
            params={"hostname": hostname},
        )


class OrganisationSignupForm(forms.Form):
    name = forms.CharField(label=_("Organisation name"), max_length=100)
    slug = forms.CharField(label=_("Address"), max_length=40)
    full_name = forms.CharField(label=_("Your name"), max_length=150)
    email = forms.EmailField(label=_("Your email"))
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError(_("Please give your organisation a name."), code="required")
        return name

    def clean_slug(self):
        slug = self.cleaned_data["slug"].strip().lower()
        validate_slug(slug)
        return slug

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            # Judge the password against the person it will belong to (name and email similarity).
            founder = User(email=cleaned.get("email", ""), full_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password, founder)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned
