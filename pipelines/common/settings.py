"""Lengths of time read from the environment (a training's outage window, Airflow's task limits and retry delay,
the MLflow server's password cache): one reader, so each such variable is defaulted, parsed and refused alike.

An unset or empty variable takes the default (compose passes ``${NAME:-}`` through as empty); anything else must
be a number of the variable's unit, not below 0, and is refused naming the variable, its value and the unit.
"""

from __future__ import annotations

import math
import os
from datetime import timedelta
from typing import Literal


def duration_from_env(
    name: str, unit: Literal["minutes", "seconds"], default: timedelta, *, whole: bool = False
) -> timedelta:
    """``name``'s value as a length of time in ``unit``, or ``default``; ``whole`` refuses a fraction (for a
    setting handed on to a program that reads an integer)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    expected = f"expected a {'whole ' if whole else ''}number of {unit}"
    try:
        amount = int(value) if whole else float(value)
    except ValueError:
        amount = math.nan
    if not math.isfinite(amount):
        raise ValueError(f"{name} is {value!r}; {expected}")
    if amount < 0:
        raise ValueError(f"{name} is {value!r}; {expected}, not below 0")
    return timedelta(**{unit: amount})
