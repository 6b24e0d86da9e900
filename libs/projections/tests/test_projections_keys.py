"""Keys: the read-model key space (pure)."""

from __future__ import annotations

import pytest
from maratron_projections import Keys


def test_keys_are_prefixed_by_namespace_and_version() -> None:
    keys = Keys("maratron")
    assert keys.prefix == "maratron:rm:live:"
    assert keys("runs", "a1", "recent") == "maratron:rm:live:runs:a1:recent"
    assert Keys("t1", "v2")("x") == "t1:rm:v2:x"


def test_markers_are_per_projection_and_stream() -> None:
    keys = Keys("ns")
    assert keys.applied("runs.recent", "run:1") != keys.applied("insights.load", "run:1")
    assert keys.applied("p", "run:1") != keys.applied("p", "run:2")
    assert keys.checkpoint("runs").startswith(keys.prefix)


@pytest.mark.parametrize("bad", ["", "a:b"])
def test_bad_versions_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Keys("ns", bad)


def test_bad_namespaces_are_refused() -> None:
    with pytest.raises(ValueError):
        Keys("Bad-NS")
