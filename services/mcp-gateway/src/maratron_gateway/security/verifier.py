"""One bearer-token verifier for the gateway: API keys first, then JWTs.

* ``mrt_<key_id>_<secret>`` tokens are API keys, checked with
  `maratron_access.AccessControl.verify_key` (unknown, revoked, expired or tampered -> None);
  their subject, scopes and roles come from the key record, never from the caller.
* Anything else is a JWT for `MaratronJWTVerifier` (RS256 or ES256 by the key's type, or
  the JWKS URL's; issuer and audience always checked, `sub` and `exp` required). The
  algorithm is pinned, so `alg: none` and HS256-signed-with-the-public-key tokens fail.

A rejected token makes fastmcp answer 401 with ``WWW-Authenticate: Bearer error=...`` and,
when RFC 9728 metadata is served (`RemoteAuthProvider`), ``resource_metadata="..."``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastmcp.server.auth import AccessToken, AuthProvider, RemoteAuthProvider, TokenVerifier
from maratron_access import apikeys
from maratron_access.control import AccessControl
from maratron_contracts.access import Scope

from maratron_gateway.auth import MaratronJWTVerifier
from maratron_gateway.security.tokens import ApiKeyAccessToken
from maratron_gateway.settings import GatewaySettings


def jwt_algorithm(public_key_pem: str | None) -> str:
    """ES256 for an EC public key, RS256 otherwise (and for JWKS)."""
    if public_key_pem is None:
        return "RS256"
    key = load_pem_public_key(public_key_pem.encode())
    return "ES256" if isinstance(key, EllipticCurvePublicKey) else "RS256"


class GatewayTokenVerifier(TokenVerifier):
    """API key or JWT. `access` gives the AccessControl once the gateway has started.

    A verified JWT is remembered (by its exact text, until its `exp`, at most
    `JWT_CACHE_SECONDS`, bounded): a signature over the same bytes verifies the same way, and
    fastmcp's verifier re-parses the PEM key on every call. API keys are never cached: a
    revocation must hold on the next call, on every replica.
    """

    JWT_CACHE_SIZE = 4096
    JWT_CACHE_SECONDS = 300.0

    def __init__(
        self,
        jwt: MaratronJWTVerifier,
        access: Callable[[], AccessControl],
        required_scopes: list[str] | None = None,
    ) -> None:
        super().__init__(required_scopes=required_scopes)
        self._jwt = jwt
        self._access = access
        self._verified: dict[str, tuple[AccessToken, float]] = {}

    async def verify_token(self, token: str) -> AccessToken | None:
        if apikeys.looks_like_key(token):
            return await self._verify_key(token)
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None:
            if cached[1] > now:
                return cached[0]
            del self._verified[token]
        access = await self._jwt.verify_token(token)
        if access is not None and access.expires_at is not None:
            if len(self._verified) >= self.JWT_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))
            self._verified[token] = (access, min(access.expires_at, now + self.JWT_CACHE_SECONDS))
        return access

    async def _verify_key(self, token: str) -> AccessToken | None:
        info = await self._access().verify_key(token)
        if info is None:
            return None
        expires = int(info.expires_at.timestamp()) if info.expires_at is not None else None
        return ApiKeyAccessToken(
            token=token,
            client_id=f"apikey:{info.key_id}",
            scopes=list(info.scopes),
            expires_at=expires,
            subject=info.subject,
            claims={
                "sub": info.subject,
                "roles": list(info.roles),
                "client_id": f"apikey:{info.key_id}",
            },
            key_id=info.key_id,
        )


def build_jwt_verifier(settings: GatewaySettings) -> MaratronJWTVerifier:
    """The JWT half of the chain (a key or a JWKS URL is required over HTTP)."""
    public_key = settings.jwt_public_key()
    if public_key is None and not settings.jwt_jwks_url:
        raise ValueError(
            "no JWT key configured: set MARATRON_JWT_PUBLIC_KEY_FILE (the public key that "
            "`maratron up` writes) or MARATRON_JWT_JWKS_URL"
        )
    return MaratronJWTVerifier(
        public_key=public_key,
        jwks_uri=None if public_key is not None else settings.jwt_jwks_url,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        algorithm=jwt_algorithm(public_key),
    )


def build_auth(settings: GatewaySettings, access: Callable[[], AccessControl]) -> AuthProvider:
    """The verifier chain; wrapped in fastmcp's RemoteAuthProvider (RFC 9728 metadata at
    /.well-known/oauth-protected-resource/mcp, advertised in every 401) when the public URL
    and authorization servers are configured."""
    verifier = GatewayTokenVerifier(
        build_jwt_verifier(settings), access, required_scopes=settings.required_scopes
    )
    if settings.public_url and settings.authorization_servers:
        return RemoteAuthProvider(
            token_verifier=verifier,
            authorization_servers=settings.authorization_servers,  # type: ignore[arg-type]
            base_url=settings.public_url,
            resource_name="Maratron",
            scopes_supported=[s.value for s in Scope],
        )
    return verifier
