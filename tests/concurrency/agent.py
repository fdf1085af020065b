"""The test's hands and eyes inside the server's database, as a separate Django process.

The concurrency tests drive a real gunicorn over HTTP, and the server's database is not
pytest-django's throwaway one: pytest's own process must not point its ORM at it (the
other tests of the same xdist worker use that ORM). So a long-lived child process,
started with the server's environment, does the few things HTTP cannot: create accounts
without paying a password hash each, move a subscription's period so that it ends a
few seconds from now (production refuses test clocks), and read the ledger and the
sandbox gateway's own book.

    python -m tests.concurrency.agent               JSON requests on stdin, answers on stdout
    python -m tests.concurrency.agent billing-at    `manage.py run_billing` at the epochs it reads

Nothing here bills or prices: every write to billing state under test goes through the
server; the agent only sets up the calendar the way a month of real time would have.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime, timedelta


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "camcare.settings")
    import django

    django.setup()


# ---------------------------------------------------------------- setup


def make_owner(cameras: int = 1) -> dict:
    """An owner with `cameras` cameras on free and an API token. No usable password: a
    production password hash costs ~0.5 s of CPU, and the API takes the token."""
    from camcare.accounts.models import Account
    from camcare.accounts.services import issue_token
    from camcare.cameras.services import register_camera

    tag = uuid.uuid4().hex[:12]
    account = Account.objects.create_user(email=f"owner-{tag}@concurrency.example", password=None)
    ids = [register_camera(account, f"Camera {n}", "KC200", f"CC-{tag}-{n}")[0].pk for n in range(cameras)]
    return {"id": account.pk, "email": account.email, "token": issue_token(account), "cameras": ids}


def make_staff(password: str, billing_admin: bool = False) -> dict:
    """A staff member (an agent, or a billing admin when asked) with a confirmed TOTP
    device, as enrolment in the console leaves it: its key (hex) is in the answer, so that
    the test computes the codes its authenticator app would show. A device of its own per
    staff member: a code is accepted once, so sessions signing in within one 30-second
    step must not share one."""
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from django_otp.util import random_hex

    from camcare.accounts.models import Account
    from camcare.support.roles import Role

    email = f"staff-{uuid.uuid4().hex[:12]}@concurrency.example"
    account = Account.objects.create_user(email=email, password=password, is_staff=True)
    if billing_admin:
        account.groups.add(Group.objects.get(name=Role.BILLING_ADMIN))
    device = TOTPDevice.objects.create(user=account, name="concurrency phone", key=random_hex(20), confirmed=True)
    return {"email": email, "key": device.key, "step": device.step, "digits": device.digits}


def _account_rows(model, account_id: str):
    """The rows of a billing model that belong to the account (directly or through its
    subscription), or None for a model that belongs to no account (the gateway's book)."""
    from camcare.accounts.models import Account
    from camcare.billing.models import Subscription

    for field in model._meta.concrete_fields:
        target = getattr(field, "related_model", None)
        if target is Account:
            return model.objects.filter(**{field.name: account_id})
        if target is Subscription:
            return model.objects.filter(**{f"{field.name}__account_id": account_id})
    return None


def end_period_at(account_id: str, end: float) -> dict:
    """Move the account's monthly subscription, bought moments ago through the API, back in
    time so that its current period ends at the epoch `end` (whole seconds): the state a
    month of real time would have left. The anchor is the latest one whose k-th monthly
    boundary is `end` (month-end clamping can rule out k = 1), the period starts at the
    (k-1)-th boundary. Every billing timestamp of the account written during the setup
    (lines, orders, ledger, quotes, card) moves with the period start, and the old period
    end becomes `end`; the gateway's own book keeps its real times."""
    from django.apps import apps
    from django.db import models, transaction

    from camcare.billing.models import Subscription
    from camcare.domain.periods import Cycle, add_months, boundary

    new_end = datetime.fromtimestamp(end, UTC).replace(microsecond=0)
    for k in range(1, 13):
        anchor = add_months(new_end, -k)
        if boundary(anchor, Cycle.MONTHLY, k) == new_end:
            break
    new_start = boundary(anchor, Cycle.MONTHLY, k - 1)
    with transaction.atomic():
        subscription = Subscription.objects.get(account_id=account_id)
        if subscription.status != "active" or subscription.cycle != "monthly":
            raise ValueError(f"expected an active monthly subscription, got {subscription.status}/{subscription.cycle}")
        old_start, old_end = subscription.period_start, subscription.period_end
        delta = new_start - old_start
        window = (old_start - timedelta(minutes=5), old_start + timedelta(minutes=5))
        for model in apps.get_app_config("billing").get_models():
            rows = _account_rows(model, account_id)
            if rows is None:
                continue
            stamps = [f.name for f in model._meta.concrete_fields if isinstance(f, models.DateTimeField)]
            for row in rows:
                changed = {}
                for name in stamps:
                    value = getattr(row, name)
                    if value is None:
                        continue
                    if value == old_end:
                        changed[name] = new_end
                    elif window[0] <= value <= window[1]:
                        changed[name] = value + delta
                if changed:
                    model.objects.filter(pk=row.pk).update(**changed)
        Subscription.objects.filter(pk=subscription.pk).update(anchor=anchor, period_start=new_start, period_end=new_end)
    next_end = boundary(anchor, Cycle.MONTHLY, k + 1)
    return {"anchor": anchor.timestamp(), "start": new_start.timestamp(), "end": new_end.timestamp(),
            "next_end": next_end.timestamp()}


# ---------------------------------------------------------------- the books


MARKS: dict[str, dict] = {}


def mark() -> str:
    """Remember what the books hold now; `books(since=...)` reports only what came after,
    so that a scenario is judged on its own money and a failed one does not spill over."""
    from camcare.billing.models import LedgerEntry, Order, SandboxCharge, SandboxRefund

    name = uuid.uuid4().hex
    MARKS[name] = {
        "order": Order.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        "entry": LedgerEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        "charges": set(SandboxCharge.objects.values_list("pk", flat=True)),
        "refunds": set(SandboxRefund.objects.values_list("pk", flat=True)),
    }
    return name


def books(since: str, accounts: list[str]) -> dict:
    """What moved since the mark: the orders (with their gateway keys, which the API does
    not show), the sandbox gateway's charges and refunds, and the ledger's postings."""
    from django.db.models import Sum

    from camcare.billing.models import LedgerEntry, Order, SandboxCharge, SandboxRefund

    base = MARKS[since]
    orders = Order.objects.filter(pk__gt=base["order"]).select_related("refers_to")
    entries = LedgerEntry.objects.filter(pk__gt=base["entry"])
    postings: dict[str, int] = {}
    for entry in entries:
        postings[entry.posting] = postings.get(entry.posting, 0) + entry.amount
    return {
        "orders": [
            {
                "order_id": o.order_id, "account": o.account_id, "kind": o.kind, "status": o.status,
                "purpose": o.purpose, "amount": o.amount, "credit_used": o.credit_used,
                "gateway_key": o.gateway_key, "gateway_ref": o.gateway_ref,
                "refers_to": o.refers_to.order_id if o.refers_to_id else None,
                "period_start": o.period_start.timestamp() if o.period_start else None,
            }
            for o in orders.order_by("pk")
        ],
        "charges": [
            {"id": c.pk, "key": c.idempotency_key, "amount": c.amount, "succeeded": c.succeeded}
            for c in SandboxCharge.objects.exclude(pk__in=base["charges"]).order_by("created_at", "pk")
        ],
        "refunds": [
            {"id": r.pk, "key": r.idempotency_key, "charge": r.charge_id, "amount": r.amount}
            for r in SandboxRefund.objects.exclude(pk__in=base["refunds"]).order_by("created_at", "pk")
        ],
        # Every refund ever made on a charge of these accounts, old ones included.
        "refunded_by_charge": {
            row["charge_id"]: row["total"]
            for row in SandboxRefund.objects.values("charge_id").annotate(total=Sum("amount"))
        },
        "unbalanced_postings": {p: total for p, total in postings.items() if total != 0},
        "gateway_book": sum(e.amount for e in entries if e.book == "gateway"),
        "accounts": {
            account: {
                "credit_book": LedgerEntry.objects.filter(account_id=account, book="customer_credit")
                .aggregate(s=Sum("amount"))["s"] or 0,
            }
            for account in accounts
        },
    }


def run_billing() -> str:
    """The billing job, as cron runs it (`manage.py run_billing`, real now)."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("run_billing", stdout=out)
    return out.getvalue()


OPS = {f.__name__: f for f in (make_owner, make_staff, end_period_at, mark, books, run_billing)}


def serve() -> None:
    """One JSON request per line on stdin, one JSON answer per line on the original stdout
    (anything Django prints goes to stderr, so it cannot break the protocol)."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    _setup()
    from django.db import connections

    answers.write(json.dumps({"ok": "ready"}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = OPS[request["op"]](**request.get("args", {}))
            answer = {"ok": result}
        except Exception:
            answer = {"error": traceback.format_exc()}
        finally:
            connections.close_all()  # no idle transaction or stale snapshot between requests
        answers.write(json.dumps(answer, default=str) + "\n")


def billing_at() -> None:
    """`manage.py run_billing` at each instant (epoch seconds) of the line read from stdin,
    as cron would run it then. Django is set up before the instants are even known (it
    takes seconds on a busy machine), so that each run starts on time, beside the requests
    sent at that instant."""
    _setup()
    from django.core.management import call_command

    print("ready", flush=True)
    for epoch in sorted(float(word) for word in sys.stdin.readline().split()):
        time.sleep(max(0.0, epoch - time.time()))
        call_command("run_billing")


if __name__ == "__main__":
    if sys.argv[1:2] == ["billing-at"]:
        billing_at()
    else:
        serve()
