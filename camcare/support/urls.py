from django.urls import path

from camcare.support.views import account, money, recovery, search, verify

app_name = "support"

urlpatterns = [
    path("", search.search, name="search"),
    path("verify/", verify.verify, name="verify"),
    path("enrol/", verify.enrol, name="enrol"),
    path("enrol/confirm/", verify.enrol_confirm, name="enrol_confirm"),
    path("accounts/<str:account_id>/", account.account, name="account"),
    path("accounts/<str:account_id>/credit/", money.credit, name="credit"),
    path("accounts/<str:account_id>/refund/", money.refund, name="refund"),
    path("accounts/<str:account_id>/resend/", recovery.resend_receipt, name="resend"),
    path("accounts/<str:account_id>/retry/", recovery.retry_payment, name="retry"),
]
