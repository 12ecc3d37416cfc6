"""Domain signals the core sends so that feature apps can react without the core importing them.

membership_ended(sender, user, chapter): a membership ended (left, removed, transferred, erased).
role_assigned(sender, user, chapter): a role was given.
role_revoked(sender, user, chapter): a role assignment was taken back.
role_changed(sender, role): a role's capabilities may have changed.
chapter_created / chapter_updated / chapter_moved (sender, chapter, actor): the chapter as it now is.
chapter_archived / chapter_unarchived (sender, chapter, actor): the chapter, and every one below it.
Receivers subscribe in their AppConfig.ready(); they are called inside the service's transaction.
"""

from django.dispatch import Signal

membership_ended = Signal()
role_assigned = Signal()
role_revoked = Signal()
role_changed = Signal()
chapter_created = Signal()
chapter_updated = Signal()
chapter_moved = Signal()
chapter_archived = Signal()
chapter_unarchived = Signal()
