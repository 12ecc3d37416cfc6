from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChaptersConfig(AppConfig):
    name = "chapters"
    verbose_name = _("Chapters")

    def ready(self):
        from accounts.models import Invitation
        from chapters import models, scope

        chapter_owned = [
            models.Membership,
            models.RoleAssignment,
            models.AuditEntry,
            models.Announcement,
            models.Document,
            models.ChapterInvitation,
        ]
        for model in chapter_owned:
            scope.register(model)
        # An invitation into no chapter is the organisation's own: its national organisers'.
        scope.register(Invitation, "chapter_invitation__chapter")
