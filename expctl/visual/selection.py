"""Which runs a report or a plot shows: the leaderboard's (filtered by --where), the ids given,
or a sweep's; with the baseline pinned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from expctl.errors import BadInputError, NotFoundError
from expctl.leaderboard import Board, build_board
from expctl.registry import queries
from expctl.registry.db import Database
from expctl.registry.queries import Where
from expctl.runs import Run, load_run
from expctl.workspace import Workspace


@dataclass
class Selection:
    runs: list[Run]  # in leaderboard order, the baseline first when it is shown
    baseline: Run | None
    board: Board | None  # None when no run has a metric to rank by
    sweep: str | None = None
    notes: list[str] = field(default_factory=list)


def select_runs(ws: Workspace, db: Database, run_ids: Sequence[str] = (),
                sweep: str | None = None, wheres: Sequence[Where] = (),
                metric: str | None = None, baseline: str | None = None) -> Selection:
    """The runs to show; unknown ids are exit 3, an empty selection too."""
    notes: list[str] = []
    try:
        board = build_board(ws, db, metric, baseline, 0, wheres)
        notes.extend(board.warnings)
        ids = [r.id for r in board.rows]
        base_id = board.baseline_id
    except BadInputError as exc:
        if metric is not None:
            raise
        board, base_id = None, baseline or ws.settings.baseline
        notes.append(f"no leaderboard: {exc.message}")
        ids = queries.matching_ids(db, wheres)
    if run_ids:
        for run_id in run_ids:
            if not queries.run_exists(db, run_id):
                load_run(ws, run_id)  # not indexed yet: a folder still counts, else exit 3
        wanted = list(dict.fromkeys(run_ids))
        ids = [i for i in ids if i in wanted] + [i for i in wanted if i not in ids]
    runs = [load_run(ws, i) for i in ids]
    base_run = _baseline_run(ws, base_id, runs)
    if sweep is not None:
        runs = [r for r in runs if r.info.sweep == sweep]
        if not runs:
            raise NotFoundError(f"No run of sweep `{sweep}` matches.",
                                hint="a run belongs to a sweep by `sweep:` in its run.yaml")
    if not runs:
        raise NotFoundError("No runs to show.", hint="see `expctl ls`; --where may exclude all")
    if base_run is not None:  # pinned first, whatever the filters
        runs = [base_run, *[r for r in runs if r.id != base_run.id]]
    if board is not None:
        shown = {r.id for r in runs}
        board.rows = [r for r in board.rows if r.id in shown]
    return Selection(runs, base_run, board, sweep, notes)


def _baseline_run(ws: Workspace, base_id: str | None, runs: list[Run]) -> Run | None:
    if base_id is None:
        return None
    for run in runs:
        if run.id == base_id:
            return run
    try:
        return load_run(ws, base_id)
    except NotFoundError:
        return None
