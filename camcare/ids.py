"""Opaque, unguessable ids for rows users see (accounts, cameras, clips, quotes...)."""

import secrets

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower-case


def new_id(prefix: str, length: int = 16) -> str:
    """`prefix` + "_" + 16 random characters (80 bits)."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def account_id() -> str:
    return new_id("acc")


def camera_id() -> str:
    return new_id("cam")


def clip_id() -> str:
    return new_id("clp")


def quote_id() -> str:
    return new_id("quo")


def payment_method_id() -> str:
    return new_id("pm")

