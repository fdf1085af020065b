from django.contrib import admin
from django.urls import include, path, re_path

from camcare.accounts.admin import throttled_admin_login
from camcare.api.v1 import api, not_an_api_path

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
