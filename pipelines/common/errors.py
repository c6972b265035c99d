"""The failures a user is told about in one line (bad params, bad or truncated data, a failed checksum, a
service that does not answer), as opposed to bugs, which keep their traceback."""

import os

INPUT_ERROR_EXIT = os.EX_DATAERR
"""A stage's exit status for an :class:`InputError` (65, sysexits' "input data was incorrect"); every other
expected failure exits 1. DVC reports it (``exited with 65``), and an Airflow task fails at once on it."""


class PipelineError(Exception):
    """An expected failure whose message says what is wrong and what to do; a stage prints it as one line."""


class InputError(PipelineError):
    """A failure only a change of params or data can fix: an unknown key, a malformed file, a file that is not
    there, data that fails validation. Trying the same run again fails the same way, so Airflow does not retry
    it (a blip of git, S3 or MLflow is a :class:`PipelineError` it does retry)."""
