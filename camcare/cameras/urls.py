from django.urls import path

from camcare.cameras import views

app_name = "cameras"

urlpatterns = [
    path("new/", views.register, name="register"),
    path("<str:camera_id>/clips/", views.clips, name="clips"),
    path("<str:camera_id>/download/", views.download_doomed, name="download_doomed"),
]
