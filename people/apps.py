from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    name = "people"
    verbose_name = _("People")

    def ready(self):
        from chapters import panels, scope, signals
        from chapters.capabilities import register
        from chapters.services import register_personal_data
        from people import capabilities, glance, models, receivers, services

        register(capabilities.VIEW, _("See the people of the supporter base"))
        register(capabilities.EDIT, _("Add and edit people, their tags, notes and consents"))
        # Whoever takes the base out, brings lists in or merges records reaches everyone's data.
        register(capabilities.EXPORT, _("Export people"), administrative=True)
        register(capabilities.IMPORT, _("Import people from a file"), administrative=True)
        register(capabilities.MERGE, _("Merge duplicate people"), administrative=True)

        # A person belongs to the chapters linked to it; a person linked to none is the organisation's.
        scope.register(models.PersonChapter)
        scope.register(models.Segment)
        scope.register(models.PersonImport)
        scope.register(models.DuplicatePair, "person_a__chapter_links__chapter", "person_b__chapter_links__chapter")
        scope.register(models.Merge, "kept__chapter_links__chapter")
        for model, path in [
            (models.Person, "chapter_links__chapter"),
            (models.PersonEmail, "person__chapter_links__chapter"),
            (models.PersonPhone, "person__chapter_links__chapter"),
            (models.Consent, "person__chapter_links__chapter"),
            (models.Activity, "person__chapter_links__chapter"),
        ]:
            scope.register(model, path)

        register_personal_data("people", collect=services.personal_data, erase=services.personal_data_erase)
        panels.register("people.glance", glance.panel)
        signals.member_started.connect(receivers.member_started, dispatch_uid="people.member_started")
        signals.membership_ended.connect(receivers.membership_ended, dispatch_uid="people.membership_ended")
        signals.account_changed.connect(receivers.account_changed, dispatch_uid="people.account_changed")
        signals.invitations_sent.connect(receivers.invitations_sent, dispatch_uid="people.invitations_sent")
        signals.chapter_created.connect(receivers.chapter_area_changed, dispatch_uid="people.chapter_created")
        signals.chapter_updated.connect(receivers.chapter_area_changed, dispatch_uid="people.chapter_updated")
