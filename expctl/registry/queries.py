"""Reading the registry for `ls` and `leaderboard`: portable SQL with bound parameters.

Only the standard library is needed on this path (through expctl.registry.db). Sorting uses
the indexes declared in expctl.registry.schema: runs by (created_ts, id), metrics by (name,
value); `--where` filters (parse_where, prepare, filter_sql) are primary-key probes of runs,
params, metrics and tags made while that index is walked, so a query stops at its LIMIT.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from expctl.errors import BadInputError
from expctl.registry.db import Database
from expctl.state import STATES

RUN_COLUMNS = ("recipe", "status", "sweep")  # --where keys that name run columns, not params
RUN_STATES = STATES  # one list, defined with the function that derives them
TAG_KEY = "tag"  # --where tag=T (and --tag T): runs with that tag; `params.tag` is a param
ID_CHUNK = 500
# `ls` and `leaderboard` count the runs that --limit/--top hides; with --where that takes a
# probe per run, so it is done only for registries (scopes) of at most this many runs.
COUNT_AT_MOST = 20_000


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


OPERATORS = ("<=", ">=", "!=", "=", "<", ">")  # longest first: `a<=1` is `<=`, not `<`
ORDERING = ("<", "<=", ">", ">=")
KINDS = ("column", "tag", "metric", "param")
WHERE_HINT = "write KEY=VALUE, KEY!=VALUE or KEY<NUMBER (also <=, >, >=), e.g. map>0.3"


@dataclass(frozen=True)
class Where:
    """One `--where KEY<op>VALUE`: on a run column (recipe, status, sweep), a tag, a metric's
    final value or a flattened param. `kind` is settled by `prepare` when the key alone does
    not say (a bare name is a metric if some run has that metric, else a param)."""

    key: str  # as typed, e.g. `map`, `params.map`, `train.lr`
    text: str  # as stored: a list or mapping in the compact JSON of params' value_text
    number: float | None  # the value as a number, when it is one
    op: str = "="
    kind: str | None = None  # one of KINDS; None until `prepare`
    # The value as typed when `text` normalised it (`[2, 3, 4]` -> `[2,3,4]`): a string param
    # written exactly so (quoted in YAML) matches it too.
    written: str | None = None

    @property
    def column(self) -> str | None:
        return self.key if self.kind == "column" else None

    @property
    def is_tag(self) -> bool:
        return self.kind == "tag"

    @property
    def name(self) -> str:
        """The metric's or param's name, without a `metrics.`/`params.` prefix."""
        if self.kind == "param":
            return self.key.removeprefix("params.")
        return self.key.removeprefix("metrics.") if self.kind == "metric" else self.key

    def __post_init__(self) -> None:
        if self.kind is None:  # the keys that say what they are by themselves
            object.__setattr__(self, "kind", _kind_of(self.key))

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.written or self.text}"


def parse_where(text: str) -> Where:
    """`train.lr<=0.01`, `map>0.3`, `status!=failed`, `recipe=baseline`; `params.NAME` and
    `metrics.NAME` say which one a name is when a param and a metric share it."""
    from expctl.ids import check_key, check_metric_name

    at = min((i for i in (text.find(c) for c in "<>!=") if i >= 0), default=-1)
    op = next((o for o in OPERATORS if at >= 0 and text.startswith(o, at)), None)
    if op is None:
        raise BadInputError(f"--where `{text}` has no operator (=, !=, <, <=, >, >=).",
                            hint=WHERE_HINT)
    key, value = text[:at].strip(), text[at + len(op):]
    if value.startswith(("=", "<", ">")):
        raise BadInputError(f"--where `{text}`: `{op}{value[0]}` is not an operator.",
                            hint=WHERE_HINT)
    kind = _kind_of(key)
    if kind in ("column", "tag"):
        value = value.strip()  # `status = finished` typed with spaces
    metric_only = False  # `val/loss`: a valid metric name, but no param's
    if kind == "metric":
        check_metric_name(key.removeprefix("metrics."))
    elif not _is_key(key):
        if kind is not None or not _is_metric_name(key):
            check_key(key, "--where key")
        metric_only = True
    number = _number(value)
    if kind in ("column", "tag"):
        if op not in ("=", "!="):
            raise BadInputError(f"--where `{text}`: `{key}` is text; compare it with = or !=.",
                                hint="e.g. status!=failed" if key == "status"
                                else f"e.g. {key}!=NAME")
        if key == "status" and value not in RUN_STATES:
            raise BadInputError(f"--where `{text}`: unknown status `{value}`.",
                                hint=f"use one of {', '.join(RUN_STATES)}")
    elif op in ORDERING and number is None:
        raise BadInputError(f"--where `{text}`: `{op}` compares numbers; `{value}` is not one.",
                            hint="e.g. map>0.3 or train.lr<=0.01 (metrics compare as stored: "
                            "a fraction, not the percent a table shows)")
    elif (kind == "metric" or metric_only) and number is None:
        raise BadInputError(f"--where `{text}`: `{key}` is a metric; `{value}` is not a number.",
                            hint="metrics compare as stored, e.g. map>0.3")
    stored = _stored_form(value) if kind in (None, "param") else value
    return Where(key, stored, number, op, kind, written=value if stored != value else None)


def _kind_of(key: str) -> str | None:
    """What the key names by itself: None when only the registry can say (metric or param)."""
    if key in RUN_COLUMNS:
        return "column"
    if key == TAG_KEY:
        return "tag"
    if key.startswith("params."):
        return "param"
    if key.startswith("metrics."):
        return "metric"
    return None


def _is_key(key: str) -> bool:
    """Whether `key` is a dotted name a param can have."""
    from expctl.ids import check_key

    try:
        check_key(key)
    except BadInputError:
        return False
    return True


def _is_metric_name(key: str) -> bool:
    from expctl.ids import check_metric_name

    try:
        check_metric_name(key)
    except BadInputError:
        return False
    return True


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
    """The filters with every `kind` settled (one index lookup per bare name): a metric when
    some run in scope has a final value of that name, else a param. A name that is neither
    is refused: a misspelt key would otherwise match nothing, silently."""
    from dataclasses import replace

    ready = []
    for w in wheres:
        if w.kind is None:
            if has_metric(db, w.key):
                w = replace(w, kind="metric")
            elif _is_key(w.key) and _has_param(db, w.key):
                w = replace(w, kind="param")
            else:
                raise BadInputError(f"--where `{w}`: no run has a metric or param `{w.key}`.",
                                    hint="see a run's params and metrics with `expctl show "
                                    "RUN`; `params.NAME` and `metrics.NAME` pick one")
        elif w.kind == "param" and not _has_param(db, w.name):
            raise BadInputError(f"--where `{w}`: no run has a param `{w.name}`.",
                                hint="see a run's params with `expctl show RUN`")
        elif w.kind == "metric" and not has_metric(db, w.name):
            raise BadInputError(f"--where `{w}`: no run has a final value of `{w.name}`.",
                                hint="see a run's metrics with `expctl show RUN`")
        if w.kind == "metric" and w.number is None:
            raise BadInputError(f"--where `{w}`: `{w.name}` is a metric; `{w.text}` is not a "
                                "number.", hint="metrics compare as stored, e.g. map>0.3")
        ready.append(w)
    return ready


def scale_warnings(db: Database, wheres: Sequence[Where],
                   scale_of: Callable[[str], float]) -> list[str]:
    """A warning for each metric filter whose number fits the metric as tables show it
    (`scale_of`: expctl.numbers, e.g. x100 for percent) but not as stored, where filters
    compare: `map>30` where map is stored as 0.05 to 0.6."""
    found = []
    for w in wheres:
        scale = scale_of(w.name) if w.kind == "metric" else 1.0
        if scale == 1 or w.number is None:
            continue
        scope, params = _scope(db, "")
        sql = f"SELECT MIN(value), MAX(value) FROM metrics WHERE {scope}name = :name"
        low, high = db.query(sql, {**params, "name": w.name})[0]
        if low is None or low <= w.number <= high or not low <= w.number / scale <= high:
            continue
        found.append(f"--where {w}: `{w.name}` is compared as stored ({low:g} to {high:g}), "
                     f"not as shown (x{scale:g}); did you mean {w.key}{w.op}"
                     f"{w.number / scale:g}?")
    return found


def _has_param(db: Database, name: str) -> bool:
    scope, params = _scope(db, "")
    return bool(db.query(f"SELECT 1 FROM params WHERE {scope}name = :name LIMIT 1",
                         {**params, "name": name}))


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


def filter_sql(db: Database, wheres: Sequence[Where], alias: str = "r",
               ranked_metric: str | None = None) -> tuple[str, dict[str, Any]]:
    """` AND ...` conditions keeping the runs of the registry's scope (expctl.registry.scope)
    that match every `where`, and their parameters.

    `alias` is the table of the calling query: `r` (runs, whose own columns are then compared
    directly) or `m` (metrics rows of `ranked_metric`, whose own value is then compared
    directly). Every other filter is one primary-key probe of the row it needs (EXISTS):
    the calling query walks its ordering index (created_ts, or the metric's value) and stops
    at its LIMIT, so a top-20 costs about 20 probes per filter whatever the registry's size,
    and no set of matching ids is ever built. A run lacking the metric or param matches no
    filter on it, `!=` included (as in SQL); `tag!=T` keeps the runs not tagged T."""
    if any(w.kind is None for w in wheres):
        wheres = prepare(db, wheres)
    ws, run_id = f"{alias}.workspace", f"{alias}.id" if alias == "r" else f"{alias}.run_id"
    parts, params = [], {}
    if db.scope is not None:
        parts.append(f"{ws} = :ws")
        params["ws"] = db.scope
    for i, w in enumerate(wheres):
        v, x = f"v{i}", f"x{i}"
        of_run = f"{x}.workspace = {ws} AND {x}.run_id = {run_id}"
        if w.kind == "column":
            params[v] = w.text
            if alias == "r":
                parts.append(f"r.{w.key} {w.op} :{v}")
            else:
                parts.append(f"EXISTS (SELECT 1 FROM runs {x} WHERE {x}.workspace = {ws}"
                             f" AND {x}.id = {run_id} AND {x}.{w.key} {w.op} :{v})")
        elif w.kind == "tag":
            params[v] = w.text
            parts.append(f"{'NOT ' if w.op == '!=' else ''}EXISTS (SELECT 1 FROM tags {x}"
                         f" WHERE {of_run} AND {x}.tag = :{v})")
        elif w.kind == "metric":
            params[v] = w.number
            if alias == "m" and w.name == ranked_metric:
                parts.append(f"m.value {w.op} :{v}")
            else:
                params[f"k{i}"] = w.name
                parts.append(f"EXISTS (SELECT 1 FROM metrics {x} WHERE {of_run}"
                             f" AND {x}.name = :k{i} AND {x}.value {w.op} :{v})")
        else:
            params[f"k{i}"] = w.name
            parts.append(f"EXISTS (SELECT 1 FROM params {x} WHERE {of_run}"
                         f" AND {x}.name = :k{i} AND {_param_test(w, x, i, params)})")
    return "".join(" AND " + p for p in parts), params


def _param_test(w: Where, x: str, i: int, params: dict[str, Any]) -> str:
    """The condition on one params row: numbers compare numerically where the stored value is
    a number (`0.010` = `0.01`, `1e-3` = `0.001`), as text where it is text (a quoted "0.01"),
    and ordering only numerically."""
    if w.op in ORDERING:
        params[f"n{i}"] = w.number
        return f"{x}.value_num {w.op} :n{i}"
    params[f"t{i}"] = w.text
    texts = f":t{i}"
    if w.written is not None:
        params[f"w{i}"] = w.written
        texts += f", :w{i}"
    test = f"{x}.value_text IN ({texts})"
    if w.number is not None:
        params[f"n{i}"] = w.number
        test = f"CASE WHEN {x}.value_num IS NULL THEN {test} ELSE {x}.value_num = :n{i} END"
    return test if w.op == "=" else f"NOT ({test})"


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
              wheres: Sequence[Where] = (), stream: bool = False
              ) -> tuple[list[RunSummary] | Iterator[RunSummary], int | None]:
    """Runs newest first (at most `limit`, 0 for all) and how many match in all (None: more
    than `limit` of a registry too large to count them quickly, see COUNT_AT_MOST); `tags`:
    only runs with every one of them; `sweep`: only the runs of that sweep; `wheres`: only
    the runs matching every filter (`--where`). `stream` (with limit 0): the rows as an
    iterator fetched in chunks (iter_runs), and None for the count."""
    wheres = list(wheres)
    if status:
        wheres.append(Where("status", status, None))
    if recipe:
        wheres.append(Where("recipe", recipe, None))
    wheres.extend(tag_where(t) for t in tags)
    if sweep:
        wheres.append(Where("sweep", sweep, None))
    cond, params = filter_sql(db, prepare(db, wheres))
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
        plain = all(w.kind == "column" and w.op == "=" for w in wheres) and len(wheres) <= 1
        if plain or small_scope(db):  # no filter or one on an indexed column: a range count
            params.pop("limit")
            total = db.query(f"SELECT COUNT(*) FROM runs r WHERE 1 = 1{cond}", params)[0][0]
        else:
            total = None
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
    cond, params = filter_sql(db, wheres, "m", metric)
    order = "DESC" if direction == "higher" else "ASC"
    sql = ("SELECT m.workspace, m.run_id, m.value FROM metrics m"
           f" WHERE m.name = :metric AND m.value IS NOT NULL{cond}"
           f" ORDER BY m.value {order}, m.run_id ASC, m.workspace ASC")
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return db.stream(sql, {**params, "metric": metric})


def count_ranked(db: Database, metric: str, wheres: Sequence[Where]) -> int:
    cond, params = filter_sql(db, wheres, "m", metric)
    sql = f"SELECT COUNT(*) FROM metrics m WHERE m.name = :metric AND m.value IS NOT NULL{cond}"
    return db.query(sql, {**params, "metric": metric})[0][0]


def count_matching(db: Database, metric: str,
                   wheres: Sequence[Where]) -> tuple[int, int] | None:
    """(matching runs with a final value of `metric`, matching runs without it), or None when
    that needs a probe per run of more than COUNT_AT_MOST runs. Without filters, and with
    filters on `metric` alone, each is an index range count, whatever the registry's size."""
    if not wheres:
        ranked = count_ranked(db, metric, wheres)
        return ranked, count_runs(db, wheres) - ranked
    if all(w.kind == "metric" and w.name == metric for w in wheres):
        return count_ranked(db, metric, wheres), 0  # only runs with the metric match
    if not small_scope(db):
        return None
    cond, params = filter_sql(db, wheres)
    sql = ("SELECT COUNT(*), COUNT(m.value) FROM runs r LEFT JOIN metrics m"
           " ON m.workspace = r.workspace AND m.run_id = r.id AND m.name = :metric"
           f" WHERE 1 = 1{cond}")
    total, ranked = db.query(sql, {**params, "metric": metric})[0]
    return ranked, total - ranked


def small_scope(db: Database) -> bool:
    """Whether the registry's scope holds at most COUNT_AT_MOST runs (a bounded index walk):
    counting filtered runs then costs little, and beyond it a probe per run adds up (a few
    microseconds each: 1.7 s for a million)."""
    scope, params = _scope(db, "")
    rows = db.query(f"SELECT COUNT(*) FROM (SELECT 1 FROM runs WHERE {scope}1 = 1"
                    " LIMIT :cap) AS scoped", {**params, "cap": COUNT_AT_MOST + 1})
    return rows[0][0] <= COUNT_AT_MOST


def count_better(db: Database, metric: str, direction: str, value: float,
                 wheres: Sequence[Where]) -> int | None:
    """How many matching runs are strictly better than `value` (rank = this + 1); None when
    that needs a probe per run of more than COUNT_AT_MOST runs (as count_matching)."""
    if not all(w.kind == "metric" and w.name == metric for w in wheres) and not small_scope(db):
        return None
    cond, params = filter_sql(db, wheres, "m", metric)
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
    if _implies(wheres, metric):
        return iter(())
    cond, params = filter_sql(db, wheres)
    sql = ("SELECT r.workspace, r.id FROM runs r WHERE NOT EXISTS (SELECT 1 FROM metrics m"
           " WHERE m.workspace = r.workspace AND m.run_id = r.id AND m.name = :metric"
           f" AND m.value IS NOT NULL){cond} ORDER BY r.id, r.workspace")
    if limit:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return db.stream(sql, {**params, "metric": metric})


def _implies(wheres: Sequence[Where], metric: str) -> bool:
    """Whether only runs with a final value of `metric` can match (a filter on it)."""
    return any(w.kind == "metric" and w.name == metric for w in wheres)


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
