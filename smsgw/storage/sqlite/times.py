"""Times as SQLite stores them: ISO 8601 text in UTC, fixed width, so text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime


def timestamp(at: datetime) -> str:
    """The stored form of a time."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def maybe_timestamp(at: datetime | None) -> str | None:
    return timestamp(at) if at is not None else None


def from_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def maybe_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None
