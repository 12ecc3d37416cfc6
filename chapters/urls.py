from django.urls import path

from chapters import views

urlpatterns = [
    path("", views.home, name="app_home"),
    path("invitations/", views.invitations, name="invitations"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
]
