"""The Redis key layout of the insights read models, shared by the writers (`projections`,
`state`) and the readers (`queries`).

Per-athlete keys carry the athlete id in a hash tag (`{athlete}`), like the runs read models:

  insights:{a}:runs      hash    run_id -> compact run (see `domain.encode_run`)
  insights:{a}:shoes     hash    shoe_id -> ShoeInfo JSON
  insights:{a}:profile   string  AthleteSettings JSON
  insights:{a}:rev       string  events applied for the athlete (the state's revision)
  insights:{a}:latest    hash    training_load, patterns, predictions, motivational -> JSON;
                                 rev, for (local date), tz, runs of the document
  insights:dirty         set     athletes whose document is older than their state
  insights:athletes      set     every athlete with insights state (for the midnight rollover)
  insights:parked        list    events given up on after max deliveries (operators read it)
"""

from __future__ import annotations

import functools

from maratron_projections import Keys


def tag(athlete_id: str) -> str:
    return "{" + athlete_id + "}"


class InsightsKeys:
    """Key names of one athlete's insights read models."""

    def __init__(self, keys: Keys, athlete_id: str) -> None:
        a = tag(athlete_id)
        self.runs = keys("insights", a, "runs")
        self.shoes = keys("insights", a, "shoes")
        self.profile = keys("insights", a, "profile")
        self.rev = keys("insights", a, "rev")
        self.latest = keys("insights", a, "latest")

    @staticmethod
    def of(keys: Keys, athlete_id: str) -> InsightsKeys:
        """The (shared, never mutated) key names, built once per key space and athlete: the
        projection needs them for every event."""
        return _insights_keys(keys, athlete_id)


@functools.lru_cache(maxsize=4096)
def _insights_keys(keys: Keys, athlete_id: str) -> InsightsKeys:
    return InsightsKeys(keys, athlete_id)


def dirty_key(keys: Keys) -> str:
    return keys("insights", "dirty")


def athletes_key(keys: Keys) -> str:
    return keys("insights", "athletes")


def parked_key(keys: Keys) -> str:
    return keys("insights", "parked")
