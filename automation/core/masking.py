"""Secrets that must never appear in anything printed: registered as soon as they are read or generated."""

from __future__ import annotations

_SECRETS: set[str] = set()
MASK = "******"


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _SECRETS.add(value)


def mask(text: str) -> str:
    # Longest first: a secret that contains another is masked whole.
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
