"""Every write on chapters, memberships and roles.

Each service takes the acting user, checks what they may do with chapters.access.can, writes in
one transaction, records an audit entry, and sends its mail after commit. A refusal raises
NotAllowed (views turn it into a 404 for objects the actor may not know, a message otherwise);
an impossible request raises InvalidAction with a message for the person.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import services as account_services
from accounts.models import Invitation
from chapters import member_files, scope, signals
from chapters.access import can, can_anywhere, forget_grants, granted_at
from chapters.capabilities import CAPABILITIES
from chapters.models import (
    Announcement,
    AuditEntry,
    Chapter,
    ChapterInvitation,
    Document,
    Membership,
    Role,
    RoleAssignment,
)

NATIONAL_ORGANISER = "National organiser"


class NotAllowed(PermissionDenied):
    """The actor does not hold the capability this needs, here."""


class InvalidAction(ValidationError):
    """The request cannot be carried out as asked (the message says why)."""


def _require(actor, capability, chapter=None):
    if not can(actor, capability, chapter):
        raise NotAllowed(capability)


def _started(membership):
    """Tell the apps that keep people (the supporter base) that a membership became active."""
    signals.member_started.send(sender=Membership, user=membership.user, chapter=membership.chapter)


def _account_changed(user):
    signals.account_changed.send(sender=get_user_model(), user=user)


def audit(*, actor, action, subject=None, chapter=None, **details):
    return AuditEntry.objects.create(actor=actor, action=action, subject=subject, chapter=chapter, details=details)


# Organisation set-up ------------------------------------------------------------------------


def organisation_setup(*, name, founder):
    """The national chapter of a new organisation, its founder as national organiser and member.

    Called by provisioning, inside its transaction, in the new schema (the default roles come
    with the template's migrations).
    """
    national = Chapter.add_root(
        name=name, slug="national", kind=Chapter.Kind.NATIONAL, joining=Chapter.Joining.APPROVAL
    )
    RoleAssignment.objects.create(user=founder, role=Role.objects.get(name=NATIONAL_ORGANISER), chapter=national)
    _started(
        Membership.objects.create(
            user=founder, chapter=national, status=Membership.Status.ACTIVE, is_primary=True, started=timezone.now()
        )
    )
    audit(actor=founder, action="organisation.created", subject=founder, chapter=national)
    return national


# Chapters -------------------------------------------------------------------------------------


def chapter_create(*, actor, parent, name, slug, kind, description="", area="", public_contact="", joining=None):
    """A new chapter under `parent`. Needs chapters.manage_chapters on the parent."""
    _require(actor, "chapters.manage_chapters", parent)
    if parent.is_archived:
        raise InvalidAction(_("An archived chapter cannot receive new chapters."))
    with transaction.atomic():
        if Chapter.objects.filter(slug=slug).exists():
            raise InvalidAction(_("Another chapter already uses the address “%(slug)s”.") % {"slug": slug})
        chapter = parent.add_child(
            name=name,
            slug=slug,
            kind=kind,
            description=description,
            area=area,
            public_contact=public_contact,
            joining=joining or Chapter.Joining.APPROVAL,
        )
        audit(actor=actor, action="chapter.created", chapter=chapter, parent=parent.slug)
        signals.chapter_created.send(sender=Chapter, chapter=chapter, actor=actor)
    return chapter


CHAPTER_FIELDS = ("name", "description", "area", "public_contact", "joining", "kind")


def chapter_update(*, actor, chapter, **changes):
    """Rename or describe a chapter. Needs chapters.manage_chapters on it."""
    _require(actor, "chapters.manage_chapters", chapter)
    unknown = set(changes) - set(CHAPTER_FIELDS)
    if unknown:
        raise ValueError(f"Not editable here: {sorted(unknown)}")
    before = {field: getattr(chapter, field) for field in changes}
    with transaction.atomic():
        for field, value in changes.items():
            setattr(chapter, field, value)
        chapter.save(update_fields=list(changes))
        changed = {field: [before[field], value] for field, value in changes.items() if before[field] != value}
        audit(actor=actor, action="chapter.updated", chapter=chapter, changes=changed)
        signals.chapter_updated.send(sender=Chapter, chapter=chapter, actor=actor)
    return chapter


def chapter_move(*, actor, chapter, new_parent):
    """Move a chapter (and everything below it) under another. Needs chapters.manage_chapters on
    the chapter and on its new parent; a chapter cannot move below itself, nor can a root move."""
    _require(actor, "chapters.manage_chapters", chapter)
    _require(actor, "chapters.manage_chapters", new_parent)
    if chapter.is_root():
        raise InvalidAction(_("The national chapter cannot be moved."))
    if new_parent.pk == chapter.pk or new_parent.is_descendant_of(chapter):
        raise InvalidAction(_("A chapter cannot be moved below itself."))
    old_parent = chapter.get_parent()
    with transaction.atomic():
        chapter.move(new_parent, pos="sorted-child")
        chapter.refresh_from_db()
        audit(
            actor=actor, action="chapter.moved", chapter=chapter, old_parent=old_parent.slug, new_parent=new_parent.slug
        )
        signals.chapter_moved.send(sender=Chapter, chapter=chapter, actor=actor)
    return chapter


def chapter_archive(*, actor, chapter):
    """Archive a chapter and everything below it: nothing is deleted, nobody can join any more."""
    _require(actor, "chapters.manage_chapters", chapter)
    if chapter.is_root():
        raise InvalidAction(_("The national chapter cannot be archived."))
    now = timezone.now()
    with transaction.atomic():
        count = Chapter.objects.filter(path__startswith=chapter.path, archived__isnull=True).update(archived=now)
        audit(actor=actor, action="chapter.archived", chapter=chapter, chapters=count)
        chapter.refresh_from_db()
        signals.chapter_archived.send(sender=Chapter, chapter=chapter, actor=actor)
    return chapter


def chapter_unarchive(*, actor, chapter):
    _require(actor, "chapters.manage_chapters", chapter)
    parent = chapter.get_parent()
    if parent is not None and parent.is_archived:
        raise InvalidAction(_("Its parent chapter is archived: restore that one first."))
    with transaction.atomic():
        Chapter.objects.filter(path__startswith=chapter.path).update(archived=None)
        audit(actor=actor, action="chapter.unarchived", chapter=chapter)
        chapter.refresh_from_db()
        signals.chapter_unarchived.send(sender=Chapter, chapter=chapter, actor=actor)
    return chapter


# Memberships ------------------------------------------------------------------------------------


def _current(user, chapter):
    return Membership.objects.filter(user=user, chapter=chapter, status__in=Membership.CURRENT).first()


def _ensure_primary(user):
    active = Membership.objects.filter(user=user, status=Membership.Status.ACTIVE)
    if active.exists() and not active.filter(is_primary=True).exists():
        first = active.order_by("started", "pk").first()
        first.is_primary = True
        first.save(update_fields=["is_primary"])


def membership_request(*, user, chapter):
    """Ask to join: an open chapter accepts at once, one on approval waits for its coordinators,
    a closed one refuses. Returns the membership."""
    if chapter.is_archived:
        raise InvalidAction(_("This chapter is archived: it no longer takes members."))
    if chapter.joining == Chapter.Joining.CLOSED:
        raise InvalidAction(_("This chapter takes new members by invitation only."))
    with transaction.atomic():
        existing = _current(user, chapter)
        if existing is not None:
            return existing
        is_open = chapter.joining == Chapter.Joining.OPEN
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    user=user,
                    chapter=chapter,
                    status=Membership.Status.ACTIVE if is_open else Membership.Status.REQUESTED,
                    started=timezone.now() if is_open else None,
                )
        except IntegrityError:  # a second click in the same instant
            return _current(user, chapter)
        if is_open:
            _ensure_primary(user)
            _started(membership)
        audit(
            actor=user, action="membership.joined" if is_open else "membership.requested", subject=user, chapter=chapter
        )
    forget_grants(user)
    return membership


def _locked_request(membership):
    """The join request, locked; refused if someone answered it meanwhile."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.status != Membership.Status.REQUESTED:
        raise InvalidAction(_("This request has already been handled."))
    return membership


def membership_approve(*, actor, membership):
    """Accept a join request. Needs chapters.manage_members on the chapter; mails the member."""
    _require(actor, "chapters.manage_members", membership.chapter)
    with transaction.atomic():
        membership = _locked_request(membership)
        membership.status = Membership.Status.ACTIVE
        membership.started = timezone.now()
        membership.decided_by = actor
        membership.save(update_fields=["status", "started", "decided_by"])
        _ensure_primary(membership.user)
        _started(membership)
        audit(actor=actor, action="membership.approved", subject=membership.user, chapter=membership.chapter)
        _mail_on_commit(membership, "approved")
    return membership


def membership_refuse(*, actor, membership, reason=""):
    """Refuse a join request, with an optional reason sent to the person."""
    _require(actor, "chapters.manage_members", membership.chapter)
    with transaction.atomic():
        membership = _locked_request(membership)
        membership.status = Membership.Status.REFUSED
        membership.ended = timezone.now()
        membership.reason = reason
        membership.decided_by = actor
        membership.save(update_fields=["status", "ended", "reason", "decided_by"])
        audit(
            actor=actor, action="membership.refused", subject=membership.user, chapter=membership.chapter, reason=reason
        )
        _mail_on_commit(membership, "refused")
    return membership


def _end(membership, status, *, actor, reason=""):
    membership.status = status
    membership.ended = timezone.now()
    membership.reason = reason
    was_primary = membership.is_primary
    membership.is_primary = False
    membership.save(update_fields=["status", "ended", "reason", "is_primary"])
    if was_primary:
        _ensure_primary(membership.user)
    forget_grants(membership.user)
    signals.membership_ended.send(sender=Membership, user=membership.user, chapter=membership.chapter)


def membership_leave(*, user, membership):
    """The member leaves (or withdraws a request). History is kept."""
    if membership.user_id != user.pk or membership.status not in Membership.CURRENT:
        raise InvalidAction(_("You are not a member of this chapter."))
    with transaction.atomic():
        _end(membership, Membership.Status.LEFT, actor=user)
        audit(actor=user, action="membership.left", subject=user, chapter=membership.chapter)
    return membership


def membership_remove(*, actor, membership, reason):
    """A coordinator removes a member, saying why. Needs chapters.manage_members on the chapter."""
    _require(actor, "chapters.manage_members", membership.chapter)
    if not reason.strip():
        raise InvalidAction(_("Say why the member is removed."))
    if membership.status != Membership.Status.ACTIVE:
        raise InvalidAction(_("This person is not an active member."))
    with transaction.atomic():
        _end(membership, Membership.Status.REMOVED, actor=actor, reason=reason)
        audit(
            actor=actor, action="membership.removed", subject=membership.user, chapter=membership.chapter, reason=reason
        )
        _mail_on_commit(membership, "removed")
    return membership


def membership_transfer(*, actor, membership, to_chapter):
    """Move a member to another chapter, keeping the old membership as history. Needs
    chapters.manage_members on both chapters."""
    _require(actor, "chapters.manage_members", membership.chapter)
    _require(actor, "chapters.manage_members", to_chapter)
    if membership.status != Membership.Status.ACTIVE:
        raise InvalidAction(_("This person is not an active member."))
    if to_chapter.is_archived:
        raise InvalidAction(_("This chapter is archived: it no longer takes members."))
    if _current(membership.user, to_chapter) is not None:
        raise InvalidAction(_("This person is already a member of that chapter."))
    with transaction.atomic():
        was_primary = membership.is_primary
        membership.is_primary = False
        membership.status = Membership.Status.TRANSFERRED
        membership.ended = timezone.now()
        membership.save(update_fields=["is_primary", "status", "ended"])
        target = Membership.objects.create(
            user=membership.user,
            chapter=to_chapter,
            status=Membership.Status.ACTIVE,
            started=timezone.now(),
            is_primary=was_primary,
            decided_by=actor,
        )
        membership.transferred_to = target
        membership.save(update_fields=["transferred_to"])
        signals.membership_ended.send(sender=Membership, user=membership.user, chapter=membership.chapter)
        _ensure_primary(membership.user)
        _started(target)
        audit(
            actor=actor,
            action="membership.transferred",
            subject=membership.user,
            chapter=to_chapter,
            from_chapter=membership.chapter.slug,
        )
    forget_grants(membership.user)
    return target


def membership_set_primary(*, user, membership):
    if membership.user_id != user.pk or membership.status != Membership.Status.ACTIVE:
        raise InvalidAction(_("You are not a member of this chapter."))
    with transaction.atomic():
        Membership.objects.filter(user=user, is_primary=True).update(is_primary=False)
        membership.is_primary = True
        membership.save(update_fields=["is_primary"])
        audit(actor=user, action="membership.primary", subject=user, chapter=membership.chapter)
    return membership


def _mail_on_commit(membership, outcome):
    context = {"membership": membership, "chapter": membership.chapter, "outcome": outcome}

    def send():
        send_mail(
            subject=render_to_string("chapters/email/membership_subject.txt", context).strip(),
            message=render_to_string("chapters/email/membership_message.txt", context),
            from_email=None,
            recipient_list=[membership.user.email],
        )

    transaction.on_commit(send)


# Roles --------------------------------------------------------------------------------------------


def _check_capabilities(capabilities):
    unknown = sorted(set(capabilities) - set(CAPABILITIES))
    if unknown:
        raise InvalidAction(_("Unknown capabilities: %(names)s") % {"names": ", ".join(unknown)})


def role_save(*, actor, role=None, name, description="", capabilities):
    """Create or edit a role. Roles are organisation-wide, so this needs chapters.manage_roles on
    the whole organisation, and every capability added must be one the actor holds there."""
    _require(actor, "chapters.manage_roles")
    _check_capabilities(capabilities)
    added = set(capabilities) - set(role.capabilities if role else [])
    beyond = sorted(cap for cap in added if not can(actor, cap))
    if beyond:
        raise NotAllowed(beyond)
    with transaction.atomic():
        if Role.objects.filter(name__iexact=name).exclude(pk=getattr(role, "pk", None)).exists():
            raise InvalidAction(_("Another role is already called “%(name)s”.") % {"name": name})
        before = sorted(role.capabilities) if role else None
        role = role or Role()
        role.name, role.description, role.capabilities = name, description, sorted(set(capabilities))
        role.save()
        audit(actor=actor, action="role.saved", role=role.name, before=before, after=role.capabilities)
        signals.role_changed.send(sender=Role, role=role)
    return role


def role_assign(*, actor, user, role, chapter):
    """Give `user` the role on `chapter` (and below). The actor needs chapters.manage_roles there
    and must hold, there, every capability the role carries: nobody grants more than they have."""
    _require(actor, "chapters.manage_roles", chapter)
    beyond = sorted(cap for cap in role.capabilities if not can(actor, cap, chapter))
    if beyond:
        raise NotAllowed(beyond)
    if chapter.is_archived:
        raise InvalidAction(_("This chapter is archived."))
    with transaction.atomic():
        assignment, created = RoleAssignment.objects.get_or_create(
            user=user, role=role, chapter=chapter, defaults={"granted_by": actor}
        )
        if created:
            audit(actor=actor, action="role.assigned", subject=user, chapter=chapter, role=role.name)
            forget_grants(user)
            signals.role_assigned.send(sender=RoleAssignment, user=user, chapter=chapter)
    forget_grants(user)
    return assignment


def _is_last_national_organiser(user, only=None):
    """Whether taking `only` (or every role of `user`) away would leave nobody able to manage
    roles for the whole organisation. Locks those assignments while the caller decides."""
    organisers = RoleAssignment.objects.select_for_update().filter(
        role__capabilities__contains=["chapters.manage_roles"], chapter__depth=1, user__is_active=True
    )
    leaving = organisers.filter(pk=only.pk) if only is not None else organisers.filter(user=user)
    return leaving.exists() and not organisers.exclude(pk__in=leaving.values("pk")).exists()


def role_unassign(*, actor, assignment):
    """Take a role back. Same rule as giving it; the last national organiser cannot be removed."""
    _require(actor, "chapters.manage_roles", assignment.chapter)
    beyond = [cap for cap in assignment.role.capabilities if not can(actor, cap, assignment.chapter)]
    if beyond:
        raise NotAllowed(beyond)
    with transaction.atomic():
        if _is_last_national_organiser(assignment.user, only=assignment):
            raise InvalidAction(_("The organisation must keep at least one national organiser."))
        assignment.delete()
        signals.role_revoked.send(sender=RoleAssignment, user=assignment.user, chapter=assignment.chapter)
        audit(
            actor=actor,
            action="role.unassigned",
            subject=assignment.user,
            chapter=assignment.chapter,
            role=assignment.role.name,
        )
    forget_grants(assignment.user)


# Personal data -------------------------------------------------------------------------------------

PERSONAL_FIELDS = ("email", *get_user_model().PROFILE_FIELDS, "date_joined", "last_login")

# What other apps hold about a person: name -> (collect(user) -> JSON-ready data, erase(user)).
PERSONAL_DATA_HOLDERS = {}


def profile_update(*, user, form):
    """The member saves their profile (a ProfileForm bound to their account): the apps that keep a
    copy of their name and contacts (the supporter base) are told in the same transaction."""
    with transaction.atomic():
        user = form.save()
        _account_changed(user)
    return user


def register_personal_data(name, *, collect, erase):
    """An app that stores personal data adds it to the download and to the erasure. erase(user)
    runs after the account is anonymised; `user.former_email` is the address it had."""
    PERSONAL_DATA_HOLDERS[name] = (collect, erase)


def personal_data(user):
    """Everything held about the user in this organisation, as JSON-ready data."""
    from allauth.account.models import EmailAddress

    def when(value):
        return value.isoformat() if value else None

    profile = {field: getattr(user, field) for field in PERSONAL_FIELDS}
    profile["date_joined"], profile["last_login"] = when(user.date_joined), when(user.last_login)
    return {
        "format": "relais.personal-data.v1",
        "exported": timezone.now().isoformat(),
        "profile": profile,
        "email_addresses": list(EmailAddress.objects.filter(user=user).values("email", "verified", "primary")),
        "memberships": [
            {
                "chapter": m.chapter.name,
                "chapter_slug": m.chapter.slug,
                "status": m.status,
                "primary": m.is_primary,
                "requested": when(m.requested),
                "started": when(m.started),
                "ended": when(m.ended),
                "reason": m.reason,
            }
            for m in Membership.objects.filter(user=user).select_related("chapter").order_by("requested")
        ],
        "roles": [
            {"role": a.role.name, "chapter": a.chapter.name, "since": when(a.created)}
            for a in RoleAssignment.objects.filter(user=user).select_related("role", "chapter")
        ],
        "audit_log": [
            {
                "when": when(e.created),
                "action": e.action,
                "chapter": e.chapter.name if e.chapter else None,
                "by_me": e.actor_id == user.pk,
            }
            for e in AuditEntry.objects.filter(Q(actor=user) | Q(subject=user))
            .select_related("chapter")
            .order_by("created")
        ],
        **{name: collect(user) for name, (collect, _erase) in PERSONAL_DATA_HOLDERS.items()},
    }


def account_erase(*, user):
    """Erase the member: personal fields anonymised, memberships ended, roles and email addresses
    removed, sign-in impossible. What they wrote stays, attributed to "Former member"; the audit
    log records the erasure (without the erased data)."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator

    with transaction.atomic():
        user = get_user_model().objects.select_for_update().get(pk=user.pk)
        if _is_last_national_organiser(user):
            raise InvalidAction(
                _("You are the organisation's last national organiser: give that role to someone else first.")
            )
        for membership in Membership.objects.filter(user=user, status__in=Membership.CURRENT):
            _end(membership, Membership.Status.LEFT, actor=user, reason="account erased")
        RoleAssignment.objects.filter(user=user).delete()
        EmailAddress.objects.filter(user=user).delete()
        Authenticator.objects.filter(user=user).delete()
        user.former_email = user.email  # for holders that know people by address (the website's sign-ups)
        user.email = f"erased-{user.pk}@erased.invalid"
        user.full_name = ""
        user.phone = user.address = user.postcode = user.city = ""
        user.skills, user.interests = [], []
        user.visibility = user.Visibility.NOBODY
        user.show_email = user.show_phone = user.show_address = False
        user.is_active = False
        user.erased = timezone.now()
        user.set_unusable_password()
        user.save()
        for _collect, erase in PERSONAL_DATA_HOLDERS.values():
            erase(user)
        audit(actor=None, action="account.erased", subject=user)
    return user


def members_import(*, actor, rows):
    """Create or update the members of valid rows and make them active members of their chapter,
    in one transaction. Rows carry chapters the actor may import into (checked again here).
    Idempotent by email: importing the same rows again changes nothing.
    Returns counts: created, updated, unchanged, joined."""
    from allauth.account.models import EmailAddress

    User = get_user_model()
    counts = {"created": 0, "updated": 0, "unchanged": 0, "joined": 0}
    profile_fields = ("full_name", "phone", "postcode", "city", "skills", "interests")
    with transaction.atomic():
        for row in rows:
            values = row.values
            _require(actor, "chapters.export_members", values["chapter"])
            user = User.objects.filter(email=values["email"]).first()
            if user is None:
                user = User(email=values["email"])
                user.set_unusable_password()
                for name in profile_fields:
                    setattr(user, name, values[name])
                user.save()
                EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
                counts["created"] += 1
            else:
                changed = [name for name in profile_fields if values[name] and getattr(user, name) != values[name]]
                for name in changed:
                    setattr(user, name, values[name])
                if changed:
                    user.save(update_fields=changed)
                counts["updated" if changed else "unchanged"] += 1
            _account_changed(user)
            if not Membership.objects.filter(
                user=user, chapter=values["chapter"], status__in=Membership.CURRENT
            ).exists():
                membership = Membership.objects.create(
                    user=user,
                    chapter=values["chapter"],
                    status=Membership.Status.ACTIVE,
                    started=timezone.now(),
                    decided_by=actor,
                )
                _ensure_primary(user)
                _started(membership)
                counts["joined"] += 1
        chapters = sorted({row.values["chapter"].slug for row in rows})
        audit(actor=actor, action="members.imported", chapters=chapters, **counts)
    return counts


def members_export(*, actor, out):
    """Write to `out`, as CSV, the active members of the chapters where the actor holds
    chapters.export_members (and below), their contact columns only where the actor also holds
    chapters.view_contact_details. Audited ("members.exported"): which chapters, how many rows."""
    if not can_anywhere(actor, "chapters.export_members"):
        raise NotAllowed("chapters.export_members")
    memberships = (
        scope.within(Membership.objects.filter(status=Membership.Status.ACTIVE), actor, "chapters.export_members")
        .select_related("user", "chapter")
        .order_by("chapter__path", "user__full_name")
    )
    rows = member_files.write_members(
        out, memberships, shows_contact=lambda m: can(actor, "chapters.view_contact_details", m.chapter)
    )
    roots = list(granted_at(actor, "chapters.export_members").order_by("path"))
    # Filed under the chapter when there is one, so that its own audit readers see it too.
    where = roots[0] if len(roots) == 1 else None
    audit(actor=actor, action="members.exported", chapter=where, chapters=[c.slug for c in roots], rows=rows)
    return rows


# Chapter space ---------------------------------------------------------------------------------------

DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
DOCUMENT_EXTENSIONS = {
    "pdf", "txt", "csv", "md", "odt", "ods", "odp", "doc", "docx", "xls", "xlsx", "ppt", "pptx",
    "png", "jpg", "jpeg", "gif", "webp", "svg",
}  # fmt: skip
# What the first bytes of each kind of file must be: a file whose content is not what its name
# says (a web page named .pdf, a program named .png) is refused, whatever the name claims.
_ZIP = (b"PK\x03\x04",)
_OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
DOCUMENT_SIGNATURES = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "webp": (b"RIFF",),
    **dict.fromkeys(["docx", "xlsx", "pptx", "odt", "ods", "odp"], _ZIP),
    **dict.fromkeys(["doc", "xls", "ppt"], _OLE),
}
TEXT_EXTENSIONS = {"txt", "csv", "md", "svg"}


def _content_matches(extension, upload):
    upload.seek(0)
    head = upload.read(4096)
    upload.seek(0)
    if extension in TEXT_EXTENSIONS:
        if b"\x00" in head:
            return False
        if extension == "svg":
            return b"<svg" in head.lower()
        return True
    if extension == "webp" and head[8:12] != b"WEBP":
        return False
    return head.startswith(DOCUMENT_SIGNATURES[extension])


def announcement_post(*, actor, chapter, title, body, by_email=False, base_url=""):
    """Post news to a chapter. Needs chapters.post_announcements there. With `by_email`, the
    announcement_posted signal asks the mailings app to email it to the chapter's members who
    consented. Returns the announcement, with `notes`: what the receivers had to say of it."""
    _require(actor, "chapters.post_announcements", chapter)
    with transaction.atomic():
        announcement = Announcement.objects.create(chapter=chapter, author=actor, title=title, body=body)
        audit(actor=actor, action="announcement.posted", chapter=chapter, title=title)
        answers = signals.announcement_posted.send(
            sender=Announcement, announcement=announcement, actor=actor, by_email=by_email, base_url=base_url
        )
    announcement.notes = [str(answer) for _receiver, answer in answers if answer]
    return announcement


def announcement_delete(*, actor, announcement):
    _require(actor, "chapters.post_announcements", announcement.chapter)
    with transaction.atomic():
        announcement.delete()
        audit(actor=actor, action="announcement.deleted", chapter=announcement.chapter, title=announcement.title)


def document_share(*, actor, chapter, title, upload):
    """Store a file for a chapter's members, within the size and type limits. Needs
    chapters.share_documents there. The file lands under MEDIA_ROOT/<schema>/."""
    _require(actor, "chapters.share_documents", chapter)
    extension = upload.name.rsplit(".", 1)[-1].lower() if "." in upload.name else ""
    if extension not in DOCUMENT_EXTENSIONS:
        raise InvalidAction(
            _("Files of this type cannot be shared. Allowed: %(types)s.")
            % {"types": ", ".join(sorted(DOCUMENT_EXTENSIONS))}
        )
    if upload.size > DOCUMENT_MAX_BYTES:
        raise InvalidAction(_("The file is larger than 10 MB."))
    if not _content_matches(extension, upload):
        raise InvalidAction(
            _("This file's content is not a .%(extension)s file: it was not shared.") % {"extension": extension}
        )
    with transaction.atomic():
        document = Document(chapter=chapter, uploaded_by=actor, title=title or upload.name, size=upload.size)
        document.file.save(upload.name, upload, save=False)
        document.save()
        audit(actor=actor, action="document.shared", chapter=chapter, title=document.title)
    return document


def document_delete(*, actor, document):
    _require(actor, "chapters.share_documents", document.chapter)
    with transaction.atomic():
        document.delete()
        audit(actor=actor, action="document.deleted", chapter=document.chapter, title=document.title)
        transaction.on_commit(lambda: document.file.delete(save=False))


# Invitations ---------------------------------------------------------------------------------------


def invitations_send(*, actor, emails, chapter, build_url, organisation_name):
    """Invite people by email, into `chapter` when one is given (chapters.invite_members there;
    organisation-wide for an invitation into no chapter, which national organisers look after).
    People already in the organisation are added to the chapter at once.
    Returns (invitations sent, emails added to the chapter, emails already there or in the
    organisation)."""
    _require(actor, "chapters.invite_members", chapter)  # into no chapter: organisation-wide
    added, already = [], []
    with transaction.atomic():
        sent, existing = account_services.invitations_send(
            actor=actor, emails=emails, build_url=build_url, organisation_name=organisation_name
        )
        if chapter is not None:
            for invitation in sent:
                ChapterInvitation.objects.create(invitation=invitation, chapter=chapter)
            for user in get_user_model().objects.filter(email__in=existing, is_active=True):
                if _current(user, chapter) is None and not chapter.is_archived:
                    _started(
                        Membership.objects.create(
                            user=user,
                            chapter=chapter,
                            status=Membership.Status.ACTIVE,
                            started=timezone.now(),
                            decided_by=actor,
                        )
                    )
                    _ensure_primary(user)
                    audit(actor=actor, action="membership.added", subject=user, chapter=chapter)
                    added.append(user.email)
                else:
                    already.append(user.email)
        else:
            already = list(existing)
        signals.invitations_sent.send(
            sender=Invitation, emails=[invitation.email for invitation in sent], chapter=chapter, actor=actor
        )
        audit(actor=actor, action="invitations.sent", chapter=chapter, count=len(sent))
    return sent, added, already


def invitation_revoke(*, actor, invitation):
    """Revoke a pending invitation: its link stops working. Needs chapters.invite_members on the
    chapter it invites into (organisation-wide for an invitation into no chapter). Locks the
    invitation, so that it is not revoked while being accepted; audited ("invitation.revoked")."""
    target = ChapterInvitation.objects.filter(invitation=invitation).select_related("chapter").first()
    chapter = target.chapter if target else None
    _require(actor, "chapters.invite_members", chapter)
    with transaction.atomic():
        pending = Invitation.objects.select_for_update().filter(pk=invitation.pk, accepted__isnull=True).first()
        if pending is None:
            raise InvalidAction(_("This invitation was already used or revoked."))
        pending.delete()
        audit(actor=actor, action="invitation.revoked", chapter=chapter, email=invitation.email)


def invitation_accept(*, invitation, full_name, password):
    """Create the invited person's account and, if the invitation names a chapter, their
    membership of it, in one transaction."""
    with transaction.atomic():
        user = account_services.invitation_accept(invitation=invitation, full_name=full_name, password=password)
        _account_changed(user)
        target = ChapterInvitation.objects.filter(invitation=invitation).select_related("chapter").first()
        if target is not None and not target.chapter.is_archived:
            _started(
                Membership.objects.create(
                    user=user,
                    chapter=target.chapter,
                    status=Membership.Status.ACTIVE,
                    is_primary=True,
                    started=timezone.now(),
                    decided_by=invitation.invited_by,
                )
            )
        audit(actor=user, action="invitation.accepted", subject=user, chapter=target.chapter if target else None)
    return user
