"""Load test: simulated owners against the production server (issue 7). Prints each figure
next to its baseline (ARCHITECTURE.md bench/): the same server answering a static endpoint.

  .venv/bin/python bench/load.py [--duration 60] [--users 100] [--fail-on-error]
                                 [--p99-pages-ms 250] [--think 0.5 1.5] [--setup-concurrency 4]
                                 [--url http://127.0.0.1:PORT]

1. Starts `scripts/serve` (gunicorn, production settings over loopback HTTP) on a free port
   with a throw-away SQLite database, unless --url names a server already running here.
2. Sets up one owner per simulated user through the API, --setup-concurrency at a time,
   before anything is measured: an account, a bearer token, two cameras (each with its
   device token), a card, camera 1 on plus, and a portal session (the login form). Three
   password hashes per owner: this is most of the set-up time.
3. Runs locust headless for --duration seconds: each owner, after a think time drawn from
   --think, does one of
     home page   GET /                            portal, signed in with its session cookie
     preview     POST /api/v1/subscription/preview camera 2 on plus or premium
     change      PUT /api/v1/subscription          camera 2 alternately on plus and on free
     orders      GET /api/v1/orders
     clip upload POST /api/v1/device/clips         a 2 KB MP4 of the demo clips, as camera 1
     health      GET /api/v1/plans                 the baseline: no session, no database
4. Prints requests/s, p50/p95/p99 (exact, from every measured request) and errors of each
   kind, and the p99 of the pages against the --p99-pages-ms target.

Exit status: 0, or 1 with --fail-on-error when any measured request failed (set-up failures
always exit 1). Traffic goes to loopback only: --url must be a 127.x.x.x or localhost URL.
"""

# locust patches the standard library for gevent when it is imported: it must come first.
from locust import FastHttpUser, between, events, task  # isort: skip
from locust.env import Environment  # isort: skip

import argparse
import ipaddress
import itertools
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import gevent
import requests
from gevent.pool import Pool

ROOT = Path(__file__).resolve().parents[1]
CLIP = (ROOT / "camcare/cameras/demo_clips/demo-2.mp4").read_bytes()
PAGES = ("home page", "preview", "change", "orders")  # what an owner waits on in a browser
HEALTH = "health"
KINDS = (*PAGES, "clip upload", HEALTH)
SPAWN_RATE = 50  # users started per second; the measurement starts once all are running


@dataclass
class Owner:
    email: str
    password: str
    token: str = ""
    cameras: list[str] = field(default_factory=list)
    device_tokens: list[str] = field(default_factory=list)
    session_cookie: str = ""


# -- the server -----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path) -> tuple[subprocess.Popen, str, Path]:
    """scripts/serve on a free loopback port; production settings with a fresh database.
    No SMTP server listens here: receipts go to the dummy backend instead of waiting on a
    refused connection inside every paid change."""
    port = free_port()
    env = {
        **os.environ,
        "CAMCARE_BIND": f"127.0.0.1:{port}",
        "CAMCARE_SECRET_KEY": secrets.token_urlsafe(50),
        "CAMCARE_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CAMCARE_DATA_DIR": str(data_dir),
        "CAMCARE_PLAIN_HTTP": "1",
        "CAMCARE_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "CAMCARE_GUNICORN_LOG_LEVEL": "warning",
    }
    for name in ("CAMCARE_TEST_CLOCKS", "DATABASE_URL"):
        env.pop(name, None)
    log_path = data_dir / "server.log"
    log = log_path.open("wb")
    server = subprocess.Popen([str(ROOT / "scripts/serve")], env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    return server, f"http://127.0.0.1:{port}", log_path


def wait_until_up(base: str, server: subprocess.Popen | None, log_path: Path | None) -> None:
    deadline = time.monotonic() + 90  # collectstatic and migrate run first
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if requests.get(f"{base}/api/v1/plans", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    sys.exit(f"the server at {base} did not answer within 90 s")


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM: gunicorn finishes the requests in flight and exits (scripts/serve execs it)."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def describe_server(server: subprocess.Popen | None) -> str:
    if server is None:
        return "given by --url"
    workers = os.environ.get("CAMCARE_WORKERS", "its default")
    threads = os.environ.get("CAMCARE_THREADS", "its default")
    return f"scripts/serve, CAMCARE_WORKERS {workers}, CAMCARE_THREADS {threads}"


def stop_on_signals(server: subprocess.Popen) -> None:
    """Ctrl-C or a SIGTERM (a CI time-out) stops the server too, not only this process."""

    def stop(*_args) -> None:
        stop_server(server)
        os._exit(130)

    for number in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(number, stop)


def require_loopback(url: str) -> str:
    host = urlsplit(url).hostname or ""
    loopback = host == "localhost" or _is_loopback_ip(host)
    if not loopback:
        sys.exit(f"--url must be a server on this machine (127.x.x.x, [::1] or localhost), not {host!r}")
    return url.rstrip("/")


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- set-up of the owners, through the API and the login form ------------------------------

class SetupFailed(Exception):
    pass


def expect(response: requests.Response, *statuses: int) -> requests.Response:
    if response.status_code not in statuses:
        raise SetupFailed(f"{response.request.method} {response.request.path_url} answered "
                          f"{response.status_code}: {response.text[:300]}")
    return response


def set_up_owner(base: str, run: str, number: int) -> Owner:
    owner = Owner(email=f"load-{run}-{number}@example.com", password=f"load {run} {number} correct horse")
    http = requests.Session()
    credentials = {"email": owner.email, "password": owner.password}
    expect(http.post(f"{base}/api/v1/accounts", json=credentials), 201)
    owner.token = expect(http.post(f"{base}/api/v1/tokens", json=credentials), 201).json()["token"]
    bearer = {"Authorization": f"Bearer {owner.token}"}
    for name in ("Porch", "Garden"):
        camera = {"name": name, "model": "KC200", "serial": f"LOAD-{run}-{number}-{name}"}
        created = expect(http.post(f"{base}/api/v1/cameras", json=camera, headers=bearer), 201).json()
        owner.cameras.append(created["id"])
        owner.device_tokens.append(created["device_token"])
    expect(http.put(f"{base}/api/v1/payment-method", json={"token": "tok_visa"}, headers=bearer), 200)
    state = {"cycle": "monthly", "cameras": {owner.cameras[0]: "plus"}}
    expect(http.put(f"{base}/api/v1/subscription", json=state, headers=bearer), 200)
    owner.session_cookie = portal_session(http, base, owner)
    return owner


def portal_session(http: requests.Session, base: str, owner: Owner) -> str:
    """Sign in through the portal's login form, as a browser does (CSRF cookie and field)."""
    expect(http.get(f"{base}/login/"), 200)
    csrf = http.cookies["csrftoken"]
    form = {"email": owner.email, "password": owner.password, "csrfmiddlewaretoken": csrf}
    expect(http.post(f"{base}/login/", data=form, headers={"Referer": f"{base}/login/"},
                     allow_redirects=False), 302)
    if "sessionid" not in http.cookies:
        raise SetupFailed(f"the login of {owner.email} set no session cookie")
    return f"sessionid={http.cookies['sessionid']}; csrftoken={csrf}"


def set_up_owners(base: str, count: int, concurrency: int) -> list[Owner]:
    """Every owner through the API, `concurrency` at a time; the first failure stops it all."""
    run = secrets.token_hex(3)
    pool = Pool(concurrency)
    jobs = [pool.spawn(set_up_owner, base, run, number) for number in range(count)]
    try:
        gevent.joinall(jobs, raise_error=True)
    except SetupFailed as failed:
        pool.kill()
        sys.exit(f"set-up failed: {failed}")
    return [job.value for job in jobs]


# -- the simulated owners -------------------------------------------------------------------

def multipart(fields: dict[str, str], file_name: str, content: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body (FastHttpUser has no `files=`) and its content type."""
    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
                 "Content-Type: video/mp4\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class SimulatedOwner(FastHttpUser):
    """One owner: a portal session, a bearer token, two cameras, camera 1 on plus."""

    owners: "itertools.cycle[Owner]"  # set by main() before the users start
    wait_time = between(0.5, 1.5)  # replaced by --think

    def on_start(self) -> None:
        self.owner = next(self.owners)
        self.bearer = {"Authorization": f"Bearer {self.owner.token}"}
        self.garden_paid = False

    def _json(self, method: str, path: str, name: str, body=None) -> None:
        with self.client.request(method, path, name=name, headers=self.bearer, json=body,
                                 catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} {(response.text or '')[:200]}")

    @task(3)
    def home_page(self) -> None:
        with self.client.get("/", name="home page", headers={"Cookie": self.owner.session_cookie},
                             allow_redirects=False, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} (a signed-in owner gets the page)")

    @task(2)
    def preview(self) -> None:
        plan = random.choice(("plus", "premium"))
        self._json("POST", "/api/v1/subscription/preview", "preview", {"cameras": {self.owner.cameras[1]: plan}})

    @task(1)
    def change(self) -> None:
        # Alternate camera 2 between plus and free: a paid add (a card charge) then a
        # credit, while camera 1 keeps the subscription alive.
        plan = "free" if self.garden_paid else "plus"
        self._json("PUT", "/api/v1/subscription", "change", {"cameras": {self.owner.cameras[1]: plan}})
        self.garden_paid = not self.garden_paid

    @task(2)
    def orders(self) -> None:
        self._json("GET", "/api/v1/orders", "orders")

    @task(1)
    def clip_upload(self) -> None:
        recorded_at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body, content_type = multipart({"recorded_at": recorded_at, "duration_s": "10"}, "clip.mp4", CLIP)
        headers = {"Authorization": f"Device {self.owner.device_tokens[0]}", "Content-Type": content_type}
        with self.client.post("/api/v1/device/clips", name="clip upload", data=body, headers=headers,
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code} {(response.text or '')[:200]}")

    @task(1)
    def health(self) -> None:
        with self.client.get("/api/v1/plans", name=HEALTH, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")


# -- measuring ------------------------------------------------------------------------------

class Recorder:
    """Every measured request's time (ms) and failure by kind: exact percentiles, not
    locust's rounded buckets."""

    def __init__(self) -> None:
        self.recording = False
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.samples: dict[str, Counter[str]] = defaultdict(Counter)

    def on_request(self, name, response_time, exception=None, **_kwargs) -> None:
        if not self.recording:
            return
        self.times[name].append(response_time)
        if exception is not None:
            self.errors[name] += 1
            self.samples[name][str(exception)[:160]] += 1


def percentile(values: list[float], percent: int) -> float:
    """The nearest-rank percentile: the smallest value with `percent`% of the values at or
    below it (integer arithmetic, so p99 of 100 values is the 99th, not the 100th)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[rank - 1]


def run_load(base: str, owners: list[Owner], users: int, duration: float, think: tuple[float, float],
             recorder: Recorder) -> float:
    SimulatedOwner.owners = itertools.cycle(owners)
    SimulatedOwner.wait_time = between(*think)
    SimulatedOwner.host = base
    env = Environment(user_classes=[SimulatedOwner], events=events)
    env.events.request.add_listener(recorder.on_request)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=SPAWN_RATE)
    if runner.spawning_greenlet is not None:
        runner.spawning_greenlet.join()
    recorder.recording = True
    started = time.monotonic()
    gevent.sleep(duration)
    recorder.recording = False
    measured = time.monotonic() - started
    runner.quit()
    env.events.request.remove_listener(recorder.on_request)
    return measured


def report(recorder: Recorder, measured: float, users: int, target_ms: float) -> int:
    print(f"\n{users} simulated owners, {measured:.1f} s measured\n")
    header = f"{'kind':<12} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}"
    print(header)
    print("-" * len(header))
    total_errors = 0
    for kind in KINDS:
        times = recorder.times.get(kind, [])
        errors = recorder.errors.get(kind, 0)
        total_errors += errors
        if not times:
            print(f"{kind:<12} {0:>9} {'-':>8} {'-':>8} {'-':>8} {'-':>8} {errors:>7}")
            continue
        p50, p95, p99 = (percentile(times, percent) for percent in (50, 95, 99))
        print(f"{kind:<12} {len(times):>9} {len(times) / measured:>8.1f} {p50:>8.0f} {p95:>8.0f} {p99:>8.0f} {errors:>7}")
    everything = [t for times in recorder.times.values() for t in times]
    print("-" * len(header))
    print(f"{'all':<12} {len(everything):>9} {len(everything) / measured:>8.1f}"
          f"{'':>27} {total_errors:>7}")
    print(f"\n(baseline: '{HEALTH}' is GET /api/v1/plans, the same server with no session and no database)")
    print_target(recorder, target_ms)
    print_errors(recorder)
    return total_errors


def print_target(recorder: Recorder, target_ms: float) -> None:
    pages = [t for kind in PAGES for t in recorder.times.get(kind, [])]
    if not pages:
        return
    p99 = percentile(pages, 99)
    verdict = "met" if p99 <= target_ms else "MISSED"
    print(f"p99 of the pages ({', '.join(PAGES)}): {p99:.0f} ms, target {target_ms:.0f} ms: {verdict}")
    for kind in PAGES:
        times = recorder.times.get(kind, [])
        if times:
            value = percentile(times, 99)
            print(f"  {kind:<10} p99 {value:>6.0f} ms  target {target_ms:.0f} ms  {'met' if value <= target_ms else 'MISSED'}")


def print_errors(recorder: Recorder) -> None:
    for kind, samples in recorder.samples.items():
        for message, count in samples.most_common(3):
            print(f"error  {kind}: {count} x {message}")


def print_first_traceback(log_path: Path) -> None:
    """A 500 says nothing by itself: the server's first traceback says where it came from."""
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    start = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), None)
    if start is None:
        return
    # The traceback (with its chained causes) ends where the next log line starts: an access
    # line ("127.0.0.1 ..."), a gunicorn line ("[2027-..."), or an error reference line.
    log_line = re.compile(r"^(\d+\.\d+\.\d+\.\d+ |\[\d{4}-|error ERR-)")
    end = next((i for i in range(start + 1, len(lines)) if log_line.match(lines[i])), len(lines))
    print("\nthe server logged a traceback; the end of the first one:")
    print("\n".join(lines[start:end][-30:]))


# -- main -----------------------------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60, help="measured seconds (default 60)")
    parser.add_argument("--users", type=int, default=100, help="simulated owners (default 100)")
    parser.add_argument("--fail-on-error", action="store_true", help="exit 1 if any measured request failed")
    parser.add_argument("--p99-pages-ms", type=float, default=250, help="the pages' p99 target (default 250)")
    parser.add_argument("--think", type=float, nargs=2, default=(0.5, 1.5), metavar=("MIN", "MAX"),
                        help="seconds an owner waits between two requests (default 0.5 1.5)")
    parser.add_argument("--setup-concurrency", type=int, default=4,
                        help="owners set up at once before the run (default 4)")
    parser.add_argument("--url", help="a server already running on this machine (default: start scripts/serve)")
    args = parser.parse_args(argv)
    if args.users < 1 or args.duration <= 0 or args.setup_concurrency < 1:
        parser.error("--users and --setup-concurrency must be >= 1 and --duration > 0")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    server = None
    with tempfile.TemporaryDirectory(prefix="camcare-load.") as data:
        if args.url:
            base, log_path = require_loopback(args.url), None
        else:
            server, base, log_path = start_server(Path(data))
            stop_on_signals(server)
        try:
            wait_until_up(base, server, log_path)
            print(f"server {base}: {describe_server(server)}")
            started = time.monotonic()
            owners = set_up_owners(base, args.users, args.setup_concurrency)
            print(f"set up {len(owners)} owners through the API in {time.monotonic() - started:.1f} s")
            recorder = Recorder()
            measured = run_load(base, owners, args.users, args.duration, tuple(args.think), recorder)
            errors = report(recorder, measured, args.users, args.p99_pages_ms)
        finally:
            if log_path is not None:
                print_first_traceback(log_path)
            if server is not None:
                stop_server(server)
    if errors and args.fail_on_error:
        print(f"FAILED: {errors} measured requests failed (--fail-on-error)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
