"""Pure deciders of the runs service: athletes, runs and shoes. No I/O.

Streams (docs/design.md): `athlete:{athlete_id}`, `shoes:{athlete_id}` (all shoes of one athlete)
and `run:{run_id}` (owned by the athlete who logged it). Each decider takes the command, the
states it needs and the current instant, and returns the events to append - or raises a typed
error whose message says what was wrong and how to fix it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from uuid import UUID, uuid5

from maratron_contracts.errors import Conflict, NotFound, ValidationFailed
from maratron_contracts.messages import Event
from maratron_contracts.runs import (
    DEFAULT_MAX_SHOE_KM,
    AddShoe,
    AthleteDeleted,
    AthleteRegistered,
    DefaultShoeSet,
    DeleteAthlete,
    DeleteRun,
    LogRun,
    Profile,
    ProfileUpdated,
    RegisterAthlete,
    RetireShoe,
    RunDeleted,
    RunLogged,
    RunUpdated,
    SetDefaultShoe,
    ShoeAdded,
    ShoeRetired,
    UpdateProfile,
    UpdateRun,
)
from maratron_contracts.units import check_pace, local_today, to_metres

from maratron_runs import views

Status = Literal["new", "active", "deleted"]
_IDS = UUID("6f1d0c3e-3a51-4d8e-9a53-6b0f4c1f2e77")  # uuid5 namespace of minted ids
NO_PROFILE = "no profile for this athlete yet: call register_athlete first"
DELETED = "this athlete was deleted: its personal data is erased and it accepts no new data"


def athlete_stream(athlete_id: str) -> str:
    return f"athlete:{athlete_id}"


def shoes_stream(athlete_id: str) -> str:
    return f"shoes:{athlete_id}"


def run_stream(run_id: str) -> str:
    return f"run:{run_id}"


def mint_id(kind: str, command_id: UUID) -> str:
    """A run or shoe id derived from the command id: a retried command targets the same
    stream, so even a lost dedup record could not create a second run."""
    return str(uuid5(_IDS, f"{kind}:{command_id}"))


# ===== states ===================================================================================
@dataclass(frozen=True)
class AthleteState:
    status: Status = "new"
    profile: Profile | None = None


@dataclass(frozen=True)
class ShoeState:
    shoe_id: str
    name: str
    retired: bool = False


@dataclass(frozen=True)
class ShoesState:
    shoes: Mapping[str, ShoeState] = field(default_factory=dict)
    default: str | None = None


@dataclass(frozen=True)
class RunState:
    status: Status = "new"
    data: Mapping[str, Any] = field(default_factory=dict)  # views.RUN_DATA_FIELDS
    logged_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


# ===== evolve ===================================================================================
def evolve_athlete(state: AthleteState, event: Event) -> AthleteState:
    if isinstance(event, AthleteRegistered):
        return AthleteState("active", views.profile_registered(event.athlete_id, event))
    if isinstance(event, ProfileUpdated) and state.profile is not None:
        return replace(state, profile=views.profile_updated(state.profile, event))
    if isinstance(event, AthleteDeleted):
        return AthleteState("deleted", state.profile)
    return state


def evolve_shoes(state: ShoesState, event: Event) -> ShoesState:
    if isinstance(event, ShoeAdded):
        shoes = {**state.shoes, event.shoe_id: ShoeState(event.shoe_id, event.name)}
        return replace(state, shoes=shoes)
    if isinstance(event, ShoeRetired) and event.shoe_id in state.shoes:
        shoes = {**state.shoes, event.shoe_id: replace(state.shoes[event.shoe_id], retired=True)}
        return replace(state, shoes=shoes)
    if isinstance(event, DefaultShoeSet):
        return replace(state, default=event.shoe_id)
    return state


def evolve_run(state: RunState, event: Event) -> RunState:
    if isinstance(event, RunLogged):
        data = {k: getattr(event, k) for k in views.RUN_DATA_FIELDS}
        return RunState("active", data, event.logged_at)
    if isinstance(event, RunUpdated):
        data = {k: getattr(event, k) for k in views.RUN_DATA_FIELDS}
        return replace(state, data=data, updated_at=event.updated_at)
    if isinstance(event, RunDeleted):
        return replace(state, status="deleted")
    return state


# ===== athlete ==================================================================================
def require_profile(state: AthleteState) -> Profile:
    if state.status == "deleted":
        raise NotFound(DELETED)
    if state.profile is None:
        raise NotFound(NO_PROFILE)
    return state.profile


def register_athlete(
    cmd: RegisterAthlete, state: AthleteState, athlete_id: str, now: dt.datetime
) -> list[Event]:
    if state.status == "active":
        raise Conflict(
            "this athlete is already registered: use update_profile to change the profile"
        )
    if state.status == "deleted":
        raise Conflict(DELETED)
    return [
        AthleteRegistered(
            athlete_id=athlete_id,
            name=cmd.display_name,
            email=cmd.email,
            timezone=cmd.timezone,
            unit=cmd.unit,
            week_start=cmd.week_start,
            birth_year=cmd.birth_year,
            sex=cmd.sex,
            resting_hr=cmd.resting_hr,
            max_hr=cmd.max_hr,
            registered_at=now,
        )
    ]


def update_profile(
    cmd: UpdateProfile, state: AthleteState, athlete_id: str, now: dt.datetime
) -> list[Event]:
    profile = require_profile(state)
    changes = {k: v for k, v in cmd.changes().items() if getattr(profile, k) != v}
    if not changes:
        return []  # nothing differs: recorded, nothing appended
    resting = changes.get("resting_hr", profile.resting_hr)
    maximum = changes.get("max_hr", profile.max_hr)
    if resting is not None and maximum is not None and resting >= maximum:
        raise ValidationFailed(
            f"resting_hr ({resting}) must be lower than max_hr ({maximum}): fix one of them"
        )
    return [ProfileUpdated(athlete_id=athlete_id, updated_at=now, **changes)]


def delete_athlete(
    cmd: DeleteAthlete, state: AthleteState, athlete_id: str, now: dt.datetime
) -> list[Event]:
    if not cmd.confirm:
        raise ValidationFailed("confirm must be true: erasure cannot be undone")
    if state.status == "deleted":
        raise NotFound(DELETED)
    require_profile(state)
    return [AthleteDeleted(athlete_id=athlete_id, deleted_at=now)]


# ===== runs =====================================================================================
def _check_date(day: dt.date, profile: Profile, now: dt.datetime) -> None:
    today = local_today(profile.timezone, now)
    if day > today + dt.timedelta(days=1):
        raise ValidationFailed(
            f"date {day.isoformat()} is in the future (today is {today.isoformat()} in "
            f"{profile.timezone}): give the local date the run happened on"
        )


def _check_shoe(shoe_id: str, shoes: ShoesState) -> None:
    shoe = shoes.shoes.get(shoe_id)
    if shoe is None:
        raise NotFound(f"shoe {shoe_id!r} not found: list_shoes shows your shoes and their shoe_id")
    if shoe.retired:
        raise ValidationFailed(
            f"shoe {shoe.name!r} ({shoe_id}) is retired: pick an active shoe, or add a new one"
        )


def _check_effort(distance_m: int, duration_s: int) -> None:
    if distance_m <= 0:
        raise ValidationFailed("distance must be more than 0 (at least 1 metre): check its value")
    if duration_s <= 0:
        raise ValidationFailed(
            "duration must be more than 0 seconds: give HH:MM:SS, MM:SS or seconds"
        )
    check_pace(distance_m, duration_s)


def log_run(
    cmd: LogRun,
    athlete: AthleteState,
    shoes: ShoesState,
    run: RunState,
    run_id: str,
    now: dt.datetime,
) -> list[Event]:
    profile = require_profile(athlete)
    if run.status != "new":  # only a minted-id collision could get here
        raise Conflict(f"run {run_id} already exists")
    distance_m = to_metres(cmd.distance, cmd.unit or profile.unit)
    _check_effort(distance_m, cmd.duration)
    _check_date(cmd.date, profile, now)
    shoe_id = cmd.shoe_id or shoes.default
    if shoe_id is not None:
        _check_shoe(shoe_id, shoes)
    return [
        RunLogged(
            run_id=run_id,
            date=cmd.date,
            start_time=cmd.start_time,
            distance_m=distance_m,
            duration_s=cmd.duration,
            name=cmd.run_name,
            notes=cmd.notes,
            elevation_gain_m=cmd.elevation_gain_m,
            avg_hr=cmd.avg_hr,
            max_hr=cmd.max_hr,
            shoe_id=shoe_id,
            workout_type=cmd.workout_type,
            perceived_effort=cmd.perceived_effort,
            environment=cmd.environment,
            logged_at=now,
        )
    ]


def _require_run(run: RunState, run_id: str) -> None:
    if run.status != "active":
        raise NotFound(f"run {run_id!r} not found: list_runs shows your runs and their run_id")


def update_run(
    cmd: UpdateRun, athlete: AthleteState, shoes: ShoesState, run: RunState, now: dt.datetime
) -> list[Event]:
    profile = require_profile(athlete)
    _require_run(run, cmd.run_id)
    changes = cmd.changes()
    if "distance" in changes:
        changes["distance_m"] = to_metres(changes.pop("distance"), cmd.unit or profile.unit)
    if "duration" in changes:
        changes["duration_s"] = changes.pop("duration")
    cleared: dict[str, Any] = dict.fromkeys(cmd.clear)
    new: dict[str, Any] = {**run.data, **changes, **cleared}
    avg_hr, max_hr = new.get("avg_hr"), new.get("max_hr")
    if avg_hr is not None and max_hr is not None and avg_hr > max_hr:
        raise ValidationFailed(f"avg_hr ({avg_hr}) cannot exceed max_hr ({max_hr}): fix one")
    changed = sorted(k for k in new if new[k] != run.data.get(k))
    if not changed:
        return []
    _check_effort(new["distance_m"], new["duration_s"])
    if "date" in changed:
        _check_date(new["date"], profile, now)
    if "shoe_id" in changed and new["shoe_id"] is not None:
        _check_shoe(new["shoe_id"], shoes)
    return [RunUpdated(**new, changed=changed, updated_at=now)]


def delete_run(
    cmd: DeleteRun, athlete: AthleteState, run: RunState, now: dt.datetime
) -> list[Event]:
    require_profile(athlete)
    _require_run(run, cmd.run_id)
    return [RunDeleted(run_id=cmd.run_id, deleted_at=now)]


# ===== shoes ====================================================================================
def add_shoe(
    cmd: AddShoe, athlete: AthleteState, shoes: ShoesState, shoe_id: str, now: dt.datetime
) -> list[Event]:
    profile = require_profile(athlete)
    name = cmd.shoe_name.strip()
    for shoe in shoes.shoes.values():
        if not shoe.retired and shoe.name.casefold() == name.casefold():
            raise Conflict(
                f"you already have an active shoe named {shoe.name!r} ({shoe.shoe_id}): "
                "give this one another name, or retire the old one first"
            )
    unit = cmd.unit or profile.unit
    max_m = (
        to_metres(cmd.max_distance, unit)
        if cmd.max_distance is not None
        else to_metres(DEFAULT_MAX_SHOE_KM, "km")
    )
    if max_m <= 0:
        raise ValidationFailed("max_distance must be at least 1 metre")
    events: list[Event] = [
        ShoeAdded(
            shoe_id=shoe_id,
            name=name,
            brand=cmd.brand,
            model=cmd.model,
            max_distance_m=max_m,
            initial_distance_m=to_metres(cmd.initial_distance, unit),
            added_at=now,
        )
    ]
    if cmd.default:
        events.append(DefaultShoeSet(shoe_id=shoe_id))
    return events


def _require_shoe(shoes: ShoesState, shoe_id: str) -> ShoeState:
    shoe = shoes.shoes.get(shoe_id)
    if shoe is None:
        raise NotFound(f"shoe {shoe_id!r} not found: list_shoes shows your shoes and their shoe_id")
    return shoe


def retire_shoe(
    cmd: RetireShoe, athlete: AthleteState, shoes: ShoesState, now: dt.datetime
) -> list[Event]:
    require_profile(athlete)
    shoe = _require_shoe(shoes, cmd.shoe_id)
    if shoe.retired:
        raise Conflict(f"shoe {shoe.name!r} ({shoe.shoe_id}) is already retired")
    events: list[Event] = [ShoeRetired(shoe_id=cmd.shoe_id, retired_at=now)]
    if shoes.default == cmd.shoe_id:
        events.append(DefaultShoeSet(shoe_id=None))
    return events


def set_default_shoe(cmd: SetDefaultShoe, athlete: AthleteState, shoes: ShoesState) -> list[Event]:
    require_profile(athlete)
    if cmd.shoe_id is not None:
        shoe = _require_shoe(shoes, cmd.shoe_id)
        if shoe.retired:
            raise ValidationFailed(
                f"shoe {shoe.name!r} ({shoe.shoe_id}) is retired and cannot be the default: "
                "pick an active shoe"
            )
    if shoes.default == cmd.shoe_id:
        return []
    return [DefaultShoeSet(shoe_id=cmd.shoe_id)]
