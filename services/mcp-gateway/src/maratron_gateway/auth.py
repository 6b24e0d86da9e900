"""Authentication: the acting `Actor` of a verified token (the verifier chain - API keys and
JWTs - is `security.verifier`).

The acting athlete is ALWAYS the verified token's subject (or, in local stdio mode, the
configured `stdio_subject`); no tool takes the caller's identity as a parameter.
"""

from __future__ import annotations

from typing import Any

from fastmcp.server.auth import AccessToken
from fastmcp.server.auth.providers.jwt import JWTVerifier
from fastmcp.server.dependencies import get_access_token
from maratron_contracts.envelope import Actor
from maratron_contracts.errors import Forbidden, Unauthorized

from maratron_gateway.security.grants import granted_athlete
from maratron_gateway.security.tokens import ApiKeyAccessToken


class MaratronJWTVerifier(JWTVerifier):
    """fastmcp's JWTVerifier, stricter: a token must carry a subject and an expiry."""

    async def load_access_token(self, token: str) -> AccessToken | None:
        access = await super().load_access_token(token)
        if access is None or not access.subject or access.expires_at is None:
            return None
        return access


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v for v in value.replace(",", " ").split() if v)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


def actor_from_token(token: AccessToken) -> Actor:
    """The Actor of a verified token: subject, roles (`roles` claim; an API key's roles come
    from its record), scopes, client id."""
    claims = token.claims
    if not token.subject:
        raise Unauthorized("the access token has no subject; ask for a new token")
    client_id = claims.get("client_id") or claims.get("azp")
    return Actor(
        subject=token.subject,
        roles=_as_tuple(claims.get("roles")),
        scopes=tuple(token.scopes),
        client_id=str(client_id) if client_id else None,
        auth_method="api_key" if isinstance(token, ApiKeyAccessToken) else "jwt",
    )


class ActorResolver:
    """Gives the acting Actor of the current request.

    Over HTTP the auth middleware has verified a bearer token; in stdio mode there is no token
    and the local `stdio_subject` acts. The stdio fallback is set only by the stdio entry point.
    """

    def __init__(self, stdio_subject: str | None = None) -> None:
        self._stdio_actor = (
            Actor(subject=stdio_subject, auth_method="local") if stdio_subject else None
        )

    def current(self) -> Actor:
        token = get_access_token()
        if token is not None:
            return actor_from_token(token)
        if self._stdio_actor is not None:
            return self._stdio_actor
        raise Unauthorized("no verified access token: send 'Authorization: Bearer <token>'")


def target_athlete(actor: Actor, athlete_id: str | None) -> str:
    """The athlete a call acts on: the caller, or `athlete_id` for an admin or for a coach whose
    active grant the security middleware checked for this call (`security.grants`).

    Anyone else asking for another athlete gets a Forbidden that reveals nothing about whether
    that athlete exists.
    """
    if athlete_id is None or athlete_id == actor.subject:
        return actor.subject
    if actor.is_admin or athlete_id == granted_athlete():
        return athlete_id
    raise Forbidden("you may only act on your own data (athlete_id must be omitted)")
