from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _starter_site(sender, using, **kwargs):
    """After a tenant schema's migrations (the template's included): a working site if it has none."""
    from django.db import connections
    from django_tenants.utils import get_public_schema_name

    connection = connections[using]
    if getattr(connection, "schema_name", None) in (None, get_public_schema_name()):
        return
    from cms import services

    services.starter_site_ensure()


def _purge(sender=None, **kwargs):
    from cms import cache

    cache.purge()


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = _("Campaign website")

    def ready(self):
        from wagtail.signals import page_published, page_unpublished, post_page_move

        from chapters import signals
        from chapters.capabilities import register
        from chapters.services import register_personal_data
        from cms import permissions, services, sync
        from people import signals as people_signals
        from tenancy.signals import organisation_provisioned

        register("cms.edit_site", _("Edit and publish the whole campaign website"), administrative=True)
        register("cms.publish_chapter_pages", _("Edit and publish the chapter's pages on the campaign website"))

        # The page first, then the group whose permissions sit on it.
        signals.chapter_created.connect(sync.on_chapter_created, dispatch_uid="cms.page_create")
        signals.chapter_created.connect(permissions.on_chapter_created, dispatch_uid="cms.group_create")
        signals.chapter_updated.connect(sync.on_chapter_updated, dispatch_uid="cms.page_update")
        signals.chapter_moved.connect(sync.on_chapter_moved, dispatch_uid="cms.page_move")
        signals.chapter_archived.connect(sync.on_chapter_archived, dispatch_uid="cms.pages_archive")
        signals.chapter_unarchived.connect(sync.on_chapter_unarchived, dispatch_uid="cms.pages_unarchive")
        signals.coming_events_changed.connect(_purge, dispatch_uid="cms.purge.coming_events")
        signals.role_assigned.connect(permissions.on_role_assigned, dispatch_uid="cms.role_assigned")
        signals.role_revoked.connect(permissions.on_role_revoked, dispatch_uid="cms.role_revoked")
        signals.role_changed.connect(permissions.on_role_changed, dispatch_uid="cms.role_changed")
        organisation_provisioned.connect(services.on_organisation_provisioned, dispatch_uid="cms.site_setup")

        for signal in (page_published, page_unpublished, post_page_move):
            signal.connect(_purge, dispatch_uid=f"cms.purge.{id(signal)}")
        post_migrate.connect(_starter_site, sender=self, dispatch_uid="cms.starter_site")
        register_personal_data("website", collect=services.personal_data, erase=services.personal_data_erase)
        # The rights page of the supporter base: what the site holds under an address, and its erasure.
        people_signals.address_data_requested.connect(
            services.on_address_data_requested, dispatch_uid="cms.address_data_requested"
        )
        people_signals.person_erased.connect(services.on_person_erased, dispatch_uid="cms.person_erased")

        from chapters import scope
        from cms import models

        scope.register(models.ChapterPage)
        scope.register(models.Signup)  # a join request into a chapter (a petition signature has none)
