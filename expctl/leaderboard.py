"""The leaderboard: runs ranked by one metric, with each run's change against a baseline.

Ranking rules (what a hand-kept table gets wrong):
- best first in the metric's direction (settings, then the name: `*_loss` is lower-is-better);
- equal values share a rank and the next rank skips (1, 2, 2, 4); ties are listed by id;
- runs without the metric come after the ranked ones, marked missing, with no rank;
- the baseline row is marked, and shown even when `--top` cuts it off (its rank then left
  blank where counting the filtered runs above it would be slow: queries.COUNT_AT_MOST).
Reads the registry only (standard library on SQLite); never prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from expctl.errors import BadInputError, NotFoundError
from expctl.numbers import MetricFormat, relative_change
from expctl.registry import queries
from expctl.registry.db import Database
from expctl.registry.queries import Where
from expctl.registry.settings import read_settings
from expctl.workspace import Workspace


@dataclass
class BoardRow:
    id: str
    value: float | None  # raw metric value (not scaled)
    rank: int | None = None
    delta: float | None = None  # value - baseline value, raw
    delta_pct: float | None = None  # relative change in percent of the baseline value
    baseline: bool = False
    missing: bool = False
    extras: dict[str, Any] = field(default_factory=dict)
    workspace: str = ""  # the workspace key (ids repeat between workspaces of one registry)
    workspace_path: str | None = None  # its folder, shown with --all-workspaces


@dataclass
class Board:
    metric: str
    format: MetricFormat  # how the ranked metric is shown (direction, scale, label, ...)
    rows: list[BoardRow]
    columns: list[str]  # extra columns (settings leaderboard.columns)
    column_formats: dict[str, MetricFormat]  # the extra columns that are metrics
    baseline_id: str | None
    baseline_value: float | None
    # Matching runs with the metric and without it; None when `--top` hides some of a
    # registry too large to count them quickly (see queries.count_matching).
    ranked_total: int | None
    missing_total: int | None
    warnings: list[str] = field(default_factory=list)
    streamed: bool = False  # rows is an iterator over the whole board (build_board's stream)

    @property
    def direction(self) -> str:
        """'higher' or 'lower' is better."""
        return self.format.direction

    def extra_text(self, column: str, value: Any) -> str:
        """An extra column's cell: a metric in its number format, a param as it is."""
        if value is None:
            return ""
        if column in self.column_formats and isinstance(value, (int, float)):
            return self.column_formats[column].value(value)
        return str(value)

    @property
    def hidden(self) -> int | None:
        """Matching runs that `--top` left out (None: some, not counted)."""
        if self.streamed:
            return 0  # a streamed board is the whole board
        if self.ranked_total is None or self.missing_total is None:
            return None
        return max(0, self.ranked_total + self.missing_total - len(self.rows))

    @property
    def more_line(self) -> str | None:
        """The line saying that `--top` left runs out, if it did."""
        hidden = self.hidden
        if hidden is None:
            return ("more runs match, not shown (--top 0 shows all; with --where, the runs a "
                    f"cut hides are counted up to {queries.COUNT_AT_MOST:,} runs)")
        return f"{hidden} more runs not shown (--top 0 shows all)" if hidden else None

    def better(self, delta: float | None) -> bool | None:
        """Whether a change is an improvement in this metric's direction (None: no change)."""
        return None if delta is None else self.format.better(delta)


def build_board(ws: Workspace, db: Database, metric: str | None = None,
                baseline: str | None = None, top: int = 0,
                wheres: Sequence[Where] = (), stream: bool = False) -> Board:
    """Rank the runs matching `wheres` by `metric`; `top` > 0 keeps the first `top` rows.
    `stream` (with top 0): the rows are an iterator that reads the registry STREAM_CHUNK
    rows at a time as it is consumed (the registry must stay open until then)."""
    from expctl.ids import check_metric_name, check_run_id

    settings = read_settings(ws)
    wheres = queries.prepare(db, wheres)
    metric = check_metric_name(metric or settings.board_metric or _default_metric(db, wheres))
    if not queries.has_metric(db, metric):
        known = queries.known_metrics(db)
        raise BadInputError(
            f"Unknown metric `{metric}`: no run has a value for it.",
            hint=f"known metrics: {', '.join(known)}" if known else "no run has metrics yet; "
            "see `expctl record` and `expctl import`",
        )
    direction = settings.direction(metric)
    warnings: list[str] = queries.scale_warnings(db, wheres, settings.scale)
    base_id = baseline or settings.baseline
    if base_id is not None:
        check_run_id(base_id, "baseline run id")
        if not queries.run_exists(db, base_id):
            if baseline is not None:
                raise NotFoundError(f"No baseline run `{base_id}`.", hint="see `expctl ls`")
            warnings.append(f"baseline `{base_id}` from expctl.yaml is not a known run; "
                            "no deltas shown")
            base_id = None
    base_value = queries.metric_value(db, base_id, metric) if base_id else None
    if base_id and base_value is None:
        warnings.append(f"baseline `{base_id}` has no {metric}; no deltas shown")

    if stream and not top:
        return _streamed_board(db, settings, metric, wheres, base_id, base_value, warnings)
    fetched = queries.ranked(db, metric, direction, wheres, top + 1 if top else 0)
    rows = [BoardRow(run_id, value, workspace=key) for key, run_id, value in
            (fetched[:top] if top else fetched)]
    _assign_ranks(rows)
    ranked_total: int | None
    missing_total: int | None
    if top:  # whether the cut hides some, and how many when that is cheap to count
        room = top - len(rows)
        missing_ids = [] if len(fetched) > top else \
            queries.without_metric(db, metric, wheres, room + 1)
        more = len(fetched) > top or len(missing_ids) > room
        missing_ids = missing_ids[:room]
        counted = (queries.count_matching(db, metric, wheres) if more
                   else (len(rows), len(missing_ids)))
        ranked_total, missing_total = counted or (None, None)
    else:
        ranked_total = len(rows)
        missing_ids = queries.without_metric(db, metric, wheres)
        missing_total = len(missing_ids)
    _add_baseline_row(db, rows, missing_ids, metric, direction, wheres, base_id, base_value)
    rows.extend(BoardRow(run_id, None, missing=True, workspace=key)
                for key, run_id in missing_ids)
    columns, metric_cols, param_cols = _extra_columns(db, settings, metric)
    _complete(db, rows, columns, metric_cols, param_cols, base_id, base_value, {})
    return Board(metric, settings.format(metric), rows, columns,
                 {c: settings.format(c) for c in metric_cols}, base_id, base_value,
                 ranked_total, missing_total, warnings)


STREAM_CHUNK = 1000  # rows of a streamed board completed (deltas, extra columns) at a time


def _streamed_board(db: Database, settings: Any, metric: str, wheres: Sequence[Where],
                    base_id: str | None, base_value: float | None,
                    warnings: list[str]) -> Board:
    """The whole board (no --top) with its rows as an iterator: the same rows build_board
    lists, read and completed STREAM_CHUNK at a time, so memory stays flat at any size."""
    columns, metric_cols, param_cols = _extra_columns(db, settings, metric)
    direction = settings.direction(metric)
    paths: dict[str, str] = {}

    def completed(chunk: list[BoardRow]) -> list[BoardRow]:
        _complete(db, chunk, columns, metric_cols, param_cols, base_id, base_value, paths)
        return chunk

    def rows():
        chunk: list[BoardRow] = []
        previous: BoardRow | None = None
        for n, (key, run_id, value) in enumerate(
                queries.iter_ranked(db, metric, direction, wheres), start=1):
            # Competition ranks, as _assign_ranks gives them: equal values share the first.
            same = previous is not None and previous.value == value
            row = BoardRow(run_id, value, rank=previous.rank if same else n, workspace=key)
            chunk.append(row)
            previous = row
            if len(chunk) == STREAM_CHUNK:
                yield from completed(chunk)
                chunk = []
        for key, run_id in queries.iter_without_metric(db, metric, wheres):
            chunk.append(BoardRow(run_id, None, missing=True, workspace=key))
            if len(chunk) == STREAM_CHUNK:
                yield from completed(chunk)
                chunk = []
        yield from completed(chunk)

    board = Board(metric, settings.format(metric), [], columns,
                  {c: settings.format(c) for c in metric_cols}, base_id, base_value, 0, 0,
                  warnings)
    board.rows = rows()  # type: ignore[assignment] - consumed once, by the caller's output
    board.streamed = True
    return board


def _extra_columns(db: Database, settings: Any, metric: str
                   ) -> tuple[list[str], list[str], list[str]]:
    """The leaderboard's extra columns (settings' leaderboard.columns but the ranked metric),
    and which of them are metrics and which params."""
    columns = [c for c in settings.board_columns if c != metric]
    metric_cols = [c for c in columns if queries.has_metric(db, c, final_only=False)]
    return columns, metric_cols, [c for c in columns if c not in metric_cols]


def _complete(db: Database, rows: list[BoardRow], columns: list[str], metric_cols: list[str],
              param_cols: list[str], base_id: str | None, base_value: float | None,
              paths: dict[str, str]) -> None:
    """Fill in rows' workspace folders (cached in `paths`), baseline mark, change against the
    baseline and extra columns: a whole board's rows at once, a streamed board's by chunks."""
    if db.all_workspaces:
        paths.update(queries.workspace_paths(
            db, [r.workspace for r in rows if r.workspace not in paths]))
    values = (queries.values_for(db, [(r.workspace, r.id) for r in rows], metric_cols,
                                 param_cols) if columns else {})
    for row in rows:
        row.workspace_path = paths.get(row.workspace)
        row.baseline = row.id == base_id and row.workspace == db.key
        if row.value is not None and base_value is not None:
            row.delta = row.value - base_value
            row.delta_pct = relative_change(row.value, base_value)
        row.extras = {c: values.get((row.workspace, row.id, c)) for c in columns}


def _default_metric(db: Database, wheres: Sequence[Where]) -> str:
    """The primary metric the matching runs' recipes name, when they agree on one."""
    names = queries.primary_metrics(db, wheres)
    if len(names) == 1:
        return names[0]
    known = queries.known_metrics(db)
    listed = f"known metrics: {', '.join(known)}" if known else "no run has metrics yet"
    if names:
        raise BadInputError(f"The runs' recipes rank by different metrics ({', '.join(names)}).",
                            hint="pass --metric NAME; " + listed)
    raise BadInputError(
        "No metric to rank by: none given, none in expctl.yaml and no recipe names a primary one.",
        hint="pass --metric NAME or set leaderboard.metric in expctl.yaml; " + listed,
    )


def _assign_ranks(rows: list[BoardRow]) -> None:
    """Competition ranks over rows sorted best first: equal values share the first rank."""
    for i, row in enumerate(rows):
        same = i > 0 and rows[i - 1].value == row.value
        row.rank = rows[i - 1].rank if same else i + 1


def _add_baseline_row(db: Database, rows: list[BoardRow], missing_ids: list[tuple[str, str]],
                      metric: str, direction: str, wheres: Sequence[Where], base_id: str | None,
                      base_value: float | None) -> None:
    """Show the baseline (this workspace's run) even when `--top` cut it off (if it matches
    the filters)."""
    base = (db.key, base_id)
    if base_id is None or any((r.workspace, r.id) == base for r in rows) or base in missing_ids:
        return
    if not queries.matches(db, base_id, wheres):
        return
    if base_value is None:
        missing_ids.append(base)
        return
    better = queries.count_better(db, metric, direction, base_value, wheres)
    rows.append(BoardRow(base_id, base_value, rank=None if better is None else better + 1,
                         workspace=db.key))
