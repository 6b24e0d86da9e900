"""Pure builders of read models from events: used by the projections (what Redis holds) and by
the handlers (what a command returns), so both always agree."""

from __future__ import annotations

import datetime as dt
from typing import Any

from maratron_contracts.runs import (
    AthleteRegistered,
    Profile,
    ProfileUpdated,
    Run,
    RunLogged,
    RunUpdated,
    Shoe,
    ShoeAdded,
)

RUN_DATA_FIELDS = (
    "run_id", "date", "start_time", "distance_m", "duration_s", "name", "notes",
    "elevation_gain_m", "avg_hr", "max_hr", "shoe_id", "workout_type", "perceived_effort",
    "environment",
)  # fmt: skip
PROFILE_FIELDS = (
    "name", "email", "timezone", "unit", "week_start", "birth_year", "sex", "resting_hr",
    "max_hr",
)  # fmt: skip


def profile_registered(athlete_id: str, event: AthleteRegistered) -> Profile:
    fields = {k: getattr(event, k) for k in PROFILE_FIELDS}
    return Profile(
        athlete_id=athlete_id,
        registered_at=event.registered_at,
        updated_at=event.registered_at,
        **fields,
    )


def profile_updated(profile: Profile, event: ProfileUpdated) -> Profile:
    changes: dict[str, Any] = {
        k: getattr(event, k) for k in PROFILE_FIELDS if getattr(event, k) is not None
    }
    return Profile.model_validate(
        {**profile.model_dump(), **changes, "updated_at": event.updated_at}
    )


def run_logged(athlete_id: str, event: RunLogged) -> Run:
    data = {k: getattr(event, k) for k in RUN_DATA_FIELDS}
    return Run(athlete_id=athlete_id, logged_at=event.logged_at, **data)


def run_updated(previous: Run, event: RunUpdated) -> Run:
    data = {k: getattr(event, k) for k in RUN_DATA_FIELDS}
    return Run(
        athlete_id=previous.athlete_id,
        logged_at=previous.logged_at,
        updated_at=event.updated_at,
        **data,
    )


def shoe_added(event: ShoeAdded) -> Shoe:
    """The shoe as stored (run sums and default flag are kept in their own keys)."""
    return Shoe(
        shoe_id=event.shoe_id,
        name=event.name,
        brand=event.brand,
        model=event.model,
        max_distance_m=event.max_distance_m,
        initial_distance_m=event.initial_distance_m,
        added_at=event.added_at,
    )


def shoe_retired(shoe: Shoe, retired_at: dt.datetime) -> Shoe:
    return Shoe.model_validate({**shoe.model_dump(), "retired": True, "retired_at": retired_at})
