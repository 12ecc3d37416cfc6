from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = _("Phone banks")

    def ready(self):
        from calls import capabilities, models, services
        from chapters import scope
        from chapters.capabilities import register
        from chapters.services import register_personal_data
        from people import signals as people_signals

        register(capabilities.MANAGE, _("Prepare the chapter's phone banks, follow them and export their results"))
        register_personal_data("calls", collect=services.personal_data, erase=services.personal_data_erase)
        scope.register(models.Campaign)
        scope.register(models.Question, "campaign__chapter")
        scope.register(models.Caller, "campaign__chapter")
        scope.register(models.Target, "campaign__chapter")
        scope.register(models.Call, "campaign__chapter")
        scope.register(models.Reveal, "call__campaign__chapter")
        people_signals.person_erased.connect(services.person_erased, dispatch_uid="calls.person_erased")
