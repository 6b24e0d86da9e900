"""Gateway settings: the shared service settings plus HTTP, JWT and command-deadline fields.

Environment (prefix ``MARATRON_``): ``GATEWAY_HOST``, ``GATEWAY_PORT``, ``JWT_PUBLIC_KEY_FILE``,
``JWT_JWKS_URL``, ``JWT_ISSUER``, ``JWT_AUDIENCE``, ``PUBLIC_URL``, ``AUTHORIZATION_SERVERS``,
``STDIO_SUBJECT``. The command deadline
(retries included) is the shared ``COMMAND_TIMEOUT_S``.
"""

from __future__ import annotations

from pathlib import Path

from maratron_gateway.security.settings import SecuritySettings


class GatewaySettings(SecuritySettings):
    """Security fields (rate limits, allow-lists, size limits): `SecuritySettings`."""

    service_name: str = "mcp-gateway"

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000

    jwt_public_key_file: Path | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "maratron-dev"
    jwt_audience: str = "maratron"

    public_url: str | None = None
    """The gateway's public base URL (e.g. https://mcp.example.org); with
    `authorization_servers`, enables RFC 9728 metadata at /.well-known/oauth-protected-resource."""
    authorization_servers: list[str] = []
    """Issuers' URLs advertised to MCP clients (RFC 9728), as a JSON list in the environment."""

    stdio_subject: str | None = None
    """The acting athlete in local single-user (stdio) mode; never used over HTTP."""

    def jwt_public_key(self) -> str | None:
        """PEM text of the verification key, when configured by file."""
        if self.jwt_public_key_file is None:
            return None
        return self.jwt_public_key_file.read_text()
