"""deploy/compose/devkeys.py: the compose deployment's development key pair and tokens."""

from __future__ import annotations

import importlib.util
import stat
from pathlib import Path
from types import ModuleType

import pytest

jwt = pytest.importorskip("jwt")

HELPER = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "devkeys.py"


@pytest.fixture(scope="module")
def devkeys() -> ModuleType:
    spec = importlib.util.spec_from_file_location("maratron_deploy_devkeys", HELPER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_keygen_creates_a_pair_once(devkeys: ModuleType, tmp_path: Path) -> None:
    devkeys.keygen(tmp_path, owner=None)
    private, public = tmp_path / "jwt-private.pem", tmp_path / "jwt-public.pem"
    assert b"PRIVATE KEY" in private.read_bytes()
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) == 0o644
    before = private.read_bytes()
    devkeys.keygen(tmp_path, owner=None)  # a restart of the stack keeps the key
    assert private.read_bytes() == before


def test_token_verifies_with_the_public_key(devkeys: ModuleType, tmp_path: Path) -> None:
    devkeys.keygen(tmp_path, owner=None)
    token = devkeys.token(tmp_path, "athlete-1", ["admin"], "maratron-dev", "maratron", 60)
    public = (tmp_path / "jwt-public.pem").read_bytes()
    claims = jwt.decode(
        token, public, algorithms=["RS256"], audience="maratron", issuer="maratron-dev"
    )
    assert claims["sub"] == "athlete-1"
    assert claims["roles"] == ["admin"]
    assert claims["exp"] - claims["iat"] == 60
    assert set(claims["scope"].split()) == set(devkeys.DEV_SCOPES)
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, public, algorithms=["RS256"], audience="someone-else")


def test_cli_prints_a_token(
    devkeys: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert devkeys.main(["keygen", "--dir", str(tmp_path)]) == 0
    assert devkeys.main(["token", "--dir", str(tmp_path), "--sub", "a-2"]) == 0
    token = capsys.readouterr().out.strip()
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == "a-2"


def test_keygen_keeps_a_supplied_public_key(devkeys: ModuleType, tmp_path: Path) -> None:
    supplied = b"-----BEGIN PUBLIC KEY-----\nsupplied\n-----END PUBLIC KEY-----\n"
    (tmp_path / "jwt-public.pem").write_bytes(supplied)
    devkeys.keygen(tmp_path, owner=None)
    assert (tmp_path / "jwt-public.pem").read_bytes() == supplied
    assert not (tmp_path / "jwt-private.pem").exists()


def test_same_files_and_claims_as_maratron_token(devkeys: ModuleType, tmp_path: Path) -> None:
    """The helper mirrors maratron_devstack.tokens (not in the gateway image): keys and tokens
    are interchangeable with `maratron token` and the data folder's key."""
    tokens = pytest.importorskip("maratron_devstack.tokens")
    assert (devkeys.PRIVATE, devkeys.PUBLIC) == (tokens.PRIVATE_KEY_FILE, tokens.PUBLIC_KEY_FILE)
    assert tuple(devkeys.DEV_SCOPES) == tuple(tokens.DEV_SCOPES)
    devkeys.keygen(tmp_path, owner=None)
    ours = devkeys.token(tmp_path, "athlete-1", [], tokens.DEV_ISSUER, tokens.DEV_AUDIENCE, 60)
    public = (tmp_path / "jwt-public.pem").read_bytes()
    claims = tokens.verify_token(ours, public)
    assert claims["sub"] == "athlete-1" and claims["roles"] == []
    theirs = tokens.mint_token(tokens.load_keypair(tmp_path), subject="athlete-2")
    assert jwt.decode(theirs, public, algorithms=["RS256"], audience="maratron")["sub"] == (
        "athlete-2"
    )
    assert jwt.get_unverified_header(ours)["kid"] == jwt.get_unverified_header(theirs)["kid"]
