from django.urls import path

from camcare.stores import views

app_name = "stores"

urlpatterns = [
    path("unlinked/", views.unlinked, name="unlinked"),
]
