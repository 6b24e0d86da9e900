"""`maratron token`: tokens signed by the data folder's key, with the requested claims."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from maratron_cli.commands.token import parse_ttl
from maratron_cli.main import main
from maratron_devstack.tokens import DEV_SCOPES, key_paths, verify_token


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MARATRON_DATA_DIR", str(tmp_path))
    return tmp_path


def test_token_with_subject_roles_scopes_and_ttl(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["token", "--subject", "coach-1", "--roles", "admin,coach", "--scopes",
                 "runs:read", "context:read", "--ttl", "2h", "--client-id", "cli"])  # fmt: skip
    assert code == 0
    token = capsys.readouterr().out.strip()
    claims = verify_token(token, key_paths(data / "keys")[1].read_bytes())
    assert claims["sub"] == "coach-1"
    assert claims["roles"] == ["admin", "coach"]
    assert claims["scope"] == "runs:read context:read"
    assert claims["exp"] - claims["iat"] == 7200
    assert claims["client_id"] == "cli"


def test_default_token_is_the_dev_athlete_and_reuses_the_key(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token"]) == 0
    first = capsys.readouterr()
    assert "created a new signing key" in first.err
    assert main(["token"]) == 0
    second = capsys.readouterr()
    assert second.err == ""
    public = key_paths(data / "keys")[1].read_bytes()
    for token in (first.out.strip(), second.out.strip()):
        claims = verify_token(token, public)
        assert claims["sub"] == "athlete-dev"
        assert claims["scope"].split() == list(DEV_SCOPES)
        assert claims["exp"] - claims["iat"] == 30 * 24 * 3600


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3600", 3600), ("45s", 45), ("15m", 900), ("12h", 43200), ("30d", 2_592_000)],
)
def test_parse_ttl(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5", "1w", "h"])
def test_parse_ttl_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_ttl(text)
