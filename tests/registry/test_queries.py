"""`--where` (expctl.registry.queries): every operator on params, metrics and run columns, for
`ls` and `leaderboard` alike, over a real SQLite registry filled by `expctl import` and `new`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_jsonl

from expctl.errors import BadInputError, ExitCode
from expctl.registry import queries

# `score` is a metric of a and b and a param of a, b and d: a bare `score` is the metric.
RUNS = [
    {"id": "a", "metrics": {"map": 0.40, "small_map": 0.20, "score": 3.0},
     "params": {"train": {"lr": 0.01}, "arch": "3scale", "score": 10}},
    {"id": "b", "metrics": {"map": 0.30, "score": 1.0},
     "params": {"train": {"lr": 0.001}, "arch": "4scale", "score": 20}},
    {"id": "c", "metrics": {"map": 0.25, "small_map": 0.10},
     "params": {"train": {"lr": "0.01"}, "arch": "3scale"}},  # lr quoted: stored as text
    {"id": "d", "metrics": {"small_map": 0.15},
     "params": {"train": {"lr": 0.1}, "arch": "4scale", "score": 5}},
]


@pytest.fixture
def runs(workspace: Path, cli) -> Path:
    """a-d imported (status imported, recipe ext), e made by `new` (status created, recipe
    baseline, no metrics, its recipe's params: train.lr 0.001)."""
    code, _, err = cli("import", str(write_jsonl(workspace.parent / "r.jsonl", RUNS)),
                       "--recipe", "ext")
    assert code == 0, err
    code, _, err = cli("new", "baseline_1k")
    assert code == 0, err
    return workspace


def ls_ids(cli, *wheres: str) -> list[str]:
    """Ids listed by `ls --where ...`, sorted (ls lists newest first)."""
    code, out, err = cli("ls", "--format", "json", *[a for w in wheres for a in ("-w", w)])
    assert code == 0, err
    return sorted(r["id"] for r in json.loads(out)["runs"])


def board_ids(cli, *wheres: str, metric: str = "map") -> list[str]:
    """Ids on `leaderboard --where ...` (ranked and missing), sorted."""
    code, out, err = cli("leaderboard", "--metric", metric, "--format", "json",
                         *[a for w in wheres for a in ("--where", w)])
    assert code == 0, err
    return sorted(r["id"] for r in json.loads(out)["runs"])


CASES = [
    # a metric: its final value; runs without it never match, `!=` included
    ("map=0.3", ["b"]),
    ("map!=0.3", ["a", "c"]),
    ("map<0.3", ["c"]),
    ("map<=0.3", ["b", "c"]),
    ("map>0.3", ["a"]),
    ("map>=0.3", ["a", "b"]),
    ("small_map!=0.2", ["c", "d"]),
    ("metrics.map>=0.25", ["a", "b", "c"]),
    # a param: numbers numerically (a quoted "0.01" equals 0.01 as text), ordering numbers only
    ("train.lr=0.010", ["a"]),
    ("train.lr=0.01", ["a", "c"]),
    ("train.lr!=0.01", ["b", "baseline_1k", "d"]),
    ("train.lr<0.01", ["b", "baseline_1k"]),
    ("train.lr<=0.01", ["a", "b", "baseline_1k"]),
    ("train.lr>0.001", ["a", "d"]),
    ("train.lr>=0.01", ["a", "d"]),
    ("arch=3scale", ["a", "c"]),
    ("arch!=3scale", ["b", "d"]),
    ("params.train.lr>0.05", ["d"]),
    # run columns
    ("status=imported", ["a", "b", "c", "d"]),
    ("status!=imported", ["baseline_1k"]),
    ("status=created", ["baseline_1k"]),
    ("recipe=ext", ["a", "b", "c", "d"]),
    ("recipe!=ext", ["baseline_1k"]),
    # precedence: a bare name is the metric when some run has it, params.NAME the param
    ("score>2", ["a"]),
    ("score!=3", ["b"]),
    ("params.score>2", ["a", "b", "d"]),
    ("params.score<=10", ["a", "d"]),
]


@pytest.mark.parametrize(("where", "wanted"), CASES)
def test_each_operator_in_ls(runs: Path, cli, where: str, wanted: list[str]) -> None:
    assert ls_ids(cli, where) == wanted


def test_leaderboard_keeps_the_runs_ls_keeps(runs: Path, cli) -> None:
    """The same filters in both commands: the board lists exactly ls's runs (ranked or
    missing), for every case above, and repeated filters are all applied."""
    for where, wanted in CASES:
        assert board_ids(cli, where) == wanted, where
    assert ls_ids(cli, "map>0.2", "train.lr=0.01") == ["a", "c"]
    assert board_ids(cli, "map>0.2", "train.lr=0.01", "arch!=4scale", "map<0.3") == ["c"]
    assert ls_ids(cli, "status=imported", "small_map>0.12", "score<4") == ["a"]


def test_board_ranks_the_filtered_runs_and_marks_missing_ones(runs: Path, cli) -> None:
    code, out, err = cli("leaderboard", "--metric", "small_map", "--where", "train.lr>=0.01",
                         "--format", "json")
    assert code == 0, err
    assert [(r["rank"], r["id"], r["missing"]) for r in json.loads(out)["runs"]] == [
        (1, "a", False), (2, "d", False)]
    code, out, err = cli("leaderboard", "--metric", "small_map", "--where", "arch=4scale",
                         "--format", "json")
    assert [(r["rank"], r["id"], r["missing"]) for r in json.loads(out)["runs"]] == [
        (1, "d", False), (None, "b", True)]


def test_top_with_a_filter_counts_what_it_hides(runs: Path, cli) -> None:
    code, out, err = cli("leaderboard", "--metric", "map", "--top", "1", "--where",
                         "map>0.2", "--format", "json")
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)["runs"]] == ["a"]
    assert "2 more runs not shown" in err
    code, out, err = cli("ls", "--limit", "1", "--where", "train.lr<=0.01")
    assert code == 0, err
    assert "showing 1 of 3 runs" in err


def test_large_registry_says_more_match_without_counting(runs: Path, cli, monkeypatch) -> None:
    """Beyond COUNT_AT_MOST runs, a filtered cut says that more match, not how many."""
    monkeypatch.setattr(queries, "COUNT_AT_MOST", 3)
    code, out, err = cli("leaderboard", "--metric", "map", "--top", "1", "--where",
                         "map>0.2", "--where", "status=imported")
    assert code == 0, err
    assert "more runs match, not shown" in err and "2 more" not in err
    code, _, err = cli("ls", "--limit", "1", "--where", "train.lr<=0.01")
    assert code == 0, err
    assert "showing the newest 1 matching runs; more match" in err
    code, _, err = cli("ls", "--limit", "1", "--status", "imported")  # an index count
    assert "showing 1 of 4 runs" in err
    rows = board_rows(cli, "--top", "1", "--baseline", "c", "-w", "status=imported")
    assert [(r["rank"], r["id"], r["baseline"]) for r in rows] == [(1, "a", False),
                                                                   (None, "c", True)]
    rows = board_rows(cli, "--top", "1", "--baseline", "c", "-w", "map>0.1")  # index counts
    assert [(r["rank"], r["id"]) for r in rows] == [(1, "a"), (3, "c")]
    monkeypatch.setattr(queries, "COUNT_AT_MOST", 5)
    rows = board_rows(cli, "--top", "1", "--baseline", "c", "-w", "status=imported")
    assert [(r["rank"], r["id"]) for r in rows] == [(1, "a"), (3, "c")]


def board_rows(cli, *args: str) -> list[dict]:
    code, out, err = cli("leaderboard", "--metric", "map", "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)["runs"]


def test_filters_combine_with_the_older_options(runs: Path, cli) -> None:
    assert cli("tag", "a", "best")[0] == 0
    assert ls_ids(cli, "tag=best") == ["a"]
    assert ls_ids(cli, "tag!=best", "recipe=ext") == ["b", "c", "d"]
    code, out, _ = cli("ls", "-f", "json", "--status", "imported", "-w", "map<0.35")
    assert sorted(r["id"] for r in json.loads(out)["runs"]) == ["b", "c"]
    assert board_ids(cli, "tag!=best") == ["b", "baseline_1k", "c", "d"]  # d, e: missing


BAD = [
    ("map>abc", "error: --where `map>abc`: `>` compares numbers; `abc` is not one."),
    ("map=x", "error: --where `map=x`: `map` is a metric; `x` is not a number."),
    ("status<finished", "error: --where `status<finished`: `status` is text; compare it "
     "with = or !=."),
    ("status=done", "error: --where `status=done`: unknown status `done`."),
    ("recipe>=1", "error: --where `recipe>=1`: `recipe` is text; compare it with = or !=."),
    ("mpa>0.3", "error: --where `mpa>0.3`: no run has a metric or param `mpa`."),
    ("params.map=1", "error: --where `params.map=1`: no run has a param `map`."),
    ("metrics.arch=1", "error: --where `metrics.arch=1`: no run has a final value of `arch`."),
    ("arch", "error: --where `arch` has no operator (=, !=, <, <=, >, >=)."),
    ("map==0.3", "error: --where `map==0.3`: `==` is not an operator."),
    ("a b=1", "error: Invalid --where key `a b`."),
]


@pytest.mark.parametrize(("where", "first_line"), BAD)
@pytest.mark.parametrize("command", ["ls", "leaderboard"])
def test_bad_filters_are_one_line_and_exit_2(runs: Path, cli, command: str, where: str,
                                             first_line: str) -> None:
    code, out, err = cli(command, "--where", where)
    assert code == ExitCode.BAD_INPUT
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == first_line
    assert len(lines) <= 2 and all(line.startswith("hint: ") for line in lines[1:])
    assert "Traceback" not in err


def test_a_percent_threshold_is_compared_raw_with_a_warning(runs: Path, cli) -> None:
    """map shown x100: `map>30` compares the stored fraction (nothing is above 30) and says
    what was probably meant."""
    (runs / "expctl.yaml").write_text("metrics:\n  map: {scale: 100}\n", encoding="utf-8")
    code, out, err = cli("ls", "--format", "json", "--where", "map>30")
    assert code == 0, err
    assert json.loads(out)["runs"] == []
    assert ("warning: --where map>30: `map` is compared as stored (0.25 to 0.4), not as shown "
            "(x100); did you mean map>0.3?") in err
    code, out, err = cli("leaderboard", "-m", "map", "--where", "map>0.3", "--format", "json")
    assert code == 0 and [r["id"] for r in json.loads(out)["runs"]] == ["a"]
    assert "warning" not in err


@pytest.mark.parametrize(("text", "key", "op", "value"), [
    ("a<=1", "a", "<=", "1"), ("a>=1", "a", ">=", "1"), ("a!=1", "a", "!=", "1"),
    ("a<1", "a", "<", "1"), ("a>1", "a", ">", "1"), ("a=1", "a", "=", "1"),
    ("note=x<y", "note", "=", "x<y"), ("val/loss<0.5", "val/loss", "<", "0.5"),
])
def test_the_longest_operator_is_read_first(text: str, key: str, op: str, value: str) -> None:
    where = queries.parse_where(text)
    assert (where.key, where.op, where.text) == (key, op, value)


def test_a_name_only_a_metric_can_have_must_compare_a_number() -> None:
    with pytest.raises(BadInputError, match="`val/loss` is a metric"):
        queries.parse_where("val/loss=low")


@pytest.mark.sqlite_only  # EXPLAIN QUERY PLAN is SQLite's
def test_the_sql_walks_the_ordering_index(runs: Path) -> None:
    """The ranked metric's own filter is a range on ix_metrics_name_value; others are
    primary-key probes, never a scan of a table or a sort of every matching run."""
    from expctl.registry.migrations import open_registry
    from expctl.workspace import Workspace

    with open_registry(Workspace(runs)) as db:
        wheres = queries.prepare(db, [queries.parse_where(w) for w in
                                      ("map>0.3", "status=imported", "train.lr<=0.01")])
        cond, params = queries.filter_sql(db, wheres, "m", "map")
        plan = db.query("EXPLAIN QUERY PLAN SELECT m.run_id FROM metrics m WHERE m.name = :metric"
                        f" AND m.value IS NOT NULL{cond} ORDER BY m.value DESC, m.run_id ASC,"
                        " m.workspace ASC LIMIT 20", {**params, "metric": "map"})
        steps = [row[-1] for row in plan]
        cond, params = queries.filter_sql(db, wheres)
        ls_plan = db.query("EXPLAIN QUERY PLAN SELECT r.id FROM runs r WHERE 1 = 1"
                           f"{cond} ORDER BY r.created_ts DESC, r.id DESC LIMIT 20", params)
    assert any("ix_metrics_name_value (workspace=? AND name=? AND value>?)" in s
               for s in steps), steps
    assert any("SEARCH x1 USING PRIMARY KEY (workspace=? AND id=?)" in s for s in steps), steps
    assert any("SEARCH x2 USING PRIMARY KEY (workspace=? AND run_id=? AND name=?)" in s
               for s in steps), steps
    # Ties of equal values are sorted by id ("RIGHT PART"); never the whole range first.
    assert not any(s.startswith("SCAN") or "TEMP B-TREE FOR ORDER BY" in s for s in steps), steps
    ls_steps = [row[-1] for row in ls_plan]
    assert not any(s.startswith("SCAN") or "TEMP B-TREE" in s for s in ls_steps), ls_steps
