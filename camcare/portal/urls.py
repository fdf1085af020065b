from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from camcare.portal.views import (
    account,
    auth,
    cameras,
    cancel,
    card,
    change,
    downloads,
    history,
    home,
    plans,
    receipts,
)

app_name = "portal"

urlpatterns = [
    path("", home.home, name="home"),
    path("plans/", plans.plans, name="plans"),
    # Accounts
    path("signup/", auth.signup, name="signup"),
    path("login/", auth.login, name="login"),
    path("logout/", auth.logout, name="logout"),
    path("account/", account.account, name="account"),
    path("account/password/", auth.password_change, name="password_change"),
    path("confirm-password/", auth.reauth, name="reauth"),
    path("password-reset/", auth.password_reset, name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="portal/auth/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="portal/auth/password_reset_confirm.html",
            success_url=reverse_lazy("portal:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="portal/auth/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    # Billing
    path("card/", card.card, name="card"),
    path("change/", change.change, name="change"),
    # Under /cameras/ like the other clip downloads; here because it reads a billing quote.
    path("cameras/download/", downloads.download_quote, name="download_quote"),
    # Under /cameras/ beside the camera app's pages (its urls match none of these).
    path("cameras/removed/", cameras.removed, name="camera_removed"),
    path("cameras/<str:camera_id>/rename/", cameras.rename, name="camera_rename"),
    path("cameras/<str:camera_id>/remove/", cameras.remove, name="camera_remove"),
    path("cameras/<str:camera_id>/replace/", cameras.replace, name="camera_replace"),
    path("cameras/replaced/<str:camera_id>/", cameras.replaced, name="camera_replaced"),
    path("change/preview/<str:quote_id>/", change.preview, name="preview"),
    path("change/done/<str:quote_id>/", change.done, {"kind": "change"}, name="change_done"),
    path("scheduled-change/drop/", change.drop_scheduled_change, name="drop_scheduled_change"),
    path("cancel/", cancel.cancel, name="cancel"),
    path("cancel/stop/", cancel.stop, name="stop"),
    path("cancel/done/<str:quote_id>/", change.done, {"kind": "cancel"}, name="cancel_done"),
    path("payments/", history.history, name="history"),
    path("payments/<str:order_id>/", receipts.receipt, name="receipt"),
    path("payments/<str:order_id>/receipt.pdf", receipts.receipt_pdf, name="receipt_pdf"),
]
