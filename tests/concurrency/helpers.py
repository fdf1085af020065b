"""HTTP against the real server, requests fired together, and the checks every scenario ends
with: the ledger, the sandbox gateway's own book and the API's orders agree."""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from html.parser import HTMLParser

import requests
from django_otp.oath import totp

# Repeats of each scenario: a race shows in some rounds only. Raise it to stress a fix
# (CAMCARE_CONCURRENCY_ROUNDS=20); a correct server passes any number.
ROUNDS = int(os.environ.get("CAMCARE_CONCURRENCY_ROUNDS", 3))
# API.md: a change answers 200, or refuses with 402/409/422 and the error body; never 5xx.
API_STATUSES = {200, 201, 402, 409, 422}
# The support console: a redirect after success, the page again (200/4xx) with the refusal.
FORM_STATUSES = {200, 302, 303, 409, 422}
PRICES = {"plus": 399, "premium": 1299, "plus_annual": 3999}


def prorated(price: int, left: int, whole: int) -> int:
    """POLICY.md section 4: round(price * left / whole), halves up, exactly."""
    return int(Fraction(price * left, whole) + Fraction(1, 2))


def epoch(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


@dataclass
class Answer:
    method: str
    path: str
    status: int
    body: object
    headers: dict

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    @property
    def replayed(self) -> bool:
        return self.headers.get("Idempotent-Replayed") == "true"

    def __repr__(self) -> str:
        detail = self.code or (self.body.get("net") if isinstance(self.body, dict) else "")
        return f"<{self.method} {self.path} {self.status} {detail}>"


def _decoded(response: requests.Response):
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return response.json()
    return response.text


class Api:
    """One account's bearer-token client for /api/v1 (a new connection per request, as
    separate clients would open)."""

    def __init__(self, base_url: str, token: str):
        self.base = f"{base_url}/api/v1/"
        self.token = token

    def request(self, method: str, path: str, body=None, *, key: str | None = None) -> Answer:
        headers = {"Authorization": f"Bearer {self.token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        with requests.Session() as session:
            response = session.request(method, self.base + path, json=body, headers=headers, timeout=60)
        return Answer(method, path, response.status_code, _decoded(response), dict(response.headers))

    def get(self, path: str):
        answer = self.request("GET", path)
        assert answer.status == 200, answer.body
        return answer.body


def check_api_answer(answer: Answer) -> None:
    """API.md: only the documented statuses; an error is {code, message, reference}; a
    change result keeps net = charge_now + credit_used - credit_added - refund."""
    assert answer.status in API_STATUSES, (answer, answer.body)
    body = answer.body
    assert isinstance(body, dict), (answer, body)
    if answer.status >= 400:
        assert {"code", "message", "reference"} <= set(body), body
    elif "net" in body:
        assert body["net"] == body["charge_now"] + body["credit_used"] - body["credit_added"] - body["refund"], body


def simultaneously(calls) -> list:
    """Run each zero-argument call in its own thread, all released by one barrier, so that
    the server gets them at the same time; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index: int, call) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except BaseException as exc:  # reported below, in the test's thread
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


# ---------------------------------------------------------------- people


@dataclass
class Owner:
    id: str
    email: str
    api: Api
    cameras: list[str]


def new_owner(server, *, cameras: int = 1) -> Owner:
    """A new account with `cameras` cameras on free and a card that pays (tok_visa)."""
    made = server.agent("make_owner", cameras=cameras)
    owner = Owner(made["id"], made["email"], Api(server.url, made["token"]), made["cameras"])
    saved = owner.api.request("PUT", "payment-method", {"token": "tok_visa"})
    assert saved.status == 200, saved.body
    return owner


def subscribe(owner: Owner, plans: dict[str, str]) -> dict:
    """A paid state bought through the API at real now; returns the change result."""
    answer = owner.api.request("PUT", "subscription", {"cycle": "monthly", "cameras": plans})
    assert answer.status == 200 and answer.body["orders"], (answer, answer.body)
    return answer.body


def new_key() -> str:
    return f"concurrency-{uuid.uuid4()}"


# ---------------------------------------------------------------- the books


@dataclass
class Moved:
    """The money one account moved since the mark, as the sandbox gateway recorded it."""

    charges: list[int] = field(default_factory=list)  # succeeded charges, sorted
    refunds: list[int] = field(default_factory=list)  # refunds, sorted
    renewals: list[tuple[int, int]] = field(default_factory=list)  # (card, credit used) per renewal order
    orders: list[dict] = field(default_factory=list)


@dataclass
class Books:
    problems: list[str]
    book: dict

    def moved(self, owner: Owner) -> Moved:
        """The account's money since the mark, as the gateway and the orders recorded it."""
        orders = [o for o in self.book["orders"] if o["account"] == owner.id]
        keys = {o["gateway_key"] for o in orders if o["gateway_key"]}
        return Moved(
            charges=sorted(c["amount"] for c in self.book["charges"] if c["key"] in keys and c["succeeded"]),
            refunds=sorted(r["amount"] for r in self.book["refunds"] if r["key"] in keys),
            renewals=[(o["amount"], o["credit_used"]) for o in orders
                      if o["purpose"] == "renewal" and o["kind"] == "charge" and o["status"] == "succeeded"],
            orders=orders,
        )


def check_books(server, mark: str, owners: list[Owner]) -> Books:
    """Every invariant of the brief, over what moved since `mark`, as a list of problems
    (empty when the books agree), and the book to read what each account moved:
    - every ledger posting sums to zero;
    - every gateway charge and refund belongs to an order of these accounts, and each
      succeeded charge (amount > 0) or refund order has exactly one, of its amount (a
      refund on the charge its order refers to);
    - no order is left pending; no charge is refunded more than it took;
    - the ledger's gateway book moved what the gateway did;
    - GET /orders shows exactly the accounts' orders, and GET /credit the ledger's balance."""
    book = server.agent("books", since=mark, accounts=[o.id for o in owners])
    problems = []
    ids = {o.id for o in owners}
    orders = [o for o in book["orders"] if o["account"] in ids]
    if book["unbalanced_postings"]:
        problems.append(f"postings that do not sum to zero: {book['unbalanced_postings']}")
    pending = [o["order_id"] for o in orders if o["status"] == "pending"]
    if pending:
        problems.append(f"orders left pending: {pending}")
    by_key = {o["gateway_key"]: o for o in orders if o["gateway_key"]}
    charges = Counter(c["key"] for c in book["charges"])
    refunds = Counter(r["key"] for r in book["refunds"])
    for charge in book["charges"]:
        order = by_key.get(charge["key"])
        if order is None or order["kind"] != "charge":
            problems.append(f"gateway charge {charge} has no charge order")
        elif charge["succeeded"] != (order["status"] == "succeeded") or charge["amount"] != order["amount"]:
            problems.append(f"gateway charge {charge} disagrees with its order {order}")
    charge_refs = {o["order_id"]: o["gateway_ref"] for o in orders}
    for refund in book["refunds"]:
        order = by_key.get(refund["key"])
        if order is None or order["kind"] != "refund" or order["status"] != "succeeded" or order["amount"] != refund["amount"]:
            problems.append(f"gateway refund {refund} has no succeeded refund order of its amount ({order})")
        elif charge_refs.get(order["refers_to"]) != refund["charge"]:
            problems.append(f"gateway refund {refund} is not on the charge its order refers to ({order})")
    for order in orders:
        if order["status"] != "succeeded" or order["amount"] == 0 or order["kind"] == "credit":
            continue
        seen = (charges if order["kind"] == "charge" else refunds)[order["gateway_key"]]
        if seen != 1:
            problems.append(f"{order['kind']} order {order['order_id']} of {order['amount']} has {seen} gateway records")
    charge_amounts = {c["id"]: c["amount"] for c in book["charges"]}
    for charge_id, refunded in book["refunded_by_charge"].items():
        if charge_id in charge_amounts and refunded > charge_amounts[charge_id]:
            problems.append(f"gateway charge {charge_id} of {charge_amounts[charge_id]} refunded {refunded}")
    net = sum(c["amount"] for c in book["charges"] if c["succeeded"]) - sum(r["amount"] for r in book["refunds"])
    if book["gateway_book"] != net:
        problems.append(f"the ledger's gateway book moved {book['gateway_book']}, the gateway {net}")
    shown_by_owner = simultaneously([lambda o=o: (o.api.get("orders"), o.api.get("credit")) for o in owners])
    for owner, (listed, credit) in zip(owners, shown_by_owner, strict=True):
        mine = sorted((o["order_id"], o["kind"], o["status"], o["amount"]) for o in orders if o["account"] == owner.id)
        shown = sorted((o["order_id"], o["kind"], o["status"], o["amount"]) for o in listed)
        if shown != mine:
            problems.append(f"GET /orders of {owner.email} shows {shown}, the database has {mine}")
        balance = credit["balance"]
        if balance != -book["accounts"][owner.id]["credit_book"] or balance < 0:
            problems.append(f"credit balance {balance}, ledger {-book['accounts'][owner.id]['credit_book']}")
    return Books(problems, book)


class Rounds:
    """Repeats of one scenario: each round's problems are kept, and the test fails at the
    end with all of them, so a report says how often (e.g. "2 charges in 2/3 rounds")."""

    def __init__(self, label: str):
        self.label = label
        self.failures: list[str] = []
        self.count = 0

    def check(self, problems: list[str]) -> None:
        self.count += 1
        if problems:
            self.failures.append(f"round {self.count}: " + "; ".join(problems))

    def done(self) -> None:
        assert not self.failures, (
            f"{self.label}: {len(self.failures)}/{self.count} rounds went wrong:\n  " + "\n  ".join(self.failures)
        )


# ---------------------------------------------------------------- the support console


class _Forms(HTMLParser):
    """The forms of a page: action and every named field with its rendered value."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action") or "", "fields": {}})
        elif self.forms and tag == "input" and attrs.get("name") and attrs.get("type") not in {"submit", "button"}:
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""
        elif self.forms and tag == "textarea" and attrs.get("name"):
            self._textarea = attrs["name"]
            self.forms[-1]["fields"][self._textarea] = ""

    def handle_data(self, data):
        if self._textarea is not None:
            self.forms[-1]["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None


def forms_of(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def staff_session(server, *, billing_admin: bool = False) -> requests.Session:
    """A signed-in support session, as a browser gets one: the login form with its CSRF
    token, then the console's TOTP step with the code the staff member's app shows now.
    Each call makes a new staff member (an agent, or a billing admin) with a device of
    their own, so sessions made within one 30-second step never reuse a code."""
    password = f"Staff-{uuid.uuid4().hex}"
    staff = server.agent("make_staff", password=password, billing_admin=billing_admin)
    session = requests.Session()
    page = session.get(f"{server.url}/login/", timeout=30)
    assert page.status_code == 200, page.status_code
    form = next(f for f in forms_of(page.text) if "password" in f["fields"])
    fields = {**form["fields"], "email": staff["email"], "password": password}
    signed_in = session.post(f"{server.url}/login/", data=fields, allow_redirects=False, timeout=30)
    assert signed_in.status_code == 302, (signed_in.status_code, signed_in.text[:2000])
    # The console answers nothing but its TOTP step until the session passed it.
    step = session.get(f"{server.url}/support/", allow_redirects=False, timeout=30)
    assert step.status_code == 302 and step.headers["Location"].startswith("/support/verify/"), step.status_code
    page = session.get(server.url + step.headers["Location"], timeout=30)
    assert page.status_code == 200, page.status_code
    form = next(f for f in forms_of(page.text) if "token" in f["fields"])
    code = f"{totp(bytes.fromhex(staff['key']), step=staff['step'], digits=staff['digits']):0{staff['digits']}d}"
    verified = session.post(server.url + (form["action"] or step.headers["Location"]),
                            data={**form["fields"], "token": code}, allow_redirects=False, timeout=30)
    assert verified.status_code == 302 and verified.headers["Location"] == "/support/", (
        verified.status_code, verified.text[:2000])
    return session


def support_form(server, session: requests.Session, owner: Owner, which: str) -> tuple[str, dict]:
    """(url, fields) of the account page's `which` form ("refund" or "credit") as rendered
    now, hidden fields included (the CSRF token, and the one-time key of the form)."""
    page = session.get(f"{server.url}/support/accounts/{owner.id}/", timeout=30)
    assert page.status_code == 200, page.status_code
    form = next(f for f in forms_of(page.text) if f["action"].rstrip("/").endswith(which))
    return server.url + form["action"], dict(form["fields"])


def post_form(session: requests.Session, url: str, fields: dict) -> requests.Response:
    """POST in a session of its own that carries the staff's cookies (another tab)."""
    with requests.Session() as tab:
        tab.cookies.update(session.cookies)
        return tab.post(url, data=fields, allow_redirects=False, timeout=60)
