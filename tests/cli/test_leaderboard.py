"""`expctl leaderboard`: ranks, ties, directions, missing runs, baselines, filters, formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import remove_registry, write_jsonl

from expctl.errors import ExitCode

# The users' hand-kept table (USERS.md), as fractions; the attention run has no small_map.
STUDY = [
    {"id": "3scale_sizeaware_100k", "metrics": {"map": 0.3408, "small_map": 0.1353},
     "params": {"arch": "3scale", "train": {"lr": 0.01, "steps": 100000}}},
    {"id": "3scale_baseline", "metrics": {"map": 0.3402, "small_map": 0.1728},
     "params": {"arch": "3scale", "train": {"lr": 0.01, "steps": 100000}}},
    {"id": "4scale_sizeaware_100k", "metrics": {"map": 0.3223, "small_map": 0.1275},
     "params": {"arch": "4scale", "train": {"lr": 0.001, "steps": 100000}}},
    {"id": "4scale_enhanced_100k", "metrics": {"map": 0.3093, "small_map": 0.1483},
     "params": {"arch": "4scale", "train": {"lr": 0.001, "steps": 100000}}},
    {"id": "3scale_sizeaware_attention_100k", "metrics": {"map": 0.247},
     "params": {"arch": "3scale", "train": {"lr": 0.01, "steps": 100000}}},
]


@pytest.fixture
def study(workspace: Path, cli) -> Path:
    code, _, err = cli("import", str(write_jsonl(workspace.parent / "study.jsonl", STUDY)),
                       "--recipe", "rvt")
    assert code == 0, err
    return workspace


def board(cli, *args: str) -> list[dict]:
    code, out, err = cli("leaderboard", *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)["runs"]


def set_settings(workspace: Path, text: str) -> None:
    (workspace / "expctl.yaml").write_text(text, encoding="utf-8")


def test_ranked_by_map_with_deltas_against_the_baseline(study: Path, cli) -> None:
    rows = board(cli, "--metric", "map", "--baseline", "3scale_baseline")
    assert [(r["rank"], r["id"]) for r in rows] == [
        (1, "3scale_sizeaware_100k"), (2, "3scale_baseline"), (3, "4scale_sizeaware_100k"),
        (4, "4scale_enhanced_100k"), (5, "3scale_sizeaware_attention_100k")]
    first = rows[0]
    assert first["map"] == 0.3408
    assert first["delta"] == pytest.approx(0.0006)
    assert first["delta_pct"] == pytest.approx(0.0006 / 0.3402 * 100)
    assert (first["baseline"], first["missing"]) == (False, False)
    base = rows[1]
    assert (base["baseline"], base["delta"], base["delta_pct"]) == (True, 0.0, 0.0)
    assert rows[3]["delta"] == pytest.approx(0.3093 - 0.3402)


def test_runs_without_the_metric_come_last_unranked(study: Path, cli) -> None:
    rows = board(cli, "--metric", "small_map", "--baseline", "3scale_baseline")
    assert [r["id"] for r in rows] == [
        "3scale_baseline", "4scale_enhanced_100k", "3scale_sizeaware_100k",
        "4scale_sizeaware_100k", "3scale_sizeaware_attention_100k"]
    missing = rows[-1]
    assert (missing["rank"], missing["small_map"], missing["missing"]) == (None, None, True)
    assert (missing["delta"], missing["delta_pct"]) == (None, None)
    assert [r["rank"] for r in rows[:-1]] == [1, 2, 3, 4]


def test_ties_share_a_rank_and_the_next_rank_skips(workspace: Path, cli) -> None:
    rows = [{"id": i, "metrics": {"acc": v}} for i, v in
            [("a", 0.5), ("b", 0.7), ("c", 0.5), ("d", 0.9), ("e", 0.4), ("f", 0.5)]]
    assert cli("import", str(write_jsonl(workspace.parent / "t.jsonl", rows)))[0] == 0
    got = [(r["rank"], r["id"]) for r in board(cli, "--metric", "acc")]
    assert got == [(1, "d"), (2, "b"), (3, "a"), (3, "c"), (3, "f"), (6, "e")]
    top = [(r["rank"], r["id"]) for r in board(cli, "--metric", "acc", "--top", "4")]
    assert top == [(1, "d"), (2, "b"), (3, "a"), (3, "c")]


def test_lower_is_better_by_name_and_by_settings(workspace: Path, cli) -> None:
    rows = [{"id": i, "metrics": {"val_rmse": r, "ap_gap": g, "score": s}} for i, r, g, s in
            [("a", 2.4, 0.05, 3.0), ("b", 2.1, 0.09, 1.0), ("c", 2.2, 0.01, 2.0)]]
    assert cli("import", str(write_jsonl(workspace.parent / "l.jsonl", rows)))[0] == 0
    assert [r["id"] for r in board(cli, "--metric", "val_rmse")] == ["b", "c", "a"]
    assert [r["id"] for r in board(cli, "--metric", "ap_gap")] == ["c", "a", "b"]
    assert [r["id"] for r in board(cli, "--metric", "score")] == ["a", "c", "b"]
    set_settings(workspace, "metrics:\n  score: {direction: lower}\n")
    assert [r["id"] for r in board(cli, "--metric", "score")] == ["b", "c", "a"]


def test_colours_follow_the_direction() -> None:
    from expctl.cli.leaderboard import _table
    from expctl.leaderboard import Board, BoardRow
    from expctl.numbers import MetricFormat

    def styles(direction: str) -> list[tuple[str, str]]:
        rows = [BoardRow("up", 2.0, 1, 1.0, 100.0), BoardRow("base", 1.0, 2, 0.0, 0.0, True),
                BoardRow("down", 0.5, 3, -0.5, -50.0)]
        b = Board("m", MetricFormat("m", direction), rows, [], {}, "base", 1.0, 3, 0)
        _, table = _table(b)
        return [(row[3].text.split("(")[1], row[3].style) for row in table]

    assert styles("higher") == [("+100.0%, better)", "green"), ("+0.0%, same)", ""),
                                ("-50.0%, worse)", "red")]
    assert styles("lower") == [("+100.0%, worse)", "red"), ("+0.0%, same)", ""),
                               ("-50.0%, better)", "green")]


def test_top_keeps_the_baseline_with_its_real_rank(study: Path, cli) -> None:
    code, out, err = cli("leaderboard", "--metric", "map", "--top", "1", "--baseline",
                         "4scale_enhanced_100k", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["runs"]
    assert [(r["rank"], r["id"], r["baseline"]) for r in rows] == [
        (1, "3scale_sizeaware_100k", False), (4, "4scale_enhanced_100k", True)]
    assert "3 more runs not shown" in err


def test_where_filters_params_numerically_and_as_text(study: Path, cli) -> None:
    ids = lambda *a: [r["id"] for r in board(cli, "--metric", "map", *a)]  # noqa: E731
    assert ids("--where", "train.lr=0.010") == [
        "3scale_sizeaware_100k", "3scale_baseline", "3scale_sizeaware_attention_100k"]
    assert ids("--where", "train.lr=1e-3") == ["4scale_sizeaware_100k", "4scale_enhanced_100k"]
    assert ids("--where", "arch=4scale", "--where", "train.steps=100000") == [
        "4scale_sizeaware_100k", "4scale_enhanced_100k"]
    assert ids("--where", "recipe=rvt", "--where", "status=imported", "--where",
               "arch=3scale", "--top", "1") == ["3scale_sizeaware_100k"]
    assert ids("--where", "recipe=other") == []
    assert ids("--where", "arch=5scale") == []


def test_unknown_metric_lists_the_known_ones(study: Path, cli, snapshot) -> None:
    before = snapshot(study)
    code, out, err = cli("leaderboard", "--metric", "small_mAP")
    assert code == ExitCode.BAD_INPUT
    assert out == ""
    assert err.splitlines() == ["error: Unknown metric `small_mAP`: no run has a value for it.",
                                "hint: known metrics: map, small_map"]
    assert snapshot(study) == before


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--metric", "map", "--baseline", "nope"], ExitCode.NOT_FOUND, "No baseline run `nope`."),
    (["--metric", "map", "--baseline", "../x"], ExitCode.BAD_INPUT, "Invalid baseline run id"),
    (["--metric", "map", "--where", "arch"], ExitCode.BAD_INPUT,
     "--where `arch` has no operator"),
    (["--metric", "map", "--where", "a b=1"], ExitCode.BAD_INPUT, "Invalid --where key"),
    (["--metric", "m a p"], ExitCode.BAD_INPUT, "Invalid metric name"),
])
def test_bad_options(study: Path, cli, args: list[str], code: int, message: str) -> None:
    got, out, err = cli("leaderboard", *args)
    assert got == code, err
    assert out == ""
    assert message in err.splitlines()[0] and "Traceback" not in err


def test_settings_give_metric_baseline_columns_and_scale(study: Path, cli) -> None:
    set_settings(study, """\
baseline: 3scale_baseline
leaderboard:
  metric: map
  columns: [small_map, arch]
metrics:
  map: {direction: higher, scale: 100}
  small_map: {scale: 100}
""")
    code, out, err = cli("leaderboard")
    assert code == 0, err
    assert out.splitlines() == [
        "rank  id                                  map               vs baseline  small_map"
        "  arch    note",
        "   1  3scale_sizeaware_100k            34.08%  +0.06 pp (+0.2%, better)     13.53"
        "%  3scale",
        "   2  3scale_baseline                  34.02%    +0.00 pp (+0.0%, same)     17.28"
        "%  3scale  baseline",
        "   3  4scale_sizeaware_100k            32.23%   -1.79 pp (-5.3%, worse)     12.75"
        "%  4scale",
        "   4  4scale_enhanced_100k             30.93%   -3.09 pp (-9.1%, worse)     14.83"
        "%  4scale",
        "   5  3scale_sizeaware_attention_100k  24.70%  -9.32 pp (-27.4%, worse)          "
        "   3scale",
    ]
    rows = board(cli)
    assert rows[0]["map"] == 0.3408 and rows[0]["small_map"] == 0.1353  # JSON stays raw
    assert rows[0]["arch"] == "3scale"


def test_a_missing_settings_baseline_is_a_warning(study: Path, cli) -> None:
    set_settings(study, "baseline: gone_run\n")
    code, out, err = cli("leaderboard", "--metric", "map", "--format", "json")
    assert code == 0
    assert "warning: baseline `gone_run` from expctl.yaml is not a known run" in err
    assert all(r["delta"] is None for r in json.loads(out)["runs"])


def test_default_metric_is_the_recipes_primary(workspace: Path, cli) -> None:
    for run_id, value in (("baseline_1k", "0.1"), ("baseline_2k", "0.3")):
        assert cli("new", run_id)[0] == 0
        assert cli("record", run_id, f"small_map={value}", "map=0.5")[0] == 0
    rows = board(cli)
    assert [(r["id"], r["small_map"]) for r in rows] == [("baseline_2k", 0.3),
                                                         ("baseline_1k", 0.1)]


def test_no_metric_anywhere_is_bad_input(study: Path, cli) -> None:
    code, _, err = cli("leaderboard")
    assert code == ExitCode.BAD_INPUT
    assert "No metric to rank by" in err and "known metrics: map, small_map" in err


@pytest.mark.parametrize("fmt", ["table", "md", "csv", "json", "latex"])
def test_reindex_gives_the_identical_leaderboard(study: Path, cli, fmt: str) -> None:
    args = ("leaderboard", "--metric", "small_map", "--baseline", "3scale_baseline",
            "--format", fmt)
    code, before, err = cli(*args)
    assert code == 0, err
    for suffix in ("", "-wal", "-shm"):
        Path(f"{study / 'registry.db'}{suffix}").unlink(missing_ok=True)
    code, _, err = cli("reindex")
    assert code == 0 and "indexed 5 runs" in err
    code, after, err = cli(*args)
    assert code == 0, err
    assert after == before


def test_formats(study: Path, cli) -> None:
    args = ("leaderboard", "--metric", "map", "--baseline", "3scale_baseline", "--top", "2")
    md = cli(*args, "--format", "md")[1].splitlines()
    assert md[0] == "| rank | id | map | vs baseline | note |"
    assert md[1] == "|---:|---|---:|---:|---|"
    assert md[2] == "| 1 | 3scale_sizeaware_100k | 0.3408 | +0.0006 (+0.2%, better) |  |"
    assert md[3] == "| 2 | 3scale_baseline | 0.3402 | +0.0000 (+0.0%, same) | baseline |"
    # CSV: raw numbers a program can load (delta_pct is the relative change in percent).
    csv_lines = cli(*args, "--format", "csv")[1].splitlines()
    assert csv_lines[0] == "rank,id,map,delta,delta_pct,note"
    rank, run_id, value, delta, pct, note = csv_lines[1].split(",")
    assert (rank, run_id, value, note) == ("1", "3scale_sizeaware_100k", "0.3408", "")
    assert float(delta) == pytest.approx(0.0006) and float(pct) == pytest.approx(0.0006 / 0.3402
                                                                                   * 100)
    latex = cli(*args, "--format", "latex")[1]
    assert latex.startswith(r"\begin{tabular}{rlrrl}")
    assert r"3scale\_sizeaware\_100k & 0.3408 & +0.0006 (+0.2\%, better) &  \\" in latex


def test_a_missing_registry_is_rebuilt_on_first_read(study: Path, cli) -> None:
    remove_registry(study)  # the file, or the tables with --postgres
    code, out, err = cli("leaderboard", "--metric", "map", "--format", "json")
    assert code == 0
    assert "the registry was new: indexed 5 runs" in err
    assert len(json.loads(out)["runs"]) == 5


def test_the_ranked_metric_is_not_repeated_as_an_extra_column(study: Path, cli) -> None:
    set_settings(study, "leaderboard:\n  columns: [small_map, arch]\n")
    code, out, err = cli("leaderboard", "--metric", "small_map")
    assert code == 0, err
    assert out.splitlines()[0].split() == ["rank", "id", "small_map", "arch", "note"]


def test_where_compares_lists_whatever_their_spacing(workspace: Path, cli) -> None:
    """Lists are stored as compact JSON; README's own `fpn.in_stages=[1, 2, 3, 4]` matched
    nothing. A string param spelled like a list still matches as written."""
    path = write_jsonl(workspace.parent / "s.jsonl", [
        {"id": "four", "metrics": {"map": 0.3}, "params": {"fpn": {"in_stages": [1, 2, 3, 4]}}},
        {"id": "three", "metrics": {"map": 0.2}, "params": {"fpn": {"in_stages": [2, 3, 4]}}},
        {"id": "named", "metrics": {"map": 0.1},
         "params": {"fpn": {"in_stages": "[2, 3, 4]", "cfg": [{"a": 1, "b": ["x"]}]}}},
    ])
    assert cli("import", str(path))[0] == 0
    ids = lambda *a: [r["id"] for r in board(cli, "--metric", "map", *a)]  # noqa: E731
    assert ids("--where", "fpn.in_stages=[1, 2, 3, 4]") == ["four"]
    assert ids("--where", "fpn.in_stages=[1,2,3,4]") == ["four"]
    assert ids("--where", "fpn.in_stages=[ 2,3,  4 ]") == ["three"]
    assert ids("--where", "fpn.in_stages=[2, 3, 4]") == ["three", "named"]
    assert ids("--where", "fpn.cfg=[{a: 1, b: [x]}]") == ["named"]  # mappings in lists too
    assert ids("--where", "fpn.in_stages=[2, 3") == []  # not YAML: compared as written


def test_json_has_null_for_deltas_that_overflow(workspace: Path, cli) -> None:
    path = write_jsonl(workspace.parent / "s.jsonl", [
        {"id": "top", "metrics": {"map": 1e308}}, {"id": "bottom", "metrics": {"map": -1e308}}])
    assert cli("import", str(path))[0] == 0
    code, out, err = cli("leaderboard", "--metric", "map", "--baseline", "bottom",
                         "--format", "json")
    assert code == 0, err

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    rows = json.loads(out, parse_constant=refuse)["runs"]
    assert [(r["id"], r["delta"], r["delta_pct"]) for r in rows] == [
        ("top", None, None), ("bottom", 0.0, 0.0)]


def test_json_and_csv_carry_raw_values_and_the_formats(study: Path, cli) -> None:
    """--top 0 in json/csv is written as the registry is read (streamed); its rows are the
    ones a cut board lists, and json ends with the number format of each metric column."""
    set_settings(study, "baseline: 3scale_baseline\nmetrics:\n  map: {scale: 100, label: mAP}\n"
                 "leaderboard:\n  columns: [small_map, train.lr]\n")
    code, out, err = cli("leaderboard", "--metric", "map", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["metric"], data["baseline"]) == ("map", "3scale_baseline")
    assert data["formats"] == {
        "map": {"direction": "higher", "scale": 100.0, "decimals": 2, "label": "mAP",
                "unit": None},
        "small_map": {"direction": "higher", "scale": 1.0, "decimals": 4, "label": "small_map",
                      "unit": None}}
    assert [(r["rank"], r["id"], r["map"], r["small_map"], r["train.lr"]) for r in
            data["runs"]][:2] == [(1, "3scale_sizeaware_100k", 0.3408, 0.1353, "0.01"),
                                  (2, "3scale_baseline", 0.3402, 0.1728, "0.01")]
    cut = json.loads(cli("leaderboard", "--metric", "map", "--top", "5", "--format",
                         "json")[1])
    assert cut == data
    code, out, _ = cli("leaderboard", "--metric", "map", "--format", "csv")
    lines = out.splitlines()
    assert lines[0] == "rank,id,map (x100),delta (x100),delta_pct,small_map,train.lr,note"
    assert lines[2] == "2,3scale_baseline,0.3402,0.0,0.0,0.1728,0.01,baseline"
    assert len(lines) == 6


def test_a_streamed_board_ranks_ties_and_missing_runs_like_a_listed_one(workspace: Path,
                                                                         cli) -> None:
    from expctl import leaderboard
    from expctl.registry import open_registry
    from expctl.workspace import Workspace

    rows = [{"id": f"r{i:02d}", "metrics": {"m": (i // 3) / 10} if i % 7 else {"x": 1}}
            for i in range(25)]
    assert cli("import", str(write_jsonl(workspace.parent / "r.jsonl", rows)))[0] == 0
    ws = Workspace(workspace)
    with open_registry(ws) as db:
        listed = leaderboard.build_board(ws, db, "m", "r05").rows
        old_chunk, leaderboard.STREAM_CHUNK = leaderboard.STREAM_CHUNK, 4  # several chunks
        try:
            streamed = list(leaderboard.build_board(ws, db, "m", "r05", stream=True).rows)
        finally:
            leaderboard.STREAM_CHUNK = old_chunk
    assert streamed == listed
    assert [r.rank for r in listed][:6] == [1, 2, 2, 4, 4, 4]
    assert [r.id for r in listed if r.missing] == ["r00", "r07", "r14", "r21"]
