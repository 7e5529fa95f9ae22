"""What access needs from storage: tokens and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.tokens import ApiToken


class TokenStore(Protocol):
    async def add_token(self, token: ApiToken, audit: AuditEntry | None = None) -> None:
        """Stores a new token, and ``audit`` with it (in one transaction)."""

    async def token_by_hash(self, token_hash: str) -> ApiToken | None: ...

    async def token(self, token_id: str) -> ApiToken | None: ...

    async def tokens(self) -> list[ApiToken]:
        """All, revoked and expired ones too, oldest first."""

    async def revoke_token(self, token_id: str, *, at: datetime, audit: AuditEntry) -> bool:
        """False if there is no such token or it was revoked already."""


class AuditLog(Protocol):
    async def audit(self, entry: AuditEntry) -> None: ...

    async def audit_entries(
        self, *, before: int | None, limit: int, action: AuditAction | None = None
    ) -> list[AuditEntry]:
        """Newest first, ids below ``before``."""
