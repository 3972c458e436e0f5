"""The HTML report: one self-contained file (plotly's JavaScript, styles and images embedded)
with the leaderboard, every logged series as a chart, a sweep's metric against its params, and
one section per run. Built from run folders and the registry only; never prints."""

from __future__ import annotations

import base64
import gc
import html
import json
from dataclasses import dataclass
from typing import Any

from expctl.errors import ExpctlError
from expctl.flat import flatten
from expctl.metrics.specs import metric_format
from expctl.numbers import MetricFormat
from expctl.rundir import COMMAND_FILE, HYPOTHESIS_FILE, SUMMARY_FILE, now_iso
from expctl.runs import Run
from expctl.state import run_state, run_status
from expctl.visual import charts
from expctl.visual.confusion import latest_by_kind, read_matrix, run_matrices
from expctl.visual.selection import Selection
from expctl.visual.series import RunSeries, load_run_series
from expctl.workspace import Workspace

ABSENT = "(absent)"  # a config key only one of two runs has
MAX_IMAGE_BYTES = 5_000_000  # larger PNGs are named, not embedded
CHART_POINT_BUDGET = 60_000  # points per chart over all runs: bounds the file size
MIN_TRACE_POINTS = 100


@dataclass
class ReportResult:
    html: str
    charts: int  # curve charts
    runs: int
    warnings: list[str]


def neutral_js(text: str) -> str:
    """`://` written `:\\/\\/` in script text: the same string to JavaScript and JSON, but no
    address a scanner (or a reader) mistakes for a resource the page loads."""
    return text.replace("://", ":\\/\\/")


def figure_embed(fig: dict[str, Any], div_id: str, config: dict = charts.CONFIG) -> str:
    """A div and the `Plotly.newPlot` call that draws `fig` into it (plotly.js does the
    drawing; the figure travels as JSON, safe inside a script element)."""
    spec = json.dumps([fig["data"], fig["layout"], config], separators=(",", ":"),
                      allow_nan=False).replace("</", "<\\/")
    height = fig["layout"].get("height", 400)
    return (f'<div id="{div_id}" class="plotly-graph-div" style="height:{height}px;'
            f'width:100%"></div><script>(function(){{var s={neutral_js(spec)};'
            f'Plotly.newPlot("{div_id}",s[0],s[1],s[2]);}})();</script>')


def esc(value: Any) -> str:
    """Text for HTML, with `://` as `&#58;//` (the same to a reader, no address to a scanner)."""
    return html.escape("" if value is None else str(value)).replace("://", "&#58;//")


def build_report(ws: Workspace, selection: Selection, x: str = "step",
                 max_points: int = 1000) -> ReportResult:
    """The report's HTML for the selected runs."""
    from expctl.visual.tools import require

    require("plotly")
    require("numpy")
    from plotly.offline import get_plotlyjs

    warnings = list(selection.notes)
    # Points per run and series: the budget of a chart shared by every run that may be in it.
    per_trace = max(MIN_TRACE_POINTS, min(max_points, CHART_POINT_BUDGET // len(selection.runs)))
    gc.disable()  # a million short-lived records: collection passes would find nothing to free
    try:
        loaded = [load_run_series(ws, run, x, per_trace) for run in selection.runs]
    finally:
        gc.enable()
    for run_series in loaded:
        warnings.extend(f"{run_series.run_id}: {p}" for p in run_series.problems)
    base_id = selection.baseline.id if selection.baseline else None
    figure_html = figure_embed

    curves = _curve_sections(loaded, base_id, figure_html)
    parts = [
        _header(ws, selection),
        _leaderboard(ws, selection),
        f'<section id="curves"><h2>Curves</h2>{"".join(curves) or _empty("no run logged a series")}'
        "</section>",
        _sweep(selection, figure_html),
        '<section id="runs"><h2>Runs</h2>'
        + "".join(_run_section(ws, run, selection, figure_html, warnings)
                  for run in selection.runs) + "</section>",
    ]
    page = _page(neutral_js(get_plotlyjs()), "".join(parts), selection)
    return ReportResult(page, len(curves), len(selection.runs), warnings)


# --- page ------------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;
padding:0 16px 40px;color:#222}
h1{margin-top:24px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}
h3{margin-top:28px}nav a{margin-right:14px}
table{border-collapse:collapse;margin:8px 0;font-size:14px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.baseline td{background:#fff8dc;font-weight:600}
.better{color:#137333}.worse{color:#b3261e}.pass{color:#137333}.fail{color:#b3261e}
.muted{color:#777}pre{background:#f7f7f7;padding:8px;overflow-x:auto;white-space:pre-wrap}
.chart{border:1px solid #eee;margin:10px 0}.pair{display:flex;flex-wrap:wrap;gap:12px}
.pair figure{margin:0}.pair img{max-width:360px;cursor:zoom-in;border:1px solid #ddd}
figcaption{font-size:13px;color:#555}
#lightbox{position:fixed;inset:0;background:rgba(0,0,0,.85);display:flex;align-items:center;
justify-content:center;cursor:zoom-out;z-index:10}#lightbox[hidden]{display:none}
#lightbox img{max-width:95vw;max-height:95vh;background:#fff}
"""

LIGHTBOX = """
document.addEventListener('click', function (e) {
  var box = document.getElementById('lightbox');
  if (e.target.classList && e.target.classList.contains('zoom')) {
    box.querySelector('img').src = e.target.src; box.hidden = false;
  } else if (box.contains(e.target)) { box.hidden = true; }
});
"""


def _page(plotly_js: str, body: str, selection: Selection) -> str:
    title = "expctl report" + (f": sweep {selection.sweep}" if selection.sweep else "")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title><style>{STYLE}</style>"
        f"<script type=\"text/javascript\">{plotly_js}</script></head><body>"
        f"{body}<div id=\"lightbox\" hidden><img alt=\"enlarged\"></div>"
        f"<script>{LIGHTBOX}</script></body></html>\n"
    )


def _header(ws: Workspace, selection: Selection) -> str:
    base = selection.baseline.id if selection.baseline else "none"
    links = ['<a href="#leaderboard">Leaderboard</a>', '<a href="#curves">Curves</a>']
    if selection.sweep:
        links.append('<a href="#sweep">Sweep</a>')
    links.append('<a href="#runs">Runs</a>')
    notes = "".join(f'<p class="muted">{esc(n)}</p>' for n in selection.notes)
    return (f"<h1>expctl report{': sweep ' + esc(selection.sweep) if selection.sweep else ''}"
            f"</h1><p class=\"muted\">{len(selection.runs)} runs · baseline {esc(base)} · "
            f"workspace {esc(ws.root)} · generated {esc(now_iso())}</p>"
            f"<nav>{''.join(links)}</nav>{notes}")


def _empty(text: str) -> str:
    return f'<p class="muted">({esc(text)})</p>'


def _table(header: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _anchor(run_id: str) -> str:
    return f"run-{run_id}"


# --- leaderboard -----------------------------------------------------------------------------


def _leaderboard(ws: Workspace, selection: Selection) -> str:
    board = selection.board
    if board is None:
        return '<section id="leaderboard"><h2>Leaderboard</h2>' + \
            _empty("no run has a metric to rank by") + "</section>"
    style = board.format
    results = {r.id: r.results() for r in selection.runs}
    rows = sorted(board.rows, key=lambda r: not r.baseline)  # the baseline pinned on top
    body = []
    for r in rows:
        better = board.better(r.delta)
        cls = "" if better is None else "better" if better else "worse"
        extras = "".join(f'<td class="num">{esc(board.extra_text(c, r.extras.get(c)))}</td>'
                         for c in board.columns)
        res = results.get(r.id)
        verdicts = _verdicts(res.model_dump().get("criteria") if res else None)
        status = next((run_state(run) for run in selection.runs if run.id == r.id), "")
        note = ", ".join(n for n, on in (("baseline", r.baseline), ("missing", r.missing)) if on)
        body.append(
            f'<tr class="{"baseline" if r.baseline else ""}">'
            f'<td class="num">{"" if r.rank is None else r.rank}</td>'
            f'<td><a href="#{esc(_anchor(r.id))}">{esc(r.id)}</a></td>'
            f'<td class="num">{esc(style.value(r.value) if r.value is not None else "")}</td>'
            f'<td class="num {cls}">{esc(_change(style, r.delta, r.delta_pct))}</td>{extras}'
            f"<td>{verdicts}</td><td>{esc(status)}</td><td>{esc(note)}</td></tr>")
    header = ["rank", "id", style.title, "vs baseline",
              *(board.column_formats[c].title if c in board.column_formats else c
                for c in board.columns), "criteria",
              "status", "note"]
    direction = "higher" if board.direction == "higher" else "lower"
    return (f'<section id="leaderboard"><h2>Leaderboard</h2><p class="muted">ranked by '
            f"{esc(board.metric)} ({direction} is better); deltas against "
            f"{esc(board.baseline_id or 'no baseline')}: green better, red worse</p>"
            f"{_table(header, body)}</section>")


def _change(style: MetricFormat, delta: float | None, pct: float | None) -> str:
    """The change in the metric's number format: `+1.69 pp (+4.4%, better)`."""
    return "" if delta is None else style.change(delta, pct)


def _verdicts(criteria: dict | None) -> str:
    if not criteria:
        return ""
    parts = []
    for metric, v in criteria.items():
        if not isinstance(v, dict):
            continue
        ok = v.get("passed")
        word, cls = ("PASS", "pass") if ok else ("FAIL", "fail") if ok is False else ("n/a", "")
        parts.append(f'<span class="{cls}">{esc(metric)} {esc(v.get("criterion"))} '
                     f"{word}</span>")
    return "<br>".join(parts)


# --- curves ----------------------------------------------------------------------------------


def _curve_sections(loaded: list[RunSeries], base_id: str | None, figure_html) -> list[str]:
    others = [rs.run_id for rs in loaded if rs.run_id != base_id]
    colours = {run_id: charts.PALETTE[i % len(charts.PALETTE)] for i, run_id in enumerate(others)}
    names: dict[str, None] = {}
    for run_series in loaded:
        for name in run_series.series:
            names.setdefault(name, None)
    sections = []
    for i, name in enumerate(names):
        series = [rs.series[name] for rs in loaded if name in rs.series]
        fig = charts.curve_figure(name, series, base_id, colours)
        sections.append(f'<div class="chart curve" data-series="{esc(name)}">'
                        f"{figure_html(fig, f'curve-{i}')}</div>")
    return sections


# --- sweep -----------------------------------------------------------------------------------


def _sweep(selection: Selection, figure_html) -> str:
    if selection.sweep is None:
        return ""
    board = selection.board
    members = [r for r in selection.runs if r.info.sweep == selection.sweep]
    params = {r.id: flatten(r.params()) for r in members}
    keys = sorted({k for p in params.values() for k in p})
    swept = [k for k in keys if len({repr(p.get(k)) for p in params.values()}) > 1]
    head = f'<section id="sweep"><h2>Sweep {esc(selection.sweep)}</h2>'
    if board is None:
        return head + _empty("no metric to plot against the params") + "</section>"
    if not swept:
        return head + _empty("the sweep's runs do not differ in any param") + "</section>"
    values = {r.id: r.value for r in board.rows}
    figures = []
    for i, key in enumerate(swept):
        points = [(params[r.id].get(key), values[r.id], r.id) for r in members
                  if values.get(r.id) is not None and key in params[r.id]]
        if points:
            fig = charts.sweep_figure(key, board.metric, points, board.baseline_value)
            figures.append(f'<div class="chart sweep">{figure_html(fig, f"sweep-{i}")}</div>')
    listed = ", ".join(esc(k) for k in swept)
    return (head + f"<p>{len(members)} runs; swept params: {listed}</p>"
            + ("".join(figures) or _empty(f"no run of the sweep has {board.metric}"))
            + "</section>")


# --- one run ---------------------------------------------------------------------------------


def _run_section(ws: Workspace, run: Run, selection: Selection, figure_html,
                 warnings: list[str]) -> str:
    base = selection.baseline
    is_base = base is not None and base.id == run.id
    parts = [f'<section class="run" id="{esc(_anchor(run.id))}"><h3>{esc(run.id)}'
             f'{" (baseline)" if is_base else ""}</h3>']
    parts.append(_facts(run))
    parts.append(f"<h4>Hypothesis</h4><p>{esc(_hypothesis(run))}</p>")
    if base is not None and not is_base:
        parts.append(_config_diff(base, run))
    command = _read_text(run, COMMAND_FILE)
    parts.append("<h4>Command</h4>" + (f"<pre>{esc(command.strip())}</pre>" if command
                                        else _empty("never launched")))
    parts.append(_phases(run))
    parts.append(_validation(ws, run))
    try:
        parts.append(_confusion(run, None if is_base else base, figure_html))
    except ExpctlError as exc:
        warnings.append(f"{run.id}: confusion matrices: {exc.message}")
    parts.append("</section>")
    return "".join(parts)


def _facts(run: Run) -> str:
    git = run.info.git
    if git.available:
        code = f"{(git.sha or '(no commit)')[:12]} on {git.branch or 'detached HEAD'}" + (
            ", dirty (uncommitted changes in git.patch)" if git.dirty else ", clean")
    else:
        code = f"no git ({git.reason})"
    facts = [("state", run_state(run)), ("recipe", run.info.recipe), ("created", run.info.created),
             ("planned steps", run.info.steps), ("git", code),
             ("launcher", " ".join(filter(None, (run.info.launcher, run.info.session)))),
             ("sweep", run.info.sweep), ("folder", str(run.path))]
    rows = [f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts
            if v not in (None, "")]
    return f"<table>{''.join(rows)}</table>"


def _hypothesis(run: Run) -> str:
    if run.info.hypothesis:
        return run.info.hypothesis
    text = _read_text(run, HYPOTHESIS_FILE) or ""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line.strip() == "## Hypothesis"
            continue
        if inside and line.strip():
            lines.append(line.strip())
    text = " ".join(lines)
    return "(none written)" if not text or text == "(write the hypothesis here)" else text


def _read_text(run: Run, name: str) -> str | None:
    path = run.path / name
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _config_diff(base: Run, run: Run) -> str:
    flat_base, flat_run = flatten(base.config()), flatten(run.config())
    keys = sorted(k for k in set(flat_base) | set(flat_run)
                  if flat_base.get(k, ABSENT) != flat_run.get(k, ABSENT))
    if not keys:
        return f"<h4>Config against {esc(base.id)}</h4>" + _empty("the same config")
    rows = [f"<tr><td>{esc(k)}</td><td>{esc(flat_base.get(k, ABSENT))}</td>"
            f"<td>{esc(flat_run.get(k, ABSENT))}</td></tr>" for k in keys]
    return (f"<h4>Config against {esc(base.id)}</h4>"
            + _table(["key", base.id, run.id], rows))


def _phases(run: Run) -> str:
    from expctl.rundir import read_launch_record, read_validation_record

    rows = []
    if read_launch_record(run.path) is not None:
        status = run_status(run)
        rows.append(("training", status.started, status.ended, status.exit_code))
    validation = read_validation_record(run.path)
    if validation:
        rows.append(("validation", validation.get("started"), validation.get("ended"),
                     validation.get("exit_code")))
    if not rows:
        return "<h4>Phases</h4>" + _empty("no phase ran here")
    cells = [f"<tr><td>{esc(name)}</td><td>{esc(_time(a))}</td><td>{esc(_time(b))}</td>"
             f"<td>{esc(_duration(a, b))}</td><td>{esc(code)}</td></tr>"
             for name, a, b, code in rows]
    return "<h4>Phases</h4>" + _table(["phase", "started", "ended", "took", "exit code"], cells)


def _time(value) -> str:
    if value is None:
        return ""
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else str(value)


def _duration(a, b) -> str:
    from datetime import datetime

    try:
        start = a if isinstance(a, datetime) else datetime.fromisoformat(str(a))
        end = b if isinstance(b, datetime) else datetime.fromisoformat(str(b))
    except (TypeError, ValueError):
        return ""
    seconds = int((end - start).total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def _validation(ws: Workspace, run: Run) -> str:
    results = run.results()
    if results is None:
        return "<h4>Results</h4>" + _empty("not recorded")
    extra = results.model_dump()
    deltas = extra.get("deltas") or {}
    rows = []
    for name, value in results.metrics.items():
        style = metric_format(ws, name)
        d = deltas.get(name) or {}
        delta = d.get("delta")
        better = None if delta is None else style.better(delta)
        cls = "" if better is None else "better" if better else "worse"
        rows.append(f'<tr><td>{esc(style.title)}</td><td class="num">{esc(style.value(value))}'
                    f'</td><td class="num">{esc(style.value(d.get("baseline")) if d else "")}</td>'
                    f'<td class="num {cls}">{esc(_change(style, delta, d.get("delta_pct")))}'
                    '</td></tr>')
    summary = _read_text(run, SUMMARY_FILE)
    more = f"<details><summary>metrics_summary.txt</summary><pre>{esc(summary)}</pre></details>" \
        if summary else ""
    base = extra.get("baseline")
    return (f"<h4>Results</h4><p class=\"muted\">recorded {esc(results.recorded)}"
            f"{'; against ' + esc(base) if base else ''}</p>"
            + _table(["metric", "value", "baseline", "change"], rows)
            + f"<p>{_verdicts(extra.get('criteria'))}</p>{more}")


def _confusion(run: Run, base: Run | None, figure_html) -> str:
    mine = latest_by_kind(run_matrices(run))
    if not mine:
        return ""
    theirs = latest_by_kind(run_matrices(base)) if base is not None else {}
    parts = ["<h4>Confusion matrices</h4>"]
    for n, (kind, m) in enumerate(sorted(mine.items())):
        other = theirs.get(kind)
        figures = [_image(run.id, m)]
        if other is not None:
            figures.append(_image(base.id, other))
        parts.append(f'<div class="pair">{"".join(f for f in figures if f)}</div>')
        numbers = read_matrix(m.numbers) if m.numbers else None
        if numbers is None:
            continue
        charts_html = [figure_html(charts.matrix_figure(numbers, f"{run.id}: share of each row"),
                                   f"cm-{_anchor(run.id)}-{n}", charts.MATRIX_CONFIG)]
        other_numbers = read_matrix(other.numbers) if other and other.numbers else None
        if other_numbers is not None and other_numbers.labels == numbers.labels:
            charts_html.append(figure_html(charts.matrix_figure(
                numbers, f"{run.id} minus {base.id} (blue: more)", against=other_numbers),
                f"cmd-{_anchor(run.id)}-{n}", charts.MATRIX_CONFIG))
        parts.append('<div class="pair">' + "".join(
            f'<div class="chart matrix">{c}</div>' for c in charts_html) + "</div>")
    return "".join(parts)


def _image(run_id: str, m) -> str:
    if m.image is None:
        return ""
    step = f", step {m.step}" if m.step is not None else ""
    caption = f"{run_id}{step}: {m.image.name}"
    size = m.image.stat().st_size
    if size > MAX_IMAGE_BYTES:
        return f"<figure><figcaption>{esc(caption)} ({size // 1_000_000} MB: not embedded)" \
            "</figcaption></figure>"
    data = base64.b64encode(m.image.read_bytes()).decode("ascii")
    return (f'<figure><img class="zoom" alt="{esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")
