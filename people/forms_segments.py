"""The segment builder: one form whose fields are the conditions a segment may hold, turned into
the definition people.segments reads (and back, to edit a saved one)."""

from django import forms
from django.db.models import Max
from django.utils.translation import gettext_lazy as _

from chapters.forms import ChapterChoiceField
from people import segments
from people.models import Activity, Channel, CustomField, Purpose, Tag

FIELD_ROWS = 3
ACTIVITY_ROWS = 2
# Kinds of touch whose object means something to pick ("signed petition X"); an order or a
# membership is its own object.
TARGETED_KINDS = (Activity.Kind.SIGNATURE, Activity.Kind.FORM, Activity.Kind.RSVP, Activity.Kind.EMAIL)
RECENT_TARGETS = 200


class ChapterMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, chapter):
        return "\u2003" * (chapter.depth - 1) + chapter.name


def _words(value):
    return [word.strip() for word in value.replace(";", ",").split(",") if word.strip()]


def activity_targets():
    """The objects of recent touches worth picking (petitions, forms…), newest first, as
    (value, label): "kind|app.model|id"."""
    recent = (
        Activity.objects.filter(kind__in=TARGETED_KINDS, target_type__isnull=False)
        .values("kind", "target_type__app_label", "target_type__model", "target_id")
        .annotate(last=Max("created"), summary=Max("summary"))
        .order_by("-last")[:RECENT_TARGETS]
    )
    labels = dict(Activity.Kind.choices)
    return [
        (
            f"{row['kind']}|{row['target_type__app_label']}.{row['target_type__model']}|{row['target_id']}",
            f"{labels[row['kind']]}: {row['summary'] or row['target_id']}",
        )
        for row in recent
    ]


class SegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    owner = ChapterChoiceField(
        queryset=None, label=_("Belongs to"), required=False, empty_label=None,
        help_text=_("A chapter's segment reaches the people of that chapter and below only."),
    )  # fmt: skip
    chapters = ChapterMultipleChoiceField(
        queryset=None, label=_("In these chapters (or below)"), required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )  # fmt: skip
    tags_in = forms.ModelMultipleChoiceField(
        queryset=Tag.objects.none(), label=_("With any of these tags"), required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )  # fmt: skip
    tags_out = forms.ModelMultipleChoiceField(
        queryset=Tag.objects.none(), label=_("Without any of these tags"), required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )  # fmt: skip
    consents = forms.MultipleChoiceField(
        label=_("Who currently consent to"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[
            (f"{channel.value}:{purpose.value}", f"{channel.label} · {purpose.label}")
            for channel in Channel for purpose in Purpose
        ],
    )  # fmt: skip
    postcodes = forms.CharField(
        label=_("Postcode starts with"), required=False, max_length=1000, help_text=_("e.g. 59, 62100 (any of them)")
    )
    communes = forms.CharField(
        label=_("Commune"), required=False, max_length=2000, help_text=_("Separated by commas (any of them).")
    )
    member = forms.ChoiceField(
        label=_("Members"), required=False,
        choices=[("", _("Members and supporters")), ("yes", _("Members only")), ("no", _("Not members"))],
    )  # fmt: skip
    created_from = forms.DateField(
        label=_("Added from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(label=_("Added until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    include = forms.ModelMultipleChoiceField(
        queryset=None, label=_("Also in one of these segments"), required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )  # fmt: skip
    exclude = forms.ModelMultipleChoiceField(
        queryset=None, label=_("Leave out the people of these segments"), required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )  # fmt: skip

    def __init__(
        self,
        *args,
        owners,
        organisation_wide,
        visible_chapters,
        usable_segments,
        segment=None,
        counting=False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.segment = segment
        if counting:  # a live count needs the conditions only
            self.fields["name"].required = False
        self.fields["owner"].queryset = owners
        if organisation_wide:
            self.fields["owner"].empty_label = _("The organisation (every chapter)")
        else:
            self.fields["owner"].required = True
        self.fields["chapters"].queryset = visible_chapters
        self.fields["tags_in"].queryset = self.fields["tags_out"].queryset = Tag.objects.order_by("name")
        if segment is not None:
            usable_segments = usable_segments.exclude(pk=segment.pk)
        self.fields["include"].queryset = self.fields["exclude"].queryset = usable_segments
        custom = list(CustomField.objects.order_by("name"))
        self.custom_fields = {field.key: field for field in custom}
        operators = [("", "—"), *segments.OPERATOR_LABELS.items()]
        for row in range(1, FIELD_ROWS + 1):
            self.fields[f"field_{row}"] = forms.ChoiceField(
                label=_("Custom field"), required=False, choices=[("", "—"), *((f.key, f.name) for f in custom)]
            )
            self.fields[f"op_{row}"] = forms.ChoiceField(label=_("Condition"), required=False, choices=operators)
            self.fields[f"value_{row}"] = forms.CharField(label=_("Value"), required=False, max_length=500)
        kinds = [("", "—"), *Activity.Kind.choices]
        targets = [("", _("Any")), *activity_targets()]
        for row in range(1, ACTIVITY_ROWS + 1):
            self.fields[f"activity_{row}"] = forms.ChoiceField(label=_("Did"), required=False, choices=kinds)
            self.fields[f"target_{row}"] = forms.ChoiceField(label=_("About"), required=False, choices=targets)
            self.fields[f"days_{row}"] = forms.IntegerField(
                label=_("In the last (days)"), required=False, min_value=1, max_value=segments.MAX_DAYS
            )

    def field_rows(self):
        return [(self[f"field_{n}"], self[f"op_{n}"], self[f"value_{n}"]) for n in range(1, FIELD_ROWS + 1)]

    def activity_rows(self):
        return [(self[f"activity_{n}"], self[f"target_{n}"], self[f"days_{n}"]) for n in range(1, ACTIVITY_ROWS + 1)]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            definition = self._definition(cleaned)
            cleaned["definition"] = segments.validate_definition(
                definition, segment=self.segment, usable_segments=self.fields["include"].queryset
            )
        except segments.InvalidDefinition as error:
            raise forms.ValidationError(error.messages[0], code=error.code) from None
        return cleaned

    def _definition(self, data):
        conditions = []
        if data.get("chapters"):
            conditions.append({"type": "chapters", "chapters": [chapter.pk for chapter in data["chapters"]]})
        if data.get("tags_in"):
            conditions.append({"type": "tags", "tags": [tag.pk for tag in data["tags_in"]], "match": "any"})
        if data.get("tags_out"):
            conditions.append({"type": "tags", "tags": [tag.pk for tag in data["tags_out"]], "match": "none"})
        for consent in data.get("consents") or ():
            channel, purpose = consent.split(":")
            conditions.append({"type": "consent", "channel": channel, "purpose": purpose})
        for row in range(1, FIELD_ROWS + 1):
            key, op, value = data.get(f"field_{row}"), data.get(f"op_{row}"), data.get(f"value_{row}", "").strip()
            if not key and not op:
                continue
            if not key or not op:
                raise segments.InvalidDefinition(_("Choose both a custom field and a condition."), "missing_key")
            condition = {"type": "field", "field": key, "op": op}
            if op not in segments.NEEDS_NO_VALUE:
                if not value:
                    raise segments.InvalidDefinition(
                        _("Give a value for the field “%(field)s”.") % {"field": self.custom_fields[key].name},
                        "missing_key",
                    )
                condition["value"] = self._typed(self.custom_fields[key], value)
            conditions.append(condition)
        for row in range(1, ACTIVITY_ROWS + 1):
            kind, target, days = data.get(f"activity_{row}"), data.get(f"target_{row}"), data.get(f"days_{row}")
            if not kind:
                if target or days:
                    raise segments.InvalidDefinition(_("Choose what the people did."), "missing_key")
                continue
            condition = {"type": "activity", "kind": kind}
            if target:
                target_kind, target_type, target_id = target.split("|", 2)
                condition |= {"target_type": target_type, "target_id": target_id}
                if target_kind != kind:
                    raise segments.InvalidDefinition(
                        _("The chosen object does not go with what the people did."), "bad_value"
                    )
            if days:
                condition["days"] = days
            conditions.append(condition)
        if data.get("postcodes"):
            conditions.append({"type": "postcode", "prefixes": _words(data["postcodes"])})
        if data.get("communes"):
            conditions.append({"type": "commune", "communes": _words(data["communes"])})
        if data.get("member"):
            conditions.append({"type": "member", "member": data["member"] == "yes"})
        if data.get("created_from") or data.get("created_to"):
            conditions.append(
                {
                    "type": "created",
                    "from": data["created_from"].isoformat() if data.get("created_from") else None,
                    "to": data["created_to"].isoformat() if data.get("created_to") else None,
                }
            )
        definition = {"all": conditions}
        for key in ("include", "exclude"):
            if data.get(key):
                definition[key] = [segment.pk for segment in data[key]]
        return definition

    @staticmethod
    def _typed(field, value):
        if field.kind == CustomField.Kind.YES_NO:
            lowered = value.lower()
            if lowered in ("yes", "oui", "true", "1"):
                return True
            if lowered in ("no", "non", "false", "0"):
                return False
        return value  # numbers, dates and choices are read by the field's own rules


def initial_from(definition):
    """The builder's initial values for a saved definition, or None when the definition holds what
    the builder cannot show (made by another app, or more conditions of a kind than it has rows)."""
    initial = {"consents": []}
    fields = activities = 0
    for condition in definition.get("all", []):
        kind = condition.get("type")
        if kind == "chapters" and "chapters" not in initial:
            initial["chapters"] = condition["chapters"]
        elif kind == "tags" and condition.get("match") == "any" and "tags_in" not in initial:
            initial["tags_in"] = condition["tags"]
        elif kind == "tags" and condition.get("match") == "none" and "tags_out" not in initial:
            initial["tags_out"] = condition["tags"]
        elif kind == "consent":
            initial["consents"].append(f"{condition['channel']}:{condition['purpose']}")
        elif kind == "field" and fields < FIELD_ROWS:
            fields += 1
            value = condition.get("value", "")
            if isinstance(value, bool):
                value = "yes" if value else "no"
            initial |= {
                f"field_{fields}": condition["field"],
                f"op_{fields}": condition["op"],
                f"value_{fields}": value,
            }
        elif (
            kind == "activity"
            and activities < ACTIVITY_ROWS
            and bool(condition.get("target_type")) == bool(condition.get("target_id"))
        ):
            activities += 1
            initial[f"activity_{activities}"] = condition["kind"]
            if condition.get("target_id"):
                initial[f"target_{activities}"] = (
                    f"{condition['kind']}|{condition['target_type']}|{condition['target_id']}"
                )
            initial[f"days_{activities}"] = condition.get("days")
        elif kind == "postcode" and "postcodes" not in initial:
            initial["postcodes"] = ", ".join(condition["prefixes"])
        elif kind == "commune" and "communes" not in initial:
            initial["communes"] = ", ".join(condition["communes"])
        elif kind == "member" and "member" not in initial:
            initial["member"] = "yes" if condition["member"] else "no"
        elif kind == "created" and "created_from" not in initial:
            initial["created_from"], initial["created_to"] = condition.get("from"), condition.get("to")
        else:
            return None
    for key in ("include", "exclude"):
        if definition.get(key):
            initial[key] = definition[key]
    return initial
