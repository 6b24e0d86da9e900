"""Access-token types of the gateway (a leaf module: `auth` and `verifier` both use it)."""

from __future__ import annotations

from fastmcp.server.auth import AccessToken


class ApiKeyAccessToken(AccessToken):
    """An AccessToken verified as an API key. The type is the mark: no JWT claim can set it."""

    key_id: str
