"""The admin's sign-in, throttled like the portal's and the API's (services.sign_in: 10
failures in 15 minutes per e-mail or IP), so that /admin/login/ is no way around it."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.views.decorators.debug import sensitive_variables

from camcare.accounts import services


class ThrottledAdminLoginForm(AdminAuthenticationForm):
    @sensitive_variables("password")
    def clean(self):
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is not None and password:
            try:
                self.user_cache = services.sign_in(
                    email=email, password=password, ip=services.client_ip(self.request), request=self.request,
                )
            except services.Throttled as throttled:
                minutes = max(1, round(throttled.retry_after / 60))
                raise ValidationError(f"Too many failed sign-ins; try again in {minutes} minutes.",
                                      code="throttled") from throttled
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


# Also what admin.site.urls' own login pattern would use, were it reached.
admin.site.login_form = ThrottledAdminLoginForm


def throttled_admin_login(request):
    """The admin's own login view (with the form above); a throttled attempt answers 429,
    like the portal's sign-in."""
    response = admin.site.login(request)
    form = (getattr(response, "context_data", None) or {}).get("form")
    if form is not None and form.has_error(NON_FIELD_ERRORS, "throttled"):
        response.status_code = 429
    return response
