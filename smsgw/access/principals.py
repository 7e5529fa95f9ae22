"""Tokens and people as one TokenStore, for the use cases that look up who did something by
the id it was done under: four-eyes approval finds the person behind "user:<name>" (so a
broadcast created in a session and approved with that person's token is still refused), and
the inbox assigns tickets to people who log in as well as to tokens' persons."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from smsgw.access.audit import AuditEntry
from smsgw.access.people import USER
from smsgw.access.store import PeopleStore, TokenStore
from smsgw.access.tokens import ApiToken


class Principals:
    """Implements TokenStore: ``tokens`` plus a principal per person (people.Person.principal,
    revoked once disabled). Tokens are added and revoked in ``tokens`` alone."""

    def __init__(self, tokens: TokenStore, people: PeopleStore) -> None:
        self._tokens = tokens
        self._people = people

    async def token(self, token_id: str) -> ApiToken | None:
        if token_id.startswith(USER):
            person = await self._people.person_by_name(token_id.removeprefix(USER))
            return person.principal() if person else None
        return await self._tokens.token(token_id)

    async def tokens(self) -> list[ApiToken]:
        people = [person.principal() for person in await self._people.people()]
        return [*await self._tokens.tokens(), *people]

    async def token_by_hash(self, token_hash: str) -> ApiToken | None:
        return await self._tokens.token_by_hash(token_hash)

    async def add_token(self, token: ApiToken, audit: AuditEntry | None = None) -> None:
        await self._tokens.add_token(token, audit)

    async def revoke_token(self, token_id: str, *, at: datetime, audit: AuditEntry) -> bool:
        return await self._tokens.revoke_token(token_id, at=at, audit=audit)

    async def tokens_used(self, uses: Mapping[str, datetime]) -> None:
        await self._tokens.tokens_used(uses)
