"""How an organisation structures itself: chapters, memberships, roles and the audit log."""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node


class Chapter(MP_Node):
    """A node of the organisation's tree: national, region, department, local or thematic."""

    class Kind(models.TextChoices):
        NATIONAL = "national", _("National")
        REGION = "region", _("Region")
        DEPARTMENT = "department", _("Department")
        LOCAL = "local", _("Local chapter")
        THEMATIC = "thematic", _("Thematic chapter")

    class Joining(models.TextChoices):
        OPEN = "open", _("Open: anyone may join")
        APPROVAL = "approval", _("On approval by its coordinators")
        CLOSED = "closed", _("Closed: by invitation only")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.LOCAL)
    description = models.TextField(_("description"), blank=True)
    area = models.TextField(
        _("area"), blank=True, help_text=_("Postcodes or commune codes it covers, separated by commas or spaces.")
    )
    public_contact = models.CharField(_("public contact"), max_length=200, blank=True)
    joining = models.CharField(_("joining"), max_length=20, choices=Joining.choices, default=Joining.APPROVAL)
    archived = models.DateTimeField(_("archived"), null=True, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    node_order_by = ["name"]

    class Meta:
        verbose_name = _("chapter")
        verbose_name_plural = _("chapters")

    def __str__(self):
        return self.name

    @property
    def is_archived(self):
        return self.archived is not None


class Membership(models.Model):
    """A person in a chapter. Rows are never deleted: an ended membership is history."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        ACTIVE = "active", _("Active")
        REFUSED = "refused", _("Refused")
        LEFT = "left", _("Left")
        REMOVED = "removed", _("Removed")
        TRANSFERRED = "transferred", _("Transferred")

    CURRENT = (Status.REQUESTED, Status.ACTIVE)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships")
    chapter = models.ForeignKey(Chapter, on_delete=models.PROTECT, related_name="memberships")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.REQUESTED)
    is_primary = models.BooleanField(_("primary chapter"), default=False)
    requested = models.DateTimeField(_("requested"), auto_now_add=True)
    started = models.DateTimeField(_("started"), null=True, blank=True)
    ended = models.DateTimeField(_("ended"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    transferred_to = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="transferred_from"
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["-requested"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "chapter"],
                condition=Q(status__in=["requested", "active"]),
                name="one_current_membership_per_chapter",
            ),
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_primary=True, status="active"), name="one_primary_chapter"
            ),
        ]
        indexes = [
            models.Index(fields=["chapter", "status"]),
            # "Who is in these chapters" answered from the index alone (directory, permissions).
            models.Index(fields=["chapter", "user"], condition=Q(status="active"), name="active_members_by_chapter"),
        ]

    def __str__(self):
        return f"{self.user} · {self.chapter} ({self.get_status_display()})"


class Role(models.Model):
    """A named set of capabilities, defined by the organisation."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    description = models.TextField(_("description"), blank=True)
    capabilities = ArrayField(
        models.CharField(max_length=100), default=list, blank=True, verbose_name=_("capabilities")
    )
    # The capabilities of the members role apply to every active member, on their own chapters.
    is_members_role = models.BooleanField(_("applies to every member"), default=False)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_members_role"], condition=Q(is_members_role=True), name="one_members_role"
            )
        ]

    def __str__(self):
        return self.name


class RoleAssignment(models.Model):
    """A role held on a chapter: its capabilities apply there and on every chapter below it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="assignments")
    chapter = models.ForeignKey(Chapter, on_delete=models.PROTECT, related_name="role_assignments")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [models.UniqueConstraint(fields=["user", "role", "chapter"], name="one_assignment_per_role")]

    def __str__(self):
        return f"{self.user} · {self.role} · {self.chapter}"


class AuditEntry(models.Model):
    """Who did what, when, to whom. Written by the services, never edited."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(_("action"), max_length=60)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    chapter = models.ForeignKey(Chapter, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    details = models.JSONField(_("details"), default=dict, blank=True)
    created = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created", "-pk"]

    def __str__(self):
        return f"{self.created:%Y-%m-%d %H:%M} {self.action}"


def document_path(document, filename):
    # TenantFileSystemStorage puts this under MEDIA_ROOT/<schema>/.
    return f"chapters/{document.chapter_id}/{uuid.uuid4().hex}/{filename}"


class Announcement(models.Model):
    """News posted to a chapter's members. Markdown, rendered and sanitised on display."""

    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="announcements")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), help_text=_("Markdown: **bold**, *italic*, [link](https://…), lists."))
    created = models.DateTimeField(_("posted"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")
        ordering = ["-created", "-pk"]

    def __str__(self):
        return self.title


class Document(models.Model):
    """A file shared with a chapter's members; downloaded through a view that checks access."""

    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="documents")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    title = models.CharField(_("title"), max_length=200)
    file = models.FileField(_("file"), upload_to=document_path, max_length=300)
    size = models.PositiveBigIntegerField(_("size"))
    created = models.DateTimeField(_("shared"), auto_now_add=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-created", "-pk"]

    def __str__(self):
        return self.title

    @property
    def filename(self):
        return self.file.name.rsplit("/", 1)[-1]


class ChapterInvitation(models.Model):
    """The chapter an invitation brings its guest into, once they create their account."""

    invitation = models.OneToOneField(
        "accounts.Invitation", on_delete=models.CASCADE, related_name="chapter_invitation"
    )
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("chapter invitation")
        verbose_name_plural = _("chapter invitations")

    def __str__(self):
        return f"{self.invitation} → {self.chapter}"
