"""The record of submit_sm received: compact rows, read back as Submit objects on demand.

A row is a tuple of plain values (the raw PDU bytes among them): the garbage collector stops
tracking such tuples, so a million recorded submits cost no collection time, and nothing is
decoded twice unless a test reads it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from channels.smpp.codec import ShortMessage, decode

# (at, system_id, raw submit_sm, message_id, status)
_Row = tuple[float, str, bytes, str, int]


@dataclass(frozen=True, slots=True)
class Submit:
    """One submit_sm as received, with the answer it got."""

    at: float  # time.monotonic() when its bytes were read
    system_id: str
    source_addr: str
    destination_addr: str
    data_coding: int
    esm_class: int
    short_message: bytes
    registered_delivery: int
    message_id: str  # "" unless accepted
    status: int  # command_status of the submit_sm_resp
    tlvs: dict[int, bytes]
    sequence: int
    pdu: ShortMessage  # everything else (ton, npi, validity, …)


def _submit(row: _Row) -> Submit:
    at, system_id, frame, message_id, status = row
    pdu = decode(frame)
    if not isinstance(pdu, ShortMessage):  # only decoded submit_sm are recorded
        raise TypeError(f"recorded PDU is a {type(pdu).__name__}")
    return Submit(
        at,
        system_id,
        pdu.source_addr,
        pdu.destination_addr,
        pdu.data_coding,
        pdu.esm_class,
        pdu.short_message,
        pdu.registered_delivery,
        message_id,
        status,
        pdu.tlvs,
        pdu.sequence,
        pdu,
    )


class SubmitLog(Sequence[Submit]):
    """The last ``keep`` submits (up to 10% more between trims), oldest first."""

    def __init__(self, keep: int) -> None:
        self._rows: list[_Row] = []
        self._keep = keep
        self._trim_at = keep + max(1, keep // 10)
        self.total = 0  # every submit since start, kept or not

    def append(self, at: float, system_id: str, frame: bytes, message_id: str, status: int) -> None:
        rows = self._rows
        rows.append((at, system_id, frame, message_id, status))
        self.total += 1
        if len(rows) >= self._trim_at:
            # Trimmed in chunks so keeping the last N costs O(1) per submit on average.
            del rows[: len(rows) - self._keep]

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Submit: ...

    @overload
    def __getitem__(self, index: slice) -> list[Submit]: ...

    def __getitem__(self, index: int | slice) -> Submit | list[Submit]:
        if isinstance(index, slice):
            return [_submit(row) for row in self._rows[index]]
        return _submit(self._rows[index])

    def __iter__(self) -> Iterator[Submit]:
        return (_submit(row) for row in list(self._rows))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"SubmitLog({len(self._rows)} kept of {self.total})"


def most_within(times: Sequence[float], span: float) -> int:
    """The most of ``times`` (sorted) in any half-open window [t, t + span): how an SMSC that
    counts a rate on its receive times sees a bind's submits."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= span:
            start += 1
        best = max(best, end - start + 1)
    return best
