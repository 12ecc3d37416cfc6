"""The capabilities of mailings, named once. MailingsConfig.ready() registers them; the migration
that puts them on the default roles keeps its own copy, as migrations must."""

SEND = "mailings.send"

ALL = (SEND,)
