"""The console's forms: money typed in dollars and read into cents, one-time keys for every
action that moves something, and the second factor's code."""

from __future__ import annotations

import re
from uuid import uuid4

from django import forms

from camcare.display import format_money
from camcare.support.dollars import AmountError, parse_dollars

REQUEST_KEY = re.compile(r"[0-9a-f]{32}")
MAX_CENTS = 1_000_000  # $10,000.00: the most one support action moves (a typo guard)
TOKEN = re.compile(r"[0-9]{6}")  # a TOTP code: TOTPDevice's default 6 digits


class DollarField(forms.CharField):
    """An amount typed in dollars, cleaned to integer cents (see dollars.py for what is
    accepted and refused)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Amount (USD)")
        kwargs.setdefault("help_text", "In dollars, like 12.34 or $12.34.")
        super().__init__(**kwargs)
        self.widget.attrs.update(inputmode="decimal", autocomplete="off")

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            cents = parse_dollars(text)
        except AmountError as error:
            raise forms.ValidationError(str(error), code="invalid") from error
        if cents > MAX_CENTS:
            raise forms.ValidationError(f"One action moves at most {format_money(MAX_CENTS)}.", code="max_value")
        return cents


class OneTimeForm(forms.Form):
    """A form with a hidden key made when the page is rendered: the action runs once per
    key, so a form sent twice (a double click, a reload, the back button) acts once."""

    request_key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        kwargs["initial"] = {"request_key": uuid4().hex, **(kwargs.get("initial") or {})}
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if not REQUEST_KEY.fullmatch(cleaned.get("request_key") or ""):
            self._renew_key()
            raise forms.ValidationError("This form was not sent from its page: check it and send it again.")
        return cleaned

    def _renew_key(self) -> None:
        """The form is shown again with a key of its own, so that sending it then works."""
        self.data = self.data.copy()
        self.data[self.add_prefix("request_key")] = uuid4().hex


def _reason_field() -> forms.CharField:
    return forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="Shown on the order and kept in the audit log.")


class CreditForm(OneTimeForm):
    amount = DollarField()
    reason = _reason_field()

    def __init__(self, *args, **kwargs):
        # Its own ids: the refund form is on the same page, and each label must focus its field.
        super().__init__(*args, auto_id="credit_%s", **kwargs)


class RefundForm(OneTimeForm):
    order_id = forms.CharField(max_length=40, label="Charge Order ID",
                               help_text="As the owner reads it: ORD 0JSV12345A, or its 10 characters.")
    amount = DollarField()
    reason = _reason_field()

    def __init__(self, *args, limit_cents: int | None = None, **kwargs):
        super().__init__(*args, auto_id="refund_%s", **kwargs)
        if limit_cents is not None:
            self.fields["amount"].help_text = (
                f"In dollars, like 12.34. As an agent you may refund up to {format_money(limit_cents)} at a time.")


class ResendForm(OneTimeForm):
    """One per order row: ids off, or every row's hidden fields would share them."""

    order_id = forms.CharField(max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id=False, **kwargs)


class RetryForm(OneTimeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="retry_%s", **kwargs)


class TokenForm(forms.Form):
    """The 6-digit code of the staff member's authenticator app (spaces allowed: apps show
    "123 456")."""

    token = forms.CharField(
        label="6-digit code", max_length=20, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "class": "token"}),
        help_text="From your authenticator app; it changes every 30 seconds.",
    )

    def clean_token(self) -> str:
        token = re.sub(r"\s", "", self.cleaned_data.get("token") or "")
        if not token:
            raise forms.ValidationError("Type the 6-digit code your authenticator app shows.", code="required")
        if not TOKEN.fullmatch(token):
            raise forms.ValidationError("A code is 6 digits, like 123456: type the one your app shows now.")
        return token


class PasswordForm(forms.Form):
    password = forms.CharField(
        label="Your password", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
