"""The random walk's checks (tests/billing/walks.py): the clips' model of POLICY.md section
6 and the invariants after every step, as a mixin of Walk (they read its account and model)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q, Sum
from hypothesis import event

from camcare.audit.events import Event
from camcare.audit.models import AuditEvent
from camcare.billing import selectors
from camcare.billing.models import (
    Order,
    SandboxCharge,
    Subscription,
    SubscriptionLine,
    TrialUse,
)
from camcare.cameras import holds, services
from camcare.cameras.models import Camera, Clip
from camcare.catalog import get_catalog
from camcare.domain.periods import Cycle, iso_z, parse_instant, window_start
from camcare.domain.pricing import PlanState, state_price
from tests.billing.helpers import assert_consistent, assert_lines_never_overcredited
from tests.billing.walk_state import (
    ADVANCES,
    CHANGES,
    DAY,
    DECLINING,
    HOLD,
    HOLDING,
    RETRY_DAYS,
    STATUSES,
    TO_FREE,
    Done,
    Seen,
    days_of,
)


class Checks:
    """The checks of Walk: each reads the walk's account, api and model."""

    # ---------------------------------------------------------------- the clips' model (section 6)

    def follow_clips(self, before: Seen, after: Seen, kind: str, done: Done) -> None:
        """Move the model's clips as section 6 says the step moves them."""
        now, plans = after.now, after.cameras
        if done.replaced:
            old, new = done.replaced
            for tracked in self.clips.values():
                if tracked.camera == old:
                    tracked.camera = new
        if done.removed and done.refused is None:
            self.clips = {pk: t for pk, t in self.clips.items() if t.camera != done.removed}
        holding = [e for e in self.events(before) if e.action in HOLDING] if kind in ADVANCES else []
        started_paid = kind in CHANGES and before.status == "none" and after.status == "active"
        for pk, tracked in list(self.clips.items()):
            window = window_start(now, days_of(plans[tracked.camera]))
            if tracked.held is not None:
                if tracked.held <= now:  # the hold ended: the sweep of the clock's move erased it
                    event("a hold ended")
                    del self.clips[pk]
                elif started_paid:  # a paid period started: back if inside its window, else erased
                    event("a paid period settled held clips")
                    if tracked.recorded >= window:
                        tracked.held = None
                    else:
                        del self.clips[pk]
                continue
            if holding:  # a lapse or an unpaid trial's end at `lapsed`, before the sweep at `now`
                lapsed = holding[0].at
                old_days = days_of(before.cameras[tracked.camera])
                if window_start(lapsed, days_of("free")) > tracked.recorded >= window_start(lapsed, old_days):
                    if lapsed + HOLD > now:
                        event("clips held")
                        tracked.held = lapsed + HOLD
                    else:
                        del self.clips[pk]
                    continue
            if tracked.recorded < window:
                del self.clips[pk]

    def events(self, before: Seen) -> list[AuditEvent]:
        return list(AuditEvent.objects.filter(account=self.account, pk__gt=before.last_audit).order_by("pk"))

    def check_clips(self, after: Seen) -> None:
        rows = {pk: (camera, held) for pk, camera, held, erasing in Clip.objects.values_list(
            "pk", "camera_id", "held_until", "erasing_since") if erasing is None}
        assert Clip.objects.count() == len(rows)  # no erasure left half done
        assert rows == {pk: (t.camera, t.held) for pk, t in self.clips.items()}
        # Held clips are never visible, and never outlive their hold once the clock passed it.
        assert not Clip.objects.visible().filter(held_until__isnull=False).exists()
        assert not Clip.objects.filter(held_until__lte=after.now).exists()
        if not rows:
            return
        for camera in Camera.objects.filter(account=self.account, pk__in={camera for camera, _ in rows.values()}):
            visible = set(services.visible_clips(camera).values_list("pk", flat=True))
            assert visible == {pk for pk, t in self.clips.items() if t.camera == camera.pk and t.held is None}
        held: dict[str, list] = {}
        for tracked in self.clips.values():
            if tracked.held is not None:
                held.setdefault(tracked.camera, []).append(tracked.held)
        assert holds.held_summary(self.account) == {camera: (len(untils), min(untils)) for camera, untils in held.items()}

    def visible_before(self, before: Seen, camera: str, cutoff: datetime) -> int:
        return sum(1 for cam, recorded, held in before.clips.values()
                   if cam == camera and held is None and recorded < cutoff)

    # ---------------------------------------------------------------- after every step

    def check_invariants(self, before: Seen, after: Seen) -> None:
        if after.counts != before.counts or self.last is None:
            # Orders and their ledger postings are written and settled within one step, so
            # the books can only have changed when rows were added.
            assert_consistent()
            assert_sandbox_book()
            assert_billed_once()
        else:
            assert_lines_never_overcredited()
        s = after.summary
        assert s["status"] in STATUSES
        assert (s["trial_end"] is not None) == (s["status"] == "trialing")
        assert selectors.credit_balance(self.account) >= 0
        receivable = selectors.receivable_balance(self.account)
        assert receivable >= 0
        assert (receivable > 0) == (s["status"] == "past_due")  # a lapse or a cancel voids the bill
        assert not Order.objects.filter(status="pending").exists()
        assert not Subscription.objects.exclude(claimed_by="").exists()
        subscription = selectors.subscription_or_none(self.account)
        if s["status"] == "none":
            assert set(s["cameras"].values()) <= {"free"}
            assert (s["cycle"], s["current_period_end"], s["next_bill"], s["scheduled_change"]) == (None,) * 4
            assert after.lines == {}
        else:
            plans = s["cameras"].values()
            expected = {("plus", camera) for camera, plan in s["cameras"].items() if plan == "plus"}
            expected |= {("premium", None)} if "premium" in plans else set()
            assert set(after.lines) == expected  # the lines in force are the cameras' plans
            for line in selectors.active_lines(subscription):
                assert (line.cycle, line.period_start) == (subscription.cycle, subscription.period_start)
                if s["status"] in ("trialing", "past_due"):
                    assert line.paid == 0  # a trial's line and an unpaid period's paid nothing
            scheduled = s["scheduled_change"]
            if scheduled is not None:
                assert scheduled["at"] == s["current_period_end"]
                assert (s["next_bill"] is None) == (scheduled["kind"] == "stop")
            else:
                assert s["next_bill"] is not None
        if s["status"] == "trialing":
            start, end = parse_instant(s["current_period_start"]), parse_instant(s["current_period_end"])
            assert end - start == timedelta(days=get_catalog().trial_days)
            assert s["trial_end"] == s["current_period_end"]
            assert s["scheduled_change"] is None or s["scheduled_change"]["kind"] == "stop"
        if s["status"] == "past_due":
            assert subscription.next_retry_at is not None and 1 <= subscription.failed_attempts <= 3
            assert s["next_bill"]["at"] == iso_z(subscription.next_retry_at)
            assert after.next_retry > after.now
        elif s["status"] != "none":
            assert after.period_end > after.now  # the clock's move ran everything due
        account_used = TrialUse.objects.filter(kind="account", key=str(self.account.pk)).exists()
        assert account_used == self.had_paid
        assert set(TrialUse.objects.filter(kind="serial").values_list("key", flat=True)) == self.used_serials
        if subscription is not None:
            for line in SubscriptionLine.objects.filter(subscription=subscription, ended_at__isnull=False):
                row = (line.plan, line.camera_key, line.paid, line.credited, line.ended_at)
                assert self.ended.setdefault(line.pk, row) == row  # history is never rewritten
        self.check_clips(after)

    # ---------------------------------------------------------------- after a kind of step

    def refusal_expected(self, before: Seen, done: Done) -> bool:
        code, status = done.refused, before.status
        if done.trial:
            return code == "trial_not_available"
        return {
            "past_due": status == "past_due",
            "payment_failed": before.card in DECLINING and status != "trialing",
            "payment_method_required": before.card is None and status != "trialing",
        }.get(code, False)

    def check_change(self, before: Seen, after: Seen, done: Done) -> None:
        paid_target = any(plan != "free" for plan in done.target.values())
        if done.trial:  # section 12: refused exactly when the account had one (or has paid lines)
            no_trial = before.status != "none" or (before.had_paid and paid_target)
            assert (done.refused == "trial_not_available") == no_trial, (done.refused, before.status)
        if done.refused is not None:
            assert self.refusal_expected(before, done), (done.refused, before.status, before.card)
            orders, entries, charges, refunds = before.counts
            if done.refused == "payment_failed":  # the declined attempt is kept, nothing else
                assert after.counts == (orders + 1, entries, charges + 1, refunds)
                assert Order.objects.order_by("-pk").first().status == "failed"
            else:
                assert after.counts == before.counts
            assert after.state() == before.state()
            assert after.had_paid == before.had_paid
            return
        body = done.result
        check_result(body, before)
        assert after.counts[0] - before.counts[0] == len(body["orders"])  # every order written is answered
        if body["charge_now"] > 0:
            assert before.card == "tok_visa" and before.status in ("none", "active")
        if before.status == "past_due" and after.status != "none":  # only calls that change no priced line
            assert set(after.lines) == set(before.lines) and after.summary["cycle"] == before.summary["cycle"]
        if done.trial and before.status == "none" and paid_target:  # a trial starts: nothing charged
            assert after.status == "trialing"
            assert after.summary["current_period_start"] == iso_z(before.now)
            assert after.summary["trial_end"] == iso_z(before.now + timedelta(days=get_catalog().trial_days))
        if done.trial or before.status == "trialing":  # free, at once, no order, no charge
            assert after.counts == before.counts
            assert (body["charge_now"], body["credit_used"], body["credit_added"], body["refund"], body["net"]) == (
                0, 0, 0, 0, 0)
            assert all(line["amount"] == 0 for line in body["lines"]) and body["orders"] == []
        if before.status == "trialing":
            if after.status == "trialing":  # the trial's end never moves, the cycle applies at once
                assert after.period_end == before.period_end
                assert after.summary["current_period_start"] == before.summary["current_period_start"]
                if done.cycle:
                    assert after.summary["cycle"] == done.cycle
                assert body["trial_end"] == before.summary["trial_end"]
            else:
                assert after.status == "none" and not paid_target
        assert (body["trial_end"] is not None) == (after.status == "trialing")
        # The answer says what the subscription now says: its next bill and scheduled change.
        summary = after.summary
        if done.removed:  # answered before the walk registered the camera that takes its place
            summary = {**summary, "cameras": {c: p for c, p in summary["cameras"].items() if c in before.cameras}}
        assert body["subscription"] == summary
        if after.status != "past_due":
            assert (body["next_bill"], body["scheduled_change"]) == (
                after.summary["next_bill"], after.summary["scheduled_change"])
        if after.status == "none" and before.status != "none":
            assert not paid_target
        self.check_schedule_kept(before, after, done)
        self.check_credits(before, body)
        self.check_erasures(before, body, before.cameras, done.target, before.now,
                            starts_paid=before.status == "none" and after.status == "active")

    def check_schedule_kept(self, before: Seen, after: Seen, done: Done) -> None:
        """Section 13: a change keeps the stop at the end of the (new) period; asking for
        annual -> monthly replaces it; a change in a trial schedules nothing else."""
        scheduled = before.summary["scheduled_change"]
        if after.status == "none" or scheduled is None or scheduled["kind"] != "stop":
            return
        shortens = (before.status == "active" and done.cycle == "monthly" and before.summary["cycle"] == "annual")
        expected = ({"at": after.summary["current_period_end"], "kind": "cycle_switch", "cycle": "monthly"}
                    if shortens else {"at": after.summary["current_period_end"], "kind": "stop", "cycle": None})
        assert after.summary["scheduled_change"] == expected
        assert done.result["scheduled_change"] == expected

    def check_credits(self, before: Seen, body: dict) -> None:
        """A removed line's credits are recorded on it and never exceed what it paid."""
        for line in body["lines"]:
            if line["kind"] != "credit":
                continue
            pk, paid, credited = before.lines[(line["plan"], line["camera"])]
            row = SubscriptionLine.objects.get(pk=pk)
            assert row.ended_at is not None
            assert row.credited == credited + line["amount"] <= row.paid == paid

    def check_erasures(self, before: Seen, body: dict, old: dict, new: dict, at: datetime, *,
                       starts_paid: bool = False) -> None:
        """The erasures a change or a stop lists: each camera whose window shrinks, its
        visible clips before the cut-off (counted before it), the cut-off of the new window.
        A new paid period during a hold may also list, marked `held`, each camera's held
        clips outside its new window (erased at once, section 6): then exactly those."""
        shrinks = [e for e in body["erasures"] if not e.get("held")]
        shrinking = {camera for camera, plan in new.items() if camera in old and days_of(plan) < days_of(old[camera])}
        assert {e["camera"] for e in shrinks} == shrinking, (body["erasures"], old, new)
        for entry in shrinks:
            cutoff = window_start(at, days_of(new[entry["camera"]]))
            assert entry["recorded_before"] == iso_z(cutoff)
            assert entry["clips"] == self.visible_before(before, entry["camera"], cutoff)
        listed = {e["camera"]: (e["clips"], e["recorded_before"]) for e in body["erasures"] if e.get("held")}
        if not listed:
            return
        assert starts_paid, body["erasures"]
        expected = {}
        for camera, plan in new.items():
            cutoff = window_start(at, days_of(plan))
            erased = sum(1 for cam, recorded, held in before.clips.values()
                         if cam == camera and held is not None and recorded < cutoff)
            if erased:
                expected[camera] = (erased, iso_z(cutoff))
        assert listed == expected

    def check_stop(self, before: Seen, after: Seen, done: Done) -> None:
        assert after.counts == before.counts  # nothing is charged now (section 13)
        if done.refused is not None:
            expected = {"past_due": "past_due", "none": "nothing_to_stop"}.get(before.status)
            assert done.refused == expected, (done.refused, before.status)
            assert after.state() == before.state()
            return
        assert before.status in ("active", "trialing")
        stop = {"at": before.summary["current_period_end"], "kind": "stop", "cycle": None}
        body = done.result
        assert (body["lines"], body["net"], body["charge_now"], body["refund"], body["orders"]) == ([], 0, 0, 0, [])
        assert (body["scheduled_change"], body["next_bill"], body["trial_end"]) == (
            stop, None, before.summary["trial_end"])
        assert (after.summary["scheduled_change"], after.summary["next_bill"]) == (stop, None)
        for key in ("status", "cycle", "current_period_start", "current_period_end", "cameras", "credit_balance"):
            assert after.summary[key] == before.summary[key], key
        assert after.lines == before.lines
        self.check_erasures(before, body, before.cameras, dict.fromkeys(before.cameras, "free"), before.period_end)

    def check_drop(self, before: Seen, after: Seen, done: Done) -> None:
        assert after.counts == before.counts
        assert after.summary["scheduled_change"] is None
        for key in ("status", "cycle", "current_period_start", "current_period_end", "cameras", "credit_balance"):
            assert after.summary[key] == before.summary[key], key
        if after.status in ("active", "trialing"):
            assert after.summary["next_bill"] is not None  # renewal resumed

    def check_replace(self, before: Seen, after: Seen, done: Done) -> None:
        """Section 14: the new camera takes the plan, the line and the clips; no money moves."""
        old, new = done.replaced
        assert after.counts == before.counts
        assert not Camera.objects.filter(pk=old).exists()
        plan = before.cameras[old]
        assert after.cameras == {(new if camera == old else camera): p for camera, p in before.cameras.items()}
        moved = {(p, new if camera == old else camera): row for (p, camera), row in before.lines.items()}
        assert after.lines == moved
        for key in ("status", "cycle", "current_period_start", "current_period_end", "credit_balance",
                    "scheduled_change", "next_bill", "trial_end", "price"):
            assert after.summary[key] == before.summary[key], key
        [audited] = AuditEvent.objects.filter(account=self.account, pk__gt=before.last_audit, action="camera.replaced")
        assert (audited.detail["camera"], audited.detail["replaced"], audited.detail["plan"]) == (new, old, plan)
        serial = Camera.objects.get(pk=new).serial
        assert serial == f"sn-{self.account.pk}-new-{self.added - 1}".upper()  # trimmed, upper-cased
        assert TrialUse.objects.filter(kind="serial", key=serial).exists() == (plan != "free")

    def check_card(self, before: Seen, after: Seen, done: Done) -> None:
        new = list(Order.objects.filter(pk__gt=before.last_order))
        if before.status != "past_due":  # saving a card charges nothing (a trial's too)
            assert after.counts == before.counts
            assert after.state() == before.state()
            return
        [attempt] = new  # the owner's attempt at the unpaid bill, at once
        assert (attempt.kind, attempt.purpose, attempt.created_at) == ("charge", "renewal", before.now)
        if attempt.status == "succeeded":
            assert after.status == "active" and after.period_end == before.period_end
        else:  # not one of the four: the schedule stays
            assert after.status == "past_due" and after.next_retry == before.next_retry
            assert after.card in DECLINING

    def check_credit(self, before: Seen, after: Seen, done: Done) -> None:
        [order] = Order.objects.filter(pk__gt=before.last_order)
        assert (order.kind, order.status) == ("credit", "succeeded")
        assert after.summary["credit_balance"] == before.summary["credit_balance"] + order.amount

    def check_clip(self, before: Seen, after: Seen, done: Done) -> None:
        assert after.counts == before.counts
        assert after.state() == before.state()

    def check_advance(self, before: Seen, after: Seen, done: Done) -> None:
        """Time passing: every bill at its own instant; a trial's end, a stop and a lapse as
        sections 5, 12 and 13 say."""
        assert after.now == done.to
        new = list(Order.objects.filter(pk__gt=before.last_order).order_by("created_at", "pk"))
        for order in new:  # the clock's move makes only bills, each inside the move
            assert (order.kind, order.purpose) == ("charge", "renewal")
            assert before.now < order.created_at <= done.to
        events = self.events(before)
        to_free = [e for e in events if e.action in TO_FREE]
        assert len(to_free) <= 1
        if before.status != "none" and after.status == "none":
            assert len(to_free) == 1
        assert after.status == "none" or not to_free
        for lapse in (e for e in to_free if e.action == Event.LAPSED_TO_FREE.value):
            self.check_lapse(lapse)
        due_passed = before.status != "none" and before.period_end <= done.to
        if before.status in ("active", "trialing") and not due_passed:
            assert new == [] and after.state() == before.state()
        if before.summary["scheduled_change"] and before.summary["scheduled_change"]["kind"] == "stop" and due_passed:
            # The stop at its instant: nothing billed, every camera to free, nothing held.
            assert new == [] and after.counts == before.counts
            assert [(e.action, e.at) for e in to_free] == [(Event.STOPPED.value, before.period_end)]
            event(f"stop carried out ({before.status})")
            return
        if before.status == "trialing" and due_passed:
            self.check_trial_end(before, after, new, to_free)
        elif before.status == "active" and due_passed:
            first = new[0]  # the renewal at the period end, billing the period that starts there
            assert (first.created_at, first.period_start) == (before.period_end, before.period_end)
            assert first.amount == before.summary["next_bill"]["amount"]  # what the card was told
        elif before.status == "past_due":
            if before.next_retry <= done.to:
                assert new[0].created_at == before.next_retry  # the retry at its date
                assert new[0].amount == before.summary["next_bill"]["amount"]
            else:
                assert new == []

    def check_trial_end(self, before: Seen, after: Seen, new: list, to_free: list) -> None:
        """Section 12: the first period starts at the trial's end and is billed like a renewal,
        credit first; with no card for the rest the trial ends unpaid (to free, held)."""
        end = before.period_end
        due = before.summary["next_bill"]["amount"]  # the card's part of the first bill
        event(f"trial ended: card {before.card}, {'credit pays it' if due == 0 else 'card part due'}")
        if before.card is None and due > 0:
            assert new == []
            assert [(e.action, e.at) for e in to_free] == [(Event.TRIAL_ENDED_UNPAID.value, end)]
            assert after.status == "none"
            return
        first = new[0]
        assert (first.created_at, first.period_start) == (end, end)
        if before.card in DECLINING and due > 0:
            assert (first.status, first.amount, first.credit_used) == ("failed", due, 0)
        else:
            assert (first.status, first.amount) == ("succeeded", due)
            price = state_price(PlanState(Cycle(before.summary["cycle"]), before.cameras), get_catalog())
            assert first.amount + first.credit_used == price  # credit first, the rest to the card

    def check_lapse(self, lapse: AuditEvent) -> None:
        """Section 5: the lapse follows the fourth failed attempt of the bill, each at its date."""
        event("lapsed after four attempts")
        order = Order.objects.get(order_id=lapse.detail["order_id"])
        assert (order.status, order.created_at) == ("failed", lapse.at)
        attempts = Order.objects.filter(account=self.account, purpose="renewal", period_start=order.period_start,
                                        status="failed").exclude(gateway_key__contains=":card-").order_by("created_at")
        assert [a.created_at for a in attempts] == [order.period_start + d * DAY for d in RETRY_DAYS]


def check_result(body: dict, before: Seen) -> None:
    event("charged now" if body["charge_now"] else "refunded" if body["refund"] else
          "credited" if body["credit_added"] else "no money")
    assert body["net"] == body["charge_now"] + body["credit_used"] - body["credit_added"] - body["refund"]
    for line in body["lines"]:
        assert line["amount"] >= 0
        if line["kind"] == "credit":  # never more than the line paid, net of credits
            _, paid, credited = before.lines[(line["plan"], line["camera"])]
            assert line["amount"] <= paid - credited


def assert_sandbox_book() -> None:
    """The sandbox's own book: refunds only of succeeded charges, never above them."""
    for charge in SandboxCharge.objects.annotate(refunded=Sum("refunds__amount"), n=Count("refunds")):
        assert (charge.refunded or 0) <= (charge.amount if charge.succeeded else 0), charge.pk


def assert_billed_once() -> None:
    """Each (subscription, period start) has at most one succeeded renewal charge, and a bill
    at most four scheduled attempts (the owner's own attempts are outside them)."""
    renewals = Order.objects.filter(purpose="renewal", kind="charge")
    paid_twice = (renewals.filter(status="succeeded").values("account", "period_start")
                  .annotate(n=Count("id")).filter(n__gt=1))
    assert list(paid_twice) == []
    tried = (renewals.filter(status="failed").exclude(Q(gateway_key__contains=":card-"))
             .values("account", "period_start").annotate(n=Count("id")).filter(n__gt=4))
    assert list(tried) == []
