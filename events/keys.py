"""API key material: generation and hashing. Keys are shown once and stored hashed."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIXES = {"write": "wk", "read": "rk", "master": "mk", "access": "ak"}


def generate_key(kind: str) -> str:
    """A new random key for ``kind``: ``<prefix>_<43 url-safe chars>`` (256 bits)."""
    return f"{KEY_PREFIXES[kind]}_{secrets.token_urlsafe(32)}"


def hash_key(plaintext: str) -> str:
    """SHA-256 hex digest; keys carry 256 random bits, so a fast hash is sufficient."""
    return hashlib.sha256(plaintext.encode()).hexdigest()
