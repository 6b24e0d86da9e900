"""Command handlers of the runs service: load the streams a decision needs, decide (pure, in
`domain`), and hand the events to the command loop (which appends with the expected version,
retries on a concurrent change, projects inline and replies).

log_run appends to its own new stream `run:{id}` (id minted from the command id) and only reads
the athlete and shoes streams, so concurrent runs on one shoe never conflict; the shoe's distance
is summed by the projection with exact integer increments.

Latency: every handler names the streams it loads (`prefetch`), so the command loop reads them
while it checks the command id for an earlier application - but only for an actor whose right
to write is decided from the token alone (`authz.privileged`); anyone else is authorized first
and reads nothing before a `Forbidden`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable

from maratron_contracts.messages import Command
from maratron_contracts.runs import (
    SERVICE,
    AddShoe,
    DeleteAthlete,
    DeleteReceipt,
    DeleteRun,
    ErasureReceipt,
    LogRun,
    ProfileResult,
    RegisterAthlete,
    RetireShoe,
    RunResult,
    SetDefaultShoe,
    ShoeResult,
    UpdateProfile,
    UpdateRun,
)
from maratron_service.commands import CommandBus, CommandContext, Decision

from maratron_runs import domain as d
from maratron_runs.authz import GrantLookup, privileged, require_self, require_write
from maratron_runs.queries import RunsQueries

Clock = Callable[[], dt.datetime]
MAX_CONFLICT_RETRIES = 30


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _streams(*which: Callable[[CommandContext, Command], str]) -> Callable[..., Iterable[str]]:
    """A `prefetch` for the bus: the named streams, for privileged actors only."""

    def prefetch(ctx: CommandContext, cmd: Command) -> Iterable[str]:
        if not privileged(ctx.actor, ctx.athlete_id):
            return ()
        return [stream(ctx, cmd) for stream in which]

    return prefetch


def _athlete(ctx: CommandContext, cmd: Command) -> str:
    return d.athlete_stream(ctx.athlete_id)


def _shoes(ctx: CommandContext, cmd: Command) -> str:
    return d.shoes_stream(ctx.athlete_id)


def _run(ctx: CommandContext, cmd: Command) -> str:
    return d.run_stream(cmd.run_id)  # type: ignore[attr-defined]  # commands on one run


def build_bus(
    queries: Callable[[], RunsQueries], grant_for: GrantLookup, clock: Clock = utcnow
) -> CommandBus:
    """The runs command table. `queries` gives the read-model reader (erasure receipt counts),
    `grant_for` the coach grants (authz), `clock` the current instant."""
    # Generous conflict retries: commands racing on one stream (one run, an athlete's shoes)
    # must all apply rather than surface a conflict the caller can do nothing about.
    bus = CommandBus(SERVICE, max_conflict_retries=MAX_CONFLICT_RETRIES)

    async def may_write(ctx: CommandContext) -> None:
        await require_write(ctx.actor, ctx.athlete_id, grant_for)

    async def athlete(ctx: CommandContext) -> tuple[d.AthleteState, int]:
        return await ctx.load(d.athlete_stream(ctx.athlete_id), d.evolve_athlete, d.AthleteState())

    async def shoes(ctx: CommandContext) -> tuple[d.ShoesState, int]:
        return await ctx.load(d.shoes_stream(ctx.athlete_id), d.evolve_shoes, d.ShoesState())

    async def run(ctx: CommandContext, run_id: str) -> tuple[d.RunState, int]:
        return await ctx.load(d.run_stream(run_id), d.evolve_run, d.RunState())

    # -- athlete ---------------------------------------------------------------------------
    @bus.handler(RegisterAthlete, prefetch=_streams(_athlete))
    async def register_athlete(ctx: CommandContext, cmd: RegisterAthlete) -> Decision:
        require_self(ctx.actor, ctx.athlete_id)
        state, version = await athlete(ctx)
        events = d.register_athlete(cmd, state, ctx.athlete_id, clock())
        result = ProfileResult(athlete_id=ctx.athlete_id)
        return Decision(d.athlete_stream(ctx.athlete_id), version, events, _dump(result))

    @bus.handler(UpdateProfile, prefetch=_streams(_athlete))
    async def update_profile(ctx: CommandContext, cmd: UpdateProfile) -> Decision:
        await may_write(ctx)
        state, version = await athlete(ctx)
        events = d.update_profile(cmd, state, ctx.athlete_id, clock())
        result = ProfileResult(athlete_id=ctx.athlete_id)
        return Decision(d.athlete_stream(ctx.athlete_id), version, events, _dump(result))

    @bus.handler(DeleteAthlete, prefetch=_streams(_athlete))
    async def delete_athlete(ctx: CommandContext, cmd: DeleteAthlete) -> Decision:
        require_self(ctx.actor, ctx.athlete_id)
        state, version = await athlete(ctx)
        now = clock()
        events = d.delete_athlete(cmd, state, ctx.athlete_id, now)
        runs_kept, shoes_kept = await queries().counts(ctx.athlete_id)
        # Erase before recording: a crash in between leaves the command unrecorded, and its
        # retry erases again (idempotent) and records it.
        await ctx.store.erase_athlete(ctx.athlete_id)
        receipt = ErasureReceipt(
            athlete_id=ctx.athlete_id, erased_at=now, runs_kept=runs_kept, shoes_kept=shoes_kept
        )
        return Decision(d.athlete_stream(ctx.athlete_id), version, events, _dump(receipt))

    # -- runs ------------------------------------------------------------------------------
    @bus.handler(LogRun, prefetch=_streams(_athlete, _shoes))
    async def log_run(ctx: CommandContext, cmd: LogRun) -> Decision:
        await may_write(ctx)
        run_id = d.mint_id("run", ctx.command_id)
        if ctx.attempt == 0:
            # The run's stream is named after this command id, so it exists only if this very
            # command was applied - which the append's dedup answers before any version check.
            # Only a concurrent change (a retry) makes reading it worthwhile.
            (ath, _), (sh, _) = await asyncio.gather(athlete(ctx), shoes(ctx))
            state, version = d.RunState(), 0
        else:
            (ath, _), (sh, _), (state, version) = await asyncio.gather(
                athlete(ctx), shoes(ctx), run(ctx, run_id)
            )
        events = d.log_run(cmd, ath, sh, state, run_id, clock())
        return Decision(d.run_stream(run_id), version, events, _dump(RunResult(run_id=run_id)))

    @bus.handler(UpdateRun, prefetch=_streams(_athlete, _shoes, _run))
    async def update_run(ctx: CommandContext, cmd: UpdateRun) -> Decision:
        await may_write(ctx)
        (ath, _), (sh, _), (state, version) = await asyncio.gather(
            athlete(ctx), shoes(ctx), run(ctx, cmd.run_id)
        )
        events = d.update_run(cmd, ath, sh, state, clock())
        result = RunResult(run_id=cmd.run_id)
        return Decision(d.run_stream(cmd.run_id), version, events, _dump(result))

    @bus.handler(DeleteRun, prefetch=_streams(_athlete, _run))
    async def delete_run(ctx: CommandContext, cmd: DeleteRun) -> Decision:
        await may_write(ctx)
        (ath, _), (state, version) = await asyncio.gather(athlete(ctx), run(ctx, cmd.run_id))
        now = clock()
        events = d.delete_run(cmd, ath, state, now)
        receipt = DeleteReceipt(run_id=cmd.run_id, deleted_at=now)
        return Decision(d.run_stream(cmd.run_id), version, events, _dump(receipt))

    # -- shoes -----------------------------------------------------------------------------
    @bus.handler(AddShoe, prefetch=_streams(_athlete, _shoes))
    async def add_shoe(ctx: CommandContext, cmd: AddShoe) -> Decision:
        await may_write(ctx)
        shoe_id = d.mint_id("shoe", ctx.command_id)
        (ath, _), (sh, version) = await asyncio.gather(athlete(ctx), shoes(ctx))
        events = d.add_shoe(cmd, ath, sh, shoe_id, clock())
        result = ShoeResult(shoe_id=shoe_id)
        return Decision(d.shoes_stream(ctx.athlete_id), version, events, _dump(result))

    @bus.handler(RetireShoe, prefetch=_streams(_athlete, _shoes))
    async def retire_shoe(ctx: CommandContext, cmd: RetireShoe) -> Decision:
        await may_write(ctx)
        (ath, _), (sh, version) = await asyncio.gather(athlete(ctx), shoes(ctx))
        events = d.retire_shoe(cmd, ath, sh, clock())
        result = ShoeResult(shoe_id=cmd.shoe_id)
        return Decision(d.shoes_stream(ctx.athlete_id), version, events, _dump(result))

    @bus.handler(SetDefaultShoe, prefetch=_streams(_athlete, _shoes))
    async def set_default_shoe(ctx: CommandContext, cmd: SetDefaultShoe) -> Decision:
        await may_write(ctx)
        (ath, _), (sh, version) = await asyncio.gather(athlete(ctx), shoes(ctx))
        events = d.set_default_shoe(cmd, ath, sh)
        result = ShoeResult(shoe_id=cmd.shoe_id)
        return Decision(d.shoes_stream(ctx.athlete_id), version, events, _dump(result))

    return bus


def _dump(
    result: ProfileResult | RunResult | ShoeResult | DeleteReceipt | ErasureReceipt,
) -> dict[str, object]:
    return result.model_dump(mode="json")
