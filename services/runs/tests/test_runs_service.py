"""The runs service against the real stack (NATS, Postgres, Redis), running in-process."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from uuid import uuid4

import pytest
from maratron_contracts.envelope import Actor, EventMetadata, RecordedEvent
from maratron_contracts.errors import Conflict, NotFound, ValidationFailed
from maratron_contracts.messages import Command, Event
from maratron_contracts.runs import (
    AddShoe,
    AthleteDeleted,
    DeleteAthlete,
    DeleteRun,
    LogRun,
    RetireShoe,
    RunLogged,
    SetDefaultShoe,
    UpdateProfile,
    UpdateRun,
)
from maratron_projections import Keys, Projector
from maratron_runs.projections import projections
from maratron_runs.queries import RunsQueries
from maratron_runs.testing import RunsWorld

pytestmark = pytest.mark.integration

TODAY = dt.datetime.now(dt.UTC).date()
DAY = TODAY - dt.timedelta(days=3)


def run(distance: float = 10, duration: str | int = "50:00", **fields: Any) -> LogRun:
    return LogRun.model_validate(
        {"date": DAY.isoformat(), "distance": distance, "duration": duration, **fields}
    )


async def add_shoe(w: RunsWorld, athlete: str, name: str, **fields: Any) -> str:
    outcome = await w.send(AddShoe.model_validate({"name": name, **fields}), athlete)
    shoe_id = outcome.data["shoe_id"]
    assert isinstance(shoe_id, str)
    return shoe_id


async def shoe_metres(w: RunsWorld, athlete: str) -> dict[str, int]:
    return {s.shoe_id: s.run_distance_m for s in await w.queries.list_shoes(athlete, True)}


# -- profile --------------------------------------------------------------------------------------
async def test_register_update_and_read_profile(runs_world: RunsWorld) -> None:
    w = runs_world
    athlete = await w.new_athlete(timezone="Europe/Paris", week_start="sunday")
    profile = await w.queries.get_profile(athlete)
    assert (profile.name, profile.timezone, profile.week_start) == (
        "Ann Runner", "Europe/Paris", "sunday",
    )  # fmt: skip
    await w.send(UpdateProfile.model_validate({"unit": "mi", "max_hr": 190}), athlete)
    profile = await w.queries.get_profile(athlete)
    assert (profile.unit, profile.max_hr, profile.email) == ("mi", 190, "ann@example.org")
    with pytest.raises(NotFound, match="register_athlete"):
        await w.queries.get_profile("nobody-" + uuid4().hex)


# -- every validation case: typed error, helpful text, nothing appended ----------------------------
CASES: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("log_run", {"distance": 0}, ValidationFailed, "distance"),
    ("log_run", {"distance": -3}, ValidationFailed, "distance"),
    ("log_run", {"distance": 0.0001}, ValidationFailed, "distance must be more than 0"),
    ("log_run", {"duration": 0}, ValidationFailed, "duration must be more than 0"),
    ("log_run", {"duration": "5:99"}, ValidationFailed, "above 59"),
    ("log_run", {"duration": "soon"}, ValidationFailed, "HH:MM:SS"),
    ("log_run", {"duration": "20:00"}, ValidationFailed, "faster than 2:30/km"),
    ("log_run", {"distance": 1, "duration": "31:00"}, ValidationFailed, "slower than 30:00/km"),
    ("log_run", {"date": (TODAY + dt.timedelta(days=3)).isoformat()}, ValidationFailed, "future"),
    ("log_run", {"date": "23/11/2026"}, ValidationFailed, "date"),
    ("log_run", {"unit": "furlong"}, ValidationFailed, "unit"),
    ("log_run", {"perceived_effort": 11}, ValidationFailed, "perceived_effort"),
    ("log_run", {"shoe_id": "no-such-shoe"}, NotFound, "list_shoes"),
    ("log_run", {"shoe_id": "$retired"}, ValidationFailed, "retired"),
    ("update_run", {"run_id": "no-such-run", "name": "x"}, NotFound, "list_runs"),
    ("update_run", {"run_id": "$run", "distance": 40}, ValidationFailed, "faster than 2:30/km"),
    ("update_run", {"run_id": "$run"}, ValidationFailed, "nothing to update"),
    ("update_run", {"run_id": "$run", "shoe_id": "$retired"}, ValidationFailed, "retired"),
    ("delete_run", {"run_id": "no-such-run"}, NotFound, "list_runs"),
    ("delete_run", {"run_id": "$others_run"}, NotFound, "not found"),
    ("update_run", {"run_id": "$others_run", "name": "mine"}, NotFound, "not found"),
    ("register_athlete", {"name": "Again", "email": "a@b.co"}, Conflict, "update_profile"),
    ("register_athlete", {"name": "X", "email": "not-an-email"}, ValidationFailed, "email"),
    ("update_profile", {"timezone": "Mars/Base"}, ValidationFailed, "IANA"),
    ("update_profile", {"resting_hr": 200}, ValidationFailed, "resting_hr"),
    ("retire_shoe", {"shoe_id": "$retired"}, Conflict, "already retired"),
    ("retire_shoe", {"shoe_id": "nope"}, NotFound, "list_shoes"),
    ("set_default_shoe", {"shoe_id": "$retired"}, ValidationFailed, "retired"),
    ("add_shoe", {"name": "Old Faithful"}, Conflict, "already have an active shoe"),
    ("delete_athlete", {"confirm": False}, ValidationFailed, "confirm must be true"),
]
RUN_DEFAULTS = {"date": DAY.isoformat(), "distance": 10, "duration": "50:00"}


@pytest.fixture(scope="module")
async def refs(runs_world: RunsWorld) -> dict[str, str]:
    """An athlete with a run, an active and a retired shoe, and another athlete's run."""
    w = runs_world
    athlete = await w.new_athlete()
    await add_shoe(w, athlete, "Old Faithful")
    retired = await add_shoe(w, athlete, "Worn Out")
    await w.send(RetireShoe(shoe_id=retired), athlete)
    mine = (await w.send(run(), athlete)).data["run_id"]
    other = await w.new_athlete()
    others = (await w.send(run(), other)).data["run_id"]
    return {"athlete": athlete, "$retired": retired, "$run": mine, "$others_run": others}


@pytest.mark.parametrize(("command", "payload", "error", "needle"), CASES)
async def test_refused_commands_change_nothing(
    runs_world: RunsWorld,
    refs: dict[str, str],
    command: str,
    payload: dict[str, Any],
    error: type[Exception],
    needle: str,
) -> None:
    w = runs_world
    body = {k: refs.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    if command == "log_run":
        body = {**RUN_DEFAULTS, **body}
    before = await w.head()
    reply = await w.raw(command, body, refs["athlete"])
    assert not reply.ok and reply.error is not None
    exc = reply.error.to_exception()
    assert isinstance(exc, error), reply.error
    assert needle in exc.message, exc.message
    assert await w.head() == before


async def test_commands_without_a_profile_say_so(runs_world: RunsWorld) -> None:
    w = runs_world
    before = await w.head()
    with pytest.raises(NotFound, match="register_athlete first"):
        await w.send(run(), "ghost-" + uuid4().hex)
    with pytest.raises(NotFound, match="register_athlete first"):
        await w.send(AddShoe.model_validate({"name": "X"}), "ghost-" + uuid4().hex)
    assert await w.head() == before


# -- runs, summaries, shoes -----------------------------------------------------------------------
async def test_update_and_delete_move_summaries_and_shoe_distance(runs_world: RunsWorld) -> None:
    w = runs_world
    athlete = await w.new_athlete()
    a = await add_shoe(w, athlete, "Shoe A", default=True)
    b = await add_shoe(w, athlete, "Shoe B", initial_distance=100)
    wed = TODAY - dt.timedelta(days=TODAY.weekday() + 12)  # Wednesday two weeks ago
    r1 = (await w.send(run(10, "50:00", date=wed.isoformat(), elevation_gain_m=100), athlete)).data
    r2 = (await w.send(run(5, "25:00", date=wed.isoformat(), shoe_id=b), athlete)).data
    assert await shoe_metres(w, athlete) == {a: 10_000, b: 5_000}
    week = await w.queries.summary(athlete, "week", wed)
    assert (week.count, week.distance_m, week.moving_time_s, week.elevation_gain_m) == (
        2, 15_000, 4500, 100,
    )  # fmt: skip
    assert (week.longest_run_id, week.longest_run_m, week.average_pace_per_km) == (
        r1["run_id"], 10_000, "5:00",
    )  # fmt: skip

    # r1 moves to shoe B, 8 km, and to the next week.
    later = wed + dt.timedelta(days=7)
    update = {"run_id": r1["run_id"], "distance": 8, "shoe_id": b, "date": later.isoformat()}
    await w.send(UpdateRun.model_validate(update), athlete)
    assert await shoe_metres(w, athlete) == {a: 0, b: 13_000}
    week = await w.queries.summary(athlete, "week", wed)
    assert (week.count, week.distance_m, week.longest_run_id, week.elevation_gain_m) == (
        1, 5_000, r2["run_id"], 0,
    )  # fmt: skip
    nxt = await w.queries.summary(athlete, "week", later)
    assert (nxt.count, nxt.distance_m, nxt.longest_run_m, nxt.elevation_gain_m) == (
        1, 8_000, 8_000, 100,
    )  # fmt: skip
    assert (await w.queries.summary(athlete, "30d", later)).distance_m == 13_000
    updated = await w.queries.get_run(athlete, r1["run_id"])
    assert (updated.distance_m, updated.shoe_id, updated.date, updated.duration) == (
        8_000, b, later, "50:00",
    )  # fmt: skip
    assert updated.pace_per_km == "6:15"

    await w.send(DeleteRun(run_id=r2["run_id"]), athlete)
    assert await shoe_metres(w, athlete) == {a: 0, b: 8_000}
    week = await w.queries.summary(athlete, "week", wed)
    assert (week.count, week.distance_m, week.longest_run_id) == (0, 0, None)
    with pytest.raises(NotFound):
        await w.queries.get_run(athlete, r2["run_id"])
    shoes = {s.shoe_id: s for s in await w.queries.list_shoes(athlete)}
    assert shoes[b].distance_m == 8_000 + 100_000 and shoes[a].is_default


async def test_list_runs_newest_first_with_cursor_and_bounds(runs_world: RunsWorld) -> None:
    w = runs_world
    athlete = await w.new_athlete()
    days = [TODAY - dt.timedelta(days=i) for i in range(1, 8)]
    ids = {}
    for i, day in enumerate(days):
        for clock in ("06:00", "18:30"):
            out = await w.send(run(5 + i, "30:00", date=day.isoformat(), start_time=clock), athlete)
            ids[(day, clock)] = out.data["run_id"]
    expected = [ids[(day, c)] for day in days for c in ("18:30", "06:00")]  # newest first
    seen, cursor = [], None
    while True:
        page = await w.queries.list_runs(athlete, limit=4, cursor=cursor)
        seen += [r.run_id for r in page.runs]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    window = await w.queries.list_runs(athlete, since=days[4], until=days[2], limit=100)
    assert [r.run_id for r in window.runs] == expected[4:10]
    with pytest.raises(ValidationFailed, match="cursor"):
        await w.queries.list_runs(athlete, cursor="garbage")
    with pytest.raises(ValidationFailed, match="between 1 and 100"):
        await w.queries.list_runs(athlete, limit=101)


async def test_retiring_the_default_shoe_clears_the_default(runs_world: RunsWorld) -> None:
    w = runs_world
    athlete = await w.new_athlete()
    shoe = await add_shoe(w, athlete, "Daily", default=True)
    assert (await w.send(run(), athlete)).data["run_id"]
    await w.send(RetireShoe(shoe_id=shoe), athlete)
    assert await w.queries.list_shoes(athlete) == []
    (retired,) = await w.queries.list_shoes(athlete, include_retired=True)
    assert retired.retired and not retired.is_default and retired.run_distance_m == 10_000
    logged = (await w.send(run(), athlete)).data["run_id"]
    assert (await w.queries.get_run(athlete, logged)).shoe_id is None
    other = await add_shoe(w, athlete, "New")
    await w.send(SetDefaultShoe(shoe_id=other), athlete)
    assert [s.is_default for s in await w.queries.list_shoes(athlete)] == [True]


async def test_wear_alert_at_80_percent(runs_world: RunsWorld) -> None:
    w = runs_world
    athlete = await w.new_athlete()
    shoe = await add_shoe(w, athlete, "Racer", max_distance=100, initial_distance=70)
    await w.send(run(9.999, "50:00", shoe_id=shoe), athlete)
    (s,) = await w.queries.list_shoes(athlete)
    assert (s.distance_m, s.wear_alert) == (79_999, False)
    await w.send(run(0.001, "0:01", shoe_id=shoe, date=TODAY.isoformat()), athlete)
    (s,) = await w.queries.list_shoes(athlete)
    assert (s.distance_m, s.percent_of_max, s.wear_alert) == (80_000, 80.0, True)


# -- concurrency and idempotency -------------------------------------------------------------------
async def test_fifty_concurrent_runs_on_one_shoe_sum_exactly(runs_world: RunsWorld) -> None:
    w = runs_world
    athlete = await w.new_athlete()
    shoe = await add_shoe(w, athlete, "Shared")
    distances = [round(3 + i * 0.137, 3) for i in range(50)]
    outcomes = await asyncio.gather(
        *(w.send(run(km, round(km * 300), shoe_id=shoe), athlete) for km in distances)
    )
    run_ids = {o.data["run_id"] for o in outcomes}
    assert len(run_ids) == 50
    (s,) = await w.queries.list_shoes(athlete)
    assert s.run_distance_m == sum(round(km * 1000) for km in distances)
    assert s.run_count == 50
    page = await w.queries.list_runs(athlete, limit=100)
    assert {r.run_id for r in page.runs} == run_ids
    summary = await w.queries.summary(athlete, "7d", TODAY)
    assert (summary.count, summary.distance_m) == (50, s.run_distance_m)


async def test_a_retried_command_is_applied_once(runs_world: RunsWorld) -> None:
    w = runs_world
    athlete = await w.new_athlete()
    command_id = uuid4()
    before = await w.head()
    first = await w.send(run(), athlete, command_id=command_id)
    again = await w.send(run(), athlete, command_id=command_id)
    assert again.data == first.data and again.event_ids == first.event_ids
    assert again.global_position == first.global_position
    assert await w.head() == before + 1
    assert len((await w.queries.list_runs(athlete)).runs) == 1


# -- erasure ---------------------------------------------------------------------------------------
async def test_delete_athlete_erases_personal_data_and_keeps_counts(runs_world: RunsWorld) -> None:
    w = runs_world
    athlete = await w.new_athlete()
    await add_shoe(w, athlete, "Trail")
    logged = (await w.send(run(name="Secret loop", notes="my knee hurts"), athlete)).data
    receipt = (await w.send(DeleteAthlete(confirm=True), athlete)).data
    assert (receipt["runs_kept"], receipt["shoes_kept"]) == (1, 1)
    with pytest.raises(NotFound, match="was deleted"):
        await w.queries.get_profile(athlete)
    erased = await w.queries.get_run(athlete, logged["run_id"])
    assert (erased.name, erased.notes, erased.distance_m) == ("[erased]", "[erased]", 10_000)
    events = await w.app.store.read_stream(f"run:{logged['run_id']}")
    assert events[0].data["notes"] == "[erased]"
    (registered,) = (await w.app.store.read_stream(f"athlete:{athlete}"))[:1]
    assert registered.data["email"] == "[erased]"
    with pytest.raises(NotFound, match="deleted"):
        await w.send(run(), athlete)


# -- replay ----------------------------------------------------------------------------------------
async def test_replay_into_a_fresh_prefix_matches_the_live_read_models(
    runs_world: RunsWorld,
) -> None:
    """Redis is disposable: rebuilding every read model from Postgres gives the same answers."""
    w = runs_world
    athlete = await w.new_athlete()
    shoe = await add_shoe(w, athlete, "Replay", default=True)
    first = (await w.send(run(12, "1:00:00", name="Long"), athlete)).data["run_id"]
    await w.send(run(6, "30:00", date=TODAY.isoformat()), athlete)
    await w.send(UpdateRun.model_validate({"run_id": first, "distance": 14}), athlete)
    keys = Keys(w.namespace, "replay")
    projector = Projector(w.app.redis, w.app.store, projections(), keys, name="replay")
    await projector.catch_up()
    replayed = RunsQueries(w.app.redis, keys)
    assert await replayed.get_profile(athlete) == await w.queries.get_profile(athlete)
    assert await replayed.list_runs(athlete) == await w.queries.list_runs(athlete)
    assert await replayed.list_shoes(athlete) == await w.queries.list_shoes(athlete)
    for period in ("week", "month", "year", "30d"):
        assert await replayed.summary(athlete, period) == await w.queries.summary(athlete, period)
    assert (await replayed.list_shoes(athlete))[0].run_distance_m == 20_000
    assert (await replayed.list_shoes(athlete))[0].shoe_id == shoe

    # Fed twice == fed once: re-applying every event (inline path) and catching up again
    # changes nothing.
    everything = await w.app.store.read_all(0, limit=100_000)
    await projector.apply([e for e in everything if e.athlete_id == athlete])
    await projector.catch_up()
    assert await replayed.list_runs(athlete) == await w.queries.list_runs(athlete)
    assert await replayed.list_shoes(athlete) == await w.queries.list_shoes(athlete)
    for period in ("week", "year", "3650d"):
        assert await replayed.summary(athlete, period) == await w.queries.summary(athlete, period)


async def test_concurrent_changes_to_one_stream_all_apply(runs_world: RunsWorld) -> None:
    """Commands racing on one stream (one run, the shoes of one athlete) are retried by the
    service on their expected-version conflict: every one applies, none surfaces a conflict."""
    w = runs_world
    athlete = await w.new_athlete()
    run_id = (await w.send(run(), athlete)).data["run_id"]
    notes = [f"note {i}" for i in range(30)]
    await asyncio.gather(
        *(w.send(UpdateRun.model_validate({"run_id": run_id, "notes": n}), athlete) for n in notes)
    )
    events = await w.app.store.read_stream(f"run:{run_id}")
    assert sorted(e.data["notes"] for e in events[1:]) == sorted(notes)
    assert (await w.queries.get_run(athlete, run_id)).notes == events[-1].data["notes"]
    names = [f"Shoe {i}" for i in range(30)]
    await asyncio.gather(*(add_shoe(w, athlete, n) for n in names))
    assert sorted(s.name for s in await w.queries.list_shoes(athlete)) == sorted(names)


async def test_a_command_delivered_twice_at_once_gets_one_effect_and_one_reply(
    runs_world: RunsWorld,
) -> None:
    """A client retry can arrive while the first delivery is still running: whichever order
    they finish in, both get the original outcome (never 'already exists'), applied once."""
    w = runs_world
    athlete = await w.new_athlete()
    shoe = await add_shoe(w, athlete, "Pair")
    run_ids = [(await w.send(run(), athlete)).data["run_id"] for _ in range(10)]
    commands: list[Command] = [AddShoe.model_validate({"name": f"Twin {i}"}) for i in range(10)]
    commands += [DeleteRun(run_id=r) for r in run_ids]
    commands += [RetireShoe(shoe_id=shoe)]
    before = await w.head()
    for cmd in commands:
        envelope = w.client.envelope(cmd, athlete, Actor(subject=athlete))
        first, second = await asyncio.gather(
            w.client.request("runs", envelope), w.client.request("runs", envelope)
        )
        assert first.ok and second.ok, (first.error, second.error)
        assert first.outcome == second.outcome
    # one ShoeAdded per add_shoe, one RunDeleted per delete_run, ShoeRetired: nothing twice
    assert await w.head() == before + len(commands)


async def test_a_run_projected_after_the_erasure_keeps_no_personal_data(
    runs_world: RunsWorld,
) -> None:
    """An event read (decrypted) just before its athlete's erasure but projected after the
    scrub must not bring the name or notes back into Redis."""
    w = runs_world
    keys = Keys(w.namespace, f"late{uuid4().hex[:6]}")
    projector = Projector(w.app.redis, w.app.store, projections(), keys, name=keys.version)
    now = dt.datetime.now(dt.UTC)

    def recorded(stream: str, event: Event, position: int) -> RecordedEvent:
        return RecordedEvent(
            global_position=position, event_id=uuid4(), stream_id=stream, stream_version=1,
            athlete_id="late", event_type=type(event).event_type, schema_version=1,
            data=event.model_dump(mode="json"), metadata=EventMetadata(), recorded_at=now,
        )  # fmt: skip

    deleted = AthleteDeleted(athlete_id="late", deleted_at=now)
    await projector.apply([recorded("athlete:late", deleted, 1)])
    late = RunLogged(run_id="r-late", date=DAY, distance_m=5000, duration_s=1500,
                     name="Secret loop", notes="my knee", logged_at=now)  # fmt: skip
    await projector.apply([recorded("run:r-late", late, 2)])
    stored = await RunsQueries(w.app.redis, keys).get_run("late", "r-late")
    assert (stored.name, stored.notes, stored.distance_m) == ("[erased]", "[erased]", 5000)
