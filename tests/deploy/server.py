"""The production server as `make serve` starts it (scripts/serve), for tests on loopback.

Only the environment that a deployment sets is passed on: the parent's CAMCARE_* and
DATABASE_URL (a PostgreSQL run of the suite, test clocks) must not leak into it.
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "scripts" / "serve"
BOOT_TIMEOUT_S = 90  # collectstatic compresses ~400 files: seconds, more on a busy CI box
STOP_TIMEOUT_S = 35  # gunicorn's graceful_timeout (30 s) and a margin


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {
        name: value for name, value in os.environ.items()
        if not name.startswith("CAMCARE_") and name not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        CAMCARE_SECRET_KEY=secrets.token_urlsafe(50),
        CAMCARE_ALLOWED_HOSTS="127.0.0.1",
        CAMCARE_SITE_URL=f"http://127.0.0.1:{port}",
        CAMCARE_BIND=f"127.0.0.1:{port}",
        CAMCARE_DATA_DIR=str(data_dir),
        CAMCARE_PLAIN_HTTP="1",
        CAMCARE_WORKERS="2",
    )
    env.update(extra)
    return env


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    data_dir: Path
    stdout: Path
    stderr: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        return f"--- stdout\n{self.stdout.read_text()[-4000:]}\n--- stderr\n{self.stderr.read_text()[-4000:]}"

    def wait_until_answering(self) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"scripts/serve exited with {self.process.returncode}\n{self.logs()}")
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                connection.request("GET", "/api/v1/plans")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                connection.close()
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"scripts/serve did not answer within {BOOT_TIMEOUT_S} s\n{self.logs()}")

    def stop(self) -> int:
        """SIGTERM, as systemd or `docker stop` sends it; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # master and workers
            self.process.wait()
            raise

    def worker_pids(self) -> set[int]:
        return children_of(self.process.pid)


def start(data_dir: Path, port: int | None = None, **extra: str) -> Server:
    """scripts/serve in its own session (so nothing it forks outlives the test run)."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    stdout, stderr = data_dir / "serve.out", data_dir / "serve.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [str(SERVE)], cwd="/", env=production_env(data_dir, port, **extra),
            stdout=out, stderr=err, start_new_session=True,
        )
    return Server(process, port, data_dir, stdout, stderr)


def run_to_exit(data_dir: Path, port: int, **extra: str) -> subprocess.CompletedProcess:
    """scripts/serve that is expected to refuse to start: its exit status and output."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(SERVE)], cwd="/", env=production_env(data_dir, port, **extra),
        capture_output=True, text=True, timeout=BOOT_TIMEOUT_S,
    )


def answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def children_of(pid: int) -> set[int]:
    """Live child processes of `pid`, from /proc (Linux)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited while we looked
            continue
        state, parent = fields[0], int(fields[1])
        if parent == pid and state != "Z":
            children.add(int(stat.parent.name))
    return children


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
