"""Accounts in the portal: sign up, sign in (throttled), sign out, password reset by
e-mail, change password, and re-authentication before billing actions."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from camcare import clock
from camcare.accounts.models import Account
from camcare.portal.reauth import SESSION_KEY
from tests.conftest import PASSWORD
from tests.portal.conftest import mark_recent_password

NEW_PASSWORD = "another long passphrase 42"


def test_it_signs_up_and_signs_in_with_the_email_as_account_id(client, db):
    response = client.post(reverse("portal:signup"), {"email": "New@Example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    account = Account.objects.get(email__iexact="new@example.com")
    assert client.session["_auth_user_id"] == account.pk
    assert client.get(reverse("portal:home")).status_code == 200


def test_it_refuses_a_taken_email_whatever_its_case(client, owner):
    response = client.post(reverse("portal:signup"), {"email": "OWNER@example.com", "password": PASSWORD})
    assert response.status_code == 422
    assert "already exists" in response.content.decode()
    assert Account.objects.filter(email__iexact="owner@example.com").count() == 1


def test_it_refuses_a_weak_password_with_the_validators_messages(client, db):
    response = client.post(reverse("portal:signup"), {"email": "weak@example.com", "password": "12345678"})
    assert response.status_code == 422
    assert "too common" in response.content.decode()
    assert not Account.objects.filter(email="weak@example.com").exists()


def test_it_signs_in_and_marks_the_password_as_recent(client, owner):
    response = client.post(reverse("portal:login"), {"email": "Owner@Example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    assert abs(client.session[SESSION_KEY] - clock.real_now().timestamp()) < 60


def test_it_refuses_a_wrong_password_without_saying_which_field(client, owner):
    response = client.post(reverse("portal:login"), {"email": owner.email, "password": "wrong"})
    assert response.status_code == 422
    assert "do not match an account" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_throttles_sign_in_after_ten_failures(client, owner):
    for _ in range(10):
        client.post(reverse("portal:login"), {"email": owner.email, "password": "wrong"})
    response = client.post(reverse("portal:login"), {"email": owner.email, "password": PASSWORD})
    assert response.status_code == 429
    assert re.search(r"Too many attempts, try again in 1[45] minutes", response.content.decode())
    assert "_auth_user_id" not in client.session


def test_it_goes_back_to_a_local_next_page_only(client, owner):
    local = client.post(reverse("portal:login") + "?next=/payments/", {"email": owner.email, "password": PASSWORD, "next": "/payments/"})
    assert local["Location"] == "/payments/"
    other = Client()
    away = other.post(reverse("portal:login"), {"email": owner.email, "password": PASSWORD, "next": "https://evil.example/"})
    assert away["Location"] == reverse("portal:home")


def test_it_signs_out_with_a_post_only(portal):
    assert portal.get(reverse("portal:logout")).status_code == 405
    response = portal.post(reverse("portal:logout"))
    assert response["Location"] == reverse("portal:login")
    assert portal.get(reverse("portal:home"))["Location"].startswith(reverse("portal:login"))


def test_it_resets_a_password_by_email(client, owner):
    response = client.post(reverse("portal:password_reset"), {"email": "OWNER@example.com"})
    assert response["Location"] == reverse("portal:password_reset_done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [owner.email]
    link = re.search(r"http://testserver(/password-reset/\S+/\S+/)", mail.outbox[0].body)[1]
    form_page = client.get(link, follow=True)
    assert b"Choose a new password" in form_page.content
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == reverse("portal:password_reset_complete")
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)


def test_it_sends_no_email_for_an_unknown_address(client, db):
    response = client.post(reverse("portal:password_reset"), {"email": "nobody@example.com"})
    assert response["Location"] == reverse("portal:password_reset_done")
    assert mail.outbox == []


def test_it_changes_the_password_and_keeps_the_session(portal, owner):
    response = portal.post(reverse("portal:password_change"), {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
    })
    assert response["Location"] == reverse("portal:account")
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    assert portal.get(reverse("portal:home")).status_code == 200


def test_it_refuses_a_password_change_with_the_wrong_old_password(portal, owner):
    response = portal.post(reverse("portal:password_change"), {
        "old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
    })
    assert response.status_code == 422
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


@pytest.mark.parametrize("page", ["portal:card", "portal:cancel"])
def test_it_asks_for_the_password_again_before_billing_pages(portal, owner, page):
    mark_recent_password(portal, at=int(clock.real_now().timestamp()) - 16 * 60)
    response = portal.get(reverse(page))
    assert response["Location"] == reverse("portal:reauth") + "?next=" + reverse(page).replace("/", "%2F")
    wrong = portal.post(reverse("portal:reauth"), {"password": "wrong", "next": reverse(page)})
    assert wrong.status_code == 422 and "not your password" in wrong.content.decode()
    right = portal.post(reverse("portal:reauth"), {"password": PASSWORD, "next": reverse(page)})
    assert right["Location"] == reverse(page)
    assert portal.get(reverse("portal:card")).status_code == 200


def test_it_refuses_a_billing_post_with_an_old_password_and_changes_nothing(portal, owner):
    mark_recent_password(portal, at=int(clock.real_now().timestamp()) - 16 * 60)
    response = portal.post(reverse("portal:card"), {
        "number": "4242424242424242", "expiry": "12/40", "cvc": "123", "idempotency_key": "7f0c2c1e-4b51-4ad2-9c5d-1b1e1a0f8c11",
    })
    assert response["Location"].startswith(reverse("portal:reauth"))
    assert not hasattr(Account.objects.get(pk=owner.pk), "payment_method")


@pytest.mark.parametrize("page", [
    "portal:home", "portal:change", "portal:history", "portal:card", "portal:cancel", "portal:account",
    "portal:password_change",
])
def test_it_sends_an_anonymous_visitor_to_sign_in(client, db, page):
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login") + "?next=")


def test_it_shows_the_plans_page_to_anyone(client, db):
    response = client.get(reverse("portal:plans"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "$3.99" in body and "$12.99" in body and "$129.99" in body
    assert "Prorated refund" in body or "prorated refund" in body
    assert "prorated credit" in body
