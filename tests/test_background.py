"""The background sender a training logs and uploads through: the producer never waits, an outage is one
warning and one line when it ends, and what was queued arrives in order once the service is back."""

from __future__ import annotations

import time

from pipelines.common.background import BackgroundSender
from tests.conftest import captured_log


class Service:
    """A service that refuses (or hangs on) every call until ``back_at``."""

    def __init__(self, down_for: float, hang: bool = False):
        self.back_at, self.hang, self.received = time.monotonic() + down_for, hang, []

    def send(self, item) -> None:
        if time.monotonic() < self.back_at:
            if not self.hang:
                raise ConnectionError("connection refused")
            time.sleep(self.back_at - time.monotonic())
        self.received.append(item)


def test_items_queued_during_an_outage_arrive_in_order_once_it_ends():
    service = Service(down_for=2.5)
    with captured_log("pipelines.common.background") as messages:
        sender = BackgroundSender("test service", service.send, give_up_after=60, max_wait=0.5)
        began = time.monotonic()
        for item in range(20):
            sender.put(item)
        assert time.monotonic() - began < 0.5, "putting never waits for the service"
        assert sender.close(timeout=30)
    assert service.received == list(range(20))
    assert sum("the work goes on" in message for message in messages) == 1, messages
    assert any("reachable again" in message for message in messages), messages


def test_a_call_that_hangs_is_reported_as_an_outage_too():
    service = Service(down_for=2.0, hang=True)
    with captured_log("pipelines.common.background") as messages:
        sender = BackgroundSender("hanging service", service.send, give_up_after=60, slow_after=0.5)
        sender.put("checkpoint")
        assert sender.close(timeout=30)
    assert service.received == ["checkpoint"]
    assert any("no answer for 0s" in message or "no answer for 1s" in message for message in messages), messages


def test_latest_only_sends_just_the_newest_and_an_endless_outage_is_reported_at_close():
    service = Service(down_for=3600)
    sender = BackgroundSender("dead service", service.send, give_up_after=1, latest_only=True, max_wait=0.2)
    for item in range(5):
        sender.put(item)
    assert not sender.close(timeout=10)
    assert sender.failed and service.received == []
