"""The drill's chart: submits per second per carrier, against each carrier's contracted TPS,
drawn with matplotlib's Agg backend (a file, no display) and only when matplotlib is there
(the ``drill`` extra: ``pip install 'smsgw[drill]'``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 5.0, 100  # 1000 x 500 pixels


def draw(
    path: Path, per_second: Mapping[str, list[int]], contracted: Mapping[str, int | None],
    *, title: str,
) -> bool:  # fmt: skip
    """Writes the PNG; False when matplotlib is not installed."""
    try:
        import matplotlib  # an optional extra: the report is whole without its chart
    except ImportError:
        return False
    matplotlib.use("Agg", force=True)  # no display: a server, a CI run
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    axes = figure.add_subplot()
    colours = matplotlib.colormaps["tab10"].colors  # type: ignore[attr-defined]
    for i, (carrier, counts) in enumerate(per_second.items()):
        colour = colours[i % len(colours)]
        # one flat step per second, its last one drawn too
        axes.stairs(counts, range(len(counts) + 1), color=colour, label=carrier, linewidth=1.5)
        cap = contracted.get(carrier)
        if cap:
            axes.axhline(cap, color=colour, linestyle="--", linewidth=1,
                         label=f"{carrier} contracted {cap}/s")  # fmt: skip
    axes.set_xlabel("seconds after the alert was posted")
    axes.set_ylabel("submits accepted per second")
    axes.set_title(title)
    axes.set_ylim(bottom=0)
    axes.set_xlim(left=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, format="png")
    return True
