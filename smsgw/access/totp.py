"""The second factor: TOTP codes (RFC 6238: 6 digits, 30 s steps, SHA-1, as every
authenticator app reads them) and one-time recovery codes (only their hashes are kept)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp

ISSUER = "smsgw"
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper and typed


def new_secret() -> str:
    return pyotp.random_base32()


def uri(secret: str, name: str) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code, or typed)."""
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)


def step_of(secret: str, code: str, at: datetime, *, after: int | None) -> int | None:
    """The time step whose code ``code`` is, the one at ``at`` or either beside it (clocks
    drift; RFC 6238 §5.2), and later than ``after`` (a code is taken once: a replay, even
    within its 30 s, is refused); None if none is."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(at)
    for step in (now - 1, now, now + 1):
        if (after is None or step > after) and hmac.compare_digest(code, totp.generate_otp(step)):
            return step
    return None


def recovery_codes() -> list[str]:
    """Codes to print and keep: each opens one log-in in place of a TOTP code (60 bits)."""
    return ["-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))
            for _ in range(RECOVERY_CODES)]  # fmt: skip


def recovery_hash(code: str) -> str:
    """The stored form of a recovery code, as typed (any case, with or without dashes)."""
    typed = "".join(code.split()).replace("-", "").casefold()
    return hashlib.sha256(typed.encode()).hexdigest()


def looks_like_totp(code: str) -> bool:
    return code.strip().replace(" ", "").isdigit()
