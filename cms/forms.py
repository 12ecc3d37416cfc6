from django import forms
from django.utils.translation import gettext_lazy as _
from wagtail.images.forms import BaseImageForm

from chapters.forms import ReadableImageField
from cms import spam
from cms.selectors import joinable_chapters


class ImageForm(BaseImageForm):
    """The editors' image form (WAGTAILIMAGES_IMAGE_FORM_BASE), single and multiple upload: a file
    cut short is refused with a message instead of a server error."""

    file = ReadableImageField(label=_("File"))


class SignupForm(forms.Form):
    """What the join and petition blocks send (the join form adds the chapter choice)."""

    full_name = forms.CharField(label=_("Your name"), max_length=150)
    email = forms.EmailField(label=_("Your email address"), max_length=254)
    postcode = forms.CharField(label=_("Postcode"), max_length=10, required=False)

    def __init__(self, *args, join=False, **kwargs):
        super().__init__(*args, **kwargs)
        spam.with_honeypot(self)
        if join:
            self.fields["postcode"].help_text = _("We find the chapter nearest to you.")
            self.fields["chapter"] = forms.ModelChoiceField(
                label=_("Or choose a chapter"),
                queryset=joinable_chapters(),
                required=False,
                empty_label=_("The nearest to my postcode"),
            )

    def clean_postcode(self):
        postcode = "".join(self.cleaned_data["postcode"].split()).upper()
        if postcode and not postcode.isalnum():
            raise forms.ValidationError(_("A postcode has only letters and digits."))
        return postcode

    def clean(self):
        data = super().clean()
        if "chapter" in self.fields and not data.get("chapter") and not data.get("postcode"):
            self.add_error("postcode", _("Give your postcode or choose a chapter."))
        return data
