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


# Prefixes of the codes support looks up, as people mistype them: a zero for the O.
CODE_PREFIXES = ("ORD", "ERR")
CODE_BODY_LENGTH = 10
_CROCKFORD_READING = str.maketrans("OIL", "011")
_SEPARATORS = str.maketrans("", "", " \t\n\r-_.")


def code_candidates(text: str) -> list[str]:
    """The Order IDs and error references (ORD-/ERR- + 10 Crockford characters) that what a
    person typed may name, read loosely: spaces or dashes anywhere ("ORD 0JSV12345A"),
    any case, a zero for the prefix's O ("0RD-..."), O/I/L for 0/1/1 in the body, or the
    10 characters alone (then both prefixes). [] for text that cannot be such a code."""
    cleaned = text.translate(_SEPARATORS).upper()
    if not cleaned.isascii() or not cleaned.isalnum():
        return []
    prefixes: tuple[str, ...]
    if len(cleaned) == CODE_BODY_LENGTH:
        prefixes, body = CODE_PREFIXES, cleaned
    elif len(cleaned) == len(CODE_PREFIXES[0]) + CODE_BODY_LENGTH:
        prefix = cleaned[:3].replace("0", "O")
        prefixes, body = ((prefix,) if prefix in CODE_PREFIXES else ()), cleaned[3:]
    else:
        return []
    body = body.translate(_CROCKFORD_READING)
    if not all(char in CROCKFORD for char in body):
        return []
    return [f"{prefix}-{body}" for prefix in prefixes]
