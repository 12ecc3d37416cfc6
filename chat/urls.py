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
]
