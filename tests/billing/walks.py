"""The random walk of tests/billing/test_properties.py: one account taking random steps
(changes, trials, stops, renewals and time, cards, credit, removals, replacements, clips),
with a small model of what the rules say beside it, checked after every step.

The model is what POLICY.md says, not what the code does: who may have a trial (section
12), which refusals a state allows (sections 4, 5, 12, 13), what a trial's end, a stop's
instant and a lapse do (sections 5, 12, 13), and which clips stay visible, are held or are
erased (section 6). Erasure runs after the commit, so each step runs inside
captureOnCommitCallbacks(execute=True): the example's savepoint never commits.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from django.db.models import Min
from django.test import TestCase
from hypothesis import event

from camcare import clock
from camcare.audit.models import AuditEvent
from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import (
    Order,
)
from camcare.cameras import erasure, services
from camcare.cameras.models import Camera, Clip
from tests.billing.conftest import add_camera
from tests.billing.helpers import money_fields
from tests.billing.walk_checks import Checks
from tests.billing.walk_state import (
    ADVANCES,
    CAMERAS,
    CHANGES,
    Done,
    Seen,
    Tracked,
    counts,
    days_of,
    footprint,
)
from tests.conftest import Api, make_account, set_clock


class Walk(Checks):
    """One account walking through random steps, checking the invariants after each."""

    def __init__(self, start: datetime, card: str | None = "tok_visa"):
        self.account = make_account(f"walk-{uuid.uuid4().hex}@example.com")
        self.cameras = [add_camera(self.account, f"Cam {i}").id for i in range(CAMERAS)]
        self.added = CAMERAS
        if card is not None:
            actions.save_payment_method(account=self.account, token=card, actor=self.account)
        set_clock(self.account, start)
        self.api = Api(self.account)
        self.clips: dict[str, Tracked] = {}
        self.had_paid = False
        self.ended: dict[int, tuple] = {}  # ended lines: history, never written again
        self.last: Seen | None = None
        self.released: list[str] = []  # serials of cameras that left the account
        self.used_serials: set[str] = set()  # the model: serials that had a paid plan or a trial

    # ---------------------------------------------------------------- running a step

    def run(self, step) -> None:
        kind, *args = step
        # The state the last step left (with the model's clips since), or the start's.
        before = self.observe() if self.last is None else replace(
            self.last, clips=self.clips_now(), had_paid=self.had_paid)
        with TestCase.captureOnCommitCallbacks(execute=True):  # erasure runs after the commit
            done = getattr(self, f"step_{kind}")(before, *args)
        after = self.observe()
        self.had_paid = self.had_paid or after.status != "none"
        if after.status != "none":
            self.used_serials |= set(Camera.objects.filter(account=self.account).exclude(plan="free")
                                     .values_list("serial", flat=True))
        self.follow_clips(before, after, kind, done)
        self.check_invariants(before, after)
        getattr(self, f"check_{'change' if kind in CHANGES else 'advance' if kind in ADVANCES else kind}")(
            before, after, done)
        event(f"{kind}: refused {done.refused}" if done.refused else f"{kind}: {before.status} -> {after.status}")
        self.last = after

    def observe(self) -> Seen:
        subscription = selectors.subscription_or_none(self.account)
        method = selectors.payment_method_of(self.account)
        lines = {}
        if subscription is not None:
            lines = {(line.plan, line.camera_key or None): (line.pk, line.paid, line.credited)
                     for line in selectors.active_lines(subscription)}
        paid = subscription is not None and subscription.status != "none"
        return Seen(
            now=clock.now(self.account), summary=selectors.subscription_summary(self.account), counts=counts(),
            card=method.token if method else None, version=subscription.version if subscription else 0,
            lines=lines, period_end=subscription.period_end if paid else None,
            next_retry=subscription.next_retry_at if paid else None,
            last_order=Order.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
            last_audit=AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
            clips=self.clips_now(), had_paid=self.had_paid,
        )

    def clips_now(self) -> dict:
        return {pk: (t.camera, t.recorded, t.held) for pk, t in self.clips.items()}

    def twice(self, method: str, path: str, body=None):
        """The API call, then again with the same Idempotency-Key: replayed, no second effect."""
        key = {"Idempotency-Key": uuid.uuid4().hex}
        first = getattr(self.api, method)(path, body, headers=key)
        assert first.status_code < 500, first.content
        seen = footprint(self.account)
        second = getattr(self.api, method)(path, body, headers=key)
        assert second.headers.get("Idempotent-Replayed") == "true"
        assert (second.status_code, second.content) == (first.status_code, first.content)
        assert footprint(self.account) == seen
        return first

    # ---------------------------------------------------------------- the steps

    def step_target(self, before, chosen, cycle, via) -> Done:
        return self.change(before, {self.cameras[i]: plan for i, plan in chosen.items()}, cycle, via)

    def step_trial(self, before, chosen, cycle, via) -> Done:
        return self.change(before, {self.cameras[i]: plan for i, plan in chosen.items()}, cycle, via, trial=True)

    def step_cancel(self, before, via) -> Done:
        return self.change(before, dict.fromkeys(self.cameras, "free"), None, via, cancel=True)

    def change(self, before, cameras, cycle, via, *, cancel=False, trial=False) -> Done:
        done = Done(cycle=cycle, target={**before.cameras, **cameras}, trial=trial)
        if via == "api":
            done.result, done.refused = self.change_by_api(cameras, cycle, cancel, trial)
        elif via == "quote":
            done.result, done.refused = self.preview_then_change(cameras, cycle, cancel, trial)
        else:
            done.result, done.refused = self.direct(cameras, cycle, cancel, trial)
        return done

    def direct(self, cameras, cycle, cancel, trial):
        try:
            if cancel:
                result = actions.cancel_subscription(account=self.account, actor=self.account)
            else:
                result = actions.change_plan(account=self.account, cameras=cameras, cycle=cycle, trial=trial,
                                             actor=self.account)
        except BillingRefusal as refused:
            return None, refused.code
        return result.to_api(), None

    def preview_then_change(self, cameras, cycle, cancel, trial):
        try:
            if cancel:
                preview = actions.preview_cancel(account=self.account, actor=self.account)
            else:
                preview = actions.preview_change(account=self.account, cameras=cameras, cycle=cycle, trial=trial,
                                                 actor=self.account)
        except BillingRefusal as refused:
            return None, refused.code
        quoted = preview.to_api()
        assert quoted["net"] == quoted["charge_now"] + quoted["credit_used"] - quoted["credit_added"] - quoted["refund"]
        previewed = counts()
        try:
            if cancel:
                done = actions.cancel_subscription(account=self.account, quote_id=preview.quote_id, actor=self.account)
            else:
                done = actions.change_plan(account=self.account, quote_id=preview.quote_id, trial=trial,
                                           actor=self.account)
        except BillingRefusal as refused:
            return None, refused.code
        body = done.to_api()
        assert money_fields(body) == money_fields(quoted)  # preview equals execution
        assert body["trial_end"] == quoted["trial_end"]
        if quoted["trial_end"] is not None:  # a trial start or a change in one: no order, no charge
            assert counts() == previewed
        return body, None

    def change_by_api(self, cameras, cycle, cancel, trial):
        if cancel:
            first = self.twice("post", "subscription/cancel", {})
        else:
            body = {"cameras": cameras} | ({"cycle": cycle} if cycle else {}) | ({"trial": True} if trial else {})
            first = self.twice("put", "subscription", body)
        assert first.status_code in (200, 402, 409), first.content
        if first.status_code != 200:
            return None, first.json()["code"]
        return first.json(), None

    def step_remove(self, before, index, via) -> Done:
        """The camera leaves (its line credited or refunded); a new one takes its place."""
        camera = self.cameras[index]
        serial = Camera.objects.get(pk=camera).serial
        done = Done(target={**before.cameras, camera: "free"}, removed=camera)
        if via == "api":
            first = self.twice("delete", f"cameras/{camera}")
            if first.status_code != 200:
                done.refused = first.json()["code"]
                return done
            done.result = first.json()
        else:
            try:
                done.result = actions.remove_camera(account=self.account, camera=Camera.objects.get(pk=camera),
                                                    actor=self.account).to_api()
            except BillingRefusal as refused:
                done.refused = refused.code
                return done
        assert not Camera.objects.filter(pk=camera).exists()
        self.released.append(serial)
        self.cameras[index] = add_camera(self.account, f"Cam {self.added}").id
        self.added += 1
        return done

    def step_stop(self, before, via) -> Done:
        if via == "api":
            first = self.twice("post", "subscription/stop", {})
            assert first.status_code in (200, 409), first.content
            return Done(result=first.json()) if first.status_code == 200 else Done(refused=first.json()["code"])
        try:
            return Done(result=actions.stop_at_period_end(account=self.account, actor=self.account).to_api())
        except BillingRefusal as refused:
            return Done(refused=refused.code)

    def step_drop(self, before, via) -> Done:
        if via == "api":
            assert self.twice("delete", "subscription/scheduled-change").status_code == 200
        else:
            actions.drop_scheduled_change(account=self.account, actor=self.account)
        return Done()

    def step_replace(self, before, index, via) -> Done:
        """A new camera (a new serial, given untidy) takes the place of one of the account's."""
        old = self.cameras[index]
        self.released.append(Camera.objects.get(pk=old).serial)
        serial = f" sn-{self.account.pk}-new-{self.added} "
        self.added += 1
        if via == "api":
            first = self.twice("post", f"cameras/{old}/replace", {"serial": serial, "model": "KC300"})
            assert first.status_code == 201, first.content
            assert first.json()["replaces"] == old
            new = first.json()["id"]
        else:
            new = actions.replace_camera(account=self.account, old_camera=Camera.objects.get(pk=old), serial=serial,
                                         model="KC300", actor=self.account).camera.pk
        self.cameras[index] = new
        return Done(replaced=(old, new))

    def step_elsewhere(self, before, which, plan) -> Done:
        """A camera that left the account is registered on a new account (its serial given
        untidy), which asks for the trial with it: refused exactly when the serial has had a
        paid plan or a trial (section 12). Then it leaves that account too."""
        if not self.released:
            return Done()
        serial = self.released[which % len(self.released)]
        other = make_account(f"elsewhere-{uuid.uuid4().hex}@example.com")
        set_clock(other, before.now)
        camera, _ = services.register_camera(other, "Second hand", "KC200", f"  {serial.lower()} ")
        assert camera.serial == serial
        try:
            actions.change_plan(account=other, cameras={camera.pk: plan}, trial=True, actor=other)
            refused = None
        except BillingRefusal as refusal:
            refused = refusal.code
        assert (refused == "trial_not_available") == (serial in self.used_serials), (refused, serial)
        assert refused in (None, "trial_not_available")
        summary = selectors.subscription_summary(other)
        assert summary["status"] == ("none" if refused else "trialing")
        if refused is None:
            self.used_serials.add(serial)
            actions.cancel_subscription(account=other, actor=other)
        erasure.erase_camera(camera.pk)
        return Done(refused=refused)

    def check_elsewhere(self, before: Seen, after: Seen, done: Done) -> None:
        assert after.counts == before.counts  # a trial and its cancel move no money
        assert after.state() == before.state()

    def step_advance(self, before, seconds) -> Done:
        to = before.now + timedelta(seconds=seconds)
        actions.advance_test_clock(account=self.account, to=to, actor=self.account)
        return Done(to=to)

    def step_until(self, before, base, offset) -> Done:
        """Onto (or around) the next instant that matters: the bill (period end, or the next
        retry when past_due) or the end of a hold."""
        if base == "hold":
            at = Clip.objects.held().filter(camera__account=self.account).aggregate(at=Min("held_until"))["at"]
        else:
            at = before.next_retry if before.status == "past_due" else before.period_end
        to = max(before.now, (at or before.now) + timedelta(seconds=offset))
        actions.advance_test_clock(account=self.account, to=to, actor=self.account)
        return Done(to=to)

    def step_card(self, before, token) -> Done:
        actions.save_payment_method(account=self.account, token=token, actor=self.account)
        return Done()

    def step_credit(self, before, amount) -> Done:
        actions.issue_support_credit(request_key=uuid.uuid4().hex, account=self.account, amount=amount,
                                     reason="walk", actor=None)
        return Done()

    def step_clip(self, before, index, share) -> Done:
        """A clip uploaded now, recorded somewhere inside the camera's window (an upload
        outside it is refused), `share` thousandths of the window ago (1000: at its cut-off,
        which is still inside)."""
        camera = self.cameras[index]
        ago = share * days_of(before.cameras[camera]) * 86400 // 1000
        recorded = before.now - timedelta(seconds=ago)
        clip = Clip.objects.create(camera_id=camera, recorded_at=recorded, duration_s=10, size=1,
                                   file=f"clips/walk/{uuid.uuid4().hex}.mp4")
        self.clips[clip.pk] = Tracked(camera, recorded)
        return Done()
