"""Order IDs and support references: short, unambiguous, not guessable.

Crockford base32 has no I, L, O or U, so an ID read aloud or copied from a
screenshot cannot be mistyped into another valid one by those confusions.
10 characters = 50 random bits per ID.
"""

import secrets

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def random_code(length: int) -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(length))


def new_order_id() -> str:
    return "ORD-" + random_code(10)


def new_error_reference() -> str:
    return "ERR-" + random_code(10)


def normalize_code(text: str) -> str:
    """What a person typed, read the Crockford way (O->0, I/L->1, case and dashes free)."""
    cleaned = text.strip().upper().replace(" ", "")
    prefix, sep, rest = cleaned.partition("-")
    if not sep:
        return cleaned
    return prefix + "-" + rest.replace("-", "").translate(str.maketrans("OIL", "011"))
