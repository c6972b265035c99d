"""Sending to a service that may be down for a while (the MLflow server, object storage) without stopping the work
that produces what is sent.

A :class:`BackgroundSender` owns one thread that sends queued items in order, retrying each with exponential
backoff (tenacity) for up to ``give_up_after`` seconds of continuous failure. The producer never waits: a
training keeps training while its tracking server restarts, and everything reaches the server once it is back.
An outage is one warning when it starts (a send that failed, or one that has not returned for ``slow_after``
seconds: clients such as MLflow's retry inside a call for minutes) and one info line when it ends. ``latest_only`` keeps just the newest
pending item (a checkpoint: only the last one is worth uploading). :meth:`close` waits, bounded, for the queue
to drain and says whether everything was sent.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tenacity import RetryCallState, Retrying, stop_after_delay, wait_exponential

from pipelines.common.settings import duration_from_env

log = logging.getLogger(__name__)
OUTAGE_ENV = "TEXTFLOW_OUTAGE_MINUTES"


def outage_seconds() -> float:
    """How long a training rides out an unreachable MLflow server or object store (``TEXTFLOW_OUTAGE_MINUTES``,
    default 30; 0 gives up at the first failure) before giving up on sending to it."""
    return duration_from_env(OUTAGE_ENV, "minutes", timedelta(minutes=30)).total_seconds()


class BackgroundSender:
    def __init__(
        self,
        what: str,
        send: Callable[[Any], None],
        *,
        give_up_after: float,
        latest_only: bool = False,
        max_wait: float = 30.0,
        slow_after: float = 30.0,
    ):
        self.what, self.send, self.give_up_after, self.latest_only = what, send, give_up_after, latest_only
        self.max_wait, self.slow_after = max_wait, slow_after
        self.failed: list[tuple[Any, BaseException]] = []
        self._pending: collections.deque = collections.deque()
        self._condition = threading.Condition()
        self._busy = False
        self._closing = False
        self._outage_since: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"send {what}", daemon=True)
        self._thread.start()

    def put(self, item: Any) -> None:
        with self._condition:
            if self.latest_only:
                self._pending.clear()
            self._pending.append(item)
            self._condition.notify_all()

    def close(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every queued item to be sent; True when all were."""
        deadline = time.monotonic() + timeout
        with self._condition:
            self._closing = True
            self._condition.notify_all()
            while (self._pending or self._busy) and time.monotonic() < deadline:
                self._condition.wait(timeout=min(1.0, max(deadline - time.monotonic(), 0.01)))
            unsent = len(self._pending) + (1 if self._busy else 0)
        return unsent == 0 and not self.failed

    @property
    def unsent(self) -> int:
        with self._condition:
            return len(self._pending) + (1 if self._busy else 0)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._closing:
                    self._condition.wait()
                if not self._pending:
                    return
                item = self._pending.popleft()
                self._busy = True
            try:
                self._send_with_retries(item)
            except BaseException as error:  # noqa: BLE001 - the producer learns of it through close()
                self.failed.append((item, error))
                log.error("gave up sending %s after %.0fs of failures: %s", self.what, self.give_up_after, error)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

    def _send_with_retries(self, item: Any) -> None:
        watchdog = threading.Timer(self.slow_after, self._report_slow)
        watchdog.daemon = True
        watchdog.start()
        try:
            for attempt in Retrying(
                stop=stop_after_delay(self.give_up_after),
                wait=wait_exponential(multiplier=1, min=1, max=self.max_wait),
                before_sleep=self._report_outage,
                reraise=True,
            ):
                with attempt:
                    self.send(item)
        finally:
            watchdog.cancel()
        if self._outage_since is not None:
            log.info(
                "%s: reachable again after %.0fs; %d queued item(s) still to send",
                self.what,
                time.monotonic() - self._outage_since,
                self.unsent - 1,
            )
            self._outage_since = None

    def _report_outage(self, state: RetryCallState) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            error = state.outcome.exception() if state.outcome else None
            first = str(error).strip().splitlines()[0] if error and str(error).strip() else type(error).__name__
            log.warning(
                "%s: sending failed (%s); the work goes on, retrying for up to %.0f min while %d item(s) wait",
                self.what,
                first[:200],
                self.give_up_after / 60,
                self.unsent,
            )

    def _report_slow(self) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic() - self.slow_after
            log.warning(
                "%s: no answer for %.0fs; the work goes on, and %d item(s) wait to be sent",
                self.what,
                self.slow_after,
                self.unsent,
            )
