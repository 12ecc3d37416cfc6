"""The capabilities of the supporter base, named once. PeopleConfig.ready() registers them; the
migration that puts them on the default roles keeps its own copy, as migrations must."""

VIEW = "people.view"
EDIT = "people.edit"
EXPORT = "people.export"
IMPORT = "people.import"
MERGE = "people.merge"

ALL = (VIEW, EDIT, EXPORT, IMPORT, MERGE)
