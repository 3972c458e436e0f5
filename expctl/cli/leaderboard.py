"""`expctl leaderboard`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import format_option, run_option, sweep_option
from expctl.cli.shared import WHERE_HELP, WHERE_METAVAR

app = command_app()  # this module's command, built when it runs

BoardFormat = Literal["table", "md", "csv", "json", "latex"]
EXAMPLES = """Examples:

\b
  expctl leaderboard
  expctl leaderboard --metric small_map --top 5
  expctl leaderboard -w loss.size_aware=true -w status=finished -f md
  expctl leaderboard --sweep lr-sweep -f csv > lr_sweep.csv
"""


@app.command(epilog=EXAMPLES)
def leaderboard(
    metric: str | None = typer.Option(None, "--metric", "-m", metavar="METRIC", help="Metric "
                                      "to rank by (default: leaderboard.metric in expctl.yaml, "
                                      "else the recipes' primary metric).", show_default=False),
    baseline: str | None = run_option(None, "--baseline", "-b", help="Run to compare against "
                                      "(default: baseline in expctl.yaml)."),
    top: int = typer.Option(0, "--top", "-n", metavar="N", help="Show the best N runs (0: all); "
                            "the baseline is shown anyway.", min=0),
    where: list[str] = typer.Option([], "--where", "-w", metavar=WHERE_METAVAR,
                                    help=WHERE_HELP + " Lists such as [2, 3, 4] match "
                                    "whatever their spacing."),
    tags: list[str] = typer.Option([], "--tag", "-t", metavar="TAG", help="Only runs with this "
                                   "tag (repeatable: runs with every one)."),
    sweep: str | None = sweep_option("Only runs of this sweep (`expctl sweep`)."),
    fmt: BoardFormat = format_option(BoardFormat),
    all_workspaces: bool = typer.Option(False, "--all-workspaces", "-A", help="Rank the runs "
                                        "of every workspace sharing this registry (default: "
                                        "this workspace's); the baseline is this workspace's."),
) -> None:
    """Rank runs by a metric, against the baseline.

    Best first in the metric's direction, each run with its change against the baseline in
    points and relative percent; runs without the metric come last, marked missing."""
    from expctl import console
    from expctl.cli.shared import open_index, refresh_shown
    from expctl.ids import check_tag
    from expctl.leaderboard import build_board
    from expctl.registry.index import refresh_statuses
    from expctl.registry.queries import Where, parse_where, tag_where

    wheres = [parse_where(w) for w in where] + [tag_where(check_tag(t)) for t in tags]
    if sweep:
        wheres.append(Where("sweep", sweep, None))
    ws = get_workspace()
    with open_index(ws) as db:
        refresh_statuses(ws, db)
        db.all_workspaces = all_workspaces
        if not top and (fmt in ("json", "csv") or fmt == "table"
                        and not console.stdout_is_terminal()):  # written as it is read
            # Built first: a bad metric or baseline is refused before anything is indexed;
            # its rows are read only when written, after the refresh.
            board = build_board(ws, db, metric, baseline, top, wheres, stream=True)
            if refresh_shown(ws, db, None):
                board = build_board(ws, db, metric, baseline, top, wheres, stream=True)
            for warning in board.warnings:
                console.warn(warning)
            if fmt == "table":
                _streamed_table(board, db, wheres)
            else:
                _machine_output(board, fmt)
            return
        board = build_board(ws, db, metric, baseline, top, wheres)
        if refresh_shown(ws, db, [r.id for r in board.rows if r.workspace == db.key]):
            board = build_board(ws, db, metric, baseline, top, wheres)  # a shown one changed
    for warning in board.warnings:
        console.warn(warning)
    if fmt in ("json", "csv"):
        _machine_output(board, fmt)
    else:
        columns, rows = _table(board)
        numeric = ("rank", columns[2], CHANGE, *(f.title for f in board.column_formats.values()))
        console.table(columns, rows, fmt, right_align=numeric)
    if board.more_line:
        console.info(board.more_line)


CHANGE = "vs baseline"


def _streamed_table(board, db, wheres) -> None:
    """The piped table of a whole board, written as it is read: columns as wide as the
    first rows need (the rank's as the number of runs), see console.plain_rows."""
    from expctl import console
    from expctl.registry.queries import count_runs

    columns, rows = _table(board, across=db.all_workspaces)
    numeric = ("rank", columns[2], CHANGE, *(f.title for f in board.column_formats.values()))
    console.plain_rows(columns, rows, numeric, {"rank": len(str(count_runs(db, wheres)))})


def _machine_output(board, fmt: str) -> None:
    """json or csv of raw values, written row by row (the rows may be a stream); json ends
    with the ranked metric, the baseline and the number formats of its metric columns."""
    from expctl import console

    if fmt == "csv":
        console.csv_rows(*_raw_table(board))
        return
    formats = {board.metric: board.format, **board.column_formats}
    console.json_records((_json_row(board, r) for r in board.rows), "runs", lambda: {
        "metric": board.metric, "baseline": board.baseline_id,
        "formats": {name: f.as_dict() for name, f in formats.items()}})


def _table(board, across: bool | None = None) -> tuple[list[str], list[list] | Iterator[list]]:
    """For people: every number in its metric's format (expctl.numbers), the change against
    the baseline in points and relative percent, judged by the metric's direction. A streamed
    board gives its rows as they come (`across`: whether to add the workspace column)."""
    from expctl.console import Cell

    fmt = board.format
    with_change = board.baseline_value is not None
    extra_titles = [board.column_formats[c].title if c in board.column_formats else c
                    for c in board.columns]
    if across is None:
        across = any(r.workspace_path is not None for r in board.rows)  # --all-workspaces
    columns = ["rank", "id", fmt.title, *([CHANGE] if with_change else []), *extra_titles,
               "note", *(["workspace"] if across else [])]

    def row(r) -> list:
        better = board.better(r.delta)
        style = "" if better is None else "green" if better else "red"
        change = "" if r.delta is None else fmt.change(r.delta, r.delta_pct)
        extras = [board.extra_text(c, r.extras.get(c)) for c in board.columns]
        return ["" if r.rank is None else r.rank,
                Cell(r.id, "bold") if r.baseline else r.id,
                "" if r.value is None else fmt.value(r.value),
                *([Cell(change, style)] if with_change else []), *extras, _note(r),
                *([r.workspace_path or ""] if across else [])]

    rows = (row(r) for r in board.rows)
    return columns, rows if board.streamed else list(rows)


def _raw_table(board) -> tuple[list[str], Iterator[list]]:
    """For programs: stored values and raw deltas (`delta_pct` is relative percent); a column
    whose values are shown scaled says so in its header: `map (x100)`."""
    fmt = board.format
    columns = ["rank", "id", fmt.column(), fmt.column("delta"), "delta_pct",
               *(board.column_formats[c].column() if c in board.column_formats else c
                 for c in board.columns), "note"]
    rows = ([r.rank, r.id, _json_number(r.value), _json_number(r.delta),
             _json_number(r.delta_pct), *(r.extras.get(c) for c in board.columns), _note(r)]
            for r in board.rows)
    return columns, rows


def _note(r) -> str:
    return ", ".join(n for n, on in (("baseline", r.baseline), ("missing", r.missing)) if on)


def _json_row(board, r) -> dict:
    row = {"rank": r.rank, "id": r.id, board.metric: r.value, "delta": r.delta,
           "delta_pct": r.delta_pct, "baseline": r.baseline, "missing": r.missing}
    for c in board.columns:
        row.setdefault(c, r.extras.get(c))
    if r.workspace_path is not None:
        row.setdefault("workspace", r.workspace_path)
    return {k: _json_number(v) for k, v in row.items()}


def _json_number(value):
    """null for inf and nan: stored values are finite, but a delta between two of them can
    overflow (1e308 - -1e308), and JSON has no Infinity (json.dumps would write it anyway)."""
    import math

    return None if isinstance(value, float) and not math.isfinite(value) else value
