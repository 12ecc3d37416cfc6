from django.urls import path

from chat import views

urlpatterns = [
    path("", views.chat_page, name="chat"),
    path("api/rooms/", views.rooms, name="chat_rooms"),
    path("api/rooms/<int:room_id>/messages/", views.messages, name="chat_messages"),
    path("api/rooms/<int:room_id>/read/", views.room_read, name="chat_read"),
    path("api/messages/<int:message_id>/edit/", views.message_edit, name="chat_edit"),
    path("api/messages/<int:message_id>/delete/", views.message_delete, name="chat_delete"),
    path("api/messages/<int:message_id>/react/", views.message_react, name="chat_react"),
    path("api/events/", views.events, name="chat_events"),
    path("api/topics/", views.topic_create, name="chat_topic_create"),
    path("api/direct/", views.direct_open, name="chat_direct"),
    path("api/people/", views.people, name="chat_people"),
    path("api/rooms/<int:room_id>/invite/", views.room_invite, name="chat_invite"),
    path("api/rooms/<int:room_id>/leave/", views.room_leave, name="chat_leave"),
    path("api/rooms/<int:room_id>/presence/", views.presence, name="chat_presence"),
    path("api/rooms/<int:room_id>/mutes/", views.room_mute, name="chat_mute"),
    path("api/messages/<int:message_id>/report/", views.message_report, name="chat_report"),
    path("moderation/", views.moderation, name="chat_moderation"),
    path("moderation/reports/<int:report_id>/", views.moderation_report, name="chat_moderation_report"),
    path("moderation/mutes/<int:mute_id>/lift/", views.moderation_unmute, name="chat_moderation_unmute"),
]
