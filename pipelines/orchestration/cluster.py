"""``make cluster``: the distributed topology of ``docker/compose.yaml`` on one machine, without Docker.

PostgreSQL (Airflow metadata, MLflow backend and its users) and Redis (Celery broker) started from Debian's
packages in a scratch directory on free loopback ports; an S3 endpoint (``moto_server`` stands in for the object
store); ``mlflow server`` with basic auth, artifacts proxied to S3; Airflow with CeleryExecutor (api-server,
scheduler, dag-processor, triggerer) and two Celery workers, ``default`` and ``gpu``, each with its own name and
its own scratch directory. The workers share no directory for data: a DAG run's outputs travel through the DVC
remote (S3) and MLflow only (see distributed.py). Each service is healthy before the next starts; every wait is
bounded; ``stop`` ends what was started, by process id, newest first.

Secrets (the PostgreSQL password, the MLflow admin password, Airflow's JWT, API and Fernet keys, the S3 keys) are
generated per cluster and live only in the environment of the processes that need them and in
``<scratch>/cluster.env`` (mode 0600, the client's share), never in the project. PostgreSQL asks for its password
(scram-sha-256), so another local user cannot become its superuser. The Celery workers run task code (anything a
DAG run's commit holds), so they get what tasks need (the broker, the execution API, MLflow and S3 credentials)
and not the metadata database's password, the JWT signing secret or the Fernet key: with Airflow 3 a worker
reaches the metadata only through the api-server, and task results travel through Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from pipelines.common.ports import free_port
from pipelines.common.processes import ServiceNotHealthy, signal_tree, stop, wait_healthy
from pipelines.common.settings import duration_from_env

MODULE = "pipelines.orchestration.cluster"  # not __name__: under `python -m` that is "__main__"
WORKER_NAME_ENV = "TEXTFLOW_WORKER_NAME"
QUEUES = ("default", "gpu")


def worker_hostname() -> str:
    """Airflow's ``hostname_callable`` for the cluster's workers: two workers on one host must report distinct
    names, or the task-instance list could not tell which one ran a task."""
    return os.environ.get(WORKER_NAME_ENV) or socket.getfqdn()


class ClusterError(RuntimeError):
    """A service is missing or did not become healthy."""


def postgres_program(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
    if not found:
        raise ClusterError(f"{name} not found: install Debian's postgresql package (apt-get install postgresql)")
    return str(found)


def _require(program: str, package: str) -> str:
    found = shutil.which(program)
    if not found:
        raise ClusterError(f"{program} not found: install {package}")
    return found


@dataclass
class LocalCluster:
    """The services, started by :meth:`start` under ``home`` (a fresh scratch directory by default)."""

    project: Path
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="textflow-cluster-")))
    processes: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)
    environments: dict[str, dict[str, str]] = field(default_factory=dict)
    postgres_home: Path | None = None
    # Settings (no secrets) that replace the defaults below in every Airflow process and client, e.g.
    # TEXTFLOW_GPU_EXECUTION=docker with DOCKER_HOST, or TEXTFLOW_GIT_URL for a git server containers can reach.
    settings: dict[str, str] = field(default_factory=dict)

    # -- what clients need -------------------------------------------------------------------------------------
    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['airflow']}"

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['mlflow']}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def database_url(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        password = urllib.parse.quote(self.secrets["postgres_password"], safe="")
        return f"{driver}://textflow:{password}@127.0.0.1:{self.ports['postgres']}/{database}"

    def client_env(self) -> dict[str, str]:
        """What a pipeline process needs to log to MLflow and use the DVC remote."""
        return {
            "MLFLOW_TRACKING_URI": self.mlflow_url,
            "MLFLOW_TRACKING_USERNAME": "admin",
            "MLFLOW_TRACKING_PASSWORD": self.secrets["mlflow_admin_password"],
            "AWS_ACCESS_KEY_ID": self.secrets["s3_access_key"],
            "AWS_SECRET_ACCESS_KEY": self.secrets["s3_secret_key"],
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.s3_url,
            "TEXTFLOW_DVC_REMOTE": "s3://textflow/dvc",
            "TEXTFLOW_CHECKPOINTS_URL": "s3://textflow/checkpoints",
            "TEXTFLOW_GIT_URL": str(self.project),
        } | self.settings

    @staticmethod
    def base_env() -> dict[str, str]:
        """This environment with this interpreter's tools (python, airflow, mlflow) first on PATH."""
        bin_dir = str(Path(sys.executable).parent)
        return os.environ | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}

    def _airflow_common_env(self) -> dict[str, str]:
        """What every Airflow process knows, the workers included: no secret but the log server's key."""
        return (
            self.base_env()
            | {
                "AIRFLOW_HOME": str(self.home / "airflow"),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.project / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.airflow_url}/execution/",
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.ports['redis']}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"redis://127.0.0.1:{self.ports['redis']}/1",
                "AIRFLOW__API__SECRET_KEY": self.secrets["api_secret"],
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "airflow" / "logs"),
                # A worker that dies mid-task (killed, its machine lost) has the task retried after a minute, not 5.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
                "TEXTFLOW_PROJECT_ROOT": str(self.project),
                "TEXTFLOW_GPU_EXECUTION": "celery",
                "TEXTFLOW_TRAINING_SLOTS": "1",
                # one limit on trainings shared by textflow_pipeline and textflow_sweep (created by airflow-init)
                "TEXTFLOW_GPU_POOL": "gpu",
            }
            | self.settings
        )

    def airflow_env(self) -> dict[str, str]:
        """The api-server, scheduler, dag-processor and triggerer: the metadata database and the signing keys."""
        return self._airflow_common_env() | {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url("airflow"),
            "AIRFLOW__API_AUTH__JWT_SECRET": self.secrets["jwt_secret"],
            "AIRFLOW__CORE__FERNET_KEY": self.secrets["fernet_key"],
        }

    def worker_env(self, queue: str) -> dict[str, str]:
        """A Celery worker: the tasks' credentials (MLflow, S3), none of the metadata database or signing keys.
        The ``gpu`` queue's worker runs one task at a time: one training per GPU."""
        return (
            self._airflow_common_env()
            | self.client_env()
            | {"AIRFLOW__CELERY__WORKER_CONCURRENCY": "1" if queue == "gpu" else "2"}
        )

    def core_secrets(self) -> list[str]:
        """The values a worker's environment must never hold."""
        return [self.secrets[name] for name in ("postgres_password", "jwt_secret", "fernet_key")]

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> LocalCluster:
        self.home.mkdir(parents=True, exist_ok=True)
        from cryptography.fernet import Fernet

        self.secrets = {
            "postgres_password": secrets.token_urlsafe(18),
            "fernet_key": Fernet.generate_key().decode(),
            "mlflow_admin_password": secrets.token_urlsafe(18),
            "mlflow_secret_key": secrets.token_urlsafe(24),
            "jwt_secret": secrets.token_urlsafe(24),
            "api_secret": secrets.token_urlsafe(24),
            "s3_access_key": "textflow",
            "s3_secret_key": secrets.token_urlsafe(18),
        }
        self.ports = {name: free_port() for name in ("postgres", "redis", "s3", "mlflow", "airflow")}
        try:
            self._start_postgres()
            self._start_redis()
            self._start_s3()
            self._start_mlflow()
            self._start_airflow()
            self._write_env_file()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start a service in its own process group (so stopping it stops its children), logging to home."""
        self.commands[name] = command
        self.environments[name] = env or self.base_env()
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - the process owns it until it ends
        process = subprocess.Popen(
            command,
            cwd=self.home,
            env=env or self.base_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((name, process))
        return process

    def _wait_healthy(self, name: str, url: str, process: subprocess.Popen, seconds: float = 180) -> None:
        try:
            wait_healthy(url, process, seconds)
        except ServiceNotHealthy as problem:
            raise ClusterError(f"{name} {problem}; see {self.home / (name + '.log')}") from None

    def _as_postgres_user(self, command: list[str]) -> list[str]:
        """initdb refuses to run as root; as root, run PostgreSQL as Debian's ``postgres`` user."""
        if os.geteuid() != 0:
            return command
        return [_require("runuser", "util-linux"), "-u", "postgres", "--", *command]

    def _start_postgres(self) -> None:
        """A fresh cluster in its own temp directory: as root, PostgreSQL runs as ``postgres``, who must be able
        to reach it (a pytest or user scratch directory is often private to its owner)."""
        self.postgres_home = Path(tempfile.mkdtemp(prefix="textflow-postgres-"))
        data, sockets = self.postgres_home / "data", self.postgres_home / "socket"
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.postgres_home, account.pw_uid, account.pw_gid)
        password_file = self.postgres_home / "password"
        password_file.write_text(self.secrets["postgres_password"] + "\n")
        password_file.chmod(0o600)
        if os.geteuid() == 0:
            os.chown(password_file, account.pw_uid, account.pw_gid)
        initdb = self._as_postgres_user(
            [
                postgres_program("initdb"),
                "-D",
                str(data),
                "-U",
                "textflow",
                "--auth=scram-sha-256",
                f"--pwfile={password_file}",
            ]
        )
        result = subprocess.run(initdb, capture_output=True, text=True, timeout=120)
        password_file.unlink()
        if result.returncode != 0:
            raise ClusterError(f"initdb failed: {(result.stderr or result.stdout).strip()[-1500:]}")
        subprocess.run(self._as_postgres_user(["mkdir", str(sockets)]), check=True, timeout=30)
        options = f"-p {self.ports['postgres']} -k {sockets} -c listen_addresses=127.0.0.1"
        process = self._spawn(
            "postgres", self._as_postgres_user([postgres_program("postgres"), "-D", str(data), *options.split()])
        )
        deadline = time.monotonic() + 60
        while subprocess.run(
            [postgres_program("pg_isready"), "-h", "127.0.0.1", "-p", str(self.ports["postgres"])], capture_output=True
        ).returncode:
            if process.poll() is not None or time.monotonic() > deadline:
                raise ClusterError(f"PostgreSQL did not start; see {self.home / 'postgres.log'}")
            time.sleep(0.5)
        for database in ("airflow", "mlflow", "mlflow_auth"):
            subprocess.run(
                [
                    postgres_program("createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.ports["postgres"]),
                    "-U",
                    "textflow",
                    database,
                ],
                check=True,
                capture_output=True,
                timeout=60,
                env=os.environ | {"PGPASSWORD": self.secrets["postgres_password"]},
            )

    def _start_redis(self) -> None:
        server = _require("redis-server", "Debian's redis-server package (apt-get install redis-server)")
        process = self._spawn(
            "redis",
            [server, "--port", str(self.ports["redis"]), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        )
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.ports["redis"]), 2) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
            if process.poll() is not None or time.monotonic() > deadline:
                raise ClusterError(f"Redis did not start; see {self.home / 'redis.log'}")
            time.sleep(0.3)

    def _start_s3(self) -> None:
        """moto's server accepts any key; the clients still send the cluster's, as they would to a real store."""
        moto = _require("moto_server", "moto[server] (pip)")
        process = self._spawn("s3", [moto, "-H", "127.0.0.1", "-p", str(self.ports["s3"])])
        self._wait_healthy("s3", f"{self.s3_url}/moto-api/", process, 60)
        command = ["python", "-m", MODULE, "create-buckets"]
        self.commands["create-buckets"] = command
        subprocess.run(command, env=self.base_env() | self.client_env(), check=True, capture_output=True, timeout=120)

    def _start_mlflow(self) -> None:
        env = self.base_env() | {
            "MLFLOW_BACKEND_STORE_URI": self.database_url("mlflow"),
            "MLFLOW_AUTH_DATABASE_URI": self.database_url("mlflow_auth"),
            "MLFLOW_AUTH_ADMIN_PASSWORD": self.secrets["mlflow_admin_password"],
            "MLFLOW_FLASK_SERVER_SECRET_KEY": self.secrets["mlflow_secret_key"],
            "MLFLOW_S3_ENDPOINT_URL": self.s3_url,
            "AWS_ACCESS_KEY_ID": self.secrets["s3_access_key"],
            "AWS_SECRET_ACCESS_KEY": self.secrets["s3_secret_key"],
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        command = [
            "python",
            "-m",
            MODULE,
            "mlflow-server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.ports["mlflow"]),
        ]
        process = self._spawn("mlflow", command, env)
        self._wait_healthy("mlflow", f"{self.mlflow_url}/health", process, 180)

    def _start_airflow(self) -> None:
        env = self.airflow_env()
        (self.home / "airflow").mkdir(exist_ok=True)
        self.commands["airflow-init"] = ["python", "-m", MODULE, "airflow-init"]
        subprocess.run(self.commands["airflow-init"], env=env, check=True, capture_output=True, timeout=600)
        api = self._spawn(
            "api-server", ["airflow", "api-server", "--host", "127.0.0.1", "--port", str(self.ports["airflow"])], env
        )
        for name in ("scheduler", "dag-processor", "triggerer"):
            self._spawn(name, ["airflow", name], env)
        self._wait_healthy("api-server", f"{self.airflow_url}/api/v2/monitor/health", api, 240)
        for queue in QUEUES:
            (self.home / f"worker-{queue}").mkdir()
            self._start_worker(queue)

    def _start_worker(self, queue: str, scratch: Path | None = None) -> None:
        """A Celery worker consuming ``queue``, named ``<queue>-worker``, with its own scratch directory."""
        env = self.worker_env(queue) | {
            WORKER_NAME_ENV: f"{queue}-worker",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{MODULE}.worker_hostname",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "TEXTFLOW_RUNS_DIR": str(scratch or self.home / f"worker-{queue}"),
        }
        command = ["airflow", "celery", "worker", "--queues", queue, "--celery-hostname", f"{queue}-worker@%h"]
        self._spawn(f"worker-{queue}", command, env)

    def _write_env_file(self) -> None:
        path = self.home / "cluster.env"
        path.touch(mode=0o600)
        path.write_text("".join(f"{key}={value}\n" for key, value in self.client_env().items()), encoding="utf-8")

    def worker(self, queue: str) -> subprocess.Popen:
        return next(process for name, process in self.processes if name == f"worker-{queue}")

    def kill_worker(self, queue: str) -> None:
        """SIGKILL the worker of ``queue`` and everything it started, as losing its machine would: Airflow runs
        each task in a process of its own session, which a signal to the worker's process group would miss."""
        worker = self.worker(queue)
        signal_tree(worker.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=30)
        self.processes = [(name, process) for name, process in self.processes if process is not worker]

    def restart_worker(self, queue: str, scratch: Path | None = None) -> None:
        """Start a worker of ``queue`` (after :meth:`kill_worker`) under the same name; ``scratch``: an empty
        directory instead of its old one, as if it came back on another machine."""
        self._start_worker(queue, scratch)

    def stop(self) -> None:
        self._stop_processes()
        if self.postgres_home is not None:
            shutil.rmtree(self.postgres_home, ignore_errors=True)

    def _stop_processes(self) -> None:
        stop(*(process for _name, process in reversed(self.processes)), grace_seconds=30)
        self.processes.clear()


AUTH_CACHE_ENV = "TEXTFLOW_MLFLOW_AUTH_CACHE_SECONDS"


def auth_cache_seconds() -> int:
    """MLflow's ``auth_cache_ttl_seconds`` (an integer in its ini file); a bad value stops the server's start."""
    try:
        cache = duration_from_env(AUTH_CACHE_ENV, "seconds", timedelta(seconds=60), whole=True)
    except ValueError as error:
        raise SystemExit(f"{error} (0 turns the cache off)") from None
    return int(cache.total_seconds())


def serve_mlflow(host: str, port: int) -> None:
    """Exec ``mlflow server`` as the cluster and compose run it: basic auth (users in the database
    ``MLFLOW_AUTH_DATABASE_URI``; MLflow reads that only from an ini file, written here to a private temp file),
    the backend ``MLFLOW_BACKEND_STORE_URI``, artifacts proxied to S3 (clients need no S3 credentials), one
    worker (first boot on an empty database races with several), the Host names compose uses allowed, and no
    MLflow server jobs (textflow submits none; left on, the server starts a pool of job consumer processes).

    A verified password is remembered for ``TEXTFLOW_MLFLOW_AUTH_CACHE_SECONDS`` (default 60; 0 turns it off;
    MLflow's ``auth_cache_ttl_seconds``): without it every request re-checks the password hash, 0.65-0.87 s of
    server CPU a request on 2 cores, and a training logs every epoch. MLflow keys the cache on an HMAC of the
    password under a per-process key; with one server worker a password changed through MLflow's API takes
    effect at once, one changed in the database directly within the TTL."""
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    database = os.environ.get("MLFLOW_AUTH_DATABASE_URI")
    if not database or not os.environ.get("MLFLOW_BACKEND_STORE_URI"):
        raise SystemExit("set MLFLOW_BACKEND_STORE_URI and MLFLOW_AUTH_DATABASE_URI (see docker/.env.example)")
    descriptor, config = tempfile.mkstemp(prefix="mlflow-auth-", suffix=".ini")
    with os.fdopen(descriptor, "w") as handle:
        handle.write(
            "[mlflow]\ndefault_permission = READ\n"
            f"database_uri = {database}\nadmin_username = admin\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            f"auth_cache_ttl_seconds = {auth_cache_seconds()}\n"
        )
    os.environ["MLFLOW_AUTH_CONFIG_PATH"] = config
    command = ["mlflow", "server", "--app-name", "basic-auth", "--host", host, "--port", str(port), "--workers", "1"]
    command += ["--artifacts-destination", os.environ.get("MLFLOW_ARTIFACTS_DESTINATION", "s3://mlflow/artifacts")]
    command += ["--serve-artifacts", "--allowed-hosts", "mlflow,mlflow:*,localhost,localhost:*,127.0.0.1,127.0.0.1:*"]
    os.execvp(command[0], command)


def initialise_airflow() -> None:
    """``airflow db migrate``, then the training pool ``TEXTFLOW_GPU_POOL`` with ``TEXTFLOW_TRAINING_SLOTS``
    slots (one per GPU): a task in a pool that does not exist is never scheduled, so it is made before any
    scheduler starts."""
    subprocess.run(["airflow", "db", "migrate"], check=True, timeout=600)
    pool = os.environ.get("TEXTFLOW_GPU_POOL")
    if pool:
        slots = os.environ.get("TEXTFLOW_TRAINING_SLOTS", "1")
        command = ["airflow", "pools", "set", pool, slots, "training slots: one training per GPU"]
        subprocess.run(command, check=True, timeout=120)


def create_buckets(names: tuple[str, ...] = ("textflow", "mlflow")) -> None:
    """The buckets the stack uses (DVC remote and checkpoints; MLflow artifacts), at ``AWS_ENDPOINT_URL``;
    idempotent, so compose's one-shot job can run at every ``up``."""
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    for name in names:
        if name not in existing:
            client.create_bucket(Bucket=name)
            print(f"created bucket {name}")


@contextlib.contextmanager
def running_cluster(
    project: Path, home: Path | None = None, settings: dict[str, str] | None = None
) -> Iterator[LocalCluster]:
    cluster = LocalCluster(project.resolve(), **({"home": home} if home else {}), settings=settings or {})
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.orchestration.cluster", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    up = commands.add_parser("up", help="start the whole cluster here (the default)")
    up.add_argument("--home", type=Path, help="scratch directory (default: a new one under the temp dir)")
    mlflow = commands.add_parser("mlflow-server", help="run the stack's MLflow server (compose runs this too)")
    mlflow.add_argument("--host", default="0.0.0.0")
    mlflow.add_argument("--port", type=int, default=5000)
    commands.add_parser("create-buckets", help="create the stack's S3 buckets at AWS_ENDPOINT_URL")
    commands.add_parser("airflow-init", help="migrate Airflow's database and create the training pool")
    args = parser.parse_args(argv)
    if args.command == "mlflow-server":
        serve_mlflow(args.host, args.port)
    elif args.command == "create-buckets":
        create_buckets()
    elif args.command == "airflow-init":
        initialise_airflow()
    else:
        run_until_interrupted(Path.cwd(), getattr(args, "home", None))


def run_until_interrupted(project: Path, home: Path | None) -> None:
    print("starting PostgreSQL, Redis, S3 (moto), MLflow, Airflow with two Celery workers ...", flush=True)
    with running_cluster(project, home) as cluster:
        generated = cluster.home / "airflow" / "simple_auth_manager_passwords.json.generated"
        password = json.loads(generated.read_text())["admin"]
        print(
            f"Airflow UI: {cluster.airflow_url}  (login admin / {password})\n"
            f"MLflow UI:  {cluster.mlflow_url}  (user admin; password and S3 keys in {cluster.home / 'cluster.env'})\n"
            f"workers: default-worker and gpu-worker, logs in {cluster.home}\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            while all(process.poll() is None for _name, process in cluster.processes):
                time.sleep(2)
            dead = [name for name, process in cluster.processes if process.poll() is not None]
            print(f"stopping: {', '.join(dead)} exited; see {cluster.home}", file=sys.stderr)


if __name__ == "__main__":
    main()
