"""What the stack tests share (tests/stack/conftest.py offers the fixtures): podman, the images (stand-ins and
textflow:cpu, built once per session), podman's Docker-compatible API, and the transcript of every step
(test-artifacts/stack-transcript.md). A module of its own, not the conftest, so that the tests and the fixtures
append to one transcript."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

STACK = Path(__file__).resolve().parent
SCRATCH = Path(os.environ.get("TEXTFLOW_STACK_SCRATCH", "/var/tmp/textflow-stack"))
STAND_INS = {  # image -> Containerfile in tests/stack
    "localhost/textflow-python:3.11": "python.Containerfile",
    "localhost/textflow-postgres:15": "postgres.Containerfile",
    "localhost/textflow-redis:7": "redis.Containerfile",
    "localhost/textflow-moto:5": "moto.Containerfile",
}
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
TRANSCRIPT: list[str] = []


def step(what: str, command: list[str], timeout: float, env: dict[str, str] | None = None, check: bool = True):
    """Run ``command``, recording it and its duration in the transcript."""
    began = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    shown = " ".join(part if " " not in part else repr(part) for part in command)
    TRANSCRIPT.append(f"| {what} | `{shown}` | {time.monotonic() - began:.0f} s | {result.returncode} |")
    if check and result.returncode != 0:
        raise AssertionError(f"{what} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def podman(*arguments: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *arguments], capture_output=True, text=True, timeout=timeout, check=check)


@pytest.fixture(scope="session")
def images():
    """The Debian base (mmdebstrap), the stand-ins, and textflow:cpu from docker/Dockerfile."""
    if not shutil.which("podman") or not shutil.which("mmdebstrap"):
        pytest.fail("needs Debian's podman and mmdebstrap: tests/stack/setup-podman.sh installs and configures them")
    SCRATCH.mkdir(parents=True, exist_ok=True)
    if podman("image", "exists", "localhost/debian:bookworm", check=False).returncode != 0:
        rootfs = SCRATCH / "rootfs.tar"
        step("Debian base", ["mmdebstrap", "--variant=minbase", "bookworm", str(rootfs)], 900)
        step("Debian base image", ["podman", "import", str(rootfs), "localhost/debian:bookworm"], 300)
    ca = ["-v", f"{HOST_CA}:/run/host-ca.crt:ro", "--build-arg", "PIP_CERT=/run/host-ca.crt"]
    for image, containerfile in STAND_INS.items():
        step(
            f"stand-in {image}",
            ["podman", "build", "--network", "host", *ca, "-f", str(STACK / containerfile), "-t", image, str(STACK)],
            1800,
        )
    wheels = os.environ.get("PIP_FIND_LINKS", "")
    local_wheels = ["-v", f"{wheels}:/wheels:ro", "--build-arg", "WHEELS=/wheels"] if wheels else []
    constraints = SCRATCH / "constraints.txt"  # the versions this test environment runs, for the image too
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    constraints.write_text(frozen)
    pinned = ["-v", f"{constraints}:/run/constraints.txt:ro", "--build-arg", "PIP_CONSTRAINT=/run/constraints.txt"]
    step(
        "textflow:cpu from docker/Dockerfile",
        ["podman", "build", "--network", "host", *ca, *local_wheels, *pinned,
         "--build-arg", "PYTHON_IMAGE=localhost/textflow-python:3.11",
         "-f", "docker/Dockerfile", "-t", "localhost/textflow:cpu", "."],
        3600,
    )  # fmt: skip
    return "localhost/textflow:cpu"


@pytest.fixture(scope="session")
def docker_host(tmp_path_factory):
    """podman's Docker-compatible API on a socket of this test's own."""
    socket = tmp_path_factory.mktemp("podman") / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while not socket.exists():
        assert service.poll() is None and time.monotonic() < deadline, "podman system service did not start"
        time.sleep(0.2)
    yield f"unix://{socket}"
    service.terminate()
    service.wait(timeout=30)


@pytest.fixture(scope="session", autouse=True)
def transcript():
    """Written once the session ends, whatever passed or failed."""
    yield TRANSCRIPT
    write_transcript()


def write_transcript() -> None:
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    header = ["| step | command | took | exit |", "| --- | --- | --- | --- |"]
    (out / "stack-transcript.md").write_text(without_machine_paths("\n".join(header + TRANSCRIPT) + "\n"))


def without_machine_paths(text: str) -> str:
    """The transcript is meant to be kept (benchmarks/results/): paths of this machine become what they stand for."""
    text = text.replace(f"{ROOT}/", "").replace(str(ROOT), ".")
    if os.environ.get("PIP_FIND_LINKS"):
        text = text.replace(os.environ["PIP_FIND_LINKS"], "$PIP_FIND_LINKS")
    return re.sub(r"/tmp/pytest-of-[^/\s]+/pytest-\d+/", "<tmp>/", text)
