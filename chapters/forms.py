from django import forms
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from wagtail.images.fields import WagtailImageField

from accounts.forms import InvitationForm
from accounts.models import User
from chapters.capabilities import CAPABILITIES
from chapters.models import Chapter, Role


class ReadableImageField(WagtailImageField):
    """Wagtail's image field reads the format from the first bytes, then the size with Pillow,
    which raises on a file cut short after those bytes: that is a form error, not a crash."""

    def to_python(self, data):
        try:
            return super().to_python(data)
        except (OSError, SyntaxError, ValueError) as error:  # Pillow's UnidentifiedImageError is an OSError
            raise forms.ValidationError(_("This file is not an image we can read."), code="unreadable") from error


def offer(field, objects):
    """Let a ModelChoiceField offer objects the page has read already, in their order, instead of
    reading its queryset again to render them; what is submitted is still checked against the
    queryset."""
    choice = field.iterator(field).choice
    empty = [("", field.empty_label)] if field.empty_label is not None else []
    field.choices = empty + [choice(obj) for obj in objects]


class ChapterChoiceField(forms.ModelChoiceField):
    """Chapters in tree order, indented by depth."""

    def label_from_instance(self, chapter):
        return "\u2003" * (chapter.depth - 1) + chapter.name


class ChapterForm(forms.ModelForm):
    class Meta:
        model = Chapter
        fields = ["name", "slug", "kind", "description", "area", "public_contact", "joining"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4}), "area": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].help_text = _("Used in its address. Left empty, it is made from the name.")
        if editing:
            del self.fields["slug"]

    def clean_slug(self):
        slug = self.cleaned_data.get("slug") or slugify(self.cleaned_data.get("name", ""))[:60]
        if not slug:
            raise forms.ValidationError(_("Give the chapter a name or an address."))
        if Chapter.objects.filter(slug=slug).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(
                _("Another chapter already uses the address “%(slug)s”."), params={"slug": slug}
            )
        return slug


class MoveForm(forms.Form):
    parent = ChapterChoiceField(label=_("New parent chapter"), queryset=Chapter.objects.none())

    def __init__(self, *args, chapter, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = choices.exclude(path__startswith=chapter.path).filter(archived__isnull=True)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=1000)


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (sent to the person)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
        required=False,
    )


class TransferForm(forms.Form):
    to_chapter = ChapterChoiceField(label=_("Transfer to"), queryset=Chapter.objects.none())

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_chapter"].queryset = choices.filter(archived__isnull=True)


class RoleForm(forms.ModelForm):
    capabilities = forms.MultipleChoiceField(
        label=_("Capabilities"), widget=forms.CheckboxSelectMultiple, required=False, choices=()
    )

    class Meta:
        model = Role
        fields = ["name", "description", "capabilities"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["capabilities"].choices = sorted(CAPABILITIES.items())


class AssignmentForm(forms.Form):
    email = forms.EmailField(label=_("Member's email"))
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.filter(is_members_role=False))
    chapter = ChapterChoiceField(label=_("On chapter (and below)"), queryset=Chapter.objects.none())

    def __init__(self, *args, chapters, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chapter"].queryset = chapters.filter(archived__isnull=True)

    def clean_email(self):
        email = self.cleaned_data["email"].lower()
        self.user = User.objects.filter(email=email, is_active=True).first()
        if self.user is None:
            raise forms.ValidationError(_("Nobody in the organisation has this email address."))
        return email


class EraseForm(forms.Form):
    password = forms.CharField(
        label=_("Your password, to confirm"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        if not self.user.check_password(self.cleaned_data["password"]):
            raise forms.ValidationError(_("This is not your password."))
        return self.cleaned_data["password"]


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Spreadsheet (.csv or .xlsx)"))
    chapter = ChapterChoiceField(
        label=_("Chapter for the lines that name none"), queryset=Chapter.objects.none(), required=False
    )

    def __init__(self, *args, chapters, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chapter"].queryset = chapters


class AnnouncementForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(
        label=_("Text"),
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Markdown: **bold**, *italic*, [link](https://…), lists."),
    )
    by_email = forms.BooleanField(
        label=_("Also send it by email to the chapter's members who agreed to receive news"),
        required=False,
    )


class DocumentForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    file = forms.FileField(label=_("File (10 MB at most)"))


class ChapterInvitationForm(InvitationForm):
    chapter = ChapterChoiceField(
        label=_("Into the chapter"),
        queryset=Chapter.objects.none(),
        required=False,
        help_text=_(
            "They become members of it when they create their account. "
            "People already in the organisation are added at once."
        ),
    )

    def __init__(self, *args, chapters, organisation_wide, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chapter"].queryset = chapters
        # An invitation into no chapter is the organisation's: only for who invites organisation-wide.
        self.fields["chapter"].required = not organisation_wide
