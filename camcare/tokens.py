"""Secret tokens (API tokens, device tokens): handed out once, stored only as a hash."""

import hashlib
import secrets


def new_token(prefix: str) -> str:
    """A random bearer secret: 32 bytes, URL-safe, with a prefix that says what it is."""
    return prefix + "_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # SHA-256 without salt is enough: the token has 256 bits of entropy, and the hash
    # must be looked up by equality.
    return hashlib.sha256(token.encode()).hexdigest()
