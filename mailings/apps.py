from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailingsConfig(AppConfig):
    name = "mailings"
    verbose_name = _("Mailings")

    def ready(self):
        from anymail.signals import tracking

        from chapters import scope, signals
        from chapters.capabilities import register
        from mailings import capabilities, models, receivers
        from mailings.tracking import tracking_received

        register(capabilities.SEND, _("Send mailings to the people of the chapter"))
        scope.register(models.Mailing)
        scope.register(models.Recipient, "mailing__chapter")
        tracking.connect(tracking_received, dispatch_uid="mailings.tracking")
        signals.announcement_posted.connect(receivers.announcement_posted, dispatch_uid="mailings.announcement")
        from people import signals as people_signals

        people_signals.text_requested.connect(receivers.text_requested, dispatch_uid="mailings.text_requested")
