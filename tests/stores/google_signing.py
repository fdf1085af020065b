"""Google Play notifications as Pub/Sub pushes them: an OIDC token signed with an RSA key
made here (its certificate served by a local HTTP server, in Google's
`{key id: certificate}` format, so google-auth fetches and checks it as in production),
and a fake transport for the Play Developer API answering SubscriptionPurchaseV2 bodies
of the documented shape."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

AUDIENCE = "https://camcare.example/api/v1/stores/google/notifications"
SERVICE_ACCOUNT = "play-push@camcare-test.iam.gserviceaccount.com"
PACKAGE = "com.camcare.app"


def _self_signed(key) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test google signer")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class GoogleSigner:
    """Google's ID-token signing key, as far as this test run is concerned."""

    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    key_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self):
        self.certificate = _self_signed(self.key)

    @property
    def certs(self) -> dict:
        return {self.key_id: self.certificate}

    def token(self, **changes) -> str:
        now = int(time.time())
        claims = {"iss": "https://accounts.google.com", "aud": AUDIENCE, "azp": "1234567890",
                  "email": SERVICE_ACCOUNT, "email_verified": True, "sub": "1234567890", "iat": now, "exp": now + 3600}
        claims.update(changes)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.key_id})


class CertsServer:
    """Serves `certs` at http://127.0.0.1:PORT/certs for google-auth to fetch."""

    def __init__(self, certs: dict):
        body = json.dumps(certs).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                self.send_response(200 if self.path == "/certs" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body if self.path == "/certs" else b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/certs"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def push(notification: dict, *, message_id: str | None = None) -> dict:
    """The body Pub/Sub posts for a DeveloperNotification."""
    data = base64.b64encode(json.dumps(notification).encode()).decode()
    message_id = message_id or str(uuid.uuid4().int)[:16]
    return {"message": {"data": data, "messageId": message_id, "message_id": message_id,
                        "publishTime": "2027-03-01T00:00:00.123Z", "attributes": {}},
            "subscription": "projects/camcare-test/subscriptions/play-rtdn"}


def subscription_notification(token: str, kind: int, *, at: datetime, product: str = "camcare_plus") -> dict:
    return {"version": "1.0", "packageName": PACKAGE, "eventTimeMillis": str(int(at.timestamp() * 1000)),
            "subscriptionNotification": {"version": "1.0", "notificationType": kind, "purchaseToken": token,
                                         "subscriptionId": product}}


def zulu(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def purchase_v2(*, state: str, expiry: datetime, account_token: str | None, product: str = "camcare_plus",
                base_plan: str = "monthly", auto_renew: bool = True, order_id: str = "GPA.3372-4150-9088-12345",
                acknowledged: bool = False, linked: str | None = None, lines: int = 1, test: bool = True) -> dict:
    """A SubscriptionPurchaseV2 (purchases.subscriptionsv2 resource) as the Play API returns it."""
    item = {"productId": product, "expiryTime": zulu(expiry),
            "autoRenewingPlan": {"autoRenewEnabled": auto_renew,
                                 "recurringPrice": {"currencyCode": "USD", "units": "3", "nanos": 990000000}},
            "offerDetails": {"basePlanId": base_plan, "offerTags": []}, "latestSuccessfulOrderId": order_id}
    body = {"kind": "androidpublisher#subscriptionPurchaseV2", "regionCode": "US", "lineItems": [item] * lines,
            "startTime": zulu(expiry - timedelta(days=30)), "subscriptionState": state, "latestOrderId": order_id,
            "acknowledgementState": "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED" if acknowledged
            else "ACKNOWLEDGEMENT_STATE_PENDING"}
    if account_token is not None:
        body["externalAccountIdentifiers"] = {"obfuscatedExternalAccountId": account_token}
    if linked:
        body["linkedPurchaseToken"] = linked
    if test:
        body["testPurchase"] = {}
    return body


class FakeResponse:
    def __init__(self, status_code: int, body):
        self.status_code = status_code
        self._body = body

    def json(self):
        return self._body


class FakePlay:
    """The Play Developer API's answers, by purchase token, and the calls it was made."""

    purchases: dict[str, dict] = {}
    status: int = 200  # e.g. 503: the API is down
    calls: list[tuple[str, str]] = []

    @classmethod
    def reset(cls) -> None:
        cls.purchases, cls.status, cls.calls = {}, 200, []


class FakeSession:
    """requests.Session's `request`, answering from FakePlay."""

    def request(self, method: str, url: str, **kwargs):
        path = urlparse(url).path
        FakePlay.calls.append((method, unquote(path)))
        if FakePlay.status != 200:
            return FakeResponse(FakePlay.status, {"error": {"code": FakePlay.status}})
        prefix = f"/androidpublisher/v3/applications/{PACKAGE}/purchases/"
        if method == "GET" and path.startswith(prefix + "subscriptionsv2/tokens/"):
            token = unquote(path.rsplit("/", 1)[1])
            found = FakePlay.purchases.get(token)
            return FakeResponse(200, found) if found else FakeResponse(404, {"error": {"code": 404}})
        if method == "POST" and path.startswith(prefix + "subscriptions/") and path.endswith(":acknowledge"):
            return FakeResponse(204, None)
        return FakeResponse(400, {"error": {"code": 400}})


def fake_session() -> FakeSession:
    return FakeSession()
