"""Free loopback ports that never collide with the standard ports of a machine's own servers."""

from __future__ import annotations

import socket

# Ports of servers a developer machine (or CI) may run itself: never hand these out.
RESERVED_PORTS = frozenset({4222, 5432, 6222, 6379, 8222})


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free right now on `host` (the OS picks from its ephemeral range)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
