"""Versioned schema migrations of the event store, all inside the namespace's Postgres schema.

`{ns}` in the SQL below is replaced by the (validated) namespace, `{append_lock}` by the
namespace's append advisory-lock key.

* `MIGRATIONS` (tables, indexes) are versioned and append-only: never edit a released one, add
  the next version instead.
* `FUNCTIONS` are code: re-created (CREATE OR REPLACE) by every `migrate()`, so the database
  always runs the functions of the deployed library. `event_hash` defines every stored hash:
  its output for existing rows must never change (a new scheme needs a new function and a
  column saying which scheme hashed a row).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from maratron_eventstore.locks import advisory_key


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


# Hash over the event exactly as stored (personal fields already encrypted), rendered as Postgres
# jsonb text (keys ordered, numbers and strings normalised), so that any later re-rendering of the
# same stored values gives the same bytes. recorded_at enters as integer microseconds since the
# epoch (independent of the session's TimeZone).
_EVENT_HASH = """
CREATE OR REPLACE FUNCTION {ns}.event_hash(
    p_prev_hash text, p_stream_id text, p_stream_version integer, p_event_id uuid,
    p_athlete_id text, p_event_type text, p_schema_version integer, p_data jsonb,
    p_metadata jsonb, p_recorded_at timestamptz
) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
    SELECT encode(sha256(convert_to(coalesce(p_prev_hash, '') || jsonb_build_object(
        'stream_id', p_stream_id,
        'stream_version', p_stream_version,
        'event_id', p_event_id,
        'athlete_id', p_athlete_id,
        'event_type', p_event_type,
        'schema_version', p_schema_version,
        'data', p_data,
        'metadata', p_metadata,
        'recorded_at', (extract(epoch FROM p_recorded_at) * 1000000)::bigint
    )::text, 'UTF8')), 'hex')
$fn$;
"""

# The whole append in one server-side call: in autocommit the lock is taken, the events and the
# command record are written and committed without a network round trip inside the lock.
# Returns {"status": ok|duplicate|not_owner|wrong_version, ...}.
_APPEND = """
CREATE OR REPLACE FUNCTION {ns}.append_events(
    p_stream_id text, p_athlete_id text, p_expected_version integer, p_command_id uuid,
    p_result_data jsonb, p_metadata jsonb, p_events jsonb
) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
    v_result jsonb;
    v_owner text;
    v_version integer;
    v_prev text;
    v_position bigint;
    v_at timestamptz;
    v_hash text;
    v_count integer := jsonb_array_length(p_events);
    v_ids jsonb := '[]'::jsonb;
    e record;
BEGIN
    -- One serial order for position assignment AND commit: readers never see a gap.
    PERFORM pg_advisory_xact_lock({append_lock});
    IF p_command_id IS NOT NULL THEN
        SELECT c.result, c.athlete_id INTO v_result, v_owner
          FROM {ns}.commands c WHERE c.command_id = p_command_id;
        IF FOUND THEN
            IF v_owner <> p_athlete_id THEN  -- another athlete's command id: reveal nothing
                RETURN jsonb_build_object('status', 'not_owner');
            END IF;
            RETURN jsonb_build_object('status', 'duplicate', 'result', v_result);
        END IF;
    END IF;
    SELECT ev.athlete_id, ev.stream_version, ev.hash INTO v_owner, v_version, v_prev
      FROM {ns}.events ev WHERE ev.stream_id = p_stream_id
     ORDER BY ev.stream_version DESC LIMIT 1;
    IF NOT FOUND THEN
        v_version := 0;
    END IF;
    IF v_owner IS NOT NULL AND v_owner <> p_athlete_id THEN
        RETURN jsonb_build_object('status', 'not_owner');
    END IF;
    IF p_expected_version IS NOT NULL AND p_expected_version <> v_version THEN
        RETURN jsonb_build_object('status', 'wrong_version', 'actual', v_version);
    END IF;
    IF v_count > 0 THEN
        SELECT coalesce(max(ev.global_position), 0) INTO v_position FROM {ns}.events ev;
        v_at := clock_timestamp();
        FOR e IN
            SELECT x.event_id, x.event_type, x.schema_version, x.data
              FROM ROWS FROM (jsonb_to_recordset(p_events) AS (event_id uuid, event_type text,
                              schema_version integer, data jsonb))
                   WITH ORDINALITY AS x(event_id, event_type, schema_version, data, n)
             ORDER BY x.n
        LOOP
            v_version := v_version + 1;
            v_position := v_position + 1;
            v_hash := {ns}.event_hash(v_prev, p_stream_id, v_version, e.event_id, p_athlete_id,
                                      e.event_type, e.schema_version, e.data, p_metadata, v_at);
            INSERT INTO {ns}.events (global_position, event_id, stream_id, stream_version,
                                     athlete_id, event_type, schema_version, data, metadata,
                                     recorded_at, prev_hash, hash)
            VALUES (v_position, e.event_id, p_stream_id, v_version, p_athlete_id, e.event_type,
                    e.schema_version, e.data, p_metadata, v_at, v_prev, v_hash);
            v_prev := v_hash;
        END LOOP;
        v_ids := jsonb_path_query_array(p_events, '$[*].event_id');
    END IF;
    v_result := jsonb_build_object(
        'stream_id', p_stream_id,
        'stream_version', v_version,
        'global_position', v_position,
        'event_ids', v_ids,
        'data', coalesce(p_result_data, '{}'::jsonb));
    IF p_command_id IS NOT NULL THEN
        INSERT INTO {ns}.commands (command_id, athlete_id, result, recorded_at)
        VALUES (p_command_id, p_athlete_id, v_result, coalesce(v_at, clock_timestamp()));
    END IF;
    IF v_count > 0 THEN
        PERFORM pg_notify('{ns}_events', v_position::text);
    END IF;
    RETURN jsonb_build_object('status', 'ok', 'result', v_result);
END
$fn$;
"""

# Returns the athlete's key, creating it on first use; NULL once the athlete was erased.
# Two statements (fresh snapshot each) so a concurrent first insert is seen after ON CONFLICT.
_PERSONAL_KEY = """
CREATE OR REPLACE FUNCTION {ns}.personal_key(p_athlete_id text, p_new_key bytea)
RETURNS bytea LANGUAGE plpgsql AS $fn$
DECLARE
    v_key bytea;
BEGIN
    INSERT INTO {ns}.personal_keys (athlete_id, key) VALUES (p_athlete_id, p_new_key)
    ON CONFLICT (athlete_id) DO NOTHING;
    SELECT k.key INTO v_key FROM {ns}.personal_keys k WHERE k.athlete_id = p_athlete_id;
    RETURN v_key;
END
$fn$;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events, commands, checkpoints, personal keys",
        """
CREATE TABLE {ns}.events (
    global_position bigint PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    stream_id text NOT NULL,
    stream_version integer NOT NULL,
    athlete_id text NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    data jsonb NOT NULL,
    metadata jsonb NOT NULL,
    recorded_at timestamptz NOT NULL,
    prev_hash text,
    hash text NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_athlete_idx ON {ns}.events (athlete_id, global_position);
CREATE INDEX events_type_idx ON {ns}.events (event_type, global_position);

CREATE TABLE {ns}.commands (
    command_id uuid PRIMARY KEY,
    athlete_id text NOT NULL,
    result jsonb NOT NULL,
    recorded_at timestamptz NOT NULL
);

CREATE TABLE {ns}.checkpoints (
    name text PRIMARY KEY,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {ns}.personal_keys (
    athlete_id text PRIMARY KEY,
    key bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    erased_at timestamptz
);
""",
    ),
    Migration(
        2,
        "index on recorded_at (audit --as-of, replay --until TIME)",
        """
CREATE INDEX IF NOT EXISTS events_recorded_at_idx ON {ns}.events (recorded_at);
""",
    ),
)

FUNCTIONS = _EVENT_HASH + _APPEND + _PERSONAL_KEY


def render(sql: str, namespace: str) -> str:
    """Fill in the namespace (already validated as a plain identifier) and lock key."""
    return sql.replace("{append_lock}", str(advisory_key(namespace, "append"))).replace(
        "{ns}", namespace
    )


async def migrate(conn: asyncpg.Connection, namespace: str) -> list[int]:
    """Apply the missing migrations and (re)create the functions, in one transaction; returns
    the versions applied now.

    A transaction-scoped advisory lock serialises concurrent callers (two processes starting at
    once): the second waits, then finds everything applied.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(namespace, "migrate"))
        await conn.execute(
            render(
                """
                CREATE SCHEMA IF NOT EXISTS {ns};
                CREATE TABLE IF NOT EXISTS {ns}.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                );
                """,
                namespace,
            )
        )
        rows = await conn.fetch(render("SELECT version FROM {ns}.schema_migrations", namespace))
        done = {r["version"] for r in rows}
        applied: list[int] = []
        for m in MIGRATIONS:
            if m.version in done:
                continue
            await conn.execute(render(m.sql, namespace))
            await conn.execute(
                render(
                    "INSERT INTO {ns}.schema_migrations (version, name) VALUES ($1, $2)", namespace
                ),
                m.version,
                m.name,
            )
            applied.append(m.version)
        await conn.execute(render(FUNCTIONS, namespace))
        return applied
