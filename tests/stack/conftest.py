"""The stack tests' fixtures, defined in tests/stack/harness.py."""

from tests.stack.harness import docker_host, images, transcript  # noqa: F401
