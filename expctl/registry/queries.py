"""Reading the registry for `ls` and `leaderboard`: portable SQL with bound parameters.

Only the standard library is needed on this path (through expctl.registry.db). Sorting and
filtering use the indexes declared in expctl.registry.schema: runs by (created_ts, id),
(status, created_ts), (recipe, created_ts); metrics by (name, value); params by (name,
value_num) and (name, value_text).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from expctl.errors import BadInputError
from expctl.registry.db import Database
from expctl.state import STATES

RUN_COLUMNS = ("recipe", "status", "sweep")  # --where keys that name run columns, not params
RUN_STATES = STATES  # one list, defined with the function that derives them
TAG_KEY = "tag"  # --where tag=T (and --tag T): runs with that tag; `params.tag` is a param
ID_CHUNK = 500


@dataclass(frozen=True)
class RunSummary:
    """A row of `ls`."""

    id: str
    recipe: str | None
    status: str
    created: str
    steps: int | None
    imported: bool
    primary_metric: str | None
    primary_value: float | None
    workspace_path: str | None = None  # the run's workspace folder (shown across workspaces)


@dataclass(frozen=True)
class Where:
    """One `--where KEY=VALUE`: a run column (recipe, status) or a flattened param."""

    key: str
    text: str  # as stored: a list or mapping in the compact JSON of params' value_text
    number: float | None  # the value as a number, when it is one
    # For a numeric value: whether some run stores this param as text equal to it (a quoted
    # "0.01" in YAML), so a text comparison is needed besides the numeric one. Set by
    # `prepare`; True (always compare both ways) until then.
    text_too: bool = True
    # The value as typed when `text` normalised it (`[2, 3, 4]` -> `[2,3,4]`): a string param
    # written exactly so (quoted in YAML) matches it too.
    written: str | None = None

    @property
    def column(self) -> str | None:
        return self.key if self.key in RUN_COLUMNS else None

    @property
    def is_tag(self) -> bool:
        return self.key == TAG_KEY

    @property
    def param(self) -> str:
        return self.key.removeprefix("params.")


def parse_where(text: str) -> Where:
    """`train.lr=0.01`, `recipe=baseline`, `status=finished`; `params.recipe=x` names a param
    that shares a run column's name."""
    from expctl.ids import check_key

    key, sep, value = text.partition("=")
    if not sep:
        raise BadInputError(f"--where `{text}` has no `=`.",
                            hint="write KEY=VALUE, e.g. train.lr=0.01")
    check_key(key.strip(), "--where key")
    stored = _stored_form(value)
    return Where(key.strip(), stored, _number(value),
                 written=value if stored != value else None)


def _stored_form(text: str) -> str:
    """A list or mapping value (`[2, 3, 4]`, `{a: 1}`, as YAML) in the form params store it
    (expctl.registry.folders.param_value: compact JSON, `[2,3,4]`), so any spacing matches.
    Anything else is compared as written."""
    if text.strip()[:1] not in ("[", "{"):
        return text  # only flow collections: `a: b` is YAML for a mapping, yet a plain string
    import yaml

    from expctl.registry.folders import param_value

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # as config.yaml is read
    try:
        value = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return text
    if not isinstance(value, (list, dict)):
        return text
    return param_value(value)[0]


def prepare(db: Database, wheres: Sequence[Where]) -> list[Where]:
    """The filters with `text_too` settled by one index lookup each: most params are stored
    as numbers only, and dropping the text branch halves the cost of a filtered leaderboard."""
    scope, params = _scope(db, "")
    ready = []
    for w in wheres:
        if w.column is None and w.number is not None and not w.is_tag:
            found = db.query(f"SELECT 1 FROM params WHERE {scope}name = :k AND value_text = :t"
                             " AND value_num IS NULL LIMIT 1",
                             {**params, "k": w.param, "t": w.text})
            w = Where(w.key, w.text, w.number, bool(found), w.written)
        ready.append(w)
    return ready


def _scope(db: Database, prefix: str = "r.") -> tuple[str, dict[str, Any]]:
    """`<prefix>workspace = :ws AND ` for a registry scoped to one workspace, else nothing."""
    if db.scope is None:
        return "", {}
    return f"{prefix}workspace = :ws AND ", {"ws": db.scope}


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def filter_sql(db: Database, wheres: Sequence[Where],
               alias: str = "r") -> tuple[str, dict[str, Any]]:
    """` AND ...` conditions keeping the runs of the registry's scope (expctl.registry.scope)
    that match every `where`, and their parameters.

    `alias` is the table of the calling query: `r` (runs, whose own columns are then compared
    directly) or a table with `workspace` and `run_id` columns (`m` for metrics). Params
    filters are `IN (subquery)` over the (workspace, name, value) indexes: SQLite builds the
    set of matching ids once instead of probing params for every candidate row. Across all
    workspaces a run is its (workspace, id) pair, since ids repeat between workspaces."""
    run_id = f"{alias}.id" if alias == "r" else f"{alias}.run_id"
    parts, params = [], {}
    if db.scope is not None:
        parts.append(f"{alias}.workspace = :ws")
        params["ws"] = db.scope
        target, of_runs, of_params, sub = run_id, "id", "run_id", "workspace = :ws AND "
    else:
        target = f"({alias}.workspace, {run_id})"
        of_runs, of_params, sub = "workspace, id", "workspace, run_id", ""
    for i, w in enumerate(wheres):
        params[f"t{i}"] = w.text
        if w.is_tag:  # the (workspace, tag, run_id) index gives the ids
            parts.append(f"{target} IN (SELECT {of_params} FROM tags WHERE {sub}tag = :t{i})")
            continue
        if w.column and alias == "r":
            parts.append(f"r.{w.column} = :t{i}")
            continue
        if w.column:
            parts.append(f"{target} IN (SELECT {of_runs} FROM runs WHERE {sub}{w.column} = :t{i})")
            continue
        params[f"k{i}"] = w.param
        by_text = f"SELECT {of_params} FROM params WHERE {sub}name = :k{i} AND value_text = :t{i}"
        if w.written is not None:
            params[f"w{i}"] = w.written
            by_text = (f"SELECT {of_params} FROM params WHERE {sub}name = :k{i}"
                       f" AND value_text IN (:t{i}, :w{i})")
        by_number = f"SELECT {of_params} FROM params WHERE {sub}name = :k{i} AND value_num = :n{i}"
        if w.number is None:
            parts.append(f"{target} IN ({by_text})")
            continue
        params[f"n{i}"] = w.number
        if not w.text_too:
            parts.append(f"{target} IN ({by_number})")
        else:  # numerically where the stored value is a number, else as text
            parts.append(f"{target} IN ({by_number} UNION ALL {by_text} AND value_num IS NULL)")
    return "".join(" AND " + p for p in parts), params


# --- ls ----------------------------------------------------------------------------------------


def check_status(status: str) -> str:
    """A known run state: a misspelt one would list nothing, as if no run were in it."""
    if status not in RUN_STATES:
        raise BadInputError(f"Unknown status `{status}`.",
                            hint=f"use one of {', '.join(RUN_STATES)}")
    return status


def tag_where(tag: str) -> Where:
    """The filter `--tag T`: runs tagged T."""
    return Where(TAG_KEY, tag, None)


def list_runs(db: Database, status: str | None = None, recipe: str | None = None,
              limit: int = 50, tags: Sequence[str] = (), sweep: str | None = None,
              stream: bool = False
              ) -> tuple[list[RunSummary] | Iterator[RunSummary], int | None]:
    """Runs newest first (at most `limit`, 0 for all) and how many match in all; `tags`:
    only runs with every one of them; `sweep`: only the runs of that sweep. `stream` (with
    limit 0): the rows as an iterator fetched in chunks (iter_runs), and None for the count."""
    wheres = [Where("status", status, None)] if status else []
    if recipe:
        wheres.append(Where("recipe", recipe, None))
    wheres.extend(tag_where(t) for t in tags)
    if sweep:
        wheres.append(Where("sweep", sweep, None))
    cond, params = filter_sql(db, wheres)
    sql = ("SELECT r.id, r.recipe, r.status, r.created, r.steps, r.imported, r.primary_metric,"
           " m.value, r.workspace_path FROM runs r LEFT JOIN metrics m"
           " ON m.workspace = r.workspace AND m.run_id = r.id AND m.name = r.primary_metric"
           f" WHERE 1 = 1{cond} ORDER BY r.created_ts DESC, r.id DESC")
    if stream and not limit:
        return iter_runs(db, sql, params), None
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    rows = [_summary(r) for r in db.query(sql, params)]
    if limit and len(rows) == limit:
        total = db.query(f"SELECT COUNT(*) FROM runs r WHERE 1 = 1{cond}", params)[0][0]
    else:
        total = len(rows)
    return rows, total


def iter_runs(db: Database, sql: str, params: dict[str, Any]) -> Iterator[RunSummary]:
    """The rows of a list_runs query as they come from the registry."""
    for r in db.stream(sql, params):
        yield _summary(r)


def _summary(r: tuple) -> RunSummary:
    return RunSummary(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], r[8])


# --- leaderboard -------------------------------------------------------------------------------
# A run is (workspace key, id): ids repeat between the workspaces of a shared registry. The
# baseline is always this workspace's run (db.key).


def known_metrics(db: Database) -> list[str]:
    """Names of the metrics some run in scope has a final value for."""
    scope, params = _scope(db, "")
    rows = db.query(f"SELECT DISTINCT name FROM metrics WHERE {scope}value IS NOT NULL"
                    " ORDER BY name", params)
    return [r[0] for r in rows]


def has_metric(db: Database, name: str, final_only: bool = True) -> bool:
    scope, params = _scope(db, "")
    cond = " AND value IS NOT NULL" if final_only else ""
    return bool(db.query(f"SELECT 1 FROM metrics WHERE {scope}name = :name{cond} LIMIT 1",
                         {**params, "name": name}))


def run_exists(db: Database, run_id: str) -> bool:
    """Whether this workspace has the run."""
    return bool(db.query("SELECT 1 FROM runs WHERE workspace = :key AND id = :id",
                         {"key": db.key, "id": run_id}))


def metric_value(db: Database, run_id: str, metric: str) -> float | None:
    """The final value of a run of this workspace."""
    rows = db.query("SELECT value FROM metrics WHERE workspace = :key AND run_id = :id"
                    " AND name = :name", {"key": db.key, "id": run_id, "name": metric})
    return rows[0][0] if rows else None


def matches(db: Database, run_id: str, wheres: Sequence[Where]) -> bool:
    """Whether this workspace's run is in scope and matches every filter."""
    cond, params = filter_sql(db, wheres)
    return bool(db.query(f"SELECT 1 FROM runs r WHERE r.workspace = :key AND r.id = :id{cond}",
                         {**params, "key": db.key, "id": run_id}))


def primary_metrics(db: Database, wheres: Sequence[Where]) -> list[str]:
    """The distinct primary metrics of the matching runs (from their recipes)."""
    cond, params = filter_sql(db, wheres)
    rows = db.query("SELECT DISTINCT r.primary_metric FROM runs r"
                    f" WHERE r.primary_metric IS NOT NULL{cond} ORDER BY 1", params)
    return [r[0] for r in rows]


def ranked(db: Database, metric: str, direction: str, wheres: Sequence[Where],
           limit: int = 0) -> list[tuple[str, str, float]]:
    """(workspace, run id, value) of the matching runs that have the metric, best first, ties
    by id."""
    return list(iter_ranked(db, metric, direction, wheres, limit))


def iter_ranked(db: Database, metric: str, direction: str, wheres: Sequence[Where],
                limit: int = 0) -> Iterator[tuple[str, str, float]]:
    """`ranked`, as the rows come from the registry (Database.stream)."""
    cond, params = filter_sql(db, wheres, "m")
    order = "DESC" if direction == "higher" else "ASC"
    sql = ("SELECT m.workspace, m.run_id, m.value FROM metrics m"
           f" WHERE m.name = :metric AND m.value IS NOT NULL{cond}"
           f" ORDER BY m.value {order}, m.run_id ASC, m.workspace ASC")
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return db.stream(sql, {**params, "metric": metric})


def count_ranked(db: Database, metric: str, wheres: Sequence[Where]) -> int:
    cond, params = filter_sql(db, wheres, "m")
    sql = f"SELECT COUNT(*) FROM metrics m WHERE m.name = :metric AND m.value IS NOT NULL{cond}"
    return db.query(sql, {**params, "metric": metric})[0][0]


def count_better(db: Database, metric: str, direction: str, value: float,
                 wheres: Sequence[Where]) -> int:
    """How many matching runs are strictly better than `value` (rank = this + 1)."""
    cond, params = filter_sql(db, wheres, "m")
    op = ">" if direction == "higher" else "<"
    sql = f"SELECT COUNT(*) FROM metrics m WHERE m.name = :metric AND m.value {op} :value{cond}"
    return db.query(sql, {**params, "metric": metric, "value": value})[0][0]


def without_metric(db: Database, metric: str, wheres: Sequence[Where],
                   limit: int = 0) -> list[tuple[str, str]]:
    """(workspace, id) of matching runs with no final value for the metric, by id."""
    return list(iter_without_metric(db, metric, wheres, limit))


def iter_without_metric(db: Database, metric: str, wheres: Sequence[Where],
                        limit: int = 0) -> Iterator[tuple[str, str]]:
    """`without_metric`, as the rows come from the registry (Database.stream)."""
    cond, params = filter_sql(db, wheres)
    sql = ("SELECT r.workspace, r.id FROM runs r WHERE NOT EXISTS (SELECT 1 FROM metrics m"
           " WHERE m.workspace = r.workspace AND m.run_id = r.id AND m.name = :metric"
           f" AND m.value IS NOT NULL){cond} ORDER BY r.id, r.workspace")
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return db.stream(sql, {**params, "metric": metric})


def count_runs(db: Database, wheres: Sequence[Where]) -> int:
    cond, params = filter_sql(db, wheres)
    return db.query(f"SELECT COUNT(*) FROM runs r WHERE 1 = 1{cond}", params)[0][0]


def workspace_paths(db: Database, keys: Sequence[str]) -> dict[str, str]:
    """{workspace key: its folder, as last indexed} for showing rows of several workspaces."""
    found: dict[str, str] = {}
    for key in dict.fromkeys(keys):
        rows = db.query("SELECT workspace_path FROM runs WHERE workspace = :key"
                        " AND workspace_path IS NOT NULL LIMIT 1", {"key": key})
        found[key] = rows[0][0] if rows else key
    return found


def values_for(db: Database, runs: Sequence[tuple[str, str]], metrics: Sequence[str],
               params: Sequence[str]) -> dict[tuple[str, str, str], Any]:
    """{(workspace, run id, column): value} for extra leaderboard columns: metric values and
    param texts of the given (workspace, run id) pairs."""
    found: dict[tuple[str, str, str], Any] = {}
    by_workspace: dict[str, list[str]] = {}
    for key, run_id in runs:
        by_workspace.setdefault(key, []).append(run_id)
    for table, value_col, names in (("metrics", "value", metrics),
                                    ("params", "value_text", params)):
        if not names:
            continue
        wanted = {f"c{n}": v for n, v in enumerate(names)}
        name_marks = ", ".join(":" + k for k in wanted)
        for key, run_ids in by_workspace.items():
            # In chunks: SQLite binds at most 32,766 parameters per statement.
            for start in range(0, len(run_ids), ID_CHUNK):
                ids = {f"i{n}": v for n, v in enumerate(run_ids[start:start + ID_CHUNK])}
                sql = (f"SELECT run_id, name, {value_col} FROM {table}"
                       f" WHERE workspace = :key AND run_id IN"
                       f" ({', '.join(':' + k for k in ids)}) AND name IN ({name_marks})")
                for run_id, name, value in db.query(sql, {**ids, **wanted, "key": key}):
                    found[(key, run_id, name)] = value
    return found


def matching_ids(db: Database, wheres: Sequence[Where]) -> list[str]:
    """Ids of the runs matching every filter, by id (a report over runs without metrics)."""
    cond, params = filter_sql(db, prepare(db, wheres))
    return [r[0] for r in db.query(f"SELECT r.id FROM runs r WHERE 1 = 1{cond} ORDER BY r.id",
                                   params)]
