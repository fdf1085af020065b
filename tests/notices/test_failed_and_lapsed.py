"""The failed-payment and lapse notices (POLICY.md section 15) made by the real renewal and
retry code (test clock, sandbox card tok_chargeDeclined), sent to a real SMTP server on
loopback: one per attempt and one for the lapse, each once."""

import pytest

from camcare.billing import actions
from camcare.billing.emails import record_lapsed, record_payment_failed
from camcare.billing.models import Order, Subscription
from camcare.cameras import holds
from camcare.notices import outbox
from camcare.notices.models import Notice
from tests.billing.conftest import add_clip
from tests.conftest import utc
from tests.notices.mail import assert_links_absolute, buttons, parts


def attempts(owner) -> list[Order]:
    return list(Order.objects.filter(account=owner, purpose="renewal").order_by("id"))


@pytest.fixture
def declining(owner, cameras, card, at, smtp, django_capture_on_commit_callbacks):
    """Both cameras on plus from Mar 1 (798 paid, its receipt sent); then the card declines."""
    at(2027, 3, 1)
    porch, garden = cameras
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    actions.save_payment_method(account=owner, token="tok_chargeDeclined", actor=owner)
    smtp.messages.clear()  # the receipt

    def move(*when):
        with django_capture_on_commit_callbacks(execute=True):
            at(*when)

    return move


def test_a_declined_renewal_tells_the_amount_order_id_next_attempt_and_the_card_page(
        owner, declining, smtp, settings):
    declining(2027, 4, 1)
    [order] = attempts(owner)
    assert order.status == "failed"
    [message] = smtp.messages
    assert message["Subject"] == f"camcare payment failed {order.order_id}"
    body = parts(message)
    for part in body.values():
        assert "$7.98" in part and order.order_id in part and "Visa ending in 0002" in part
        assert "Thursday 1 April 2027 at 00:00 UTC" in part  # tried on
        assert "Next attempt: Friday 2 April 2027 at 00:00 UTC" in part  # a day later (POLICY.md 5)
    assert f"Update your card: {settings.SITE_URL}/card/" in body["text/plain"]
    assert buttons(body["text/html"]) == [(f"{settings.SITE_URL}/card/", "Update your card")]
    assert_links_absolute(message)


def test_four_declines_tell_each_attempt_once_then_the_lapse_once(owner, cameras, declining, smtp, settings):
    porch, garden = cameras
    add_clip(porch, utc(2027, 3, 28))  # inside plus's 14 days until the lapse, outside free's 2
    add_clip(porch, utc(2027, 3, 30))
    add_clip(porch, utc(2027, 4, 7, 12))  # inside the free window on Apr 8: kept
    for day in (1, 2, 4, 8):
        declining(2027, 4, day)
    assert Subscription.objects.get(account=owner).status == "none"
    tried = attempts(owner)
    assert len(tried) == 4
    failed = smtp.of_kind("payment failed")
    assert [m["Subject"] for m in failed] == [f"camcare payment failed {o.order_id}" for o in tried[:3]] + [
        f"camcare payment failed {tried[3].order_id} (last attempt)"]
    nexts = [parts(m)["text/plain"] for m in failed]
    assert "Next attempt: Sunday 4 April 2027 at 00:00 UTC" in nexts[1]
    assert "Next attempt: Thursday 8 April 2027 at 00:00 UTC" in nexts[2]
    assert "That was the last attempt." in nexts[3] and "Next attempt" not in nexts[3]
    [lapsed] = smtp.of_kind("moved to the Free plan")
    last = tried[3]
    assert lapsed["Subject"] == f"camcare: your cameras moved to the Free plan ({last.order_id})"
    body = parts(lapsed)
    text, html = body["text/plain"], body["text/html"]
    assert "- Porch: Plus -> Free, 2 older clips held" in text  # POLICY.md section 6: held, not erased
    assert "- Garden: Plus -> Free, 0 older clips held" in text
    assert "Porch" in html and "Plus &rarr; Free" in html and "2 clips held" in html
    for part in (text, html):
        assert "$7.98" in part and last.order_id in part and "Thursday 8 April 2027 at 00:00 UTC" in part
        assert "recorded before Tuesday 6 April 2027 at 00:00 UTC" in part
        assert "held until Thursday 22 April 2027 at 00:00 UTC" in part and "were erased" not in part
    assert buttons(html) == [(f"{settings.SITE_URL}/plans/", "Choose a plan again")]
    assert_links_absolute(lapsed)
    assert len(smtp.messages) == 5
    assert outbox.send_due() == 0
    assert actions.run_billing(at=utc(2027, 4, 9)) == 0  # nothing more to bill, nothing more to tell
    assert len(smtp.messages) == 5


def test_recording_an_attempt_or_the_lapse_again_makes_no_second_notice(owner, cameras, declining, smtp,
                                                                        django_capture_on_commit_callbacks):
    for day in (1, 2, 4, 8):
        declining(2027, 4, day)
    last = attempts(owner)[-1]
    with django_capture_on_commit_callbacks(execute=True):  # a replayed settlement
        record_payment_failed(last, next_attempt_at=None)
        record_lapsed(owner, order=last, at=utc(2027, 4, 8), moved={cameras[0].id: "plus"})
    assert Notice.objects.filter(kind="payment_failed").count() == 4
    assert Notice.objects.filter(kind="lapsed").count() == 1
    assert outbox.send_due() == 0
    assert len(smtp.messages) == 5


def test_the_lapse_says_held_until_when_a_hold_date_is_given(owner, cameras, declining, smtp,
                                                              django_capture_on_commit_callbacks):
    porch, garden = cameras
    add_clip(porch, utc(2027, 4, 1))  # inside plus's 14 days on Apr 8, outside free's 2
    declining(2027, 4, 1)
    [order] = attempts(owner)
    holds.hold_after_lapse(owner, old_plans={porch.id: "plus"}, at=utc(2027, 4, 8))  # the count is of held clips
    with django_capture_on_commit_callbacks(execute=True):
        record_lapsed(owner, order=order, at=utc(2027, 4, 8), moved={porch.id: "plus"},
                      held_until=utc(2027, 4, 22))
    text = parts(smtp.of_kind("moved to the Free plan")[0])["text/plain"]
    assert "- Porch: Plus -> Free, 1 older clip held" in text
    assert ("Clips recorded before Tuesday 6 April 2027 at 00:00 UTC are held until "
            "Thursday 22 April 2027 at 00:00 UTC.") in text
    assert "were erased" not in text


def test_a_succeeded_order_is_no_failed_payment(owner, declining, smtp, django_capture_on_commit_callbacks):
    paid = Order.objects.get(account=owner, purpose="change")
    with django_capture_on_commit_callbacks(execute=True):
        record_payment_failed(paid, next_attempt_at=None)
    assert not Notice.objects.filter(kind="payment_failed").exists()
