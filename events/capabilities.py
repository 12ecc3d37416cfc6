"""The capabilities of events, named once. EventsConfig.ready() registers them; the migration that
puts them on the default roles keeps its own copy, as migrations must."""

MANAGE = "events.manage"

ALL = (MANAGE,)
