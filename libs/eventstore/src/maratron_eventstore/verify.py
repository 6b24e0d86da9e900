"""Tamper evidence: recompute hash chains and find events that were altered or removed.

Three checks, all against what is stored:
* per stream, in version order: each event's hash recomputed with `{ns}.event_hash` (data
  altered), its prev_hash equal to the previous event's hash (broken link), versions 1, 2, 3, ...
  (missing versions);
* per stream: no fewer versions than the command records say were appended (a removed tail,
  which no chain can show on its own);
* globally: positions are dense (assigned max+1 under the append lock, so a hole means a
  committed event was deleted).
"""

from __future__ import annotations

import asyncpg

from maratron_eventstore.migrations import render
from maratron_eventstore.results import ChainViolation

_CHAINS = """
SELECT stream_id, stream_version, global_position,
       recomputed <> hash AS tampered,
       prev_hash IS DISTINCT FROM link AS broken,
       stream_version <> prev_version + 1 AS gap, prev_version
  FROM (SELECT stream_id, stream_version, global_position, hash, prev_hash,
               lag(hash) OVER w AS link,
               lag(stream_version, 1, 0) OVER w AS prev_version,
               {ns}.event_hash(prev_hash, stream_id, stream_version, event_id, athlete_id,
                               event_type, schema_version, data, metadata, recorded_at)
                   AS recomputed
          FROM {ns}.events {where}
        WINDOW w AS (PARTITION BY stream_id ORDER BY stream_version)) c
 WHERE recomputed <> hash OR prev_hash IS DISTINCT FROM link
    OR stream_version <> prev_version + 1
 ORDER BY global_position
"""

_TRUNCATED = """
SELECT c.stream_id, c.version, c.position, coalesce(e.version, 0) AS actual
  FROM (SELECT result->>'stream_id' AS stream_id,
               max((result->>'stream_version')::integer) AS version,
               max((result->>'global_position')::bigint) AS position
          FROM {ns}.commands {where}
         GROUP BY 1) c
  LEFT JOIN LATERAL (SELECT max(stream_version) AS version FROM {ns}.events ev
                      WHERE ev.stream_id = c.stream_id) e ON true
 WHERE c.version > coalesce(e.version, 0)
 ORDER BY c.position
"""

_HOLES = """
SELECT prev + 1 AS first, global_position - 1 AS last
  FROM (SELECT global_position, lag(global_position, 1, 0::bigint) OVER (ORDER BY global_position)
                   AS prev
          FROM {ns}.events) p
 WHERE global_position <> prev + 1
 ORDER BY global_position
"""


async def verify_chains(
    pool: asyncpg.Pool, namespace: str, stream_id: str | None = None
) -> list[ChainViolation]:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        # One snapshot for all three checks: concurrent appends cannot look like tampering.
        if stream_id is None:
            chains = await conn.fetch(render(_CHAINS.replace("{where}", ""), namespace))
            truncated = await conn.fetch(render(_TRUNCATED.replace("{where}", ""), namespace))
            holes = await conn.fetch(render(_HOLES, namespace))
        else:
            chains = await conn.fetch(
                render(_CHAINS.replace("{where}", "WHERE stream_id = $1"), namespace), stream_id
            )
            truncated = await conn.fetch(
                render(_TRUNCATED.replace("{where}", "WHERE result->>'stream_id' = $1"), namespace),
                stream_id,
            )
            holes = []
    violations = [_chain_violation(row) for row in chains]
    violations += [
        ChainViolation(
            stream_id=row["stream_id"],
            stream_version=row["actual"] + 1,
            global_position=row["position"],
            reason=f"stream ends at version {row['actual']} but commands recorded version "
            f"{row['version']} (events removed from the end)",
        )
        for row in truncated
    ]
    violations += [
        ChainViolation(
            stream_id="",
            stream_version=0,
            global_position=row["first"],
            reason=f"global position{'s' if row['last'] > row['first'] else ''} "
            f"{_span(row['first'], row['last'])} missing (events deleted)",
        )
        for row in holes
    ]
    return violations


def _chain_violation(row: asyncpg.Record) -> ChainViolation:
    reasons: list[str] = []
    if row["gap"]:
        reasons.append(_gap_reason(row["prev_version"], row["stream_version"]))
    if row["broken"]:
        reasons.append("prev_hash does not match the previous event's hash (broken link)")
    if row["tampered"]:
        reasons.append("stored event does not match its hash (data altered)")
    return ChainViolation(
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        global_position=row["global_position"],
        reason="; ".join(reasons),
    )


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _gap_reason(prev_version: int, version: int) -> str:
    if version > prev_version + 1:
        return f"missing version{'s' if version > prev_version + 2 else ''} " + _span(
            prev_version + 1, version - 1
        )
    return f"version {version} out of sequence after {prev_version}"
