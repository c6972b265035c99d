"""Free loopback ports for the services textflow starts itself (``make cluster``, the tests, the benchmarks).

A port the kernel hands out for ``bind(port 0)`` comes from its ephemeral range, the same range it takes the
local port of every outgoing connection from. A service started many seconds after its port was chosen (the
cluster's api-server waits for PostgreSQL, Redis, S3, MLflow and the database migration) can then find the port
held by some client's connection: "[Errno 98] address already in use" (seen in a test run with two workers).
Ports are therefore drawn below the ephemeral range, where no connection takes one, and checked free."""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10_000


def ephemeral_start() -> int:
    """The first port of the kernel's ephemeral range (Linux's default 32768 elsewhere)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(attempts: int = 200) -> int:
    """A loopback port nothing is bound to now, below the ephemeral range."""
    highest = max(ephemeral_start(), LOWEST + 1000)
    for _ in range(attempts):
        port = random.randrange(LOWEST, highest)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port between {LOWEST} and {highest} after {attempts} tries")
