"""People who sign in. In an organisation's schema: its members. In the public schema: the
platform's operators. The same email in two organisations is two separate accounts."""

import re
import secrets
import unicodedata

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

FORMER_MEMBER = _("Former member")
WORDS = re.compile(r"[a-z0-9]+")


def fold(text):
    """Lowercase, without accents or punctuation: what the directory compares ("Hélène" -> "helene")."""
    text = text or ""
    if text.isascii():  # nothing to decompose: the common case, taken quickly
        return " ".join(WORDS.findall(text.lower()))
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(character for character in decomposed if not unicodedata.combining(character))
    return " ".join(WORDS.findall(plain.lower()))


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    class Visibility(models.TextChoices):
        NOBODY = "nobody", _("Nobody (only the coordinators of my chapters)")
        CHAPTERS = "chapters", _("Members of my chapters")
        ORGANISATION = "organisation", _("The whole organisation")

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    # The member's profile, and who may see it: the member decides.
    phone = models.CharField(
        _("phone"), max_length=20, blank=True, help_text=_("International form, e.g. +33612345678")
    )
    address = models.CharField(_("address"), max_length=250, blank=True)
    postcode = models.CharField(_("postcode"), max_length=10, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    skills = ArrayField(models.CharField(max_length=50), default=list, blank=True, verbose_name=_("skills"))
    interests = ArrayField(models.CharField(max_length=50), default=list, blank=True, verbose_name=_("interests"))
    visibility = models.CharField(
        _("profile visible to"), max_length=20, choices=Visibility.choices, default=Visibility.CHAPTERS
    )
    show_email = models.BooleanField(_("show my email"), default=False)
    show_phone = models.BooleanField(_("show my phone"), default=False)
    show_address = models.BooleanField(_("show my address"), default=False)
    erased = models.DateTimeField(_("erased"), null=True, blank=True)
    # fold()ed name, city, skills and interests; the directory searches its tsvector.
    search_text = models.TextField(editable=False, default="")
    search_vector = models.GeneratedField(
        expression=RawSQL("to_tsvector('simple'::regconfig, search_text)", []),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    is_staff = models.BooleanField(
        _("staff status"), default=False, help_text=_("Can log into the Django admin of this site.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    # What a member edits on their profile page (and what an export of their data lists).
    PROFILE_FIELDS = (
        "full_name", "phone", "address", "postcode", "city", "skills", "interests",
        "visibility", "show_email", "show_phone", "show_address",
    )  # fmt: skip

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["full_name", "email"]
        indexes = [
            # The directory's order: its first page is read straight off this index.
            models.Index(fields=["full_name", "id"], name="user_directory_order"),
            GinIndex(fields=["search_vector"], name="user_search_vector"),
            GinIndex(fields=["skills"], name="user_skills"),
            GinIndex(fields=["interests"], name="user_interests"),
        ]

    def __str__(self):
        return self.get_full_name()

    def save(self, *args, **kwargs):
        self.search_text = self.build_search_text()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "search_text"}
        super().save(*args, **kwargs)

    def build_search_text(self):
        return fold(" ".join([self.full_name, self.city, *self.skills, *self.interests]))

    def get_full_name(self):
        if self.erased:
            return str(FORMER_MEMBER)
        return self.full_name or self.email

    def get_short_name(self):
        return (self.full_name.split() or [self.email])[0]


def new_invitation_token():
    return secrets.token_urlsafe(32)


class Invitation(models.Model):
    """An email invitation to create an account in this organisation."""

    email = models.EmailField(_("email address"))
    token = models.CharField(max_length=64, unique=True, default=new_invitation_token, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("invited by")
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    expires = models.DateTimeField(_("expires"))
    accepted = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created"]

    def __str__(self):
        return self.email

    @property
    def is_usable(self):
        return self.accepted is None and self.expires > timezone.now()
