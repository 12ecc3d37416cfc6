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
coming_events_wanted(sender, chapter, count, language): the campaign site lists coming public events
    (of `chapter` and the chapters below it, or of the whole organisation when None). Each receiver
    returns a list of dicts: title, start, end, place, chapter (its name), url (the event's page).
coming_events_changed(sender, event): an event was published, changed or cancelled (sent once the
    change is committed): the campaign site forgets the pages that list coming events.
material_listed(sender): an event names the material it needs. Each receiver returns a list of
    (id, label) of what can be handed out (the shop's variants).
material_handed_out(sender, chapter, quantities, actor, reason): material left a chapter's own stock
    (an event's report): `quantities` maps a material id from material_listed to a number, negative
    for what comes back. The shop records the stock moves, or raises InvalidAction (not enough stock),
    which undoes the caller's transaction.
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
coming_events_wanted = Signal()
coming_events_changed = Signal()
material_listed = Signal()
material_handed_out = Signal()
