"""The submit record: a list-like, bounded view decoded on demand."""

from __future__ import annotations

from channels.simulator.records import Submit, SubmitLog
from channels.smpp.codec import Command, encode_short_message


def _frame(sequence: int) -> bytes:
    return encode_short_message(
        Command.SUBMIT_SM,
        sequence,
        source_addr="1515",
        destination_addr="5016012345",
        short_message=b"text %d" % sequence,
        registered_delivery=1,
    )


def test_log_reads_back_submits_like_a_list() -> None:
    log = SubmitLog(keep=100)
    for sequence in (1, 2, 3):
        log.append(float(sequence), "smsgw", _frame(sequence), f"id{sequence}", 0)
    assert len(log) == 3
    first = log[0]
    assert isinstance(first, Submit)
    assert (first.at, first.system_id, first.message_id, first.status) == (1.0, "smsgw", "id1", 0)
    assert (first.short_message, first.sequence, first.registered_delivery) == (b"text 1", 1, 1)
    assert [s.message_id for s in log[-2:]] == ["id2", "id3"]
    assert [s.message_id for s in log] == ["id1", "id2", "id3"]
    assert log == list(log)
    assert log != []


def test_log_keeps_the_most_recent_and_counts_all() -> None:
    log = SubmitLog(keep=20)
    for sequence in range(1, 101):
        log.append(0.0, "smsgw", _frame(sequence), "", 0)
    assert 20 <= len(log) <= 22
    assert log[-1].sequence == 100
    assert log.total == 100
