"""Plotly figures (as plain dicts) for the report: curves of one series over runs, confusion
matrices, and a sweep's metric against a param. Only data goes in; plotly draws."""

from __future__ import annotations

from typing import Any

from expctl.visual.confusion import Matrix
from expctl.visual.series import Series

BASELINE_COLOUR = "#111111"
# plotly's default colour cycle, given per run so a run keeps its colour in every chart.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
CONFIG = {"displaylogo": False, "responsive": True, "scrollZoom": False}
MATRIX_CONFIG = {**CONFIG, "displayModeBar": False}  # small charts: the bar hides the title
SHARES = [[0, "#ffffff"], [1, "#08306b"]]  # white (none of the row) to dark blue (all of it)
# this run's share minus the baseline's: red less, white the same, blue more
DIFFERENCES = [[0, "#b2182b"], [0.5, "#ffffff"], [1, "#2166ac"]]


def curve_figure(name: str, series: list[Series], baseline_id: str | None,
                 colours: dict[str, str]) -> dict[str, Any]:
    """One chart: the series `name` of each run overlaid (as loaded: downsampled already), the
    baseline black and bold; other runs in their colour from `colours` (run id -> colour)."""
    traces, skipped = [], 0
    # The baseline drawn last, on top of the others, and listed first in the legend.
    ordered = sorted(series, key=lambda s: s.run_id == baseline_id)
    reduced = [s for s in ordered if s.logged]
    for s in ordered:
        x, y = s.x, s.y
        skipped += s.skipped
        is_base = s.run_id == baseline_id
        traces.append({
            "type": "scatter", "mode": "lines+markers" if len(x) == 1 else "lines",
            "name": s.run_id + (" (baseline)" if is_base else ""), "x": x, "y": y,
            "line": {"width": 3, "color": BASELINE_COLOUR} if is_base else
            {"width": 1.5, "color": colours.get(s.run_id, PALETTE[0])},
            "hovertemplate": f"%{{y:.6g}} at {s.x_label} %{{x}}<extra>{s.run_id}</extra>",
            "meta": {"run": s.run_id, "series": name}, "legendrank": 1 if is_base else 1000,
        })
    notes = []
    if reduced:
        longest = max(s.logged for s in reduced)
        notes.append(f"{len(reduced)} long histories (up to {longest} points) drawn as each "
                     f"bucket's min and max, {max(len(s.x) for s in reduced)} points: spikes kept")
    if skipped:
        notes.append(f"{skipped} non-finite values not drawn")
    title = name + (f"<br><sub>{'; '.join(notes)}</sub>" if notes else "")
    x_label = ordered[-1].x_label if ordered else "step"
    return {"data": traces, "layout": {
        "title": {"text": title}, "height": 380, "margin": {"t": 60, "b": 45, "l": 60, "r": 20},
        "xaxis": {"title": {"text": x_label}}, "yaxis": {"title": {"text": name}},
        "hovermode": "closest", "legend": {"font": {"size": 10}}, "showlegend": True,
    }}


def matrix_figure(matrix: Matrix, title: str, against: Matrix | None = None) -> dict[str, Any]:
    """A row-normalised heatmap of counts; with `against`, this matrix's shares minus its."""
    shares = matrix.row_shares()
    if against is not None:
        z = [[a - b for a, b in zip(ra, rb, strict=True)]
             for ra, rb in zip(shares, against.row_shares(), strict=True)]
        text = [[f"{v:+.2f}" for v in row] for row in z]
        colour = {"colorscale": DIFFERENCES, "zmid": 0, "zmin": -1, "zmax": 1}
    else:
        z = shares
        text = [[f"{int(c) if c == int(c) else c}" for c in row] for row in matrix.counts]
        colour = {"colorscale": SHARES, "zmin": 0, "zmax": 1}
    trace = {"type": "heatmap", "z": z, "x": matrix.labels, "y": matrix.labels, "text": text,
             "texttemplate": "%{text}", "hovertemplate": "true %{y}, predicted %{x}: %{z:.3f}"
             "<extra></extra>", **colour}
    return {"data": [trace], "layout": {
        "title": {"text": title, "font": {"size": 13}}, "height": 360, "width": 420,
        "margin": {"t": 40, "b": 80, "l": 90, "r": 10},
        "xaxis": {"title": {"text": "predicted"}, "tickangle": -45},
        "yaxis": {"title": {"text": "true"}, "autorange": "reversed"},
    }}


def sweep_figure(param: str, metric: str, points: list[tuple[Any, float, str]],
                 baseline: float | None) -> dict[str, Any]:
    """The metric of each run against one swept param's value; the baseline as a dashed line."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v, _, _ in points)
    xs = [v if numeric else str(v) for v, _, _ in points]
    trace = {"type": "scatter", "mode": "markers", "x": xs, "y": [m for _, m, _ in points],
             "text": [r for _, _, r in points], "marker": {"size": 10},
             "hovertemplate": "%{text}: %{y:.6g}<extra></extra>", "name": metric}
    shapes = []
    if baseline is not None:
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": baseline,
                       "y1": baseline, "line": {"dash": "dash", "color": BASELINE_COLOUR}})
    return {"data": [trace], "layout": {
        "title": {"text": f"{metric} against {param}"}, "height": 340,
        "margin": {"t": 50, "b": 45, "l": 60, "r": 20}, "shapes": shapes,
        "xaxis": {"title": {"text": param}, "type": "linear" if numeric else "category"},
        "yaxis": {"title": {"text": metric}},
    }}
