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
