"""The supporter base: one Person per human, members and everyone else alike.

A person's contact points, consents, timeline, tags and custom field values hang off it. Consent
rows are append-only: the current state of each channel and purpose is derived, and kept on the
person (`Person.consents`) by the service that appends the row, in the same transaction, so that a
segment of a million people reads one indexed column instead of the whole history.
"""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import fold
from chapters.models import Chapter


class Source(models.TextChoices):
    MEMBER = "member", _("Member account")
    INVITATION = "invitation", _("Invitation")
    JOIN_FORM = "join_form", _("Join form")
    PETITION = "petition", _("Petition")
    WEBSITE_FORM = "website_form", _("Website form")
    SHOP = "shop", _("Shop order")
    IMPORT = "import", _("Import")
    MANUAL = "manual", _("Entered by hand")
    EVENT = "event", _("Event")
    CALL = "call", _("Phone call")


class Person(models.Model):
    full_name = models.CharField(_("name"), max_length=150, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True, choices=settings.LANGUAGES)
    address = models.TextField(_("postal address"), blank=True)
    postcode = models.CharField(_("postcode"), max_length=10, blank=True)
    commune = models.CharField(_("commune"), max_length=120, blank=True)
    polling_station = models.CharField(
        _("polling station"), max_length=40, blank=True, help_text=_("Its code, from the polling-station open data.")
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.MANUAL)
    source_detail = models.CharField(_("source detail"), max_length=200, blank=True)
    created = models.DateTimeField(_("added"), default=timezone.now)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="person",
        verbose_name=_("member account"),
    )
    # Derived, written only by people.services with the rows they summarise.
    consents = ArrayField(models.CharField(max_length=40), default=list, blank=True, editable=False)
    fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    # The name folded (lower case, no accents, words sorted): what likely duplicates are compared on.
    name_key = models.CharField(max_length=150, blank=True, editable=False)
    # A person merged into another stays, hidden, until the merge can no longer be undone.
    merged_into = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="+", editable=False, db_index=False
    )
    tags = models.ManyToManyField(
        "Tag", related_name="people", blank=True, verbose_name=pgettext_lazy("people", "tags")
    )
    chapters = models.ManyToManyField(Chapter, through="PersonChapter", related_name="people")

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["-created", "-id"], name="people_newest"),
            GinIndex(fields=["consents"], name="people_consents"),
            GinIndex(fields=["fields"], name="people_fields"),
            # Also the index by postcode alone (a postcode is its first column).
            models.Index(fields=["postcode", "name_key"], name="people_name_by_postcode"),
            # The few people merged into another: the others (all but a handful) are not in it, and
            # writing a person does not touch it.
            models.Index(fields=["merged_into"], name="people_merged", condition=models.Q(merged_into__isnull=False)),
        ]

    def __str__(self):
        return self.full_name or str(_("Person %(id)s") % {"id": self.pk})

    def save(self, *args, **kwargs):
        # Derived from the name, like a database-generated column: kept in step wherever the name is written.
        self.name_key = name_key(self.full_name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "full_name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)

    @property
    def is_member(self):
        return self.user_id is not None

    def consented(self, channel, purpose):
        return f"{channel}:{purpose}" in self.consents


def name_key(full_name):
    """ "Hélène  DUPONT-Martin" -> "dupont helene martin": the same human written two ways."""
    return " ".join(sorted(fold(full_name).split()))[:150]


class PersonEmail(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="emails")
    email = models.EmailField(_("email address"))
    is_primary = models.BooleanField(_("primary"), default=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("email address")
        verbose_name_plural = _("email addresses")
        ordering = ["-is_primary", "pk"]
        constraints = [
            # An address is the key people are matched on: it names one person of the organisation.
            models.UniqueConstraint(Lower("email"), name="people_one_person_per_email"),
            models.UniqueConstraint(fields=["person"], condition=Q(is_primary=True), name="people_one_primary_email"),
        ]

    def __str__(self):
        return self.email


class PersonPhone(models.Model):
    # Found by person through people_number_once_per_person, which begins with it.
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="phones", db_index=False)
    number = models.CharField(_("phone number"), max_length=20, help_text=_("E.164, e.g. +33612345678"))
    is_mobile = models.BooleanField(_("mobile"), default=False)
    is_primary = models.BooleanField(_("primary"), default=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        ordering = ["-is_primary", "pk"]
        constraints = [
            # A household may share a landline: the same number on two people is allowed, twice on one is not.
            models.UniqueConstraint(fields=["person", "number"], name="people_number_once_per_person"),
            models.UniqueConstraint(fields=["person"], condition=Q(is_primary=True), name="people_one_primary_phone"),
        ]
        indexes = [models.Index(fields=["number"], name="people_phone_number")]

    def __str__(self):
        return self.number


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone calls")
    POST = "post", _("Post")


class Purpose(models.TextChoices):
    NEWS = "news", _("News and campaigns")
    EVENTS = "events", _("Events")
    FUNDRAISING = "fundraising", _("Fundraising")


class Consent(models.Model):
    """One change of a person's consent to be contacted on a channel for a purpose. Append-only."""

    class Status(models.TextChoices):
        GRANTED = "granted", _("Granted")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Basis(models.TextChoices):
        # Art. 9(2)(a): everyone who is not a member gives explicit consent, or is not contacted.
        EXPLICIT_CONSENT = "explicit_consent", _("Explicit consent (GDPR art. 9(2)(a))")
        # Art. 9(2)(d): a political body may process its own members' data in its legitimate activities.
        MEMBERSHIP = "membership", _("Membership of the organisation (GDPR art. 9(2)(d))")
        # A withdrawal needs no basis: it is the person's word.
        PERSON_REQUEST = "person_request", _("The person's request")

    # Found by person through people_consent_latest, which begins with it.
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="consent_history", db_index=False)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    basis = models.CharField(_("legal basis"), max_length=20, choices=Basis.choices)
    wording = models.TextField(_("wording the person saw"), blank=True)
    source = models.CharField(_("source"), max_length=200)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["person", "channel", "purpose", "-created"], name="people_consent_latest")]

    def __str__(self):
        return f"{self.channel}:{self.purpose} {self.status}"


class Activity(models.Model):
    """A touch on a person's timeline: a sign-up, a signature, an order, a note, a call…"""

    class Kind(models.TextChoices):
        CREATED = "created", _("Added")
        SIGNUP = "signup", _("Signed up")
        SIGNATURE = "signature", _("Signed a petition")
        ORDER = "order", _("Ordered")
        FORM = "form", _("Sent a form")
        MEMBERSHIP = "membership", _("Membership")
        NOTE = "note", _("Note")
        CONSENT = "consent", _("Consent")
        EDIT = "edit", _("Record changed")
        IMPORT = "import", _("Imported")
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")
        CALL = "call", _("Call")
        DOOR = "door", _("Door knock")
        RSVP = "rsvp", _("RSVP")
        ATTENDED = "attended", _("Attended an event")

    # Found by person through people_timeline, which begins with it.
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="activities", db_index=False)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    created = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    # The object it is about, when there is one (a petition page, an order): app label, model and id.
    # Found through people_activity_target, which holds it: no index of its own to write per touch.
    target_type = models.ForeignKey(
        ContentType, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    target_id = models.CharField(max_length=40, blank=True)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["person", "-created", "-id"], name="people_timeline"),
            models.Index(fields=["kind", "target_type", "target_id"], name="people_activity_target"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.summary}"


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=60, unique=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self):
        return self.name


class CustomField(models.Model):
    """A field the organisation adds to every person; values live in Person.fields under `key`."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")
        YES_NO = "yes_no", _("Yes/no")

    name = models.CharField(_("name"), max_length=80, unique=True)
    key = models.SlugField(_("key"), max_length=40, unique=True, help_text=_("Its column name in imports and exports."))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.TEXT)
    choices = ArrayField(
        models.CharField(max_length=80), default=list, blank=True, verbose_name=_("choices"),
        help_text=_("For a choice field: the values, one per line."),
    )  # fmt: skip
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["name"]

    def __str__(self):
        return self.name


class PersonChapter(models.Model):
    """A person's place in a chapter: by the chapter's area (their postcode), by hand, or as a member."""

    class Reason(models.TextChoices):
        AREA = "area", _("Lives in its area")
        EXPLICIT = "explicit", _("Added by hand")
        MEMBER = "member", _("Member")

    # Found by person through people_chapter_once, and by chapter through people_by_chapter.
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="chapter_links", db_index=False)
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="people_links", db_index=False)
    reason = models.CharField(max_length=10, choices=Reason.choices)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("chapter of a person")
        verbose_name_plural = _("chapters of people")
        constraints = [models.UniqueConstraint(fields=["person", "chapter", "reason"], name="people_chapter_once")]
        indexes = [models.Index(fields=["chapter", "person"], name="people_by_chapter")]

    def __str__(self):
        return f"{self.person_id} in {self.chapter_id} ({self.reason})"


class Segment(models.Model):
    """A saved, named audience: a filter over people (people.segments compiles `definition`)."""

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    definition = models.JSONField(_("conditions"), default=dict)
    # The chapter it belongs to (who may use and change it: its people.view holders and those above);
    # none: the organisation's own.
    chapter = models.ForeignKey(
        Chapter, on_delete=models.CASCADE, null=True, blank=True, related_name="segments", verbose_name=_("chapter")
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    # The last count, for the list of segments; recounted when the segment is opened or saved.
    last_count = models.PositiveIntegerField(null=True, blank=True)
    counted = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["chapter", "name"], nulls_distinct=False, name="people_segment_name")
        ]

    def __str__(self):
        return self.name


def import_path(person_import, filename):
    return f"people/imports/{timezone.now():%Y/%m}/{filename}"


class PersonImport(models.Model):
    """A CSV or XLSX file of people, mapped column by column and run in the worker."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Waiting for its mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    chapter = models.ForeignKey(
        Chapter, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("chapter")
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    file = models.FileField(_("file"), upload_to=import_path, max_length=300)
    filename = models.CharField(_("file name"), max_length=200)
    kind = models.CharField(max_length=10)  # "csv" or "xlsx"
    # The first rows as read, for the mapping screen: {"header": [...], "rows": [[...], ...]}.
    preview = models.JSONField(default=dict, blank=True)
    # Column index (as a string) -> target ("email", "field:<key>", "tag:<name>", "consent:<channel>:<purpose>", "").
    mapping = models.JSONField(default=dict, blank=True)
    consent_source = models.CharField(_("where the consents were given"), max_length=200, blank=True)
    consent_wording = models.TextField(_("words the people agreed to"), blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    processed_rows = models.PositiveIntegerField(default=0)
    # Where the file's next batch starts (a byte offset and a line number), saved with each batch:
    # a task retried after its worker died goes on from there, not from where it was first sent.
    resume_at = models.JSONField(null=True, blank=True, editable=False)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # The rejected lines, [[line number, reason], ...], the first REJECTIONS_KEPT of them.
    rejections = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created", "-pk"]

    def __str__(self):
        return self.filename


class DuplicatePair(models.Model):
    """Two people who are likely the same human, found by people.merging, waiting for review."""

    person_a = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    person_b = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("why"), max_length=40)
    found = models.DateTimeField(default=timezone.now)
    dismissed = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("likely duplicate")
        verbose_name_plural = _("likely duplicates")
        constraints = [
            models.UniqueConstraint(fields=["person_a", "person_b"], name="people_pair_once"),
            models.CheckConstraint(condition=Q(person_a__lt=models.F("person_b")), name="people_pair_ordered"),
        ]

    def __str__(self):
        return f"{self.person_a_id} ~ {self.person_b_id} ({self.reason})"


class Merge(models.Model):
    """One person merged into another: what moved, so that it can be undone within 30 days."""

    kept = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="merges")
    merged = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    # The kept person's values before the merge, and the ids of every row moved from `merged`.
    snapshot = models.JSONField(default=dict)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)
    undone = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        ordering = ["-created", "-pk"]

    def __str__(self):
        return f"{self.merged_id} into {self.kept_id}"
