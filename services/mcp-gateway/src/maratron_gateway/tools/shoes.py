"""Shoe tools: add_shoe, list_shoes, retire_shoe."""

from __future__ import annotations

from typing import Annotated

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from maratron_contracts.errors import NotFound
from maratron_contracts.runs import AddShoe, RetireShoe, Shoe, ShoeResult
from maratron_contracts.units import Unit
from pydantic import Field

from maratron_gateway.deps import GatewayDeps
from maratron_gateway.outputs import AddedShoe, ShoeList
from maratron_gateway.toolkit import CREATE, DELETE, READ_ONLY, build, result, send_command, tool


def render_shoe(s: Shoe) -> str:
    flags = "".join(
        f
        for f, on in (
            (" [default]", s.is_default),
            (" [retired]", s.retired),
            (" [WEAR ALERT]", s.wear_alert),
        )
        if on
    )
    return (
        f"{s.name}{flags}: {s.distance_km} km ({s.distance_mi} mi), {s.percent_of_max}% of "
        f"{s.max_distance_km} km [shoe_id {s.shoe_id}]"
    )


async def find_shoe(deps: GatewayDeps, shoe_id: str | None) -> Shoe:
    """One of the caller's shoes (retired included), read back after a command."""
    for shoe in await deps.runs.list_shoes(deps.actor().subject, include_retired=True):
        if shoe.shoe_id == shoe_id:
            return shoe
    raise NotFound(f"shoe {shoe_id!r} not found: list_shoes shows your shoes and their shoe_id")


def register(mcp: FastMCP, deps: GatewayDeps) -> None:
    @tool(mcp, CREATE, AddedShoe)
    async def add_shoe(
        name: Annotated[str, Field(min_length=1, max_length=100, description="A name.")],
        brand: Annotated[str | None, Field(max_length=100)] = None,
        model: Annotated[str | None, Field(max_length=100)] = None,
        max_distance: Annotated[
            float | None, Field(gt=0, le=10000, description="Retirement distance; default 800 km.")
        ] = None,
        initial_distance: Annotated[
            float, Field(ge=0, le=10000, description="Distance already run in the shoe.")
        ] = 0,
        unit: Annotated[
            Unit | None, Field(description="Unit of the distances; default: your profile's.")
        ] = None,
        default: Annotated[
            bool, Field(description="Make it the default shoe for new runs.")
        ] = False,
    ) -> ToolResult:
        """Add a shoe; runs logged without shoe_id use the default shoe."""
        cmd = build(
            AddShoe,
            "add_shoe",
            name=name,
            brand=brand,
            model=model,
            max_distance=max_distance,
            initial_distance=initial_distance,
            unit=unit,
            default=default,
        )
        out = ShoeResult.model_validate((await send_command(deps, cmd)).data)
        shoe = await find_shoe(deps, out.shoe_id)
        return result(AddedShoe(shoe_id=shoe.shoe_id, shoe=shoe), "added " + render_shoe(shoe))

    @tool(mcp, READ_ONLY, ShoeList)
    async def list_shoes(
        include_retired: Annotated[bool, Field(description="Also list retired shoes.")] = False,
    ) -> ToolResult:
        """Your shoes with distance, % of max distance and a wear alert at 80%."""
        athlete = deps.actor().subject
        shoes = await deps.runs.list_shoes(athlete, include_retired)
        if not shoes:
            await deps.runs.get_profile(athlete)  # no shoes: say so if there is no profile
        return result(ShoeList(shoes=shoes), "\n".join(map(render_shoe, shoes)) or "no shoes")

    @tool(mcp, DELETE, Shoe)
    async def retire_shoe(
        shoe_id: Annotated[str, Field(min_length=1, max_length=64, description="The shoe.")],
    ) -> ToolResult:
        """Retire a shoe: it leaves list_shoes (unless include_retired) but its history stays."""
        out = ShoeResult.model_validate(
            (await send_command(deps, build(RetireShoe, "retire_shoe", shoe_id=shoe_id))).data
        )
        shoe = await find_shoe(deps, out.shoe_id or shoe_id)
        return result(shoe, "retired " + render_shoe(shoe))
