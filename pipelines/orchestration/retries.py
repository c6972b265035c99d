"""Which failed tasks Airflow tries again. Every task has retries with growing delays (gpu.py's
``default_args``): right for a blip of git, S3 or MLflow, and for a killed training, which resumes. A failure
only other params or data can fix (:class:`~pipelines.common.errors.InputError`: an unknown conf key, a file
that is not in the data root, data that fails validation) would fail the same way on every try, minutes
later; such a task fails at once, and its failure is announced at once."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from pipelines.common.errors import InputError

Task = TypeVar("Task", bound=Callable[..., Any])


def fail_at_once_on_bad_input(function: Task) -> Task:
    """Under ``@task``: an :class:`InputError` (also a stage that refused its input,
    workspace.StageRefusedInput) becomes Airflow's ``AirflowFailException``, which skips the retries. The
    original error stays its ``__cause__``, for the failure announcement's log tail."""

    @functools.wraps(function)
    def without_retry_on_bad_input(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except InputError as error:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{error} (not retried: only other params or data can fix it)") from error

    return without_retry_on_bad_input  # type: ignore[return-value]
