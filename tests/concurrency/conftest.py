"""A real server for the concurrency tests: gunicorn with 4 worker processes, production
settings, on its own database (SQLite, or PostgreSQL when DATABASE_URL points at one).

Races between requests only show with several processes (ARCHITECTURE.md, serving), so
these tests never use Django's test client or pytest-django's throwaway database. Each
xdist worker starts one server for the session, on a database of its own:
- SQLite: a fresh CAMCARE_DATA_DIR in a temp folder (scripts/serve migrates it);
- PostgreSQL: a uniquely named database created on the server of DATABASE_URL, dropped
  at the end.
The test process reads and arranges that database only through the agent
(tests/concurrency/agent.py), a child process with the server's environment.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
SERVE = ROOT / "scripts" / "serve"
WORKERS = 4
START_TIMEOUT = 120  # seconds for collectstatic + migrate + gunicorn on a busy 2-core machine


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if urlsplit(url).scheme in {"postgres", "postgresql", "pgsql"} else None


@contextmanager
def _database(data_dir: Path):
    """The env that points a process at this session's own database."""
    url = _postgres_url()
    if url is None:
        yield {"CAMCARE_DATA_DIR": str(data_dir)}
        return
    import psycopg

    parts = urlsplit(url)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"camcare_concurrency_{worker}_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"CAMCARE_DATA_DIR": str(data_dir), "DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}"))}
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _base_env(db_env: dict, port: int) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CAMCARE_", "DJANGO_", "PYTEST_")) and k != "DATABASE_URL"}
    env.update(db_env)
    env.update({
        # The server's settings for every process on its database: the agent and the
        # billing runs too (`manage.py run_billing` runs in production beside gunicorn).
        "CAMCARE_PRODUCTION": "1",
        "DJANGO_SETTINGS_MODULE": "camcare.settings",
        "CAMCARE_SECRET_KEY": secrets.token_urlsafe(50),
        "CAMCARE_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CAMCARE_SITE_URL": f"http://127.0.0.1:{port}",
        "CAMCARE_BIND": f"127.0.0.1:{port}",
        "CAMCARE_WORKERS": str(WORKERS),
        "CAMCARE_PLAIN_HTTP": "1",
        # Receipts are not what these tests look at; production's SMTP has no server here.
        "CAMCARE_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "CAMCARE_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    return env


class Agent:
    """JSON requests to tests/concurrency/agent.py (see there)."""

    def __init__(self, env: dict, log: Path):
        self.lock = threading.Lock()  # one request at a time: the tests call it from threads
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [str(PYTHON), "-m", "tests.concurrency.agent"], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, start_new_session=True,
        )
        self._read()

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the agent died; see its log")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"agent: {answer['error']}")
        return answer["ok"]

    def __call__(self, op: str, **args):
        with self.lock:
            self.process.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
            self.process.stdin.flush()
            return self._read()

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


class Server:
    def __init__(self, url: str, env: dict, agent: Agent):
        self.url = url
        self.env = env
        self.agent = agent

    def billing_run(self) -> BillingRun:
        return BillingRun(self.env)


class BillingRun:
    """`manage.py run_billing` in a process of its own (agent.billing_at), started ahead,
    and told the instants to run at with `at(epochs)` once `wait_ready()` returned."""

    def __init__(self, env: dict):
        self.process = subprocess.Popen(
            [str(PYTHON), "-m", "tests.concurrency.agent", "billing-at"], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self) -> None:
        ready = self.process.stdout.readline()
        if ready.strip() != "ready":
            raise RuntimeError(f"the billing run did not start: {ready}{self.process.stdout.read()[-3000:]}")

    def at(self, epochs: list[float]) -> None:
        self.process.stdin.write(" ".join(repr(float(e)) for e in epochs) + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def finish(self) -> str | None:
        """None once it ran, else what went wrong."""
        output, _ = self.process.communicate(timeout=120)
        return None if self.process.returncode == 0 else f"a billing run failed ({self.process.returncode}): {output[-2000:]}"


def _start_gunicorn(env: dict, log) -> subprocess.Popen:
    """`make serve`'s script: collectstatic, migrate, then gunicorn with production settings."""
    if not os.access(SERVE, os.X_OK):
        pytest.fail(f"{SERVE} is missing: the concurrency tests run against `make serve`", pytrace=False)
    return subprocess.Popen([str(SERVE)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait_until_up(process: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited ({process.returncode}):\n{log_path.read_text()[-4000:]}", pytrace=False)
        try:
            if requests.get(f"{url}/api/v1/plans", timeout=10).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or a worker still booting
            pass
        time.sleep(0.2)
    pytest.fail(f"the server did not answer in {START_TIMEOUT}s:\n{log_path.read_text()[-4000:]}", pytrace=False)


def _stop(process: subprocess.Popen) -> None:
    """gunicorn's quick shutdown (SIGQUIT) to the master and its workers: the tests are
    over, nothing in flight is worth a graceful wait. The workers exit at once; the master
    can linger seconds after them, so it is killed once they have had a moment."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGQUIT)
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def server():
    tmp = Path(tempfile.mkdtemp(prefix="camcare-concurrency-"))
    log_path = tmp / "server.log"
    try:
        with _database(tmp / "data") as db_env:
            port = _free_port()
            env = _base_env(db_env, port)
            url = f"http://127.0.0.1:{port}"
            with log_path.open("ab") as log:
                process = _start_gunicorn(env, log)
                agent = None
                try:
                    _wait_until_up(process, url, log_path)
                    agent = Agent(env, tmp / "agent.log")
                    yield Server(url, env, agent)
                finally:
                    if agent is not None:
                        agent.close()
                    _stop(process)
    finally:
        # A 500 in a test names its reference; its trace is in the server's log, kept then.
        crashed = log_path.exists() and "Traceback" in log_path.read_text(errors="replace")
        if crashed or os.environ.get("CAMCARE_CONCURRENCY_KEEP"):
            sys.stderr.write(f"\nconcurrency server and agent logs kept in {tmp}\n")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
