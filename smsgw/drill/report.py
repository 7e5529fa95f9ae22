"""The drill's readiness report: ``report.md`` for people, ``report.json`` for tools, the
chart, and a few lines for the terminal. Numbers are personal data: none is written."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from smsgw.drill import chart
from smsgw.drill.figures import BaseEstimate, Figures, Run

CHART = "submits-per-second.png"


def write(folder: Path, run: Run, found: Figures, base: BaseEstimate | None) -> list[str]:
    """Writes the report into ``folder``; returns the summary lines for stdout."""
    folder.mkdir(parents=True, exist_ok=True)
    contracted = {c.carrier: c.contracted for c in found.carriers}
    drawn = chart.draw(
        folder / CHART, found.per_second, contracted,
        title=f"Alert drill ({run.mode}), {run.started_at:%Y-%m-%d %H:%M} UTC",
    )  # fmt: skip
    notes = list(run.notes)
    if not drawn:
        notes.append("no chart: matplotlib is not installed (pip install 'smsgw[drill]')")
    (folder / "report.md").write_text(_markdown(run, found, base, notes, drawn), encoding="utf-8")
    document = {
        "mode": run.mode, "started_at": run.started_at.isoformat(),
        "audience": dict(run.audience), "segments": run.segments, "alert": dict(run.alert),
        "answered_s": run.answered_s, "finished": run.finished, "outcomes": dict(run.outcomes),
        "figures": _plain(found) | {"over_cap": list(found.over_cap)},
        "base": None if base is None else _base(base), "chart": CHART if drawn else None,
        "notes": notes,
    }  # fmt: skip
    (folder / "report.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return _summary(run, found, base, folder)


def _plain(found: Figures) -> dict[str, Any]:
    data = dataclasses.asdict(found)
    for carrier, figures in zip(data["carriers"], found.carriers, strict=True):
        carrier["of_contracted"] = figures.of_contracted
    return data


def _base(base: BaseEstimate) -> dict[str, Any]:
    return {
        "source": base.source, "subscribers": dict(base.subscribers), "unrouted": base.unrouted,
        "segments": base.segments, "contracted_tps": dict(base.contracted),
        "seconds_at_contracted": {c: base.seconds(c) for c in base.subscribers},
        "total_s_at_contracted": base.total(),
        "seconds_at_drill_rate": {c: base.seconds(c, at_measured=True) for c in base.subscribers},
        "total_s_at_drill_rate": base.total(at_measured=True),
    }  # fmt: skip


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _duration(value: float | None) -> str:
    if value is None:
        return "—"
    minutes, seconds = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{value:,.0f} s ({hours} h {minutes:02d} min {seconds:02d} s)"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _markdown(
    run: Run, found: Figures, base: BaseEstimate | None, notes: list[str], drawn: bool
) -> str:
    audience = sum(run.audience.values())
    live = run.mode == "live"
    # live: submits as the gateway recorded them, one per message; simulator: as the SMSCs
    # received them, one per SMS
    needed = "messages to submit" if live else "submits needed"
    seen = "recorded as submitted by the gateway" if live else "accepted by the SMSCs"
    counted = ("the gateway's record of its submit times" if live
               else "as the SMSC counts: any one second of its arrival times")  # fmt: skip
    lines = [
        f"# Alert drill readiness report ({run.mode})", "",
        f"Alert posted {run.started_at:%Y-%m-%d %H:%M:%S} UTC: "
        f"`{run.alert.get('alert')}`, {run.alert.get('status')}, answered "
        f"`{run.alert.get('action')}` after {_s(run.answered_s)}"
        + (f" ({run.alert['reason']})" if run.alert.get("reason") else "") + ".",
        f"Audience: {audience:,} numbers, {run.segments} SMS each: {found.expected:,} {needed},"
        f" {found.accepted:,} {seen}"
        + (f", {found.throttled:,} refused over a cap (and sent again)" if found.throttled else "")
        + ".", "",
        "| figure | value |", "|---|---|",
        f"| time to first submit (after the POST) | {_s(found.first_submit_s)} |",
        f"| time until all are submitted | {_s(found.all_submitted_s)}"
        + ("" if found.all_submitted_s is not None else " (not all were)") + " |",
        f"| every message final by the end | {'yes' if run.finished else 'no'} |",
        f"| delivered | {found.delivered:,} ({_pct(found.delivery_rate)} of those final) |",
        f"| outcomes | {', '.join(f'{k} {v:,}' for k, v in run.outcomes.items())} |",
        f"| any bind over its cap in a second | "
        f"{', '.join(found.over_cap) if found.over_cap else 'none'} |", "",
        "## Per carrier", "",
        "| carrier | binds | contracted TPS | audience | submits | first | last | rate | "
        "of contracted |", "|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for c in found.carriers:
        rate = "—" if c.rate is None else f"{c.rate:.1f}/s"
        lines.append(
            f"| {c.carrier} | {c.binds} | {c.contracted or 'uncapped'} | {c.audience:,} | "
            f"{c.submits:,} | {_s(c.first_s)} | {_s(c.last_s)} | {rate} | "
            f"{_pct(c.of_contracted)} |"
        )
    lines += ["", f"## Per bind ({counted})", "",
              "| bind | carrier | cap | submits | most in any 1 s | refused over the cap |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for b in found.binds:
        lines.append(f"| {b.name} | {b.carrier} | {b.cap or 'none'} | {b.submits:,} | "
                     f"{b.most_in_1s} | {b.throttled} |")  # fmt: skip
    if drawn:
        lines += ["", f"![Submits per second per carrier]({CHART})"]
    if base is not None:
        lines += ["", *_base_lines(base)]
    if notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"


def _base_lines(base: BaseEstimate) -> list[str]:
    lines = [
        "## The whole subscriber base", "",
        f"{base.size:,} numbers ({base.source}), {base.segments} SMS each; carriers send side "
        "by side, so the whole takes as long as the slowest."
        + (f" {base.unrouted:,} numbers match no carrier's prefix." if base.unrouted else ""),
        "", "| carrier | numbers | contracted TPS | at the contracted rate | at the drill's rate |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for carrier, count in base.subscribers.items():
        lines.append(
            f"| {carrier} | {count:,} | {base.contracted.get(carrier) or 'uncapped'} | "
            f"{_duration(base.seconds(carrier))} | "
            f"{_duration(base.seconds(carrier, at_measured=True))} |"
        )
    lines.append(f"| **all** | {base.size:,} | | **{_duration(base.total())}** | "
                 f"{_duration(base.total(at_measured=True))} |")  # fmt: skip
    lines += ["", "—: a carrier uncapped (tps 0), or a rate the drill did not measure (live: too"
              " few numbers; a carrier not drilled)."]  # fmt: skip
    return lines


def _summary(run: Run, found: Figures, base: BaseEstimate | None, folder: Path) -> list[str]:
    lines = [
        f"drill ({run.mode}): {sum(run.audience.values()):,} numbers, "
        f"{found.accepted:,}/{found.expected:,} submits accepted; first submit "
        f"{_s(found.first_submit_s)} after the POST, all submitted {_s(found.all_submitted_s)}; "
        f"delivered {_pct(found.delivery_rate)}",
    ]
    for c in found.carriers:
        rate = "—" if c.rate is None else f"{c.rate:.1f}/s"
        cap = c.contracted or "uncapped"
        lines.append(f"  {c.carrier}: {c.submits:,} submits at {rate} "
                     f"({_pct(c.of_contracted)} of its contracted {cap})")  # fmt: skip
    if found.over_cap:
        lines.append(f"  over a cap in some second: {', '.join(found.over_cap)}")
    if base is not None:
        lines.append(f"  whole base, {base.size:,} numbers: {_duration(base.total())} at the "
                     "contracted rates")  # fmt: skip
    lines.append(f"report: {folder / 'report.md'}")
    return lines
