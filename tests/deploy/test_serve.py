"""`make serve` (scripts/serve): collectstatic, migrate, gunicorn with production settings.

Real processes on loopback: the server of the `served` fixture, and short-lived ones that
must refuse to start.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import secrets
from http.cookiejar import CookieJar
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, Request, build_opener

from tests.deploy.server import ROOT, answers, free_port, run_to_exit


class NoRedirects(HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx is returned to the test as is


class Browser:
    """Cookies, no redirects followed, any status returned (urllib raises on 4xx/5xx)."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = CookieJar()
        self.opener = build_opener(HTTPCookieProcessor(self.cookies), NoRedirects)

    def request(self, path: str, data: dict | None = None, headers: dict | None = None):
        body = urlencode(data).encode() if data is not None else None
        request = Request(self.base + path, data=body, headers=headers or {})
        try:
            response = self.opener.open(request, timeout=30)
        except HTTPError as error:
            response = error
        with response:
            return response.status, response.headers, response.read()

    def cookie(self, name: str) -> str:
        return next(cookie.value for cookie in self.cookies if cookie.name == name)


def get(served, path: str, **headers):
    return Browser(served.url).request(path, headers=headers)


def raw_get(served, target: str, headers: dict[str, str] | None = None):
    """A request whose target is sent byte for byte (no client-side quoting or limits)."""
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_it_serves_a_portal_page(served):
    status, headers, body = get(served, "/login/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b"Sign in" in body
    assert headers["Server"] == "gunicorn"


def test_it_serves_the_hashed_compressed_static_files_that_collectstatic_wrote(served):
    _, _, page = get(served, "/login/")
    [css] = re.findall(rb'href="(/static/portal/app\.[0-9a-f]{12}\.css)"', page)
    status, headers, body = get(served, css.decode())
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert "immutable" in headers["Cache-Control"]  # a hashed name never changes content
    assert body == (ROOT / "camcare/portal/static/portal/app.css").read_bytes()
    status, headers, zipped = get(served, css.decode(), **{"Accept-Encoding": "gzip"})
    assert (status, headers["Content-Encoding"]) == (200, "gzip")
    assert gzip.decompress(zipped) == body
    assert get(served, "/static/portal/app.css")[0] == 404  # only hashed names are kept
    assert (served.data_dir / "static" / "staticfiles.json").is_file()


def test_it_answers_the_api_in_json(served):
    status, headers, body = get(served, "/api/v1/plans")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert {plan["code"] for plan in json.loads(body)} == {"free", "plus", "premium"}


def test_it_lets_the_api_answer_a_5000_character_path_itself(served):
    status, headers, body = raw_get(served, "/api/v1/" + "a" * 5000)
    assert status == 404, body[:300]  # gunicorn's own answer would be an HTML 414
    assert headers["Content-Type"].startswith("application/json")
    error = json.loads(body)
    assert error["code"] == "not_found"
    assert error["message"]
    assert re.fullmatch(r"ERR-[0-9A-Z]+", error["reference"])


def test_it_lets_the_application_answer_a_request_with_a_20_kb_header(served):
    status, _, body = raw_get(served, "/api/v1/plans", {"Cookie": "filler=" + "x" * 20_000})
    assert status == 200, body[:300]  # over gunicorn's default limit (8190 bytes): its HTML 431
    assert json.loads(body)[0]["code"] == "free"


def test_it_runs_the_configured_number_of_worker_processes(served):
    workers = served.worker_pids()
    assert len(workers) == 2
    for pid in workers:
        assert "gunicorn" in open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")


def test_it_signs_up_with_session_and_csrf_over_plain_http_on_loopback(served):
    browser = Browser(served.url)
    status, headers, _ = browser.request("/signup/")
    assert status == 200
    assert "Strict-Transport-Security" not in headers
    email = f"owner-{secrets.token_hex(4)}@example.com"
    form = {"csrfmiddlewaretoken": browser.cookie("csrftoken"), "email": email, "password": "tidy-lantern-90210"}
    status, headers, body = browser.request("/signup/", form, {"Referer": served.url + "/signup/"})
    assert status == 302, body[:500]  # a CSRF failure would be 403, a form error 422
    assert headers["Location"] == "/"
    status, _, home = browser.request("/")
    assert status == 200
    assert email.encode() in home


def test_it_refuses_to_start_production_with_test_clocks(tmp_path):
    port = free_port()
    result = run_to_exit(tmp_path / "data", port, CAMCARE_TEST_CLOCKS="1")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "CAMCARE_TEST_CLOCKS=1 is refused with CAMCARE_PRODUCTION=1" in result.stderr
    assert not answers(port)
    assert not (tmp_path / "data" / "camcare.sqlite3").exists()  # refused before migrating


def test_it_refuses_plain_http_on_an_address_other_than_loopback(tmp_path):
    port = free_port()
    result = run_to_exit(tmp_path / "data", port, CAMCARE_BIND=f"0.0.0.0:{port}")
    assert result.returncode != 0
    assert "CAMCARE_PLAIN_HTTP=1 is for loopback tests only" in result.stderr
    assert not answers(port)
