"""Tool output shapes that wrap contract read models (MCP structured content is an object).

Command results carry ids only (no personal data in the command record), so a write tool
reads the entity back from its read model - projected before the service replied - and
returns both.
"""

from __future__ import annotations

from maratron_contracts.runs import Profile, Run, Shoe
from pydantic import BaseModel, Field


class Registered(BaseModel):
    athlete_id: str = Field(description="Your athlete id: your token's subject.")
    profile: Profile


class LoggedRun(BaseModel):
    run_id: str
    run: Run = Field(description="The run, with distance in km and mi, duration and pace.")


class AddedShoe(BaseModel):
    shoe_id: str
    shoe: Shoe


class ShoeList(BaseModel):
    shoes: list[Shoe] = Field(description="Active first, then by the date they were added.")
