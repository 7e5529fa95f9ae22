"""The audit log: who did what to the platform, and when. Append-only (database triggers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from smsgw.access.tokens import ApiToken


class AuditAction(StrEnum):
    BROADCAST_CREATED = "broadcast_created"
    BROADCAST_APPROVED = "broadcast_approved"
    BROADCAST_CANCELLED = "broadcast_cancelled"
    SERVICE_CREATED = "service_created"
    SERVICE_UPDATED = "service_updated"
    TOKEN_ISSUED = "token_issued"  # noqa: S105 - an action name
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 - an action name
    SUBSCRIBER_SIGNED_UP = "subscriber_signed_up"  # assisted sign-up
    SUBSCRIBER_REMOVED = "subscriber_removed"  # assisted removal
    SUBSCRIBERS_IMPORTED = "subscribers_imported"
    SUBSCRIBER_LOOKED_UP = "subscriber_looked_up"  # GET /api/v1/subscribers/{msisdn}: who looked
    MESSAGE_SENT = "message_sent"  # POST /api/v1/messages: who sent what to whom
    MESSAGES_SENT = "messages_sent"  # POST /api/v1/messages/batch: who, and the messages' ids
    ALERT_RECEIVED = "alert_received"  # POST /api/v1/alerts: the CAP identifier, sender, action
    ALERT_REFUSED = "alert_refused"  # its signature missing or not an authority's (403)
    TICKET_ANSWERED = "ticket_answered"  # an officer's SMS answer to a citizen's question
    PERSON_CREATED = "person_created"  # a console account (target: the person's name)
    PERSON_UPDATED = "person_updated"  # role, ministry, disabled, password or TOTP reset
    LOGGED_IN = "logged_in"  # a session began (target: the person's name)
    LOGIN_FAILED = "login_failed"  # a wrong password or code for an existing person
    LOGGED_OUT = "logged_out"  # a session ended by its person (everywhere: all of theirs)
    TOTP_ENROLLED = "totp_enrolled"  # a person's second factor set up (or replaced)
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an action name (by the person)


CLI = "cli"  # the actor of what the command line does (it has no token)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str  # the token's id, "user:<name>" for a person logged in, or CLI
    role: str | None
    ministry: str | None
    action: AuditAction
    target: str | None  # what it was done to: a broadcast id, a keyword, a token id, a number
    detail: dict[str, Any] = field(default_factory=dict)
    id: int = 0  # set once stored
    person: str | None = None  # whom the actor's token or session belongs to, when known

    @classmethod
    def by(
        cls,
        principal: ApiToken,
        action: AuditAction,
        target: str | None,
        *,
        at: datetime,
        **detail: Any,
    ) -> AuditEntry:
        return cls(at, principal.id, principal.role.value, principal.ministry, action, target,
                   detail, person=principal.person)  # fmt: skip
