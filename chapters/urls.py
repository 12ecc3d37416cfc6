from django.urls import path

from chapters import views

urlpatterns = [
    path("", views.home, name="app_home"),
    path("chapters/", views.chapter_list, name="chapter_list"),
    path("chapters/new/", views.chapter_create, name="chapter_create"),
    path("chapters/<slug:slug>/", views.chapter_detail, name="chapter_detail"),
    path("chapters/<slug:slug>/join/", views.chapter_join, name="chapter_join"),
    path("chapters/<slug:slug>/leave/", views.chapter_leave, name="chapter_leave"),
    path("chapters/<slug:slug>/primary/", views.chapter_make_primary, name="chapter_make_primary"),
    path("chapters/<slug:slug>/manage/", views.chapter_manage, name="chapter_manage"),
    path("chapters/<slug:slug>/move/", views.chapter_move, name="chapter_move"),
    path("chapters/<slug:slug>/archive/", views.chapter_archive, name="chapter_archive"),
    path("chapters/<slug:slug>/requests/<int:pk>/approve/", views.membership_approve, name="membership_approve"),
    path("chapters/<slug:slug>/requests/<int:pk>/refuse/", views.membership_refuse, name="membership_refuse"),
    path("chapters/<slug:slug>/members/<int:pk>/remove/", views.membership_remove, name="membership_remove"),
    path("chapters/<slug:slug>/members/<int:pk>/transfer/", views.membership_transfer, name="membership_transfer"),
    path("roles/", views.roles, name="roles"),
    path("roles/new/", views.role_edit, name="role_create"),
    path("roles/<int:pk>/", views.role_edit, name="role_edit"),
    path("roles/assignments/<int:pk>/delete/", views.assignment_delete, name="assignment_delete"),
    path("audit/", views.audit_log, name="audit_log"),
    path("directory/", views.directory, name="directory"),
    path("profile/", views.profile, name="profile"),
    path("profile/my-data.json", views.personal_data, name="personal_data"),
    path("profile/erase/", views.erase_account, name="erase_account"),
    path("members/export.csv", views.members_export, name="members_export"),
    path("members/import/", views.members_import, name="members_import"),
    path("invitations/", views.invitations, name="invitations"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
]
