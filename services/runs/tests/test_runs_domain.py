"""Pure tests of the runs deciders (no stack)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import reduce
from typing import TypeVar
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from maratron_contracts.errors import Conflict, NotFound, ValidationFailed
from maratron_contracts.messages import Event
from maratron_contracts.runs import (
    AddShoe,
    DefaultShoeSet,
    DeleteAthlete,
    DeleteRun,
    LogRun,
    RegisterAthlete,
    RetireShoe,
    RunLogged,
    RunUpdated,
    SetDefaultShoe,
    ShoeRetired,
    UpdateProfile,
    UpdateRun,
)
from maratron_runs import domain as d

NOW = dt.datetime(2026, 11, 23, 22, 30, tzinfo=dt.UTC)  # 2026-11-24 07:30 in Tokyo
A = "athlete-1"


S = TypeVar("S")


def fold(evolve: Callable[[S, Event], S], initial: S, events: list[Event]) -> S:
    return reduce(evolve, events, initial)


def athlete(**fields: object) -> d.AthleteState:
    cmd = RegisterAthlete.model_validate({"name": "Ann", "email": "ann@example.org", **fields})
    return fold(
        d.evolve_athlete, d.AthleteState(), d.register_athlete(cmd, d.AthleteState(), A, NOW)
    )


def shoes_with(*names: str, default: int | None = None) -> tuple[d.ShoesState, list[str]]:
    state, ids = d.ShoesState(), []
    for i, name in enumerate(names):
        sid = f"shoe-{i}"
        events = d.add_shoe(
            AddShoe.model_validate({"name": name, "default": i == default}),
            athlete(),
            state,
            sid,
            NOW,
        )
        state = fold(d.evolve_shoes, state, events)
        ids.append(sid)
    return state, ids


def log(
    payload: dict[str, object],
    *,
    ath: d.AthleteState | None = None,
    shoes: d.ShoesState | None = None,
) -> RunLogged:
    cmd = LogRun.model_validate(
        {"date": "2026-11-20", "distance": 10, "duration": "50:00", **payload}
    )
    events = d.log_run(cmd, ath or athlete(), shoes or d.ShoesState(), d.RunState(), "run-1", NOW)
    assert len(events) == 1 and isinstance(events[0], RunLogged)
    return events[0]


# -- athlete --------------------------------------------------------------------------------------
def test_register_twice_is_a_conflict_with_a_hint() -> None:
    with pytest.raises(Conflict, match="update_profile"):
        d.register_athlete(
            RegisterAthlete.model_validate({"name": "B", "email": "b@b.co"}), athlete(), A, NOW
        )


def test_commands_need_a_profile() -> None:
    with pytest.raises(NotFound, match="register_athlete"):
        d.log_run(
            LogRun.model_validate({"date": "2026-11-20", "distance": 5, "duration": 1500}),
            d.AthleteState(),
            d.ShoesState(),
            d.RunState(),
            "r",
            NOW,
        )
    with pytest.raises(NotFound, match="register_athlete"):
        d.update_profile(UpdateProfile.model_validate({"unit": "mi"}), d.AthleteState(), A, NOW)


def test_update_profile_only_records_real_changes() -> None:
    state = athlete(unit="km")
    assert d.update_profile(UpdateProfile.model_validate({"unit": "km"}), state, A, NOW) == []
    events = d.update_profile(
        UpdateProfile.model_validate({"unit": "mi", "name": "Anna"}), state, A, NOW
    )
    after = fold(d.evolve_athlete, state, events)
    assert after.profile is not None
    assert (after.profile.unit, after.profile.name, after.profile.email) == (
        "mi",
        "Anna",
        "ann@example.org",
    )
    with pytest.raises(ValidationFailed, match="lower than max_hr"):
        d.update_profile(
            UpdateProfile.model_validate({"resting_hr": 100}), athlete(max_hr=100), A, NOW
        )


def test_deleted_athlete_accepts_nothing() -> None:
    state = athlete()
    deleted = fold(
        d.evolve_athlete, state, d.delete_athlete(DeleteAthlete(confirm=True), state, A, NOW)
    )
    assert deleted.status == "deleted"
    with pytest.raises(NotFound, match="deleted"):
        d.log_run(
            LogRun.model_validate({"date": "2026-11-20", "distance": 5, "duration": 1500}),
            deleted,
            d.ShoesState(),
            d.RunState(),
            "r",
            NOW,
        )
    with pytest.raises(Conflict, match="deleted"):
        d.register_athlete(
            RegisterAthlete.model_validate({"name": "B", "email": "b@b.co"}), deleted, A, NOW
        )


# -- runs -----------------------------------------------------------------------------------------
def test_log_run_converts_units_and_uses_the_profile_unit() -> None:
    assert log({}).distance_m == 10_000
    assert log({"unit": "mi", "distance": 5, "duration": "40:00"}).distance_m == 8047
    assert log({"distance": 5, "duration": "40:00"}, ath=athlete(unit="mi")).distance_m == 8047


@pytest.mark.parametrize(
    ("payload", "error", "needle"),
    [
        ({"distance": 0.0001}, ValidationFailed, "distance must be more than 0"),
        ({"duration": 0}, ValidationFailed, "duration must be more than 0"),
        ({"duration": "20:00"}, ValidationFailed, "faster than 2:30/km"),
        ({"distance": 1, "duration": "31:00"}, ValidationFailed, "slower than 30:00/km"),
        ({"date": "2026-11-25"}, ValidationFailed, "in the future"),
        ({"shoe_id": "nope"}, NotFound, "list_shoes"),
    ],
)
def test_log_run_refusals(payload: dict[str, object], error: type[Exception], needle: str) -> None:
    with pytest.raises(error, match=needle):
        log(payload)


def test_future_date_uses_the_athletes_time_zone() -> None:
    # NOW is 2026-11-23 in UTC but already 2026-11-24 in Tokyo: the 25th is "tomorrow" there.
    assert log({"date": "2026-11-25"}, ath=athlete(timezone="Asia/Tokyo")).date == dt.date(
        2026, 11, 25
    )
    assert log({"date": "2026-11-24"}).date == dt.date(2026, 11, 24)  # tomorrow in UTC is fine


def test_default_shoe_and_retired_shoe() -> None:
    shoes, ids = shoes_with("Pegasus", "Vaporfly", default=0)
    assert log({}, shoes=shoes).shoe_id == ids[0]
    assert log({"shoe_id": ids[1]}, shoes=shoes).shoe_id == ids[1]
    retired = fold(
        d.evolve_shoes, shoes, d.retire_shoe(RetireShoe(shoe_id=ids[1]), athlete(), shoes, NOW)
    )
    with pytest.raises(ValidationFailed, match="retired"):
        log({"shoe_id": ids[1]}, shoes=retired)


def test_update_run_changes_and_validation() -> None:
    logged = log({"name": "Easy", "notes": "windy"})
    run = fold(d.evolve_run, d.RunState(), [logged])
    events = d.update_run(
        UpdateRun.model_validate({"run_id": "run-1", "distance": 12, "clear": ["notes"]}),
        athlete(),
        d.ShoesState(),
        run,
        NOW,
    )
    assert len(events) == 1 and isinstance(events[0], RunUpdated)
    upd = events[0]
    assert (upd.distance_m, upd.notes, upd.name, upd.changed) == (
        12_000,
        None,
        "Easy",
        ["distance_m", "notes"],
    )
    same = d.update_run(
        UpdateRun.model_validate({"run_id": "run-1", "name": "Easy"}),
        athlete(),
        d.ShoesState(),
        run,
        NOW,
    )
    assert same == []
    with pytest.raises(ValidationFailed, match="faster than 2:30/km"):
        d.update_run(
            UpdateRun.model_validate({"run_id": "run-1", "distance": 30}),
            athlete(),
            d.ShoesState(),
            run,
            NOW,
        )
    with pytest.raises(NotFound, match="list_runs"):
        d.update_run(
            UpdateRun.model_validate({"run_id": "x", "name": "n"}),
            athlete(),
            d.ShoesState(),
            d.RunState(),
            NOW,
        )


def test_delete_run_then_it_is_gone() -> None:
    run = fold(d.evolve_run, d.RunState(), [log({})])
    gone = fold(d.evolve_run, run, d.delete_run(DeleteRun(run_id="run-1"), athlete(), run, NOW))
    with pytest.raises(NotFound):
        d.delete_run(DeleteRun(run_id="run-1"), athlete(), gone, NOW)
    with pytest.raises(NotFound):
        d.update_run(
            UpdateRun.model_validate({"run_id": "run-1", "name": "n"}),
            athlete(),
            d.ShoesState(),
            gone,
            NOW,
        )


# -- shoes ----------------------------------------------------------------------------------------
def test_shoes() -> None:
    shoes, ids = shoes_with("Pegasus", default=0)
    assert shoes.default == ids[0]
    with pytest.raises(Conflict, match="already have an active shoe"):
        d.add_shoe(AddShoe.model_validate({"name": "pegasus"}), athlete(), shoes, "s2", NOW)
    retire = d.retire_shoe(RetireShoe(shoe_id=ids[0]), athlete(), shoes, NOW)
    assert [type(e) for e in retire] == [ShoeRetired, DefaultShoeSet]
    retired = fold(d.evolve_shoes, shoes, retire)
    assert retired.default is None
    with pytest.raises(Conflict, match="already retired"):
        d.retire_shoe(RetireShoe(shoe_id=ids[0]), athlete(), retired, NOW)
    with pytest.raises(ValidationFailed, match="cannot be the default"):
        d.set_default_shoe(SetDefaultShoe(shoe_id=ids[0]), athlete(), retired)
    with pytest.raises(NotFound, match="list_shoes"):
        d.set_default_shoe(SetDefaultShoe(shoe_id="zzz"), athlete(), retired)
    assert d.set_default_shoe(SetDefaultShoe(shoe_id=None), athlete(), retired) == []


def test_shoe_distances_in_miles_and_default_max() -> None:
    events = d.add_shoe(
        AddShoe.model_validate({"name": "X", "initial_distance": 10, "unit": "mi"}),
        athlete(),
        d.ShoesState(),
        "s",
        NOW,
    )
    added = events[0]
    assert added.initial_distance_m == 16093 and added.max_distance_m == 800_000  # type: ignore[attr-defined]


def test_minted_ids_are_stable_per_command() -> None:
    cid = uuid4()
    assert d.mint_id("run", cid) == d.mint_id("run", cid) != d.mint_id("shoe", cid)


@given(st.floats(min_value=0.5, max_value=100), st.integers(min_value=1, max_value=30_000))
def test_log_run_accepts_exactly_the_plausible_paces(km: float, seconds: int) -> None:
    cmd = LogRun.model_validate({"date": "2026-11-20", "distance": km, "duration": seconds})
    metres = round(km * 1000)
    pace = seconds / (metres / 1000)
    try:
        d.log_run(cmd, athlete(), d.ShoesState(), d.RunState(), "r", NOW)
    except ValidationFailed:
        assert pace < 150 or pace > 1800
    else:
        assert 150 <= pace <= 1800
