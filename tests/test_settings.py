"""Every length of time textflow reads from the environment goes through one reader: unset or empty takes the
default, and anything that is not a number of the unit (or is below 0) is refused naming the variable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines.common.background import OUTAGE_ENV, outage_seconds
from pipelines.orchestration.cluster import AUTH_CACHE_ENV, auth_cache_seconds
from pipelines.orchestration.gpu import GpuExecution

# (variable, the setting as a number of seconds, its default in seconds, its unit)
SETTINGS = [
    (OUTAGE_ENV, outage_seconds, 30 * 60, "minutes"),
    ("TEXTFLOW_TRAIN_TIMEOUT_MINUTES", lambda: GpuExecution.from_env().timeout.total_seconds(), 360 * 60, "minutes"),
    (
        "TEXTFLOW_TASK_TIMEOUT_MINUTES",
        lambda: GpuExecution.from_env().task_timeout.total_seconds(),
        120 * 60,
        "minutes",
    ),
    ("TEXTFLOW_RETRY_DELAY_SECONDS", lambda: GpuExecution.from_env().retry_delay.total_seconds(), 30, "seconds"),
    (AUTH_CACHE_ENV, auth_cache_seconds, 60, "seconds"),
]
NAMES = [name for name, *_ in SETTINGS]


@pytest.mark.parametrize(("name", "read", "default", "unit"), SETTINGS, ids=NAMES)
def test_unset_or_empty_takes_the_default_and_a_number_is_read_in_its_unit(monkeypatch, name, read, default, unit):
    monkeypatch.delenv(name, raising=False)
    assert read() == default
    monkeypatch.setenv(name, "")
    assert read() == default
    monkeypatch.setenv(name, "0")
    assert read() == 0, "0 is a setting (no outage window, no cache, no delay), not the default"
    monkeypatch.setenv(name, " 2 ")
    assert read() == timedelta(**{unit: 2}).total_seconds()


@pytest.mark.parametrize(("name", "read", "default", "unit"), SETTINGS, ids=NAMES)
@pytest.mark.parametrize("value", ["two hours", "1m", "-5", "nan", "inf"])
def test_a_value_that_is_not_a_length_of_time_is_refused_naming_the_variable_and_unit(
    monkeypatch, name, read, default, unit, value
):
    monkeypatch.setenv(name, value)
    with pytest.raises((ValueError, SystemExit), match=rf"{name} is '{value}'; expected a (whole )?number of {unit}"):
        read()


def test_the_mlflow_password_cache_takes_whole_seconds_only_and_says_what_0_means(monkeypatch):
    """MLflow reads ``auth_cache_ttl_seconds`` from an ini file as an integer; a bad value stops the server's
    start with one line, not a traceback."""
    monkeypatch.setenv(AUTH_CACHE_ENV, "2.5")
    with pytest.raises(SystemExit, match=rf"{AUTH_CACHE_ENV} is '2.5'; expected a whole number of seconds \(0 turns"):
        auth_cache_seconds()
    monkeypatch.setenv(OUTAGE_ENV, "2.5")
    assert outage_seconds() == 150, "minutes elsewhere may be fractions"
