"""Packing reply lines into as few SMS as possible (LIST: one line per service)."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def pack(header: str, lines: Sequence[str], fits: Callable[[str], bool]) -> list[str]:
    """Split header + lines over as few SMS as possible, in order, one line per text line.

    The header opens the first message. When more than one message is needed, each one starts
    with a "(2/3)" marker (the first: "(1/3) " before the header), so a citizen whose phone
    shows them out of order, or who misses one, can tell. Lines are never cut: a line too long
    for an SMS of its own still gets a message to itself (the channel sends it concatenated).

    `fits(text)` says whether a text fits one SMS (the caller's GSM 03.38 / UCS-2 rule). Filling
    each message greedily is optimal for an ordered list: no split into contiguous groups needs
    fewer messages. The markers' width depends on the total, so packing repeats until the total
    it assumed is the total it found (at most a few rounds: only the digit count matters).
    """
    if not lines:
        return [header]
    total, groups = 1, _greedy(header, lines, fits, 1)
    for _ in range(len(lines)):  # the total only grows (wider markers): ends in a few rounds
        if len(groups) == total:
            break
        total = len(groups)
        groups = _greedy(header, lines, fits, total)
    total = len(groups)
    return [_render(header, group, n, total) for n, group in enumerate(groups, 1)]


def _greedy(
    header: str, lines: Sequence[str], fits: Callable[[str], bool], total: int
) -> list[list[str]]:
    groups: list[list[str]] = [[]]
    for line in lines:
        group = groups[-1]
        if group and not fits(_render(header, [*group, line], len(groups), total)):
            groups.append([line])
        else:
            group.append(line)
    return groups


def _render(header: str, group: Sequence[str], n: int, total: int) -> str:
    marker = f"({n}/{total})" if total > 1 else ""
    opening = f"{marker} {header}".lstrip() if n == 1 else marker
    return "\n".join([opening, *group]) if opening else "\n".join(group)
