from django.contrib import admin
from django.urls import include, path, re_path
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.models import Device

from camcare.accounts.admin import ThrottledAdminLoginForm, throttled_admin_login
from camcare.api.v1 import api, not_an_api_path
from camcare.support import second_factor


class SecondFactorAdminLoginForm(ThrottledAdminLoginForm, OTPAdminAuthenticationForm):
    """The admin's sign-in: the password, throttled like every door's, then the code of the
    staff member's authenticator app (the console's TOTP device, with its throttle). A staff
    member with no app set up cannot sign in to the admin: they set one up in the console."""

    otp_error_messages = {
        **OTPAdminAuthenticationForm.otp_error_messages,
        "token_required": "Type the 6-digit code your authenticator app shows.",
        "device_required": "You have no authenticator app set up: set one up in the support console "
                           "(/support/), then sign in here with its code.",
    }

    def clean(self):
        cleaned = super().clean()  # the throttled password check (raises when it fails)
        self.clean_otp(self.get_user())
        return cleaned

    def _chosen_device(self, user):
        """The device picked in the form, else the staff member's one console device (the
        form need not ask which: the console gives each staff member one)."""
        device = super()._chosen_device(user)
        if device is None and (console := second_factor.confirmed_device(user)) is not None:
            device = Device.from_persistent_id(console.persistent_id, for_verify=True)  # locked while checked
        return device


# The admin asks for the second factor too (django-otp): its pages need a session that
# passed a TOTP code (at this sign-in, or at the console's step), whatever the password.
admin.site.__class__ = OTPAdminSite
admin.site.login_form = SecondFactorAdminLoginForm

urlpatterns = [
    path("api/v1/", api.urls),
    # Before the portal's pages (and CommonMiddleware's redirect of /api/v1 to /api/v1/):
    # an API client is answered in JSON wherever under /api it strays.
    re_path(r"^api(?:/|$)", not_an_api_path),
    # Ahead of admin.site.urls, which has the same path: sign-in is throttled.
    path("admin/login/", throttled_admin_login),
    path("admin/", admin.site.urls),
    path("support/stores/", include("camcare.stores.urls")),
    path("support/", include("camcare.support.urls")),
    path("cameras/", include("camcare.cameras.urls")),
    path("", include("camcare.portal.urls")),
]

handler404 = "camcare.portal.views.errors.not_found"
handler500 = "camcare.portal.views.errors.server_error"
handler403 = "camcare.portal.views.errors.forbidden"
handler400 = "camcare.portal.views.errors.bad_request"
