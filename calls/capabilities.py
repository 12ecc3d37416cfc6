"""The capabilities of phone banks, named once. CallsConfig.ready() registers them; the migration
that puts them on the default roles keeps its own copy, as migrations must."""

MANAGE = "calls.manage"

ALL = (MANAGE,)
