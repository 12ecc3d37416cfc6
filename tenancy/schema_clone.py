"""Copy a migrated template schema into a new organisation's schema, in one round trip.

django-tenants' own path runs a 4,500-line PL/pgSQL `clone_schema` function and then
`migrate_schemas --fake` for the new schema, which loads every migration of every app to record
rows that the copied `django_migrations` table already holds. Here the catalogue of the template is
read once (five queries), turned into plain DDL, and sent as one script inside the caller's
transaction: tables with their columns, defaults and identity sequences (same names, same
positions), the data, constraints and indexes under their original names, foreign keys, comments.

Anything this does not know how to copy (views, functions, triggers, policies, partitioned or
unlogged tables, custom types) raises UnsupportedTemplate, and provisioning falls back to the
slower but general django-tenants clone. tests/test_provisioning.py checks that a clone's
catalogue and data are identical to the template's.
"""

from typing import NamedTuple

from django.db import connection, transaction
from psycopg import sql


class UnsupportedTemplate(Exception):
    """The template holds an object this cloner does not copy."""


UNSUPPORTED_OBJECTS = """
SELECT 'view or other relation ' || relname FROM pg_class
 WHERE relnamespace = %(ns)s AND relkind NOT IN ('r', 'S', 'i')
UNION ALL SELECT 'table option on ' || relname FROM pg_class
 WHERE relnamespace = %(ns)s AND relkind = 'r' AND (relpersistence <> 'p' OR reloptions IS NOT NULL OR relrowsecurity)
UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = %(ns)s
UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = %(ns)s AND NOT t.tgisinternal
UNION ALL SELECT 'policy ' || polname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
 WHERE c.relnamespace = %(ns)s
UNION ALL SELECT 'type ' || typname FROM pg_type WHERE typnamespace = %(ns)s AND typtype <> 'c' AND typelem = 0
"""

TABLES = """
SELECT c.oid, c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c
 WHERE c.relnamespace = %(ns)s AND c.relkind = 'r' ORDER BY c.relname
"""

COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
       a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
       col_description(a.attrelid, a.attnum)
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = %(ns)s AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum
"""

# contype 'n' (named NOT NULL constraints) exists from PostgreSQL 18 on.
CONSTRAINTS = """
SELECT k.conrelid, k.conname, k.contype, pg_get_constraintdef(k.oid),
       (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = k.conkey[1])
  FROM pg_constraint k
 WHERE k.connamespace = %(ns)s AND k.conrelid <> 0
 ORDER BY k.conrelid, k.conname
"""

# pg_get_indexdef qualifies the table whatever the search_path: the prefix is cut off below.
INDEXES = """
SELECT pg_get_indexdef(i.indexrelid), quote_ident(%(name)s) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relnamespace = %(ns)s
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
 ORDER BY c.relname
"""

SEQUENCES = """
SELECT s.sequencename, s.data_type::text, s.start_value, s.min_value, s.max_value, s.increment_by, s.cycle,
       s.cache_size, s.last_value, d.deptype, tc.relname, a.attname
  FROM pg_sequences s
  JOIN pg_class c ON c.relname = s.sequencename AND c.relnamespace = %(ns)s
  LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
  LEFT JOIN pg_class tc ON tc.oid = d.refobjid
  LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE s.schemaname = %(name)s
"""


class Sequence(NamedTuple):
    name: str
    data_type: str
    start: int
    minimum: int
    maximum: int
    increment: int
    cycle: bool
    cache: int
    last_value: int | None
    deptype: str | None  # "i": an identity column's, "a": a serial column's, None: free-standing
    table: str | None
    column: str | None

    def options(self):
        return (
            f"START WITH {self.start} INCREMENT BY {self.increment} MINVALUE {self.minimum} "
            f"MAXVALUE {self.maximum} CACHE {self.cache} {'CYCLE' if self.cycle else 'NO CYCLE'}"
        )


def clone_schema(source, target):
    """Create schema `target` as a copy of `source`, structure and data, in the current transaction.

    Provisioning calls it inside the transaction that also creates the organisation's rows, so a
    failure leaves nothing behind. The connection's search_path is restored for django-tenants.
    """
    # The search_path set below is transaction-local: the transaction keeps it for every statement.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [source])
        row = cursor.fetchone()
        if row is None:
            raise UnsupportedTemplate(f"template schema {source!r} does not exist")
        params = {"ns": row[0], "name": source}
        cursor.execute("SELECT set_config('search_path', %s, true)", [_quote(source)])
        try:
            catalogue = {}
            for name, query in [
                ("unsupported", UNSUPPORTED_OBJECTS),
                ("tables", TABLES),
                ("columns", COLUMNS),
                ("constraints", CONSTRAINTS),
                ("indexes", INDEXES),
                ("sequences", SEQUENCES),
            ]:
                cursor.execute(query, params)
                catalogue[name] = cursor.fetchall()
            if catalogue["unsupported"]:
                raise UnsupportedTemplate(", ".join(row[0] for row in catalogue["unsupported"]))
            script = _clone_script(source, target, catalogue, connection.pg_version >= 180000)
            cursor.execute(script)
        finally:
            # Our set_config is transaction-local; make django-tenants issue its own again.
            connection.search_path_set_schemas = None


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def _literal(value):
    return sql.Literal(value).as_string(None)


def _clone_script(source, target, catalogue, named_not_null):
    src, tgt = _quote(source), _quote(target)
    table_names = {oid: name for oid, name, _comment in catalogue["tables"]}
    columns = {}
    for oid, *column in catalogue["columns"]:
        columns.setdefault(oid, []).append(column)
    not_null_names = {}
    constraints = {"p": [], "u": [], "x": [], "c": [], "f": []}
    for oid, name, kind, definition, first_column in catalogue["constraints"]:
        if kind == "n":
            not_null_names[(oid, first_column)] = name
        elif kind in constraints:
            constraints[kind].append(
                f"ALTER TABLE {_quote(table_names[oid])} ADD CONSTRAINT {_quote(name)} {definition}"
            )
        else:
            raise UnsupportedTemplate(f"constraint {name} of kind {kind}")
    sequences = [Sequence(*row) for row in catalogue["sequences"]]
    identity = {
        (seq.table, seq.column): f"SEQUENCE NAME {_quote(seq.name)} {seq.options()}"
        for seq in sequences
        if seq.deptype == "i"
    }
    standalone = [seq for seq in sequences if seq.deptype != "i"]

    statements = [f"SELECT set_config('search_path', {_literal(tgt)}, true)", f"CREATE SCHEMA {tgt}"]
    statements += [f"CREATE SEQUENCE {_quote(seq.name)} AS {seq.data_type} {seq.options()}" for seq in standalone]
    copies = []
    for oid, table, comment in catalogue["tables"]:
        definitions, copied = [], []
        for name, type_, collation, not_null, default, identity_kind, generated, column_comment in columns.get(oid, []):
            parts = [_quote(name), type_]
            if collation:
                parts.append(f"COLLATE {_quote(collation)}")
            if identity_kind:
                always = "ALWAYS" if identity_kind == "a" else "BY DEFAULT"
                parts.append(f"GENERATED {always} AS IDENTITY ({identity[(table, name)]})")
            elif generated:
                parts.append(f"GENERATED ALWAYS AS ({default}) STORED")
            elif default is not None:
                parts.append(f"DEFAULT {default}")
            if not_null:
                constraint_name = not_null_names.get((oid, name)) if named_not_null else None
                parts.append(f"CONSTRAINT {_quote(constraint_name)} NOT NULL" if constraint_name else "NOT NULL")
            definitions.append(" ".join(parts))
            if not generated:
                copied.append(_quote(name))
            if column_comment is not None:
                copies.append(f"COMMENT ON COLUMN {_quote(table)}.{_quote(name)} IS {_literal(column_comment)}")
        statements.append(f"CREATE TABLE {_quote(table)} ({', '.join(definitions)})")
        if copied:
            column_list = ", ".join(copied)
            statements.append(
                f"INSERT INTO {_quote(table)} ({column_list}) OVERRIDING SYSTEM VALUE "
                f"SELECT {column_list} FROM {src}.{_quote(table)}"
            )
        if comment is not None:
            copies.append(f"COMMENT ON TABLE {_quote(table)} IS {_literal(comment)}")
    statements += [
        f"SELECT setval({_literal(tgt + '.' + _quote(seq.name))}, {seq.last_value}, true)"
        for seq in sequences
        if seq.last_value is not None
    ]
    statements += constraints["p"] + constraints["u"] + constraints["x"] + constraints["c"]
    statements += [
        definition.replace(f" ON {quoted_source}.", " ON ", 1) for definition, quoted_source in catalogue["indexes"]
    ]
    statements += constraints["f"]
    statements += [
        f"ALTER SEQUENCE {_quote(seq.name)} OWNED BY {_quote(seq.table)}.{_quote(seq.column)}"
        for seq in standalone
        if seq.table
    ]
    statements += copies
    script = ";\n".join(statements) + ";"
    # Definitions were read with the template alone on the search_path, so they name no schema;
    # one that does would write into the template.
    for qualified in (f"{src}.", f" {source}.", f"({source}.", f"'{source}."):
        if qualified in script.replace(f"FROM {src}.", ""):
            raise UnsupportedTemplate(f"a definition names the template schema ({qualified})")
    return script
