"""Hypothesis over random sequences of changes, renewals and times (POLICY.md 4, 5, 8, 9, 10).

Each example gets its own account, cameras and card inside a savepoint that is rolled back
at its end: pytest-django's `db` does not reset between Hypothesis examples.
"""

import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Count
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from camcare import clock
from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import LedgerEntry, Order, SandboxCharge, SandboxRefund
from camcare.cameras.models import Camera
from tests.billing.conftest import add_camera
from tests.billing.helpers import assert_consistent, money_fields
from tests.conftest import Api, make_account, set_clock, utc

CAMERAS = 4
# Refusals the rules allow in a random walk; anything else (or a 500) is a bug.
ALLOWED = {"past_due", "payment_failed"}


class Rollback(Exception):
    pass


def expect_refusal(code: str) -> None:
    assert code in ALLOWED, code
    event(f"refused: {code}")


plans = st.sampled_from(["free", "plus", "premium"])
targets = st.tuples(
    st.just("target"),
    st.dictionaries(st.integers(0, CAMERAS - 1), plans, min_size=1, max_size=CAMERAS),
    st.sampled_from([None, None, "monthly", "annual"]),
    st.sampled_from(["action", "quote", "api"]),
)
advances = st.tuples(
    st.just("advance"),
    # Seconds: within a period, across a renewal, or onto the retry days (+1, +3, +7).
    st.one_of(st.integers(1, 3 * 86400), st.integers(20 * 86400, 40 * 86400),
              st.sampled_from([86400, 2 * 86400, 4 * 86400])),
)
cards = st.tuples(st.just("card"), st.sampled_from(["tok_visa", "tok_chargeDeclined"]))
steps = st.one_of(
    targets, targets, targets, advances, advances, cards, cards,
    st.tuples(st.just("cancel"), st.sampled_from(["action", "quote", "api"])),
    st.tuples(st.just("credit"), st.integers(1, 2000)),
    st.tuples(st.just("remove"), st.integers(0, CAMERAS - 1), st.sampled_from(["action", "api"])),
)


class Walk:
    """One account walking through random steps, checking the invariants after each."""

    def __init__(self, start):
        self.account = make_account(f"walk-{uuid.uuid4().hex}@example.com")
        self.cameras = [add_camera(self.account, f"Cam {i}").id for i in range(CAMERAS)]
        self.added = CAMERAS
        actions.save_payment_method(account=self.account, token="tok_visa", actor=self.account)
        set_clock(self.account, start)
        self.api = Api(self.account)

    def run(self, step) -> None:
        kind = step[0]
        if kind == "target":
            _, chosen, cycle, via = step
            self.change({self.cameras[i]: plan for i, plan in chosen.items()}, cycle, via)
        elif kind == "remove":
            self.remove(self.cameras[step[1]], step[2])
        elif kind == "cancel":
            self.change({camera: "free" for camera in self.cameras}, None, step[1], cancel=True)
        elif kind == "advance":
            to = clock.now(self.account) + timedelta(seconds=step[1])
            actions.advance_test_clock(account=self.account, to=to, actor=self.account)
        elif kind == "card":
            actions.save_payment_method(account=self.account, token=step[1], actor=self.account)
        elif kind == "credit":
            actions.issue_support_credit(request_key=uuid.uuid4().hex, account=self.account, amount=step[1], reason="walk", actor=None)
        self.check()

    def remove(self, camera, via) -> None:
        """The camera leaves (its line credited or refunded); a new one takes its place."""
        before = self.creditable()
        if via == "api":
            key = {"Idempotency-Key": uuid.uuid4().hex}
            first = self.api.delete(f"cameras/{camera}", headers=key)
            counted = counts()
            second = self.api.delete(f"cameras/{camera}", headers=key)
            assert (second.status_code, second.content) == (first.status_code, first.content)
            assert second.headers.get("Idempotent-Replayed") == "true"
            assert counts() == counted
            if first.status_code != 200:
                expect_refusal(first.json()["code"])
                return
            body = first.json()
        else:
            try:
                body = actions.remove_camera(account=self.account, camera=Camera.objects.get(pk=camera),
                                             actor=self.account).to_api()
            except BillingRefusal as refused:
                expect_refusal(refused.code)
                return
        self.check_result(body, before)
        assert not Camera.objects.filter(pk=camera).exists()
        self.cameras[self.cameras.index(camera)] = add_camera(self.account, f"Cam {self.added}").id
        self.added += 1

    def creditable(self) -> dict:
        subscription = selectors.subscription_or_none(self.account)
        if subscription is None:
            return {}
        # All held lines share the subscription's cycle, so plan and camera identify one.
        return {
            (line.plan, line.camera_key or None): line.paid - line.credited
            for line in selectors.active_lines(subscription)
        }

    def change(self, cameras, cycle, via, cancel=False) -> None:
        before = self.creditable()
        if via == "api":
            body = self.put_twice(cameras, cycle, cancel)
        elif via == "quote":
            body = self.preview_then_change(cameras, cycle, cancel)
        else:
            body = self.direct(cameras, cycle, cancel)
        if body is not None:
            self.check_result(body, before)

    def check_result(self, body, before) -> None:
        event("charged now" if body["charge_now"] else "refunded" if body["refund"] else
              "credited" if body["credit_added"] else "no money")
        assert body["net"] == body["charge_now"] + body["credit_used"] - body["credit_added"] - body["refund"]
        for line in body["lines"]:
            assert line["amount"] >= 0
            if line["kind"] == "credit":  # never more than the line paid, net of credits
                assert line["amount"] <= before[(line["plan"], line["camera"])]

    def direct(self, cameras, cycle, cancel):
        try:
            if cancel:
                result = actions.cancel_subscription(account=self.account, actor=self.account)
            else:
                result = actions.change_plan(account=self.account, cameras=cameras, cycle=cycle, actor=self.account)
        except BillingRefusal as refused:
            expect_refusal(refused.code)
            return None
        return result.to_api()

    def preview_then_change(self, cameras, cycle, cancel):
        try:
            if cancel:
                preview = actions.preview_cancel(account=self.account, actor=self.account)
            else:
                preview = actions.preview_change(account=self.account, cameras=cameras, cycle=cycle, actor=self.account)
        except BillingRefusal as refused:
            expect_refusal(refused.code)
            return None
        quoted = preview.to_api()
        assert quoted["net"] == quoted["charge_now"] + quoted["credit_used"] - quoted["credit_added"] - quoted["refund"]
        try:
            if cancel:
                done = actions.cancel_subscription(account=self.account, quote_id=preview.quote_id, actor=self.account)
            else:
                done = actions.change_plan(account=self.account, quote_id=preview.quote_id, actor=self.account)
        except BillingRefusal as refused:
            expect_refusal(refused.code)
            return None
        assert money_fields(done.to_api()) == money_fields(quoted)  # preview equals execution
        return done.to_api()

    def put_twice(self, cameras, cycle, cancel):
        key = {"Idempotency-Key": uuid.uuid4().hex}
        if cancel:
            first = self.api.post("subscription/cancel", {}, headers=key)
        else:
            body = {"cameras": cameras} | ({"cycle": cycle} if cycle else {})
            first = self.api.put("subscription", body, headers=key)
        assert first.status_code in (200, 402, 409), first.content
        counted = counts()
        if cancel:
            second = self.api.post("subscription/cancel", {}, headers=key)
        else:
            second = self.api.put("subscription", body, headers=key)
        assert second.headers.get("Idempotent-Replayed") == "true"
        assert (second.status_code, second.content) == (first.status_code, first.content)
        assert counts() == counted  # the second call changed nothing
        if first.status_code != 200:
            expect_refusal(first.json()["code"])
            return None
        return first.json()

    def check(self) -> None:
        assert_consistent()
        assert selectors.credit_balance(self.account) >= 0
        assert selectors.receivable_balance(self.account) >= 0
        assert Order.objects.filter(status="pending").count() == 0
        # Never billed twice for a period.
        paid_twice = (
            Order.objects.filter(account=self.account, purpose="renewal", status="succeeded")
            .values("period_start").annotate(n=Count("id")).filter(n__gt=1)
        )
        assert list(paid_twice) == []
        summary = selectors.subscription_summary(self.account)
        event(f"reached {summary['status']}")
        if summary["status"] == "none":
            assert set(summary["cameras"].values()) == {"free"}


def counts() -> tuple:
    return (Order.objects.count(), LedgerEntry.objects.count(), SandboxCharge.objects.count(),
            SandboxRefund.objects.count())


DAY = 86400
PAST_DUE_STORY = [  # subscribe, the card fails at renewal, priced changes refused, a good card pays
    ("target", {0: "plus", 1: "premium", 2: "premium"}, None, "api"), ("card", "tok_chargeDeclined"),
    ("advance", 31 * DAY), ("target", {0: "premium"}, None, "quote"), ("target", {3: "premium"}, None, "api"),
    ("advance", DAY), ("card", "tok_visa"), ("advance", 5 * DAY), ("cancel", "quote"),
]
LAPSE_STORY = [  # every retry fails: back to free; then a new subscription and a removal
    ("target", {0: "plus"}, "annual", "action"), ("card", "tok_chargeDeclined"), ("advance", 366 * DAY),
    ("advance", 2 * DAY), ("advance", 6 * DAY), ("cancel", "api"), ("card", "tok_visa"),
    ("target", {0: "plus", 1: "plus"}, "monthly", "quote"), ("advance", 10 * DAY), ("remove", 1, "api"),
    ("target", {0: "premium"}, "annual", "api"), ("advance", 3 * DAY), ("cancel", "action"),
]


@pytest.mark.django_db
@example(start_day=59, start_second=0, walk=PAST_DUE_STORY)
@example(start_day=30, start_second=3600, walk=LAPSE_STORY)
@settings(max_examples=45, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(
    start_day=st.integers(0, 500),
    start_second=st.integers(0, 86399),
    walk=st.lists(steps, min_size=2, max_size=16),
)
def test_it_keeps_every_money_invariant_over_random_walks(start_day, start_second, walk):
    start = utc(2027, 1, 1) + timedelta(days=start_day, seconds=start_second)
    try:
        with transaction.atomic():
            walker = Walk(start)
            for step in walk:
                walker.run(step)
            raise Rollback
    except Rollback:
        pass
