"""The member web app (/app/): dashboard, chapters, their coordination, roles, audit log."""

import copy

from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services as account_services
from accounts.forms import InvitationAcceptForm, ProfileForm
from accounts.models import Invitation
from chapters import member_files, panels, selectors, services
from chapters.access import can, can_anywhere, chapters_where, get_chapter_for, require
from chapters.capabilities import CAPABILITIES
from chapters.forms import (
    AnnouncementForm,
    AssignmentForm,
    ChapterForm,
    ChapterInvitationForm,
    DocumentForm,
    EraseForm,
    ImportForm,
    MoveForm,
    OptionalReasonForm,
    ReasonForm,
    RoleForm,
    TransferForm,
    offer,
)
from chapters.markdown import render_markdown
from chapters.models import Announcement, Chapter, Document, Membership, Role, RoleAssignment
from chapters.scope import get_within
from tenancy.responses import serve_as_file


def _refusal(request, error):
    """Turn a service's refusal into a message for the person."""
    if isinstance(error, services.InvalidAction):
        messages.error(request, " ".join(error.messages))
    else:
        messages.error(request, _("You cannot do this here."))


@login_required
def home(request):
    """The member's home: their chapters, their pending requests, what they can do."""
    user = request.user
    memberships = list(selectors.memberships_of(user))
    waiting = selectors.pending_requests_where(chapters_where(user, "chapters.manage_members"))
    readable = [m.chapter for m in memberships if can(user, "chapters.read_chapter_space", m.chapter)]
    news = list(Announcement.objects.filter(chapter__in=readable).select_related("chapter", "author")[:5])
    for announcement in news:
        announcement.html = render_markdown(announcement.body)
    return render(
        request,
        "chapters/home.html",
        {
            "active": [m for m in memberships if m.status == Membership.Status.ACTIVE],
            "news": news,
            "recent_documents": Document.objects.filter(chapter__in=readable).select_related("chapter")[:5],
            "requested": [m for m in memberships if m.status == Membership.Status.REQUESTED],
            "waiting_count": waiting.count(),
            "can_invite": can_anywhere(user, "chapters.invite_members"),
            "can_manage_roles": can_anywhere(user, "chapters.manage_roles"),
            "can_read_audit": can_anywhere(user, "chapters.view_audit_log"),
            "can_export": can_anywhere(user, "chapters.export_members"),
            "panels": panels.rendered(request),
        },
    )


# Chapters ----------------------------------------------------------------------------------------


@login_required
def chapter_list(request):
    show_archived = request.GET.get("archived") == "1" and can_anywhere(request.user, "chapters.manage_chapters")
    mine = dict(
        Membership.objects.filter(user=request.user, status__in=Membership.CURRENT).values_list("chapter_id", "status")
    )
    chapters = list(selectors.chapter_tree(include_archived=show_archived))
    for chapter in chapters:
        chapter.my_status = mine.get(chapter.pk)
    return render(
        request,
        "chapters/chapter_list.html",
        {
            "chapters": chapters,
            "show_archived": show_archived,
            "can_manage_chapters": can_anywhere(request.user, "chapters.manage_chapters"),
        },
    )


@login_required
def chapter_detail(request, slug):
    user = request.user
    chapter = get_chapter_for(user, slug, chapters=selectors.with_membership_of(user))
    # Only shown: what the template reads of the viewer's membership, read with the chapter.
    membership = (
        Membership(status=chapter.viewer_status, is_primary=chapter.viewer_primary) if chapter.viewer_status else None
    )
    ancestors, children = selectors.around(chapter)
    can_view_members = can(user, "chapters.view_members", chapter)
    members = (
        Paginator(selectors.members_of(chapter), 50).get_page(request.GET.get("page")) if can_view_members else None
    )
    reads_space = can(user, "chapters.read_chapter_space", chapter)
    announcements = list(chapter.announcements.select_related("author")[:20]) if reads_space else []
    for announcement in announcements:
        announcement.html = render_markdown(announcement.body)
    return render(
        request,
        "chapters/chapter_detail.html",
        {
            "chapter": chapter,
            "reads_space": reads_space,
            "announcements": announcements,
            "documents": chapter.documents.select_related("uploaded_by")[:50] if reads_space else [],
            "can_post": can(user, "chapters.post_announcements", chapter),
            "can_share": can(user, "chapters.share_documents", chapter),
            "announcement_form": AnnouncementForm(),
            "document_form": DocumentForm(),
            "ancestors": ancestors,
            "children": children,
            "membership": membership,
            "members": members,
            "can_manage": can(user, "chapters.manage_members", chapter)
            or can(user, "chapters.manage_chapters", chapter),
        },
    )


@login_required
@require_POST
def chapter_join(request, slug):
    chapter = get_chapter_for(request.user, slug)
    try:
        membership = services.membership_request(user=request.user, chapter=chapter)
    except services.InvalidAction as error:
        _refusal(request, error)
    else:
        if membership.status == Membership.Status.ACTIVE:
            messages.success(request, _("You are now a member of %(chapter)s.") % {"chapter": chapter.name})
        else:
            messages.success(
                request, _("Your request was sent to the coordinators of %(chapter)s.") % {"chapter": chapter.name}
            )
    return redirect("chapter_detail", slug=chapter.slug)


@login_required
@require_POST
def chapter_leave(request, slug):
    chapter = get_chapter_for(request.user, slug)
    membership = get_object_or_404(Membership, user=request.user, chapter=chapter, status__in=Membership.CURRENT)
    services.membership_leave(user=request.user, membership=membership)
    messages.success(request, _("You left %(chapter)s.") % {"chapter": chapter.name})
    return redirect("chapter_detail", slug=chapter.slug)


@login_required
@require_POST
def chapter_make_primary(request, slug):
    chapter = get_chapter_for(request.user, slug)
    membership = get_object_or_404(Membership, user=request.user, chapter=chapter, status=Membership.Status.ACTIVE)
    services.membership_set_primary(user=request.user, membership=membership)
    messages.success(request, _("%(chapter)s is now your main chapter.") % {"chapter": chapter.name})
    return redirect("app_home")


@login_required
@require_http_methods(["GET", "POST"])
def chapter_create(request):
    parent = get_chapter_for(request.user, request.GET.get("parent", ""), "chapters.manage_chapters")
    form = ChapterForm(request.POST or None, initial={"kind": Chapter.Kind.LOCAL})
    if request.method == "POST" and form.is_valid():
        try:
            chapter = services.chapter_create(actor=request.user, parent=parent, **form.cleaned_data)
        except (services.InvalidAction, services.NotAllowed) as error:
            _refusal(request, error)
        else:
            messages.success(request, _("The chapter %(chapter)s was created.") % {"chapter": chapter.name})
            return redirect("chapter_detail", slug=chapter.slug)
    return render(request, "chapters/chapter_form.html", {"form": form, "parent": parent})


@login_required
@require_http_methods(["GET", "POST"])
def chapter_manage(request, slug):
    """The coordinator area: requests, members, settings, structure."""
    chapter = get_chapter_for(request.user, slug)
    user = request.user
    manages_members = can(user, "chapters.manage_members", chapter)
    manages_chapter = can(user, "chapters.manage_chapters", chapter)
    if not (manages_members or manages_chapter):
        raise Http404
    # The form edits a copy: chapter_update compares the new values with the chapter as it was.
    form = ChapterForm(request.POST or None, instance=copy.copy(chapter), editing=True)
    if request.method == "POST":
        if not manages_chapter:
            raise Http404
        if form.is_valid():
            changes = {field: form.cleaned_data[field] for field in services.CHAPTER_FIELDS}
            services.chapter_update(actor=user, chapter=chapter, **changes)
            messages.success(request, _("The chapter's settings were saved."))
            return redirect("chapter_manage", slug=chapter.slug)
    manageable = Chapter.objects.filter(chapters_where(user, "chapters.manage_members")).order_by("path")
    movable_to = Chapter.objects.filter(chapters_where(user, "chapters.manage_chapters")).order_by("path")
    return render(
        request,
        "chapters/chapter_manage.html",
        {
            "chapter": chapter,
            "form": form if manages_chapter else None,
            "move_form": MoveForm(chapter=chapter, choices=movable_to) if manages_chapter else None,
            "requests": selectors.requests_for(chapter) if manages_members else [],
            "members": (
                Paginator(selectors.members_of(chapter), 50).get_page(request.GET.get("page"))
                if manages_members
                else None
            ),
            "transfer_choices": manageable.exclude(pk=chapter.pk).filter(archived__isnull=True),
            "manages_members": manages_members,
            "manages_chapter": manages_chapter,
            "manages_roles": can(user, "chapters.manage_roles", chapter),
        },
    )


def _membership_for(request, slug, pk, status):
    chapter = get_chapter_for(request.user, slug, "chapters.manage_members")
    return get_object_or_404(
        Membership.objects.select_related("user", "chapter"), pk=pk, chapter=chapter, status=status
    )


@login_required
@require_POST
def membership_approve(request, slug, pk):
    membership = _membership_for(request, slug, pk, Membership.Status.REQUESTED)
    try:
        services.membership_approve(actor=request.user, membership=membership)
    except (services.InvalidAction, services.NotAllowed) as error:
        _refusal(request, error)
    else:
        messages.success(request, _("%(person)s is now a member.") % {"person": membership.user})
    return redirect("chapter_manage", slug=slug)


@login_required
@require_POST
def membership_refuse(request, slug, pk):
    membership = _membership_for(request, slug, pk, Membership.Status.REQUESTED)
    form = OptionalReasonForm(request.POST)
    if form.is_valid():
        services.membership_refuse(actor=request.user, membership=membership, reason=form.cleaned_data["reason"])
        messages.success(request, _("The request of %(person)s was refused.") % {"person": membership.user})
    else:
        messages.error(request, _("The reason is too long."))
    return redirect("chapter_manage", slug=slug)


@login_required
@require_POST
def membership_remove(request, slug, pk):
    membership = _membership_for(request, slug, pk, Membership.Status.ACTIVE)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the member is removed."))
        return redirect("chapter_manage", slug=slug)
    services.membership_remove(actor=request.user, membership=membership, reason=form.cleaned_data["reason"])
    messages.success(request, _("%(person)s was removed from the chapter.") % {"person": membership.user})
    return redirect("chapter_manage", slug=slug)


@login_required
@require_POST
def membership_transfer(request, slug, pk):
    membership = _membership_for(request, slug, pk, Membership.Status.ACTIVE)
    manageable = Chapter.objects.filter(chapters_where(request.user, "chapters.manage_members"))
    form = TransferForm(request.POST, choices=manageable)
    if not form.is_valid():
        messages.error(request, _("Choose a chapter you coordinate."))
        return redirect("chapter_manage", slug=slug)
    target = form.cleaned_data["to_chapter"]
    try:
        services.membership_transfer(actor=request.user, membership=membership, to_chapter=target)
    except (services.InvalidAction, services.NotAllowed) as error:
        _refusal(request, error)
    else:
        messages.success(
            request, _("%(person)s was transferred to %(chapter)s.") % {"person": membership.user, "chapter": target}
        )
    return redirect("chapter_manage", slug=slug)


@login_required
@require_POST
def chapter_move(request, slug):
    chapter = get_chapter_for(request.user, slug, "chapters.manage_chapters")
    choices = Chapter.objects.filter(chapters_where(request.user, "chapters.manage_chapters"))
    form = MoveForm(request.POST, chapter=chapter, choices=choices)
    if not form.is_valid():
        messages.error(request, _("Choose a chapter you manage, outside this one."))
        return redirect("chapter_manage", slug=slug)
    try:
        services.chapter_move(actor=request.user, chapter=chapter, new_parent=form.cleaned_data["parent"])
    except (services.InvalidAction, services.NotAllowed) as error:
        _refusal(request, error)
    else:
        messages.success(request, _("The chapter was moved."))
    return redirect("chapter_manage", slug=slug)


@login_required
@require_POST
def chapter_archive(request, slug):
    chapter = get_chapter_for(request.user, slug, "chapters.manage_chapters")
    try:
        if chapter.is_archived:
            services.chapter_unarchive(actor=request.user, chapter=chapter)
            messages.success(request, _("The chapter is active again."))
        else:
            services.chapter_archive(actor=request.user, chapter=chapter)
            messages.success(request, _("The chapter and those below it are archived. Nothing was deleted."))
    except (services.InvalidAction, services.NotAllowed) as error:
        _refusal(request, error)
    return redirect("chapter_manage", slug=slug)


# Roles ---------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def roles(request):
    user = request.user
    if not can_anywhere(user, "chapters.manage_roles"):
        raise Http404
    scope = chapters_where(user, "chapters.manage_roles")
    form = AssignmentForm(request.POST or None, chapters=Chapter.objects.filter(scope).order_by("path"))
    if request.method == "POST" and form.is_valid():
        try:
            services.role_assign(
                actor=user, user=form.user, role=form.cleaned_data["role"], chapter=form.cleaned_data["chapter"]
            )
        except services.NotAllowed:
            form.add_error("role", _("You can only give a role whose capabilities you hold on that chapter."))
        except services.InvalidAction as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The role was given."))
            return redirect("roles")
    assignments = Paginator(selectors.assignments_where(scope), 50).get_page(request.GET.get("page"))
    all_roles = list(Role.objects.all())
    for role in all_roles:
        role.labels = [CAPABILITIES.get(capability, capability) for capability in role.capabilities]
    offer(form.fields["role"], [role for role in all_roles if not role.is_members_role])
    return render(
        request,
        "chapters/roles.html",
        {
            "roles": all_roles,
            "assignments": assignments,
            "form": form,
            "can_edit_roles": can(user, "chapters.manage_roles"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def role_edit(request, pk=None):
    require(request.user, "chapters.manage_roles")
    role = get_object_or_404(Role, pk=pk) if pk else None
    form = RoleForm(request.POST or None, instance=role)
    if request.method == "POST" and form.is_valid():
        try:
            services.role_save(
                actor=request.user,
                role=role,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                capabilities=form.cleaned_data["capabilities"],
            )
        except services.NotAllowed:
            form.add_error("capabilities", _("You can only add capabilities you hold yourself."))
        except services.InvalidAction as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The role was saved."))
            return redirect("roles")
    return render(request, "chapters/role_form.html", {"form": form, "role": role})


@login_required
@require_POST
def assignment_delete(request, pk):
    assignment = get_object_or_404(RoleAssignment.objects.select_related("role", "chapter", "user"), pk=pk)
    require(request.user, "chapters.manage_roles", assignment.chapter)
    try:
        services.role_unassign(actor=request.user, assignment=assignment)
    except (services.InvalidAction, services.NotAllowed) as error:
        _refusal(request, error)
    else:
        messages.success(request, _("The role was taken back."))
    return redirect("roles")


@login_required
def audit_log(request):
    user = request.user
    if can(user, "chapters.view_audit_log"):
        entries = selectors.audit_entries()
    elif can_anywhere(user, "chapters.view_audit_log"):
        entries = selectors.audit_entries(condition=chapters_where(user, "chapters.view_audit_log"))
    else:
        raise Http404
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "chapters/audit_log.html", {"page": page})


# Invitations ------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def invitations(request):
    user = request.user
    if not can_anywhere(user, "chapters.invite_members"):
        raise Http404
    reachable = Chapter.objects.filter(chapters_where(user, "chapters.invite_members"), archived__isnull=True)
    form = ChapterInvitationForm(
        request.POST or None,
        chapters=reachable.order_by("path"),
        organisation_wide=can(user, "chapters.invite_members"),
    )
    if request.method == "POST" and form.is_valid():
        sent, added, already = services.invitations_send(
            actor=user,
            emails=form.cleaned_data["emails"],
            chapter=form.cleaned_data["chapter"],
            build_url=lambda token: request.build_absolute_uri(reverse("invitation_accept", args=[token])),
            organisation_name=request.tenant.name,
        )
        if sent:
            messages.success(request, _("%(count)d invitation(s) sent.") % {"count": len(sent)})
        if added:
            messages.success(request, _("Added to the chapter: %(emails)s") % {"emails": ", ".join(added)})
        if already:
            messages.info(request, _("Already members, not invited: %(emails)s") % {"emails": ", ".join(already)})
        return redirect("invitations")
    page = Paginator(selectors.pending_invitations_for(user), 25).get_page(request.GET.get("page"))
    return render(request, "chapters/invitations.html", {"form": form, "page": page, "now": timezone.now()})


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    """An invited person creates their account (and joins the chapter the invitation names)."""
    invitation = Invitation.objects.filter(token=token).first()
    if invitation is None or not invitation.is_usable:
        return render(request, "accounts/invitation_unusable.html", status=404)
    if get_user_model().objects.filter(email=invitation.email).exists():
        messages.info(request, _("You already have an account here: please sign in."))
        return redirect("account_login")
    form = InvitationAcceptForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(
                invitation=invitation, full_name=form.cleaned_data["full_name"], password=form.cleaned_data["password1"]
            )
        except account_services.InvitationUnusable:
            return render(request, "accounts/invitation_unusable.html", status=404)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome! Your account is ready."))
        return redirect("app_home")
    return render(request, "accounts/invitation_accept.html", {"form": form, "invitation": invitation})


@login_required
@require_POST
def invitation_revoke(request, pk):
    invitation = get_within(selectors.pending_invitations(), request.user, "chapters.invite_members", pk=pk)
    try:
        services.invitation_revoke(actor=request.user, invitation=invitation)
    except (services.InvalidAction, services.NotAllowed) as error:
        _refusal(request, error)
    else:
        messages.success(request, _("The invitation to %(email)s was revoked.") % {"email": invitation.email})
    return redirect("invitations")


# Directory and personal data ---------------------------------------------------------------------


def _indented(chapter):
    chapter.indent = "\u2003" * (chapter.depth - 1)
    return chapter


def _search_term(request, name):
    """A search parameter without NUL characters: PostgreSQL cannot compare them (a DataError),
    and no name, skill or address holds one."""
    return request.GET.get(name, "").replace("\x00", "")


@login_required
def directory(request):
    viewer = request.user
    chapter_slug = _search_term(request, "chapter")
    chapters = list(selectors.chapter_tree())  # the filter's choices; the chosen one is usually among them
    chapter = next((c for c in chapters if c.slug == chapter_slug), None) if chapter_slug else None
    if chapter_slug and chapter is None:  # an archived chapter, or none
        chapter = Chapter.objects.filter(slug=chapter_slug).first()
    members = selectors.directory_for(
        viewer,
        query=request.GET.get("q", "")[:200],
        chapter=chapter,
        skill=_search_term(request, "skill")[:50],
        interest=_search_term(request, "interest")[:50],
    )
    page = selectors.directory_paginator(members, request.GET.get("q", "")).get_page(request.GET.get("page"))
    full_view = selectors.contact_visible_ids(viewer, [member.pk for member in page.object_list])
    for member in page.object_list:
        sees_all = member.pk in full_view
        member.shown_email = member.email if sees_all or member.show_email else ""
        member.shown_phone = member.phone if sees_all or member.show_phone else ""
        member.shown_address = (
            " ".join(filter(None, [member.address, member.postcode, member.city]))
            if sees_all or member.show_address
            else member.city
        )
    return render(
        request,
        "chapters/directory.html",
        {
            "page": page,
            "chapters": [_indented(c) for c in chapters],
            "selected_chapter": chapter_slug,
            "query": request.GET.get("q", ""),
            "skill": request.GET.get("skill", ""),
            "interest": request.GET.get("interest", ""),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.profile_update(user=request.user, form=form)
        messages.success(request, _("Your profile was saved."))
        return redirect("profile")
    return render(request, "chapters/profile.html", {"form": form})


@login_required
def personal_data(request):
    data = services.personal_data(request.user)
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def erase_account(request):
    form = EraseForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.account_erase(user=request.user)
        except services.InvalidAction as error:
            form.add_error(None, error)
            return render(request, "chapters/erase.html", {"form": form})
        logout(request)
        messages.success(request, _("Your account was erased. Thank you for what you did with us."))
        return redirect("account_login")
    return render(request, "chapters/erase.html", {"form": form})


# Members to and from spreadsheets -----------------------------------------------------------------


@login_required
def members_export(request):
    """CSV of the members of the chapters where the user may export them (see the service)."""
    if not can_anywhere(request.user, "chapters.export_members"):
        raise Http404
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="members.csv"'
    services.members_export(actor=request.user, out=response)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def members_import(request):
    user = request.user
    if not can_anywhere(user, "chapters.export_members"):
        raise Http404
    allowed = Chapter.objects.filter(chapters_where(user, "chapters.export_members"), archived__isnull=True).order_by(
        "path"
    )
    form = ImportForm(request.POST or None, request.FILES or None, chapters=allowed)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            rows = member_files.read_rows(form.cleaned_data["file"])
        except member_files.UnreadableFile as error:
            form.add_error("file", str(error))
        else:
            by_slug = {chapter.slug: chapter for chapter in allowed}
            seen = set()
            for row in rows:
                member_files.clean_row(row, by_slug, form.cleaned_data["chapter"])
                if row.values["email"] in seen and not row.errors:
                    row.errors.append(_("This email address is already on an earlier line."))
                seen.add(row.values["email"])
            valid = [row for row in rows if not row.errors]
            counts = services.members_import(actor=user, rows=valid) if valid else {}
            report = {"counts": counts, "rejected": [row for row in rows if row.errors], "total": len(rows)}
    return render(
        request, "chapters/members_import.html", {"form": form, "report": report, "columns": member_files.COLUMNS}
    )


# Chapter space ------------------------------------------------------------------------------------


@login_required
@require_POST
def announcement_post(request, slug):
    chapter = get_chapter_for(request.user, slug, "chapters.post_announcements")
    form = AnnouncementForm(request.POST)
    if form.is_valid():
        announcement = services.announcement_post(
            actor=request.user, chapter=chapter, base_url=request.build_absolute_uri("/"), **form.cleaned_data
        )
        messages.success(request, " ".join([str(_("The announcement was posted.")), *announcement.notes]))
    else:
        messages.error(request, _("An announcement needs a title and a text (at most 20,000 characters)."))
    return redirect("chapter_detail", slug=slug)


@login_required
@require_POST
def announcement_delete(request, slug, pk):
    chapter = get_chapter_for(request.user, slug, "chapters.post_announcements")
    announcement = get_object_or_404(chapter.announcements, pk=pk)
    services.announcement_delete(actor=request.user, announcement=announcement)
    messages.success(request, _("The announcement was deleted."))
    return redirect("chapter_detail", slug=slug)


@login_required
@require_POST
def document_share(request, slug):
    chapter = get_chapter_for(request.user, slug, "chapters.share_documents")
    form = DocumentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
        return redirect("chapter_detail", slug=slug)
    try:
        services.document_share(
            actor=request.user, chapter=chapter, title=form.cleaned_data["title"], upload=form.cleaned_data["file"]
        )
    except services.InvalidAction as error:
        _refusal(request, error)
    else:
        messages.success(request, _("The document was shared."))
    return redirect("chapter_detail", slug=slug)


@login_required
def document_download(request, slug, pk):
    chapter = get_chapter_for(request.user, slug, "chapters.read_chapter_space")
    document = get_object_or_404(chapter.documents, pk=pk)
    try:
        handle = document.file.open("rb")
    except FileNotFoundError as error:
        raise Http404 from error
    return serve_as_file(FileResponse(handle, as_attachment=True, filename=document.filename))


@login_required
@require_POST
def document_delete(request, slug, pk):
    chapter = get_chapter_for(request.user, slug, "chapters.share_documents")
    document = get_object_or_404(chapter.documents, pk=pk)
    services.document_delete(actor=request.user, document=document)
    messages.success(request, _("The document was deleted."))
    return redirect("chapter_detail", slug=slug)
