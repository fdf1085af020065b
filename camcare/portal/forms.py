"""The portal's forms: labels and errors for people, values for the actions."""

from __future__ import annotations

import re

from django import forms

from camcare import clock
from camcare.accounts import services
from camcare.domain.periods import Cycle
from camcare.portal import idempotency

# Stripe's test card numbers -> the sandbox gateway's tokens (ARCHITECTURE.md, payments).
TEST_CARDS = {
    "4242424242424242": "tok_visa",
    "4000000000000002": "tok_chargeDeclined",
    "4000000000009995": "tok_insufficientFunds",
}


class IdempotentForm(forms.Form):
    """A billing form: its hidden key is made when it is rendered and kept across a
    re-render with errors, so a resubmission of the same form is recognised."""

    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", idempotency.new_key())
        super().__init__(*args, **kwargs)

    @property
    def key(self) -> str:
        return str(self.cleaned_data["idempotency_key"])


class SignUpForm(forms.Form):
    email = forms.EmailField(label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not a common password, not only digits.",
    )

    def clean(self):
        # The password is checked even when the e-mail is wrong, so that one sending shows
        # every error at once.
        data = super().clean()
        if data.get("password"):
            for message in services.password_errors(data["password"], data.get("email") or ""):
                self.add_error("password", message)
        return data


class SignInForm(forms.Form):
    email = forms.CharField(label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "username"}))
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class ReauthForm(forms.Form):
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class CardForm(IdempotentForm):
    number = forms.CharField(
        label="Card number", max_length=23,
        widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
    )
    # Room for "12 / 2030" (9 characters): a shorter limit made the browser cut the year to
    # "20" as it was typed, and the form then called the card expired.
    expiry = forms.CharField(
        label="Expiry (MM/YY)", max_length=9,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "placeholder": "MM/YY"}),
    )
    cvc = forms.CharField(
        label="CVC", max_length=4,
        widget=forms.TextInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"}),
    )

    def clean_number(self) -> str:
        digits = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if digits not in TEST_CARDS:
            raise forms.ValidationError(
                "Use a test card: 4242 4242 4242 4242 (works), 4000 0000 0000 0002 (declined) "
                "or 4000 0000 0000 9995 (insufficient funds)."
            )
        return digits

    def clean_expiry(self) -> tuple[int, int]:
        match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", self.cleaned_data["expiry"])
        if not match or not 1 <= int(match[1]) <= 12:
            raise forms.ValidationError("Enter the expiry as MM/YY, for example 12/30.")
        month, year = int(match[1]), int(match[2])
        year = year + 2000 if year < 100 else year
        today = clock.real_now()
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError("This card has expired.")
        return month, year

    def clean_cvc(self) -> str:
        cvc = self.cleaned_data["cvc"].strip()
        if not re.fullmatch(r"\d{3,4}", cvc):
            raise forms.ValidationError("The CVC is the 3 or 4 digits on the back of the card.")
        return cvc

    @property
    def token(self) -> str:
        return TEST_CARDS[self.cleaned_data["number"]]


class ConfirmForm(IdempotentForm):
    """Confirms a previewed quote (change or cancel): exactly that quote is executed."""

    quote_id = forms.CharField(widget=forms.HiddenInput, max_length=24)


class ChangeForm(forms.Form):
    """One plan choice per camera (field `camera_<id>`, radio buttons that name each plan's
    video history and price) and the billing cycle."""

    cycle = forms.ChoiceField(
        label="Billing cycle",
        choices=[(Cycle.MONTHLY.value, "Monthly"), (Cycle.ANNUAL.value, "Annual")],
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, cameras, catalog, offer_trial: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.plans = list(catalog)
        if offer_trial:  # POLICY.md section 12: offered first, so ticked until the owner unticks it
            self.fields["trial"] = forms.BooleanField(
                label=f"Start with a free {catalog.trial_days}-day trial", required=False, initial=True,
                help_text="No card needed. Cancel before it ends and nothing is charged.")
        choices = [(plan.code, plan.name) for plan in self.plans]
        self.camera_fields = []
        self.current_names = {camera.id: catalog[camera.plan].name if camera.plan in catalog else camera.plan for camera in cameras}
        for camera in cameras:
            name = f"camera_{camera.id}"
            self.fields[name] = forms.ChoiceField(
                label=camera.name, choices=choices, initial=camera.plan, widget=forms.RadioSelect,
            )
            self.camera_fields.append((camera, name))

    def bound_camera_fields(self):
        """(camera, bound field, name of its current plan, [(radio, plan)]) for the template."""
        return [
            (camera, self[name], self.current_names[camera.id], list(zip(self[name], self.plans, strict=True)))
            for camera, name in self.camera_fields
        ]

    def shown_choices(self) -> tuple[dict[str, str], str]:
        """The plans and cycle the form shows (as sent, else as initially chosen)."""
        def value(name: str) -> str:
            return str(self[name].value() or "")

        return {camera.id: value(name) for camera, name in self.camera_fields}, value("cycle")

    @property
    def wants_trial(self) -> bool:
        return bool(self.cleaned_data.get("trial"))

    @property
    def trial_field(self):
        """The bound trial box, or None when the account is not offered the trial."""
        return self["trial"] if "trial" in self.fields else None

    @property
    def trial_shown(self) -> bool:
        """Whether the form shows the trial box ticked (as sent, else as first offered)."""
        return "trial" in self.fields and bool(self["trial"].value())

    @property
    def chosen_cameras(self) -> dict[str, str]:
        return {camera.id: self.cleaned_data[name] for camera, name in self.camera_fields}


class RenameCameraForm(forms.Form):
    name = forms.CharField(label="New name", max_length=100, help_text="Where it is, e.g. “Front door”.")


class RemoveCameraForm(IdempotentForm):
    """Removing a camera erases all its clips: the owner types the word, as on a bank's
    "delete" page, so a stray click never removes one. `quote_id` is the preview shown
    (empty for a camera on Free, whose removal moves no money)."""

    WORD = "REMOVE"

    quote_id = forms.CharField(widget=forms.HiddenInput, max_length=24, required=False)
    confirm = forms.CharField(
        label=f"Type {WORD} to confirm", max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
    )

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"].strip()
        if typed.upper() != self.WORD:
            raise forms.ValidationError(f"Type {self.WORD} in the box to remove the camera. Nothing was removed.")
        return typed
