from django.contrib import admin
from django.urls import include, path

from camcare.api.v1 import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("support/", include("camcare.support.urls")),
    path("cameras/", include("camcare.cameras.urls")),
    path("", include("camcare.portal.urls")),
]

handler404 = "camcare.portal.views.errors.not_found"
handler500 = "camcare.portal.views.errors.server_error"
handler403 = "camcare.portal.views.errors.forbidden"
handler400 = "camcare.portal.views.errors.bad_request"
