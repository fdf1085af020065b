"""App Store Server Notifications signed as Apple signs them, with a chain made here:
root CA -> intermediate (Apple's WWDR marker 1.2.840.113635.100.6.2.1) -> leaf (the App
Store's signing marker 1.2.840.113635.100.6.11.1), ES256 JWS with the chain in `x5c`.
Apple's SignedDataVerifier (online checks off) checks exactly these: the chain to the
configured root under OpenSSL's strict flags, both markers, the signature, then the bundle
id, app id and environment."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

WWDR_MARKER = "1.2.840.113635.100.6.2.1"
SIGNING_MARKER = "1.2.840.113635.100.6.11.1"
DER_NULL = b"\x05\x00"
VALID_FROM = datetime(2020, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2040, 1, 1, tzinfo=UTC)
BUNDLE_ID = "com.camcare.app"
APP_ID = 1234567890


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "camcare tests")])


def _certificate(subject: str, key, issuer: x509.Certificate | None, issuer_key, *, ca: bool, marker: str | None):
    public = key.public_key()
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject))
               .issuer_name(issuer.subject if issuer else _name(subject))
               .public_key(public)
               .serial_number(x509.random_serial_number())
               .not_valid_before(VALID_FROM).not_valid_after(VALID_UNTIL)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                                            crl_sign=ca, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))
    authority = (issuer.public_key() if issuer else public)
    builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority), critical=False)
    if marker:
        builder = builder.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(marker), DER_NULL), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class AppleChain:
    """A root, an intermediate and a leaf; `sign` makes a JWS as the App Store does."""

    root_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    markers: bool = True  # False: a chain without Apple's marker OIDs

    def __post_init__(self):
        self.root = _certificate("Test Root CA", self.root_key, None, self.root_key, ca=True, marker=None)
        self.intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = _certificate("Test WWDR", self.intermediate_key, self.root, self.root_key, ca=True,
                                         marker=WWDR_MARKER if self.markers else None)
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())
        self.leaf = _certificate("Test App Store signing", self.leaf_key, self.intermediate, self.intermediate_key,
                                 ca=False, marker=SIGNING_MARKER if self.markers else None)

    @property
    def root_der(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.DER)

    def sign(self, claims: dict) -> str:
        x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
               for cert in (self.leaf, self.intermediate, self.root)]
        return jwt.encode(claims, self.leaf_key, algorithm="ES256", headers={"x5c": x5c})


def trust(settings, chain: AppleChain, folder) -> None:
    """Configure camcare to trust `chain`'s root for the test app, in the Sandbox, offline."""
    root = folder / "test-root.cer"
    root.write_bytes(chain.root_der)
    settings.STORES_APPLE_ROOT_CERTIFICATES = [str(root)]
    settings.STORES_APPLE_ENVIRONMENT = "Sandbox"
    settings.STORES_APPLE_BUNDLE_ID = BUNDLE_ID
    settings.STORES_APPLE_APP_ID = str(APP_ID)
    settings.STORES_APPLE_ONLINE_CHECKS = False  # no network: OCSP is Apple's online check


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass
class ApplePurchase:
    """One subscription bought in the iOS app, to write its notifications with."""

    chain: AppleChain
    app_account_token: str | None
    product_id: str = "com.camcare.app.plus.monthly"
    original_transaction_id: str = field(default_factory=lambda: str(uuid.uuid4().int)[:15])
    environment: str = "Sandbox"
    bundle_id: str = BUNDLE_ID
    quantity: int = 1
    _transactions: int = 0

    def transaction(self, *, start: datetime, end: datetime, product_id: str | None = None,
                    revoked: datetime | None = None, signed: datetime) -> dict:
        self._transactions += 1
        claims = {
            "originalTransactionId": self.original_transaction_id,
            "transactionId": f"{self.original_transaction_id}{self._transactions:03d}",
            "webOrderLineItemId": f"{self.original_transaction_id}{self._transactions:03d}9",
            "bundleId": self.bundle_id, "productId": product_id or self.product_id,
            "subscriptionGroupIdentifier": "21000001", "purchaseDate": ms(start), "originalPurchaseDate": ms(start),
            "expiresDate": ms(end), "quantity": self.quantity, "type": "Auto-Renewable Subscription",
            "inAppOwnershipType": "PURCHASED", "signedDate": ms(signed), "environment": self.environment,
            "transactionReason": "PURCHASE", "storefront": "USA", "storefrontId": "143441",
            "price": 3990, "currency": "USD",
        }
        if self.app_account_token is not None:
            claims["appAccountToken"] = self.app_account_token
        if revoked is not None:
            claims.update(revocationDate=ms(revoked), revocationReason=0)
        return claims

    def renewal(self, *, signed: datetime, auto_renew: bool = True, renews_as: str | None = None,
                grace_until: datetime | None = None, retrying: bool = False) -> dict:
        claims = {
            "originalTransactionId": self.original_transaction_id, "productId": self.product_id,
            "autoRenewProductId": renews_as or self.product_id, "autoRenewStatus": 1 if auto_renew else 0,
            "isInBillingRetryPeriod": retrying, "signedDate": ms(signed), "environment": self.environment,
            "recentSubscriptionStartDate": ms(signed),
        }
        if grace_until is not None:
            claims["gracePeriodExpiresDate"] = ms(grace_until)
        if self.app_account_token is not None:
            claims["appAccountToken"] = self.app_account_token
        return claims

    def notification(self, kind: str, *, signed: datetime, transaction: dict | None, renewal: dict | None = None,
                     subtype: str | None = None, notification_id: str | None = None, app_apple_id: int | None = APP_ID,
                     chain: AppleChain | None = None) -> dict:
        """The request body Apple posts: {signedPayload}."""
        signer = chain or self.chain
        data = {"appAppleId": app_apple_id, "bundleId": self.bundle_id, "bundleVersion": "42",
                "environment": self.environment, "status": 1}
        if transaction is not None:
            data["signedTransactionInfo"] = signer.sign(transaction)
        if renewal is not None:
            data["signedRenewalInfo"] = signer.sign(renewal)
        claims = {"notificationType": kind, "notificationUUID": notification_id or str(uuid.uuid4()),
                  "data": data, "version": "2.0", "signedDate": ms(signed)}
        if subtype:
            claims["subtype"] = subtype
        return {"signedPayload": signer.sign(claims)}
