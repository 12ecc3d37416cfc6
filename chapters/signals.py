"""Domain signals the core sends so that feature apps can react without the core importing them.

member_started(sender, user, chapter): a membership became active (joined, approved, invited, imported).
membership_ended(sender, user, chapter): a membership ended (left, removed, transferred, erased).
account_changed(sender, user): a member's account was created or its profile changed.
invitations_sent(sender, emails, chapter, actor): invitations went to these addresses (into chapter, or None).
role_assigned(sender, user, chapter): a role was given.
role_revoked(sender, user, chapter): a role assignment was taken back.
role_changed(sender, role): a role's capabilities may have changed.
chapter_created / chapter_updated / chapter_moved (sender, chapter, actor): the chapter as it now is.
chapter_archived / chapter_unarchived (sender, chapter, actor): the chapter, and every one below it.
announcement_posted(sender, announcement, actor, by_email, base_url): news was posted in a chapter;
    `by_email`: the poster asked for it to go out by email too (the mailings app sends it). A
    receiver may return a sentence for the poster (what became of it).
Receivers subscribe in their AppConfig.ready(); they are called inside the service's transaction.
"""

from django.dispatch import Signal

member_started = Signal()
membership_ended = Signal()
account_changed = Signal()
invitations_sent = Signal()
role_assigned = Signal()
role_revoked = Signal()
role_changed = Signal()
chapter_created = Signal()
chapter_updated = Signal()
chapter_moved = Signal()
chapter_archived = Signal()
chapter_unarchived = Signal()
announcement_posted = Signal()
