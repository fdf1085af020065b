"""What a preview reads and writes (issue 10): the account's plans once, the subscription row
with its credit balance in one statement, the held lines, and the quote in one INSERT. A
regression guard: a second read of the plans (the old `_resolve_target` then `snapshot`),
or an ORM read creeping back, fails here before it shows in bench/proration.py."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from camcare.billing import actions, selectors
from camcare.billing.models import Quote, SubscriptionLine
from tests.billing.conftest import add_camera
from tests.conftest import Api, set_clock, utc

# Statements of a preview of an account that holds paid lines: the subscription with the
# credit balance, the plans, the held lines, the INSERT of the quote. The API adds its
# bearer-token lookup; a cancel reads the period's card payments, and counts the clips of
# each camera whose window shrinks (what it would erase).
PREVIEW = 4
API_PREVIEW = PREVIEW + 1


def cancel_preview(shrinking_cameras: int) -> int:
    return PREVIEW + 1 + shrinking_cameras


def statements(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries]


def reads_of(table: str, sqls: list[str]) -> list[str]:
    return [sql for sql in sqls if sql.lstrip().upper().startswith("SELECT") and re.search(rf"\b{table}\b", sql)]


def writes(sqls: list[str]) -> list[str]:
    return [sql for sql in sqls if sql.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")]


def preview_statements(owner, cameras) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        actions.preview_change(account=owner, cameras=cameras, actor=owner)
    return statements(captured)


def test_it_previews_an_upgrade_in_four_statements(owner, subscribed, at):
    porch, garden = subscribed
    at(2027, 3, 11)
    sqls = preview_statements(owner, {porch.id: "premium", garden.id: "premium"})
    assert len(sqls) <= PREVIEW, sqls


def test_it_reads_the_plans_of_the_account_once_per_preview(owner, subscribed, at):
    porch, garden = subscribed
    at(2027, 3, 11)
    sqls = preview_statements(owner, {porch.id: "premium"})
    assert len(reads_of("cameras_camera", sqls)) == 1, sqls
    assert len(reads_of("billing_subscription", sqls)) == 1, sqls  # with the credit balance
    assert len(reads_of("billing_subscriptionline", sqls)) == 1, sqls


def test_it_stores_the_quote_in_one_insert_and_writes_nothing_else(owner, subscribed, at):
    porch, _ = subscribed
    at(2027, 3, 11)
    quotes = Quote.objects.count()
    sqls = preview_statements(owner, {porch.id: "premium"})
    assert [(verb, table.strip('"')) for verb, _, table, *_ in map(str.split, writes(sqls))] == [("INSERT", "billing_quote")]
    assert Quote.objects.count() == quotes + 1


def test_it_reads_card_payments_only_for_a_preview_that_can_refund(owner, subscribed, at):
    at(2027, 3, 16, 12)
    with CaptureQueriesContext(connection) as captured:
        preview = actions.preview_cancel(account=owner, actor=owner)
    sqls = statements(captured)
    assert preview.refund == 400  # 2 x 399 x 15.5/31, back to the card: the payments were read
    assert len(sqls) <= cancel_preview(shrinking_cameras=2), sqls
    assert len(reads_of("cameras_camera", sqls)) == 1, sqls
    assert len(reads_of("billing_order", sqls)) == 1, sqls


def test_it_previews_a_first_subscription_reading_the_plans_once(owner, cameras, card, at):
    porch, _ = cameras
    at(2027, 3, 1)
    sqls = preview_statements(owner, {porch.id: "plus"})  # creates the subscription row first
    assert len(reads_of("cameras_camera", sqls)) == 1, sqls
    assert reads_of("billing_subscriptionline", sqls) == []  # no paid line is held yet
    sqls = preview_statements(owner, {porch.id: "plus"})  # the row exists now
    # No held line to read, but the held clips a new plan would erase (POLICY.md section 6,
    # told before confirming): one grouped query by camera id, no second read of the cameras.
    assert len(sqls) <= PREVIEW, sqls
    assert len([sql for sql in sqls if "cameras_clip" in sql]) == 1, sqls


@pytest.mark.parametrize("cancel", [False, True])
def test_it_reads_the_account_afresh_after_a_renewal_that_fell_due(owner, subscribed, at, cancel):
    # The account's clock is past the period end and the billing job has not run: the
    # preview renews first, then prices from what the renewal left, read again.
    porch, _ = subscribed
    set_clock(owner, utc(2027, 4, 2))
    with CaptureQueriesContext(connection) as captured:
        if cancel:
            preview = actions.preview_cancel(account=owner, actor=owner)
        else:
            preview = actions.preview_change(account=owner, cameras={porch.id: "premium"}, actor=owner)
    assert preview.at == utc(2027, 4, 2)
    sqls = statements(captured)
    plans_reads = [i for i, sql in enumerate(sqls) if sql.startswith(selectors._PLANS_SQL.split("%s")[0])]
    assert len(plans_reads) == 2  # before the renewal, and after it
    renewal_writes = [i for i, sql in enumerate(sqls) if sql in writes(sqls) and not re.search(r"\bbilling_quote\b", sql)]
    assert plans_reads[0] < renewal_writes[0] and renewal_writes[-1] < plans_reads[1]  # priced after it


def test_it_answers_the_api_preview_in_five_statements_with_authentication(owner, subscribed, at):
    porch, garden = subscribed
    at(2027, 3, 11)
    api = Api(owner)
    api.post("subscription/preview", {"cameras": {porch.id: "premium"}})  # the token's first use writes
    with CaptureQueriesContext(connection) as captured:
        answer = api.post("subscription/preview", {"cameras": {porch.id: "premium", garden.id: "premium"}})
    assert answer.status_code == 200, answer.content
    assert answer.json()["net"] == 340  # worked example 2
    assert len(statements(captured)) <= API_PREVIEW, statements(captured)


# ---- the plain-SQL reads say what the ORM says


def test_it_reads_the_plans_in_the_cameras_order(owner, cameras):
    porch, garden = cameras
    later = add_camera(owner, "Attic")
    assert list(selectors.current_plans(owner)) == [porch.id, garden.id, later.id]
    assert selectors.current_plans(owner) == {porch.id: "free", garden.id: "free", later.id: "free"}


def test_it_reads_the_held_lines_as_the_active_lines_are(owner, subscribed, at):
    porch, garden = subscribed
    at(2027, 3, 11)
    actions.change_plan(account=owner, cameras={porch.id: "premium", garden.id: "plus"}, actor=owner)
    subscription = selectors.subscription_or_none(owner)
    assert SubscriptionLine.objects.filter(subscription=subscription, ended_at__isnull=False).exists()
    expected = tuple(selectors.held_line(line) for line in selectors.active_lines(subscription))
    assert selectors.held_lines(subscription) == expected
    assert sorted((line.key.plan, line.key.camera) for line in expected) == [("plus", garden.id), ("premium", None)]


def test_it_reads_the_subscription_with_its_credit_balance(owner, subscribed, at):
    porch, garden = subscribed
    at(2027, 3, 21)
    actions.change_plan(account=owner, cameras={porch.id: "free"}, actor=owner)  # credits 142
    subscription, balance = selectors.subscription_with_credit(owner)
    assert fields_of(subscription) == fields_of(selectors.subscription_or_none(owner))
    assert subscription.period_end == utc(2027, 4, 1) and subscription.period_end.tzinfo is not None
    assert not subscription._state.adding
    assert balance == selectors.credit_balance(owner) == 142
    assert type(balance) is int


def fields_of(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_it_stores_the_quote_the_orm_reads_back(owner, subscribed, at):
    porch, garden = subscribed
    at(2027, 3, 11)
    preview = actions.preview_change(account=owner, cameras={porch.id: "premium", garden.id: "premium"}, actor=owner)
    quote = Quote.objects.get(pk=preview.quote_id)
    assert (quote.account_id, quote.version, quote.at, quote.created_at, quote.executed_at) == (
        owner.pk, selectors.subscription_or_none(owner).version, utc(2027, 3, 11), utc(2027, 3, 11), None)
    assert quote.target == {"cameras": {porch.id: "premium", garden.id: "premium"}, "cycle": None}
    assert (quote.outcome["case"], quote.outcome["net"], quote.outcome["charge_now"]) == ("upgrade", 340, 340)


def test_it_has_no_subscription_to_read_before_the_first_change(owner, outsider, subscribed):
    assert selectors.subscription_with_credit(outsider) is None
    assert selectors.subscription_with_credit(owner) is not None
