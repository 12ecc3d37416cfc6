"""Phone banks in the member app, under /app/calls/."""

from django.urls import path

from calls import views

urlpatterns = [
    path("", views.campaign_list, name="calls"),
    path("new/", views.campaign_create, name="call_campaign_create"),
    path("settings/", views.calls_settings, name="calls_settings"),
    path("<int:pk>/", views.campaign_detail, name="call_campaign"),
    path("<int:pk>/edit/", views.campaign_edit, name="call_campaign_edit"),
    path("<int:pk>/questions/", views.campaign_questions, name="call_questions"),
    path("<int:pk>/questions/<int:question_pk>/delete/", views.question_delete, name="call_question_delete"),
    path("<int:pk>/callers/", views.campaign_callers, name="call_callers"),
    path("<int:pk>/callers/<int:caller_pk>/remove/", views.caller_remove, name="call_caller_remove"),
    path("<int:pk>/status/", views.campaign_status, name="call_campaign_status"),
    path("<int:pk>/dashboard/", views.campaign_dashboard, name="call_dashboard"),
    path("<int:pk>/export.csv", views.campaign_export, name="call_export"),
    path("<int:pk>/numbers-shown/", views.campaign_reveals, name="call_reveals"),
    path("<int:pk>/next/", views.call_next, name="call_next"),
    path("<int:pk>/calls/<int:call_pk>/", views.call_page, name="call_page"),
    path("<int:pk>/calls/<int:call_pk>/keep/", views.call_keep, name="call_keep"),
    path("<int:pk>/calls/<int:call_pk>/release/", views.call_release, name="call_release"),
]
