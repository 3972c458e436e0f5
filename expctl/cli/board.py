"""The leaderboard command. Keep expensive imports out of this module (see expctl.cli.app):
on an SQLite registry the whole command runs on the standard library, PyYAML and typer."""

from __future__ import annotations

import typer

from expctl.cli.app import app, check_format, get_workspace

BOARD_FORMATS = ("table", "md", "csv", "json", "latex")


@app.command()
def leaderboard(
    metric: str | None = typer.Option(None, "--metric", "-m", help="Metric to rank by (default: "
                                      "leaderboard.metric in expctl.yaml, else the recipes' "
                                      "primary metric)."),
    baseline: str | None = typer.Option(None, "--baseline", "-b", help="Run to compare against "
                                        "(default: baseline in expctl.yaml)."),
    top: int = typer.Option(0, "--top", "-n", help="Show the best N runs (0: all); the baseline "
                            "is shown anyway.", min=0),
    where: list[str] = typer.Option([], "--where", "-w", help="Only runs with KEY=VALUE "
                                    "(repeatable): recipe, status, tag or a param such as "
                                    "train.lr; "
                                    "numbers compare numerically, lists such as [2, 3, 4] "
                                    "whatever their spacing."),
    tags: list[str] = typer.Option([], "--tag", "-t", help="Only runs with this tag "
                                   "(repeatable: runs with every one)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, md, csv, json or latex."),
    all_workspaces: bool = typer.Option(False, "--all-workspaces", "-A", help="Rank the runs "
                                        "of every workspace sharing this registry (default: "
                                        "this workspace's); the baseline is this workspace's."),
) -> None:
    """Rank runs by a metric, best first, with each run's change against the baseline."""
    from expctl import console
    from expctl.cli.results import open_index, refresh_shown
    from expctl.ids import check_tag
    from expctl.leaderboard import build_board
    from expctl.registry.index import refresh_statuses
    from expctl.registry.queries import parse_where, tag_where

    check_format(fmt, BOARD_FORMATS)
    wheres = [parse_where(w) for w in where] + [tag_where(check_tag(t)) for t in tags]
    ws = get_workspace()
    with open_index(ws) as db:
        refresh_statuses(ws, db)
        db.all_workspaces = all_workspaces
        board = build_board(ws, db, metric, baseline, top, wheres)
        if refresh_shown(ws, db, [r.id for r in board.rows if r.workspace == db.key]):
            board = build_board(ws, db, metric, baseline, top, wheres)  # a shown one changed
    for warning in board.warnings:
        console.warn(warning)
    if fmt == "json":
        console.print_json([_json_row(board, r) for r in board.rows])
    else:
        columns, rows = _table(board)
        numeric = ("rank", board.metric, "delta", "delta %", *board.column_scales)
        console.table(columns, rows, fmt, right_align=numeric)
    if board.hidden:
        console.info(f"{board.hidden} more runs not shown (--top 0 shows all)")


def _table(board) -> tuple[list[str], list[list]]:
    from expctl.console import Cell, number

    across = any(r.workspace_path is not None for r in board.rows)  # --all-workspaces
    columns = ["rank", "id", board.metric, "delta", "delta %", *board.columns, "note"]
    if across:
        columns.append("workspace")
    rows = []
    for r in board.rows:
        better = board.better(r.delta)
        style = "" if better is None else "green" if better else "red"
        delta = "" if r.delta is None else number(r.delta, board.scale, sign="+")
        pct = "" if r.delta_pct is None else f"{r.delta_pct:+.2f}%"
        note = ", ".join(n for n, on in (("baseline", r.baseline), ("missing", r.missing)) if on)
        extras = [_extra(board, c, r.extras.get(c)) for c in board.columns]
        rows.append(["" if r.rank is None else r.rank,
                     Cell(r.id, "bold") if r.baseline else r.id,
                     "" if r.value is None else number(r.value, board.scale),
                     Cell(delta, style), Cell(pct, style), *extras, note,
                     *([r.workspace_path or ""] if across else [])])
    return columns, rows


def _extra(board, column: str, value) -> str:
    from expctl.console import number

    if value is None:
        return ""
    if column in board.column_scales and isinstance(value, (int, float)):
        return number(value, board.column_scales[column])
    return str(value)


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
