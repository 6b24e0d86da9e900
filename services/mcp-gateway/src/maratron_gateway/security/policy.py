"""What every tool and resource requires: a scope and a rate-limit tier.

The tables are the single source of truth; a tool or resource scheme missing from them is
refused (fail closed), and a unit test checks that every registered tool is listed. A caller
holding the `admin` scope satisfies every scope. `scope=None` means "any verified caller".
"""

from __future__ import annotations

from dataclasses import dataclass

from maratron_contracts.access import Scope

from maratron_gateway.ratelimit import Tier


@dataclass(frozen=True)
class Policy:
    scope: Scope | None
    tier: Tier

    @property
    def writes(self) -> bool:
        return self.tier is Tier.WRITE


def _p(scope: Scope | None, tier: Tier) -> Policy:
    return Policy(scope, tier)


_R, _W, _S = Tier.READ, Tier.WRITE, Tier.SEARCH

TOOL_POLICIES: dict[str, Policy] = {
    "ping": _p(None, _R),
    # runs service: profile, runs, shoes
    "register_athlete": _p(Scope.RUNS_WRITE, _W),
    "get_profile": _p(Scope.RUNS_READ, _R),
    "update_profile": _p(Scope.RUNS_WRITE, _W),
    "delete_athlete": _p(Scope.RUNS_WRITE, _W),
    "log_run": _p(Scope.RUNS_WRITE, _W),
    "update_run": _p(Scope.RUNS_WRITE, _W),
    "delete_run": _p(Scope.RUNS_WRITE, _W),
    "get_run": _p(Scope.RUNS_READ, _R),
    "list_runs": _p(Scope.RUNS_READ, _R),
    "run_summary": _p(Scope.RUNS_READ, _R),
    "add_shoe": _p(Scope.RUNS_WRITE, _W),
    "list_shoes": _p(Scope.RUNS_READ, _R),
    "retire_shoe": _p(Scope.RUNS_WRITE, _W),
    # context service
    "start_session": _p(Scope.CONTEXT_WRITE, _W),
    "get_session": _p(Scope.CONTEXT_READ, _R),
    "list_sessions": _p(Scope.CONTEXT_READ, _R),
    "end_session": _p(Scope.CONTEXT_WRITE, _W),
    "update_conversation_context": _p(Scope.CONTEXT_WRITE, _W),
    "record_exchange": _p(Scope.CONTEXT_WRITE, _W),
    "set_preferences": _p(Scope.CONTEXT_WRITE, _W),
    "get_preferences": _p(Scope.CONTEXT_READ, _R),
    "remember": _p(Scope.CONTEXT_WRITE, _W),
    "forget": _p(Scope.CONTEXT_WRITE, _W),
    "search_memory": _p(Scope.CONTEXT_READ, _S),
    # insights service
    "training_load": _p(Scope.INSIGHTS_READ, _R),
    "analyze_patterns": _p(Scope.INSIGHTS_READ, _R),
    "predict_race": _p(Scope.INSIGHTS_READ, _R),
    "get_motivational_context": _p(Scope.INSIGHTS_READ, _R),
    "get_coaching_snapshot": _p(Scope.INSIGHTS_READ, _R),
    # access (gateway): granting access to your data is a write on it
    "grant_access": _p(Scope.RUNS_WRITE, _W),
    "revoke_access": _p(Scope.RUNS_WRITE, _W),
    "list_grants": _p(Scope.RUNS_READ, _R),
    "usage_report": _p(None, _R),
}

RESOURCE_POLICIES: dict[str, Policy] = {
    "athlete": _p(Scope.RUNS_READ, _R),
    "runs": _p(Scope.RUNS_READ, _R),
    "shoes": _p(Scope.RUNS_READ, _R),
    "insights": _p(Scope.INSIGHTS_READ, _R),
    "sessions": _p(Scope.CONTEXT_READ, _R),
    "catalog": _p(None, _R),
}
"""By URI scheme (`runs://me/recent` -> "runs")."""


def tool_policy(name: str) -> Policy | None:
    return TOOL_POLICIES.get(name)


def resource_policy(uri: str) -> Policy | None:
    scheme, sep, _ = uri.partition("://")
    return RESOURCE_POLICIES.get(scheme) if sep else None


def has_scope(scopes: tuple[str, ...] | list[str], required: Scope | None) -> bool:
    return required is None or required.value in scopes or Scope.ADMIN.value in scopes
