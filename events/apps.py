from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = _("Events")

    def ready(self):
        from chapters import scope
        from chapters import signals as chapter_signals
        from chapters.capabilities import register
        from chapters.services import register_personal_data
        from events import capabilities, models, receivers, services
        from people import signals as people_signals

        register(capabilities.MANAGE, _("Create, change and cancel the chapter's events; check people in"))
        register_personal_data("events", collect=services.personal_data, erase=services.personal_data_erase)
        scope.register(models.Event)
        scope.register(models.Timeslot, "event__chapter")
        scope.register(models.Rsvp, "timeslot__event__chapter")
        scope.register(models.Reminder, "rsvp__timeslot__event__chapter")
        people_signals.person_erased.connect(services.person_erased, dispatch_uid="events.person_erased")
        people_signals.address_data_requested.connect(services.address_data, dispatch_uid="events.address_data")
        chapter_signals.coming_events_wanted.connect(receivers.coming_events, dispatch_uid="events.coming")
