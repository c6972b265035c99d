"""The failures a user is told about in one line (bad params, bad or truncated data, a failed checksum, a
service that does not answer), as opposed to bugs, which keep their traceback."""


class PipelineError(Exception):
    """An expected failure whose message says what is wrong and what to do; a stage prints it as one line."""
