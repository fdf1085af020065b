"""The register-camera form of the portal (the service checks the same rules again)."""

from django import forms

from camcare.cameras.services import MODEL_MAX, NAME_MAX, SERIAL_MAX


class RegisterCameraForm(forms.Form):
    name = forms.CharField(label="Name", max_length=NAME_MAX, help_text="Where it is, e.g. “Front door”.")
    model = forms.CharField(label="Model", max_length=MODEL_MAX, required=False)
    serial = forms.CharField(
        label="Serial number", max_length=SERIAL_MAX,
        help_text="Printed on the label under the camera; capitals or not, it is the same serial.",
    )
