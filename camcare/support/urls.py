from django.urls import path

from camcare.support import views

app_name = "support"

urlpatterns = [
    path("", views.search, name="search"),
    path("accounts/<str:account_id>/", views.account, name="account"),
    path("accounts/<str:account_id>/credit/", views.credit, name="credit"),
    path("accounts/<str:account_id>/refund/", views.refund, name="refund"),
]
