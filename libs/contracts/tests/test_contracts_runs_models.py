"""Pure tests of the runs contracts: payload validation, derived read-model fields, registry."""

from __future__ import annotations

import datetime as dt

import pytest
from maratron_contracts import runs
from maratron_contracts.registry import REGISTRY
from pydantic import ValidationError

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def test_log_run_parses_duration_and_time_and_alias() -> None:
    cmd = runs.LogRun.model_validate(
        {
            "date": "2026-11-20",
            "distance": 10,
            "duration": "50:00",
            "name": "Tempo",
            "start_time": "07:30",
        }
    )
    assert cmd.duration == 3000
    assert cmd.start_time == dt.time(7, 30)
    assert cmd.run_name == "Tempo"
    dumped = cmd.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert runs.LogRun.model_validate(dumped) == cmd


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"date": "2026-11-20", "distance": 0, "duration": 60}, "greater than 0"),
        ({"date": "2026-11-20", "distance": 5, "duration": "5:99"}, "above 59"),
        (
            {"date": "2026-11-20", "distance": 5, "duration": 60, "avg_hr": 190, "max_hr": 150},
            "cannot exceed",
        ),
        ({"date": "2026-11-20", "distance": 5, "duration": 60, "perceived_effort": 11}, "10"),
        ({"date": "2026-11-20", "distance": 5, "duration": 60, "workout_type": "jog"}, "easy"),
        ({"date": "2026-11-20", "distance": 5, "duration": 60, "bogus": 1}, "bogus"),
    ],
)
def test_log_run_refuses(payload: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        runs.LogRun.model_validate(payload)


def test_update_commands_need_something() -> None:
    with pytest.raises(ValidationError, match="nothing to update"):
        runs.UpdateRun.model_validate({"run_id": "r"})
    with pytest.raises(ValidationError, match="both set and cleared"):
        runs.UpdateRun.model_validate({"run_id": "r", "notes": "x", "clear": ["notes"]})
    assert runs.UpdateRun.model_validate({"run_id": "r", "name": "n"}).changes() == {"name": "n"}
    with pytest.raises(ValidationError, match="nothing to update"):
        runs.UpdateProfile.model_validate({})
    assert runs.UpdateProfile.model_validate({"name": "A", "unit": "mi"}).changes() == {
        "name": "A",
        "unit": "mi",
    }


def test_register_defaults_and_checks() -> None:
    cmd = runs.RegisterAthlete.model_validate({"name": "Ann", "email": "ann@example.org"})
    assert (cmd.timezone, cmd.unit, cmd.week_start) == ("UTC", "km", "monday")
    assert (
        runs.RegisterAthlete.model_validate(
            {"name": "Ann", "email": "a@b.co", "week_start": "Sunday"}
        ).week_start
        == "sunday"
    )
    for bad in (
        {"email": "nope"},
        {"timezone": "Nowhere/City"},
        {"unit": "yd"},
        {"resting_hr": 60, "max_hr": 60},
    ):
        with pytest.raises(ValidationError):
            runs.RegisterAthlete.model_validate({"name": "Ann", "email": "a@b.co", **bad})
    with pytest.raises(ValidationError, match="confirm must be true"):
        runs.DeleteAthlete.model_validate({"confirm": False})


def test_run_read_model_derives_paces() -> None:
    run = runs.Run(
        run_id="r",
        athlete_id="a",
        date=dt.date(2026, 11, 20),
        distance_m=10_000,
        duration_s=3000,
        logged_at=NOW,
    )
    assert (run.distance_km, run.distance_mi) == (10.0, 6.214)
    assert (run.pace_per_km, run.pace_per_mi, run.duration) == ("5:00", "8:03", "50:00")
    again = runs.Run.model_validate_json(run.model_dump_json())
    assert again == run


def test_shoe_wear_alert_at_80_percent() -> None:
    base = {"shoe_id": "s", "name": "Pegasus", "max_distance_m": 800_000, "added_at": NOW}
    below = runs.Shoe.model_validate(
        {**base, "initial_distance_m": 100_000, "run_distance_m": 539_999}
    )
    at = runs.Shoe.model_validate(
        {**base, "initial_distance_m": 100_000, "run_distance_m": 540_000}
    )
    assert below.distance_m == 639_999 and not below.wear_alert
    assert at.distance_m == 640_000 and at.wear_alert and at.percent_of_max == 80.0


def test_everything_is_registered_with_schemas() -> None:
    schemas = REGISTRY.json_schemas()
    for name in (
        "register_athlete",
        "update_profile",
        "delete_athlete",
        "log_run",
        "update_run",
        "delete_run",
        "add_shoe",
        "retire_shoe",
        "set_default_shoe",
    ):
        assert f"command.runs.{name}.v1" in schemas
    for etype in ("AthleteRegistered", "ProfileUpdated", "AthleteDeleted"):
        assert f"event.athlete.{etype}.v1" in schemas
    for etype in ("RunLogged", "RunUpdated", "RunDeleted"):
        assert f"event.run.{etype}.v1" in schemas
    for etype in ("ShoeAdded", "ShoeRetired", "DefaultShoeSet"):
        assert f"event.shoes.{etype}.v1" in schemas
    assert runs.RunLogged.personal_fields == {"name", "notes"}
    assert runs.AthleteRegistered.personal_fields == {"name", "email"}
    props = schemas["command.runs.log_run.v1"]["properties"]
    assert "name" in props and "description" in props["distance"]
