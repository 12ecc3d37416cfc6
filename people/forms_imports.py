"""Forms of the people import: the file, and where each of its columns goes."""

from django import forms
from django.utils.translation import gettext_lazy as _

from chapters.forms import ChapterChoiceField


class UploadForm(forms.Form):
    chapter = ChapterChoiceField(
        queryset=None, label=_("Into the chapter"), required=False, empty_label=None,
        help_text=_("Everyone in the file is added to this chapter."),
    )  # fmt: skip
    file = forms.FileField(
        label=_("File"), help_text=_("CSV (UTF-8 or Windows-1252) or XLSX, with the column names on the first line.")
    )

    def __init__(self, *args, chapters, organisation_wide, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chapter"].queryset = chapters
        self.fields["file"].widget.attrs["accept"] = ".csv,.txt,.xlsx,text/csv"
        if organisation_wide:
            self.fields["chapter"].empty_label = _("The organisation (no chapter)")
        else:
            self.fields["chapter"].required = True


class MappingForm(forms.Form):
    """One choice per column of the file (`col_<index>`), the consents' origin and an every-row tag."""

    consent_source = forms.CharField(
        label=_("Where the consents were given"), required=False, max_length=200,
        help_text=_("E.g. “Petition form on our site, March 2024”. Needed when a consent column is mapped."),
    )  # fmt: skip
    consent_wording = forms.CharField(
        label=_("Words the people agreed to"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Explicit consent is proven by the exact words people saw when they ticked the box."),
    )  # fmt: skip
    tag_every_row = forms.CharField(
        label=_("Tag everyone in the file with"), required=False, max_length=200,
        help_text=_("Tag names separated by commas, e.g. “fête 2024”."),
    )  # fmt: skip

    def __init__(self, *args, header, choices, mapping, **kwargs):
        super().__init__(*args, **kwargs)
        self.columns = []
        for index, name in enumerate(header):
            field = forms.ChoiceField(label=name or _("Column %(number)s") % {"number": index + 1}, choices=choices,
                                      required=False, initial=mapping.get(str(index), ""))  # fmt: skip
            self.fields[f"col_{index}"] = field
            self.columns.append(index)
        self.fields["tag_every_row"].initial = ", ".join(mapping.get("every_row", []))

    def mapping(self):
        return {str(index): self.cleaned_data.get(f"col_{index}") or "" for index in self.columns}
