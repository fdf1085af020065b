"""Which account a purchase names.

The app puts the account's public id in the purchase: Account.id, "acc_" and 16 Crockford
base32 characters (80 random bits, camcare.ids). Google Play takes it as it is
(obfuscatedExternalAccountId, up to 64 characters). Apple's appAccountToken must be a
UUID, so there the id is packed into one, reversibly: an RFC 9562 version-8 UUID whose 122
free bits are a 42-bit marker followed by the id's 80 bits (docs/stores.md shows the app's
side). Both forms are read from either store.

A token that is neither form, or names no active account, links nothing: the purchase is
kept and shown to support, and never applied to any account.
"""

from __future__ import annotations

import re
import uuid

from camcare.accounts.models import Account

PREFIX = "acc_"
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # camcare.ids' (Crockford base32, lower-case)
ID_CHARS = 16  # 80 bits
ID_BITS = 5 * ID_CHARS
MARKER = 0x2CA_3CA7_E0AC  # 42 bits that say "a camcare account id" (0x2CA3CA7E0AC < 2**42)
MARKER_BITS = 42
_ACCOUNT_ID = re.compile(rf"{PREFIX}[{ALPHABET}]{{{ID_CHARS}}}")


def _id_bits(account_id: str) -> int | None:
    if not _ACCOUNT_ID.fullmatch(account_id):
        return None
    value = 0
    for char in account_id[len(PREFIX):]:
        value = value << 5 | ALPHABET.index(char)
    return value


def _id_of(bits: int) -> str:
    chars = [ALPHABET[bits >> shift & 31] for shift in range(ID_BITS - 5, -1, -5)]
    return PREFIX + "".join(chars)


def apple_account_token(account_id: str) -> str:
    """The appAccountToken (a UUID, lower-case) the app passes when it buys for the account."""
    bits = _id_bits(account_id)
    if bits is None:
        raise ValueError(f"{account_id!r} is not an account id")
    value = MARKER << ID_BITS | bits  # 122 bits
    # RFC 9562 layout: custom_a (48 bits), version (4), custom_b (12), variant (2), custom_c (62).
    packed = (value >> 74) << 80 | 8 << 76 | (value >> 62 & 0xFFF) << 64 | 0b10 << 62 | (value & (1 << 62) - 1)
    return str(uuid.UUID(int=packed))


def account_id_from_token(token: str | None) -> str | None:
    """The account id a purchase's token names, or None when it names none."""
    token = (token or "").strip()
    if _ACCOUNT_ID.fullmatch(token):
        return token
    try:
        packed = uuid.UUID(token).int
    except ValueError:
        return None
    if packed >> 76 & 0xF != 8 or packed >> 62 & 0b11 != 0b10:
        return None
    value = (packed >> 80) << 74 | (packed >> 64 & 0xFFF) << 62 | (packed & (1 << 62) - 1)
    if value >> ID_BITS != MARKER:
        return None
    return _id_of(value & (1 << ID_BITS) - 1)


def account_for_token(token: str | None) -> Account | None:
    account_id = account_id_from_token(token)
    if account_id is None:
        return None
    return Account.objects.filter(pk=account_id, is_active=True).first()
