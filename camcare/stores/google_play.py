"""The Google Play Developer API, the two calls camcare makes: `purchases.subscriptionsv2.get`
(a subscription's whole state: a Real-time Developer Notification is only a hint to fetch
it) and `purchases.subscriptions.acknowledge` (an unacknowledged purchase is refunded by
Google after three days).

The client is small on purpose: it takes any HTTP session with requests' `request(method,
url, ...)` (production: google-auth's AuthorizedSession with the service account; tests: a
fake transport answering the documented shapes).
"""

from __future__ import annotations

from urllib.parse import quote

from camcare.stores import config
from camcare.stores.entitlements import StoreUnavailable

SCOPE = "https://www.googleapis.com/auth/androidpublisher"
TIMEOUT_S = 10


class PurchaseGone(Exception):
    """Google no longer knows the purchase (404/410: e.g. expired more than 60 days ago)."""


def authorized_session():
    """requests' session authorized as the configured service account."""
    from google.auth.transport.requests import AuthorizedSession
    from google.oauth2 import service_account

    path = config.google_play_credentials()
    if not path:
        raise StoreUnavailable("CAMCARE_GOOGLE_PLAY_CREDENTIALS is not set: the Play API cannot be asked")
    try:
        credentials = service_account.Credentials.from_service_account_file(path, scopes=[SCOPE])
    except (OSError, ValueError) as exc:
        raise StoreUnavailable(f"the Play API credentials at {path} cannot be read: {exc}") from exc
    return AuthorizedSession(credentials)


class PlayClient:
    def __init__(self, session=None, base_url: str | None = None):
        self.session = session if session is not None else config.google_play_session()
        self.base_url = base_url or config.google_play_api_url()

    def _url(self, package: str, *parts: str) -> str:
        path = "/".join(quote(part, safe="") for part in parts)
        return f"{self.base_url}/androidpublisher/v3/applications/{quote(package, safe='')}/purchases/{path}"

    def _call(self, method: str, url: str, **kwargs):
        try:
            response = self.session.request(method, url, timeout=TIMEOUT_S, **kwargs)
        except Exception as exc:  # the transport's own errors: the call may be made again
            raise StoreUnavailable(f"the Play API did not answer: {exc}") from exc
        if response.status_code in (404, 410):
            raise PurchaseGone(f"{response.status_code} from the Play API")
        if response.status_code >= 300:
            raise StoreUnavailable(f"the Play API answered {response.status_code}")
        return response

    def subscription(self, package: str, token: str) -> dict:
        """The SubscriptionPurchaseV2 of the purchase token."""
        response = self._call("GET", self._url(package, "subscriptionsv2", "tokens", token))
        try:
            body = response.json()
        except ValueError as exc:
            raise StoreUnavailable("the Play API answered something that is not JSON") from exc
        if not isinstance(body, dict):
            raise StoreUnavailable("the Play API answered something that is not a SubscriptionPurchaseV2")
        return body

    def acknowledge(self, package: str, product_id: str, token: str) -> None:
        url = self._url(package, "subscriptions", product_id, "tokens", token) + ":acknowledge"
        self._call("POST", url, json={})
