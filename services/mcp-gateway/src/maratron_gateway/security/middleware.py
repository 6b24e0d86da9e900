"""MCP middleware of the security layer.

* `AccessMiddleware` (every tool call and resource read): the policy must exist (fail
  closed), the caller must hold its scope, must be within its rate limit (Redis, shared by all
  replicas, keyed by principal and tier), and may pass another athlete's `athlete_id` only as
  an admin or with an active coach grant. Every refusal - its own or one raised further in
  (forbidden, invalid input) - is recorded as a denial in the background.
* `OutputLimitMiddleware`: a tool result larger than `max_output_bytes` becomes a tool error
  asking the caller to narrow the request.
"""

from __future__ import annotations

import logging
from typing import Any

import mcp_types as mt
import pydantic_core
from fastmcp.exceptions import ToolError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import ToolResult
from maratron_contracts.access import DenialReason
from maratron_contracts.envelope import Actor
from maratron_contracts.errors import Unauthorized

from maratron_gateway.deps import GatewayDeps
from maratron_gateway.security.denials import DenialRecorder, Denied, classify
from maratron_gateway.security.grants import acting_for, may_act_for
from maratron_gateway.security.policy import Policy, has_scope, resource_policy, tool_policy

FORBIDDEN_OTHER = (
    "you may only act on your own data: omit athlete_id, or ask that athlete to give you "
    "access with grant_access"
)
"""One message whether or not the athlete exists (it reveals nothing)."""
UNAVAILABLE = "the gateway cannot check access right now; retry in a few seconds"
log = logging.getLogger(__name__)


class AccessMiddleware(Middleware):
    def __init__(self, deps: GatewayDeps, recorder: DenialRecorder) -> None:
        self._deps = deps
        self._recorder = recorder

    def _actor(self, target: str) -> Actor:
        try:
            return self._deps.actor()
        except Unauthorized as exc:
            self._recorder.record(
                DenialReason.UNAUTHORIZED, exc.message, principal=None, tool=target
            )
            raise Denied(DenialReason.UNAUTHORIZED, exc.message) from None

    async def _check(self, actor: Actor, target: str, policy: Policy | None) -> Policy:
        if policy is None:
            raise Denied(
                DenialReason.FORBIDDEN, f"{target} is not available (no access policy covers it)"
            )
        if actor.auth_method != "local" and not has_scope(actor.scopes, policy.scope):
            raise Denied(
                DenialReason.INSUFFICIENT_SCOPE,
                f"insufficient_scope: {target} needs the {policy.scope} scope; use a token or "
                "API key that includes it",
            )
        try:
            decision = await self._deps.limiter.check(actor.subject, policy.tier, target)
        except Exception:  # Redis unreachable: refuse (fail closed), say it is temporary
            log.warning("rate-limit check failed", exc_info=True)
            raise ToolError(UNAVAILABLE) from None
        if not decision.allowed:
            window = self._deps.limiter.limit_for(policy.tier).window_seconds
            raise Denied(
                DenialReason.RATE_LIMITED,
                f"rate limit reached: {decision.limit} {policy.tier.value} calls per "
                f"{window:g} s; retry in {decision.retry_after_seconds:.1f} s",
            )
        return policy

    async def _other_athlete(
        self, actor: Actor, policy: Policy, args: dict[str, Any]
    ) -> str | None:
        athlete_id = args.get("athlete_id")
        if not isinstance(athlete_id, str) or athlete_id == actor.subject or actor.is_admin:
            return None
        try:
            allowed = await may_act_for(self._deps.access, actor, athlete_id, write=policy.writes)
        except Exception:
            log.warning("grant check failed", exc_info=True)
            raise ToolError(UNAVAILABLE) from None
        if not allowed:
            raise Denied(DenialReason.FORBIDDEN, FORBIDDEN_OTHER)
        return athlete_id

    def _audit(self, exc: BaseException, actor: Actor, target: str) -> None:
        reason = classify(exc)
        if reason is not None:
            self._recorder.record(
                reason, str(exc), principal=actor.subject, client_id=actor.client_id, tool=target
            )

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        name = context.message.name
        actor = self._actor(name)
        try:
            policy = await self._check(actor, name, tool_policy(name))
            other = await self._other_athlete(actor, policy, context.message.arguments or {})
            with acting_for(other):
                return await call_next(context)
        except Exception as exc:
            self._audit(exc, actor, name)
            raise

    async def on_read_resource(
        self,
        context: MiddlewareContext[mt.ReadResourceRequestParams],
        call_next: CallNext[mt.ReadResourceRequestParams, Any],
    ) -> Any:
        uri = str(context.message.uri)
        actor = self._actor(uri)
        try:
            await self._check(actor, uri, resource_policy(uri))
            return await call_next(context)
        except Exception as exc:
            self._audit(exc, actor, uri)
            raise


class OutputLimitMiddleware(Middleware):
    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        out = await call_next(context)
        size = sum(len(getattr(block, "text", "") or "") for block in out.content)
        if out.structured_content is not None:
            size += len(pydantic_core.to_json(out.structured_content))
        if size > self._max:
            raise Denied(
                DenialReason.INVALID_INPUT,
                f"the result of {context.message.name} is too large ({size} bytes, limit "
                f"{self._max}): ask for less (a smaller limit or a shorter period)",
            )
        return out
