"""Wagtail's page permissions kept in step with Relais roles.

Wagtail grants page permissions to groups. Two kinds of group are managed here and nowhere else:
"Site editors" (every page, image, document, form, redirect, translation and the site settings)
for whoever holds cms.edit_site organisation-wide, and one "Chapter pages: <slug>" group per
chapter page for whoever holds cms.publish_chapter_pages through a role on that chapter (the
group's permissions sit on the chapter's page in every language, so they cover the pages of the
chapters below it). Members hold no such group and cannot enter /cms/.
A user's groups are recomputed whenever their roles, a role's capabilities, or the chapter pages
change (the chapters' domain signals, connected in CmsConfig.ready()).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from wagtail.models import Collection, GroupCollectionPermission, GroupPagePermission, Page

from chapters.access import can, forget_grants, granted_at
from chapters.models import RoleAssignment
from cms.models import ChapterIndexPage, ChapterPage

SITE_EDITORS = "Site editors"
CHAPTER_PREFIX = "Chapter pages: "
ALL_CHAPTERS = "all"

EDITOR_PAGE_PERMISSIONS = ["add_page", "change_page", "publish_page", "bulk_delete_page", "lock_page", "unlock_page"]
CHAPTER_PAGE_PERMISSIONS = ["add_page", "change_page", "publish_page"]
EDITOR_MODEL_PERMISSIONS = [
    ("wagtailadmin", "access_admin"),
    ("cms", "change_organisationsettings"),
    ("cms", "view_signup"),
    ("wagtailredirects", "add_redirect"),
    ("wagtailredirects", "change_redirect"),
    ("wagtailredirects", "delete_redirect"),
    ("simple_translation", "submit_translation"),
]
CHAPTER_MODEL_PERMISSIONS = [("wagtailadmin", "access_admin")]
EDITOR_COLLECTION_PERMISSIONS = [
    ("wagtailimages", codename) for codename in ["add_image", "change_image", "choose_image", "delete_image"]
] + [
    ("wagtaildocs", codename) for codename in ["add_document", "change_document", "choose_document", "delete_document"]
]
CHAPTER_COLLECTION_PERMISSIONS = [
    ("wagtailimages", "add_image"),
    ("wagtailimages", "choose_image"),
    ("wagtaildocs", "add_document"),
    ("wagtaildocs", "choose_document"),
]


def _permissions(pairs):
    found = {
        (p.content_type.app_label, p.codename): p
        for p in Permission.objects.filter(codename__in=[codename for _app, codename in pairs]).select_related(
            "content_type"
        )
    }
    return [found[pair] for pair in pairs if pair in found]


def _page_permission(codename):
    return Permission.objects.get(content_type__app_label="wagtailcore", codename=codename)


def _group(name, *, pages, page_codenames, model_pairs, collection_pairs):
    group, created = Group.objects.get_or_create(name=name)
    group.permissions.set(_permissions(model_pairs))
    wanted = {(page.pk, _page_permission(codename).pk) for page in pages for codename in page_codenames}
    current = set(GroupPagePermission.objects.filter(group=group).values_list("page_id", "permission_id"))
    GroupPagePermission.objects.filter(group=group).exclude(
        pk__in=[p.pk for p in GroupPagePermission.objects.filter(group=group) if (p.page_id, p.permission_id) in wanted]
    ).delete()
    GroupPagePermission.objects.bulk_create(
        GroupPagePermission(group=group, page_id=page_id, permission_id=permission_id)
        for page_id, permission_id in wanted - current
    )
    root_collection = Collection.get_first_root_node()
    if root_collection is not None:
        for permission in _permissions(collection_pairs):
            GroupCollectionPermission.objects.get_or_create(
                group=group, collection=root_collection, permission=permission
            )
    return group


def site_editors_group():
    return _group(
        SITE_EDITORS,
        pages=[Page.get_first_root_node()],
        page_codenames=EDITOR_PAGE_PERMISSIONS,
        model_pairs=EDITOR_MODEL_PERMISSIONS,
        collection_pairs=EDITOR_COLLECTION_PERMISSIONS,
    )


def chapter_group(chapter):
    """The group whose members edit the chapter's page (in every language) and the pages below;
    for the national chapter, every chapter page (the chapter indexes)."""
    if chapter.is_root():
        name, pages = CHAPTER_PREFIX + ALL_CHAPTERS, list(ChapterIndexPage.objects.all())
    else:
        name, pages = CHAPTER_PREFIX + chapter.slug, list(ChapterPage.objects.filter(chapter=chapter))
    if not pages:
        return None
    return _group(
        name,
        pages=pages,
        page_codenames=CHAPTER_PAGE_PERMISSIONS,
        model_pairs=CHAPTER_MODEL_PERMISSIONS,
        collection_pairs=CHAPTER_COLLECTION_PERMISSIONS,
    )


def _managed(name):
    return name == SITE_EDITORS or name.startswith(CHAPTER_PREFIX)


@transaction.atomic
def sync_user(user):
    """Put the user in exactly the managed groups their roles call for."""
    forget_grants(user)
    wanted = []
    if user.is_active:
        if can(user, "cms.edit_site"):
            wanted.append(site_editors_group())
        for chapter in granted_at(user, "cms.publish_chapter_pages"):
            group = chapter_group(chapter)
            if group is not None:
                wanted.append(group)
    current = [group for group in user.groups.all() if _managed(group.name)]
    user.groups.remove(*[group for group in current if group not in wanted])
    user.groups.add(*[group for group in wanted if group not in current])
    return wanted


def sync_everyone():
    """After a role's capabilities changed, or for a schema that predates this."""
    User = get_user_model()
    holders = (
        User.objects.filter(pk__in=RoleAssignment.objects.values("user"))
        | User.objects.filter(groups__name=SITE_EDITORS)
        | User.objects.filter(groups__name__startswith=CHAPTER_PREFIX)
    )
    for user in holders.distinct():
        sync_user(user)


def sync_chapter(chapter):
    """A chapter page appeared or moved: its group, and the people whose roles lead to it."""
    chapter_group(chapter)
    users = get_user_model().objects.filter(
        pk__in=RoleAssignment.objects.filter(chapter__path__in=_ancestor_paths(chapter)).values("user")
    )
    for user in users:
        sync_user(user)


def _ancestor_paths(chapter):
    step = chapter.steplen
    return [chapter.path[:end] for end in range(step, len(chapter.path) + 1, step)]


def on_role_assigned(sender, user, chapter, **kwargs):
    sync_user(user)


on_role_revoked = on_role_assigned


def on_role_changed(sender, role, **kwargs):
    for assignment in RoleAssignment.objects.filter(role=role).select_related("user"):
        sync_user(assignment.user)


def on_chapter_created(sender, chapter, **kwargs):
    sync_chapter(chapter)
