"""Reading the registry for `ls` and `leaderboard`: portable SQL with bound parameters.

Only the standard library is needed on this path (through expctl.registry.db). Sorting and
filtering use the indexes declared in expctl.registry.schema: runs by (created_ts, id),
(status, created_ts), (recipe, created_ts); metrics by (name, value); params by (name,
value_num) and (name, value_text).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    ready = []
    for w in wheres:
        if w.column is None and w.number is not None and not w.is_tag:
            found = db.query("SELECT 1 FROM params WHERE name = :k AND value_text = :t"
                             " AND value_num IS NULL LIMIT 1", {"k": w.param, "t": w.text})
            w = Where(w.key, w.text, w.number, bool(found), w.written)
        ready.append(w)
    return ready


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def filter_sql(wheres: Sequence[Where], run_id: str = "r.id") -> tuple[str, dict[str, Any]]:
    """` AND ...` conditions keeping the runs that match every `where`, and their parameters.

    `run_id` is the column holding the run id in the calling query: `r.id` (the runs table,
    whose own columns are then compared directly) or e.g. `m.run_id`. Params filters are
    `IN (subquery)` over the (name, value) indexes: SQLite builds the set of matching ids once
    instead of probing params for every candidate row."""
    parts, params = [], {}
    for i, w in enumerate(wheres):
        params[f"t{i}"] = w.text
        if w.is_tag:  # the (tag, run_id) index gives the ids
            parts.append(f"{run_id} IN (SELECT run_id FROM tags WHERE tag = :t{i})")
            continue
        if w.column and run_id == "r.id":
            parts.append(f"r.{w.column} = :t{i}")
            continue
        if w.column:
            parts.append(f"{run_id} IN (SELECT id FROM runs WHERE {w.column} = :t{i})")
            continue
        params[f"k{i}"] = w.param
        by_text = f"SELECT run_id FROM params WHERE name = :k{i} AND value_text = :t{i}"
        if w.written is not None:
            params[f"w{i}"] = w.written
            by_text = (f"SELECT run_id FROM params WHERE name = :k{i}"
                       f" AND value_text IN (:t{i}, :w{i})")
        by_number = f"SELECT run_id FROM params WHERE name = :k{i} AND value_num = :n{i}"
        if w.number is None:
            parts.append(f"{run_id} IN ({by_text})")
            continue
        params[f"n{i}"] = w.number
        if not w.text_too:
            parts.append(f"{run_id} IN ({by_number})")
        else:  # numerically where the stored value is a number, else as text
            parts.append(f"{run_id} IN ({by_number} UNION ALL {by_text} AND value_num IS NULL)")
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
              limit: int = 50, tags: Sequence[str] = (), sweep: str | None = None
              ) -> tuple[list[RunSummary], int]:
    """Runs newest first (at most `limit`, 0 for all) and how many match in all; `tags`:
    only runs with every one of them; `sweep`: only the runs of that sweep."""
    wheres = [Where("status", status, None)] if status else []
    if recipe:
        wheres.append(Where("recipe", recipe, None))
    wheres.extend(tag_where(t) for t in tags)
    if sweep:
        wheres.append(Where("sweep", sweep, None))
    cond, params = filter_sql(wheres)
    sql = ("SELECT r.id, r.recipe, r.status, r.created, r.steps, r.imported, r.primary_metric,"
           " m.value FROM runs r LEFT JOIN metrics m"
           " ON m.run_id = r.id AND m.name = r.primary_metric"
           f" WHERE 1 = 1{cond} ORDER BY r.created_ts DESC, r.id DESC")
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    rows = [RunSummary(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7])
            for r in db.query(sql, params)]
    if limit and len(rows) == limit:
        total = db.query(f"SELECT COUNT(*) FROM runs r WHERE 1 = 1{cond}", params)[0][0]
    else:
        total = len(rows)
    return rows, total


# --- leaderboard -------------------------------------------------------------------------------


def known_metrics(db: Database) -> list[str]:
    """Names of the metrics some run has a final value for."""
    rows = db.query("SELECT DISTINCT name FROM metrics WHERE value IS NOT NULL ORDER BY name")
    return [r[0] for r in rows]


def has_metric(db: Database, name: str, final_only: bool = True) -> bool:
    cond = " AND value IS NOT NULL" if final_only else ""
    return bool(db.query(f"SELECT 1 FROM metrics WHERE name = :name{cond} LIMIT 1",
                         {"name": name}))


def run_exists(db: Database, run_id: str) -> bool:
    return bool(db.query("SELECT 1 FROM runs WHERE id = :id", {"id": run_id}))


def metric_value(db: Database, run_id: str, metric: str) -> float | None:
    rows = db.query("SELECT value FROM metrics WHERE run_id = :id AND name = :name",
                    {"id": run_id, "name": metric})
    return rows[0][0] if rows else None


def matches(db: Database, run_id: str, wheres: Sequence[Where]) -> bool:
    cond, params = filter_sql(wheres)
    return bool(db.query(f"SELECT 1 FROM runs r WHERE r.id = :id{cond}", {**params, "id": run_id}))


def primary_metrics(db: Database, wheres: Sequence[Where]) -> list[str]:
    """The distinct primary metrics of the matching runs (from their recipes)."""
    cond, params = filter_sql(wheres)
    rows = db.query("SELECT DISTINCT r.primary_metric FROM runs r"
                    f" WHERE r.primary_metric IS NOT NULL{cond} ORDER BY 1", params)
    return [r[0] for r in rows]


def ranked(db: Database, metric: str, direction: str, wheres: Sequence[Where],
           limit: int = 0) -> list[tuple[str, float]]:
    """(run id, value) of the matching runs that have the metric, best first, ties by id."""
    cond, params = filter_sql(wheres, "m.run_id")
    order = "DESC" if direction == "higher" else "ASC"
    sql = ("SELECT m.run_id, m.value FROM metrics m"
           f" WHERE m.name = :metric AND m.value IS NOT NULL{cond}"
           f" ORDER BY m.value {order}, m.run_id ASC")
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return [(r[0], r[1]) for r in db.query(sql, {**params, "metric": metric})]


def count_ranked(db: Database, metric: str, wheres: Sequence[Where]) -> int:
    cond, params = filter_sql(wheres, "m.run_id")
    sql = f"SELECT COUNT(*) FROM metrics m WHERE m.name = :metric AND m.value IS NOT NULL{cond}"
    return db.query(sql, {**params, "metric": metric})[0][0]


def count_better(db: Database, metric: str, direction: str, value: float,
                 wheres: Sequence[Where]) -> int:
    """How many matching runs are strictly better than `value` (rank = this + 1)."""
    cond, params = filter_sql(wheres, "m.run_id")
    op = ">" if direction == "higher" else "<"
    sql = f"SELECT COUNT(*) FROM metrics m WHERE m.name = :metric AND m.value {op} :value{cond}"
    return db.query(sql, {**params, "metric": metric, "value": value})[0][0]


def without_metric(db: Database, metric: str, wheres: Sequence[Where],
                   limit: int = 0) -> list[str]:
    """Ids of matching runs with no final value for the metric, by id."""
    cond, params = filter_sql(wheres)
    sql = ("SELECT r.id FROM runs r WHERE NOT EXISTS (SELECT 1 FROM metrics m"
           " WHERE m.run_id = r.id AND m.name = :metric AND m.value IS NOT NULL)"
           f"{cond} ORDER BY r.id")
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return [r[0] for r in db.query(sql, {**params, "metric": metric})]


def count_runs(db: Database, wheres: Sequence[Where]) -> int:
    cond, params = filter_sql(wheres)
    return db.query(f"SELECT COUNT(*) FROM runs r WHERE 1 = 1{cond}", params)[0][0]


def values_for(db: Database, run_ids: Sequence[str], metrics: Sequence[str],
               params: Sequence[str]) -> dict[tuple[str, str], Any]:
    """{(run id, column): value} for extra leaderboard columns: metric values and param texts."""
    found: dict[tuple[str, str], Any] = {}
    for table, value_col, names in (("metrics", "value", metrics),
                                    ("params", "value_text", params)):
        if not names:
            continue
        wanted = {f"c{n}": v for n, v in enumerate(names)}
        name_marks = ", ".join(":" + k for k in wanted)
        # In chunks: SQLite binds at most 32,766 parameters per statement.
        for start in range(0, len(run_ids), ID_CHUNK):
            ids = {f"i{n}": v for n, v in enumerate(run_ids[start:start + ID_CHUNK])}
            sql = (f"SELECT run_id, name, {value_col} FROM {table}"
                   f" WHERE run_id IN ({', '.join(':' + k for k in ids)})"
                   f" AND name IN ({name_marks})")
            for run_id, name, value in db.query(sql, {**ids, **wanted}):
                found[(run_id, name)] = value
    return found


def matching_ids(db: Database, wheres: Sequence[Where]) -> list[str]:
    """Ids of the runs matching every filter, by id (a report over runs without metrics)."""
    cond, params = filter_sql(prepare(db, wheres))
    return [r[0] for r in db.query(f"SELECT r.id FROM runs r WHERE 1 = 1{cond} ORDER BY r.id",
                                   params)]
