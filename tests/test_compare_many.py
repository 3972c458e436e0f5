"""`expctl compare A B C ...`: config keys that differ across N runs, metrics side by side with
changes against the first run (or --baseline), judged by each metric's direction."""

from __future__ import annotations

import json
import re
from pathlib import Path

from standins.kit import cli, make_workspace

from expctl.phases.new import create_run  # noqa: E402
from expctl.runs import write_results  # noqa: E402
from expctl.workspace import Workspace  # noqa: E402

RECIPE = """\
description: compare test
command: "true"
params:
  fpn: {in_stages: [2, 3, 4]}
  train: {lr: 0.001}
"""
FORMATS = "\nmetrics:\n  map: {scale: 100, label: mAP}\n"


def three_runs(tmp_path: Path) -> Path:
    root = make_workspace(tmp_path, {"fpn": RECIPE}, settings=FORMATS)
    ws = Workspace(root)
    write_results(create_run(ws, "a", "fpn"), {"map": 0.34, "val_loss": 1.2})
    write_results(create_run(ws, "b", "fpn", ["train.lr=0.002"]), {"map": 0.31, "val_loss": 1.0})
    write_results(create_run(ws, "c", "fpn", ["fpn.in_stages=[1, 2, 3, 4]"]), {"map": 0.36})
    return root


def test_three_runs_against_the_first(tmp_path: Path):
    root = three_runs(tmp_path)
    data = json.loads(cli(root, "compare", "a", "b", "c", "-f", "json").stdout)
    assert data["runs"] == ["a", "b", "c"] and data["reference"] == "a"
    assert data["config"] == [
        {"key": "params.fpn.in_stages", "values": {"a": [2, 3, 4], "b": [2, 3, 4],
                                                   "c": [1, 2, 3, 4]}},
        {"key": "params.train.lr", "values": {"a": 0.001, "b": 0.002, "c": 0.001}},
    ]
    rows = {m["metric"]: m for m in data["metrics"]}
    assert abs(rows["map"]["deltas"]["b"] + 0.03) < 1e-12
    assert abs(rows["map"]["deltas"]["c"] - 0.02) < 1e-12
    assert rows["map"]["better"] == {"b": False, "c": True}
    assert rows["val_loss"]["direction"] == "lower"
    assert rows["val_loss"]["better"] == {"b": True, "c": None}  # c has no val_loss
    assert rows["val_loss"]["values"]["c"] is None
    assert [g["run"] for g in data["git"]] == ["b", "c"]
    assert all(g["git_note"].startswith("same commit") for g in data["git"])

    table = cli(root, "compare", "a", "b", "c").stdout
    assert "params.train.lr       0.001      0.002      0.001" in table
    assert re.search(r"\nmAP +34\.00% +31\.00%, -3\.00 pp \(-8\.8%, worse\) +"
                     r"36\.00%, \+2\.00 pp \(\+5\.9%, better\)", table), table
    assert "git (a -> c): same commit" in table


def test_baseline_option_and_bad_input(tmp_path: Path):
    root = three_runs(tmp_path)
    data = json.loads(cli(root, "compare", "a", "b", "--baseline", "c", "-f", "json").stdout)
    assert data["runs"] == ["c", "a", "b"] and data["reference"] == "c"
    assert abs(data["metrics"][0]["deltas"]["a"] + 0.02) < 1e-12
    two = json.loads(cli(root, "compare", "a", "b", "-f", "json").stdout)
    assert two["a"] == "a" and two["b"] == "b"  # two runs: the shape compare always had
    for args in (("compare", "a"), ("compare", "a", "a")):
        done = cli(root, *args, check=False)
        assert done.returncode == 2 and "at least two different runs" in done.stderr
    missing = cli(root, "compare", "a", "b", "nope", check=False)
    assert missing.returncode == 3 and "No run `nope`" in missing.stderr
