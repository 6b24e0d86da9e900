"""Development signing key and tokens for the compose deployment (NOT for production).

Runs inside the gateway image (it ships `cryptography` and `pyjwt`):

    devkeys.py keygen --dir /keys [--owner UID]   # RSA key pair, kept if already there
    devkeys.py token  --dir /keys --sub athlete-1 [--role admin] [--scope runs:read] [--ttl 86400]
    devkeys.py public --dir /keys                 # print the public key (PEM)

The gateway verifies tokens with `jwt-public.pem` (MARATRON_JWT_PUBLIC_KEY_FILE). Same file
names and claims as `maratron token` (maratron_devstack.tokens), which the gateway image does not
ship: iss, aud, sub, iat, exp, jti, scope (space-separated), roles (list), optional client_id.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import uuid
from pathlib import Path

PRIVATE = "jwt-private.pem"
PUBLIC = "jwt-public.pem"
DEV_SCOPES = ("runs:read", "runs:write", "context:read", "context:write", "insights:read")


def keygen(directory: Path, owner: int | None) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_path, public_path = directory / PRIVATE, directory / PUBLIC
    if public_path.exists():
        # Keep it: generated earlier, or a key supplied by the operator (then without its
        # private half here, and tokens come from wherever that private key lives).
        print(f"signing key already in {directory}", file=sys.stderr)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        public_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        print(f"new development signing key in {directory}", file=sys.stderr)
    present = [path for path in (private_path, public_path) if path.exists()]
    for path in present:
        path.chmod(0o600 if path == private_path else 0o644)
    if owner is not None:
        for path in (directory, *present):
            os.chown(path, owner, owner)


def token(
    directory: Path,
    sub: str,
    roles: list[str],
    issuer: str,
    audience: str,
    ttl: int,
    scopes: list[str] | None = None,
    client_id: str | None = None,
) -> str:
    import jwt

    now = int(time.time())
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(DEV_SCOPES if scopes is None else scopes),
        "roles": list(roles),
    }
    if client_id is not None:
        claims["client_id"] = client_id
    kid = hashlib.sha256((directory / PUBLIC).read_bytes()).hexdigest()[:16]
    private_key = (directory / PRIVATE).read_bytes()
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": kid})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_keygen = sub.add_parser("keygen")
    p_keygen.add_argument("--dir", type=Path, required=True)
    p_keygen.add_argument("--owner", type=int, default=None)
    p_token = sub.add_parser("token")
    p_token.add_argument("--dir", type=Path, required=True)
    p_token.add_argument("--sub", required=True)
    p_token.add_argument("--role", action="append", default=[])
    p_token.add_argument("--scope", action="append", default=None)
    p_token.add_argument("--client-id", default=None)
    p_token.add_argument("--issuer", default="maratron-dev")
    p_token.add_argument("--audience", default="maratron")
    p_token.add_argument("--ttl", type=int, default=86400)
    p_public = sub.add_parser("public")
    p_public.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.cmd == "keygen":
        keygen(args.dir, args.owner)
    elif args.cmd == "token":
        print(
            token(
                args.dir,
                args.sub,
                args.role,
                args.issuer,
                args.audience,
                args.ttl,
                scopes=args.scope,
                client_id=args.client_id,
            )
        )
    else:
        print((args.dir / PUBLIC).read_text(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
