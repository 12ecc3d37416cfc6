"""A description of a schema's structure and data, to compare two schemas (tests, benchmark).

Two facts are described modulo what a replay of the DDL cannot keep and nothing depends on:
column positions count live columns only (a template that dropped a column keeps a hole in its
attribute numbers, a copy has none), and index definitions are compared without their casts and
parentheses, because PostgreSQL re-normalises a partial index's predicate when its deparsed text is
parsed again (`ANY ((ARRAY['a'::varchar])::text[])` comes back as `ANY (ARRAY[('a'::varchar)::text])`,
the same test), as it does in a pg_dump restore.
"""

import re

from django.db import connection, transaction

CASTS_AND_PARENTHESES = re.compile(r"::[a-z ]+(\[\])?|[()]")

STRUCTURE_QUERIES = {
    "tables": """
        SELECT c.relname, c.relkind, c.relpersistence, obj_description(c.oid, 'pg_class')
          FROM pg_class c WHERE c.relnamespace = %(ns)s AND c.relkind NOT IN ('i', 'S')""",
    "columns": """
        SELECT c.relname, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname,
               format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, a.attcollation,
               col_description(c.oid, a.attnum)
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relnamespace = %(ns)s AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": """
        SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), k.condeferrable, k.condeferred
          FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE k.connamespace = %(ns)s""",
    "indexes": """
        SELECT c.relname, t.relname, replace(pg_get_indexdef(i.indexrelid), quote_ident(%(name)s) || '.', '')
          FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
         WHERE c.relnamespace = %(ns)s""",
    "sequences": """
        SELECT sequencename, data_type::text, start_value, min_value, max_value, increment_by, cycle, cache_size
          FROM pg_sequences WHERE schemaname = %(name)s""",
    "sequence_owners": """
        SELECT s.relname, d.deptype, t.relname, a.attname
          FROM pg_class s JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass
          JOIN pg_class t ON t.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
          JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
         WHERE s.relnamespace = %(ns)s AND s.relkind = 'S'""",
}


def describe_schema(schema_name, *, with_data=True):
    """Every catalogue fact about the schema's objects, in sorted lists, plus a digest of each
    table's rows. Two schemas with equal descriptions are the same for Django and for PostgreSQL."""
    # The search_path set below is transaction-local: the transaction keeps it for every query.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema_name])
        params = {"ns": cursor.fetchone()[0], "name": schema_name}
        cursor.execute("SELECT set_config('search_path', quote_ident(%s), true)", [schema_name])
        try:
            description = {}
            for name, query in STRUCTURE_QUERIES.items():
                cursor.execute(query, params)
                description[name] = sorted(cursor.fetchall(), key=repr)
            description["indexes"] = sorted(
                (index, table, CASTS_AND_PARENTHESES.sub("", definition))
                for index, table, definition in description["indexes"]
            )
            if with_data:
                cursor.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = %(name)s", params)
                description["sequence_positions"] = sorted(cursor.fetchall())
                description["data"] = {}
                for table, *_rest in description["tables"]:
                    quoted = '"' + table.replace('"', '""') + '"'
                    cursor.execute(
                        f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {quoted} t"
                    )
                    description["data"][table] = cursor.fetchone()
        finally:
            connection.search_path_set_schemas = None
    return description
