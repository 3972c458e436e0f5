"""A static figure of one series over runs (PNG, SVG or PDF, drawn by matplotlib) for a paper
or a slide, and the same points as CSV rows."""

from __future__ import annotations

from pathlib import Path

from expctl.errors import BadInputError
from expctl.visual.series import Series

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def check_figure_path(path: Path) -> Path:
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise BadInputError(f"Cannot tell the figure format of `{path}`.",
                            hint="end the file name in .png, .svg or .pdf (or use --format csv)")
    return path


def write_figure(series: list[Series], baseline_id: str | None, path: Path,
                 title: str | None = None) -> Path:
    """Every run's points as a line, labelled by run id; the baseline dashed and black."""
    from expctl.visual.tools import require

    require("matplotlib")
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    name = series[0].name
    # Text stays text in SVG and PDF (editable and searchable in a paper), not outlines.
    plt.rcParams.update({"svg.fonttype": "none", "pdf.fonttype": 42})
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=150)
    try:
        for s in sorted(series, key=lambda s: s.run_id != baseline_id):
            if s.run_id == baseline_id:
                ax.plot(s.x, s.y, linestyle="--", color="black", linewidth=1.8,
                        label=f"{s.run_id} (baseline)", zorder=3)  # on top of the others
            else:
                ax.plot(s.x, s.y, linewidth=1.2, label=s.run_id)
        ax.set_xlabel(series[0].x_label)
        ax.set_ylabel(name)
        ax.set_title(title or name)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path


def csv_rows(series: list[Series]) -> tuple[list[str], list[list]]:
    """run, x, value: every point exactly as read (the figure draws the same)."""
    x_label = series[0].x_label if series else "step"
    rows = [[s.run_id, _plain(x), repr(y)] for s in series for x, y in zip(s.x, s.y, strict=True)]
    return ["run", x_label, series[0].name if series else "value"], rows


def _plain(x: float):
    return int(x) if float(x).is_integer() else repr(x)
