"""The read-model key space: every Redis key a projection writes lives under one prefix.

The prefix carries the namespace (test sessions and installs never collide) and a version, so a
replay can rebuild into a fresh version (`Keys(ns, "v2")`) beside the live one.
"""

from __future__ import annotations

from maratron_contracts.subjects import check_namespace, redis_prefix


class Keys:
    """Prefix-aware key builder: ``Keys("maratron")("runs", "a1", "recent")`` ->
    ``"maratron:rm:live:runs:a1:recent"``."""

    __slots__ = ("namespace", "prefix", "version")

    def __init__(self, namespace: str, version: str = "live") -> None:
        self.namespace = check_namespace(namespace)
        if not version or ":" in version:
            raise ValueError(f"read-model version {version!r} must be non-empty and without ':'")
        self.version = version
        self.prefix = f"{redis_prefix(namespace)}rm:{version}:"

    def __call__(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def applied(self, projection: str, stream_id: str) -> str:
        """Per-projection, per-stream marker: the last stream version this projection applied."""
        return self("applied", projection, stream_id)

    def checkpoint(self, projector: str) -> str:
        """Global position a projector's catch-up has processed up to."""
        return self("checkpoint", projector)

    def __repr__(self) -> str:
        return f"Keys({self.namespace!r}, {self.version!r})"
