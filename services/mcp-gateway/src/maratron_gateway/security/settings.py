"""Security settings of the gateway (environment prefix ``MARATRON_``).

``RATE_LIMIT_WRITE`` / ``RATE_LIMIT_READ`` / ``RATE_LIMIT_SEARCH`` (calls per window, per
principal, shared by all replicas), ``RATE_LIMIT_WINDOW_S``, ``ALLOWED_HOSTS`` and
``ALLOWED_ORIGINS`` (JSON lists; loopback is always allowed), ``MAX_REQUEST_BYTES``,
``MAX_OUTPUT_BYTES``, ``DENIAL_AUDIT_CONCURRENCY``, ``REQUIRED_SCOPES`` (JSON list).
"""

from __future__ import annotations

from maratron_service.settings import Settings
from pydantic import Field

from maratron_gateway.ratelimit import DEFAULT_LIMITS, Limit, Tier


class SecuritySettings(Settings):
    rate_limit_write: int = Field(default=DEFAULT_LIMITS[Tier.WRITE].calls, ge=1)
    rate_limit_read: int = Field(default=DEFAULT_LIMITS[Tier.READ].calls, ge=1)
    rate_limit_search: int = Field(default=DEFAULT_LIMITS[Tier.SEARCH].calls, ge=1)
    rate_limit_window_s: float = Field(default=60.0, gt=0)

    allowed_hosts: list[str] = []
    """Host header values accepted besides loopback (e.g. ["mcp.example.org"]); DNS-rebinding
    protection rejects any other Host with 421."""
    allowed_origins: list[str] = []
    """Browser origins accepted besides loopback ones; any other Origin gets 403."""

    required_scopes: list[str] = []
    """Scopes every request must carry (checked at the HTTP layer: 403 insufficient_scope);
    per-tool scopes are checked for every call anyway (`security.policy`)."""

    max_request_bytes: int = Field(default=1_000_000, ge=1024)
    """Largest accepted request body; larger ones get 413 before being read."""
    max_output_bytes: int = Field(default=2_000_000, ge=1024)
    """Largest tool result returned; a larger one becomes a tool error asking to narrow it."""
    denial_audit_concurrency: int = Field(default=8, ge=1)
    """Denials being written at once; beyond it new ones are dropped (and counted)."""

    def rate_limits(self) -> dict[Tier, Limit]:
        window = self.rate_limit_window_s
        return {
            Tier.WRITE: Limit(self.rate_limit_write, window),
            Tier.READ: Limit(self.rate_limit_read, window),
            Tier.SEARCH: Limit(self.rate_limit_search, window),
        }
