"""The tables, their migrations and the schema-version table.

``MIGRATIONS[n]`` takes a schema from version ``n - 1`` to ``n``. ``migrate`` applies
the missing ones in one transaction under an advisory lock, so several workers
starting at once do not race. A running store never alters tables: ``open`` creates
them in an empty schema and refuses an older one, naming the migrate command.

``{s}`` is the (validated) schema identifier; it is the only text spliced into SQL.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

# the scope the current transaction may see, from transaction-local settings
# (set_config(..., true)); '' or unset means "not constrained by this id", and at
# least one id must be set, so a session that set nothing sees nothing
_SCOPE_VISIBLE = """
CREATE FUNCTION {s}.scope_visible(u text, a text, r text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce(
       (nullif(current_setting('memplane.user_id', true), '') IS NOT NULL
        OR nullif(current_setting('memplane.agent_id', true), '') IS NOT NULL
        OR nullif(current_setting('memplane.run_id', true), '') IS NOT NULL)
   AND (nullif(current_setting('memplane.user_id', true), '') IS NULL
        OR u = current_setting('memplane.user_id', true))
   AND (nullif(current_setting('memplane.agent_id', true), '') IS NULL
        OR a = current_setting('memplane.agent_id', true))
   AND (nullif(current_setting('memplane.run_id', true), '') IS NULL
        OR r = current_setting('memplane.run_id', true)), false)
$$
"""

MIGRATIONS: dict[int, list[str]] = {
    1: [
        "CREATE EXTENSION IF NOT EXISTS vector",
        """CREATE TABLE {s}.meta (key text PRIMARY KEY, value text NOT NULL)""",
        """CREATE TABLE {s}.memories (
            seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            id text PRIMARY KEY,
            user_id text, agent_id text, run_id text,
            scope_key text NOT NULL,
            text text NOT NULL,
            fts_text text NOT NULL,
            tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, fts_text)) STORED,
            metadata jsonb NOT NULL,
            hash text NOT NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            observed_at timestamptz,
            deleted_at timestamptz,
            expires_at timestamptz,
            source jsonb NOT NULL,
            attributed_to text,
            version bigint NOT NULL,
            embedding vector
        )""",
        "CREATE INDEX memories_user ON {s}.memories (user_id, seq)",
        "CREATE INDEX memories_agent ON {s}.memories (agent_id, seq)",
        "CREATE INDEX memories_run ON {s}.memories (run_id, seq)",
        # contract v2: one live memory per text hash and scope, enforced by the database
        """CREATE UNIQUE INDEX memories_live_hash ON {s}.memories (scope_key, hash)
           WHERE deleted_at IS NULL AND hash <> ''""",
        "CREATE INDEX memories_tsv ON {s}.memories USING gin (tsv)",
        """CREATE TABLE {s}.history (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text NOT NULL UNIQUE,
            memory_id text NOT NULL,
            user_id text, agent_id text, run_id text,
            event text NOT NULL,
            old_text text, new_text text,
            at timestamptz NOT NULL,
            actor text, reason text
        )""",
        "CREATE INDEX history_memory ON {s}.history (memory_id, seq)",
        _SCOPE_VISIBLE,
        # the policies exist from the start; enable_row_level_security() switches them on
        """CREATE POLICY scope_isolation ON {s}.memories
           USING ({s}.scope_visible(user_id, agent_id, run_id))
           WITH CHECK ({s}.scope_visible(user_id, agent_id, run_id))""",
        """CREATE POLICY scope_isolation ON {s}.history
           USING ({s}.scope_visible(user_id, agent_id, run_id))
           WITH CHECK ({s}.scope_visible(user_id, agent_id, run_id))""",
    ],
}

CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS {s}.schema_version (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""

ENABLE_RLS = [
    "ALTER TABLE {s}.memories ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE {s}.history ENABLE ROW LEVEL SECURITY",
    # the table owner bypasses policies unless they are forced
    "ALTER TABLE {s}.memories FORCE ROW LEVEL SECURITY",
    "ALTER TABLE {s}.history FORCE ROW LEVEL SECURITY",
]


def hnsw_index_name(dimension: int) -> str:
    return f"memories_hnsw_{dimension}"


def hnsw_index_sql(dimension: int, m: int, ef_construction: int) -> str:
    # an expression index on the typed cast: the column itself is untyped so the
    # schema does not depend on the embedder, and searches use the same expression
    return (
        f"CREATE INDEX IF NOT EXISTS {hnsw_index_name(dimension)} ON {{s}}.memories "
        f"USING hnsw ((embedding::vector({int(dimension)})) vector_cosine_ops) "
        f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)})"
    )
