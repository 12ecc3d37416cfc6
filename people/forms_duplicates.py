"""The merge screen: for each field where the two people differ, whose value to keep."""

from django import forms
from django.utils.translation import gettext_lazy as _

from people import merging, services
from people.models import Person

SIDES = ("kept", "merged")


def _shown(value):
    if value is None or value == "":
        return _("(blank)")
    if value is True:
        return _("Yes")
    if value is False:
        return _("No")
    return str(value)


class MergeForm(forms.Form):
    """One radio per field whose values differ (a member's account fields are not offered: the
    account decides them). `choices()` gives the service its {field: "kept" | "merged"}."""

    def __init__(self, *args, kept, merged, custom_fields, **kwargs):
        super().__init__(*args, **kwargs)
        self.kept, self.merged = kept, merged
        defaults = merging.merge_defaults(kept, merged, custom_fields)
        self.rows = []
        for name in merging.FIELDS:
            label = Person._meta.get_field(name).verbose_name
            kept_value, merged_value = getattr(kept, name), getattr(merged, name)
            if name == "language":
                kept_value, merged_value = kept.get_language_display(), merged.get_language_display()
            locked = bool(kept.user_id) and name in services.MEMBER_FIELDS
            self._row(name, label, kept_value, merged_value, defaults[name], locked)
        for field in custom_fields:
            key = f"field:{field.key}"
            self._row(key, field.name, kept.fields.get(field.key), merged.fields.get(field.key), defaults[key], False)

    def _row(self, name, label, kept_value, merged_value, default, locked):
        differs = kept_value != merged_value and not locked
        if differs:
            self.fields[name] = forms.ChoiceField(
                label=label,
                choices=[("kept", _shown(kept_value)), ("merged", _shown(merged_value))],
                initial=default,
                widget=forms.RadioSelect,
            )
        self.rows.append(
            {
                "label": label,
                "kept": _shown(kept_value),
                "merged": _shown(merged_value),
                "field": self[name] if differs else None,
                "locked": locked and kept_value != merged_value,
            }
        )

    def choices(self):
        return {name: value for name, value in self.cleaned_data.items() if value in SIDES}
