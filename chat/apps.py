from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = _("Chat")

    def ready(self):
        from chapters.capabilities import register

        register("chat.post", _("Write in the chapter's chat rooms"))
        register("chat.post_announcements", _("Write in the organisation's announcement rooms"))
        register("chat.moderate", _("Moderate the chapter's chat rooms"))
        register("chat.create_rooms", _("Open topic rooms in the chapter's chat"))

        from chapters.services import register_personal_data
        from chapters.signals import membership_ended, role_revoked
        from chat.events import access_changed
        from chat.selectors import personal_data
        from chat.services import personal_data_erase

        register_personal_data("chat", collect=personal_data, erase=personal_data_erase)

        membership_ended.connect(access_changed, dispatch_uid="chat.membership_ended")
        role_revoked.connect(access_changed, dispatch_uid="chat.role_revoked")

        from chapters import scope
        from chat import models

        scope.register(models.Room)
        for model in (models.Message, models.RoomMember, models.Mute, models.ChatEvent):
            scope.register(model, "room__chapter")
        for model in (models.Reaction, models.Mention, models.Report):
            scope.register(model, "message__room__chapter")
