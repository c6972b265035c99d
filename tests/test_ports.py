"""Ports for the services textflow starts: never in the range the kernel takes client connections' ports from."""

import socket

from pipelines.common.ports import LOWEST, ephemeral_start, free_port


def test_free_ports_lie_below_the_ephemeral_range_and_can_be_bound():
    for _ in range(50):
        port = free_port()
        assert LOWEST <= port < ephemeral_start()
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))


def test_a_port_held_by_a_listener_is_never_handed_out(monkeypatch):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        held.listen()
        choices = iter([taken, taken, taken + 1 if taken + 1 < 65536 else taken - 1])
        monkeypatch.setattr("pipelines.common.ports.random.randrange", lambda low, high: next(choices))
        assert free_port() != taken
