"""`expctl compare`: config keys that differ, metric differences judged by direction, and
`git diff --stat` between the commits the runs were created at."""

from __future__ import annotations

import json
import re
from pathlib import Path

from standins.kit import cli, git, make_workspace

from expctl.phases.new import create_run  # noqa: E402
from expctl.runs import load_run, write_results  # noqa: E402
from expctl.workspace import Workspace  # noqa: E402

RECIPE = """\
description: compare test
command: "true"
params:
  fpn: {in_stages: [2, 3, 4]}
  train: {lr: 0.001, max_steps: 100}
"""
FORMATS = "\nmetrics:\n  map: {scale: 100, label: mAP}\n"


def test_compare_configs_metrics_and_code(tmp_path: Path):
    root = make_workspace(tmp_path, {"fpn": RECIPE}, settings=FORMATS)
    ws = Workspace(root)
    (root / "model.py").write_text("layers = 3\n")
    git(root, "add", "model.py")
    git(root, "commit", "-qm", "model")
    a = create_run(ws, "three_scale", "fpn")
    write_results(a, {"map": 0.34, "val_loss": 1.2, "only_a": 1.0})
    (root / "model.py").write_text("layers = 4\nextra = True\n")
    git(root, "commit", "-qam", "4 scales")
    b = create_run(ws, "four_scale", "fpn", ["fpn.in_stages=[1, 2, 3, 4]", "train.lr=0.002"])
    write_results(b, {"map": 0.31, "val_loss": 1.0})

    data = json.loads(cli(root, "compare", "three_scale", "four_scale", "-f", "json").stdout)
    assert data["config"] == [
        {"key": "params.fpn.in_stages", "a": [2, 3, 4], "b": [1, 2, 3, 4]},
        {"key": "params.train.lr", "a": 0.001, "b": 0.002},
    ]
    rows = {m["metric"]: m for m in data["metrics"]}
    assert rows["map"]["b_better"] is False
    assert abs(rows["map"]["delta"] + 0.03) < 1e-12
    assert rows["val_loss"]["direction"] == "lower" and rows["val_loss"]["b_better"] is True
    assert rows["only_a"]["b"] is None and rows["only_a"]["b_better"] is None
    assert "model.py | 3 ++-" in data["git_diff_stat"]

    table = cli(root, "compare", "three_scale", "four_scale").stdout
    assert "params.fpn.in_stages  [2, 3, 4]    [1, 2, 3, 4]" in table
    assert re.search(r"\nmAP +34\.00% +31\.00% +-3\.00 pp \(-8\.8%, worse\)\n", table), table
    assert "four_scale vs three_scale" in table
    assert "git diff --stat:" in table and "model.py" in table
    assert load_run(ws, "three_scale").info.git.sha != load_run(ws, "four_scale").info.git.sha


def test_compare_without_commits_says_why(tmp_path: Path):
    from expctl.workspace import init_workspace

    ws, _ = init_workspace(tmp_path)
    (tmp_path / "recipes" / "fpn.yaml").write_text(RECIPE)
    create_run(ws, "a", "fpn")
    create_run(ws, "b", "fpn")
    out = cli(tmp_path, "compare", "a", "b").stdout
    assert "config: identical" in out and "metrics: none recorded" in out
    assert "git: a run has no git commit recorded" in out
    bad = cli(tmp_path, "compare", "a", "nope", check=False)
    assert bad.returncode == 3 and "No run `nope`" in bad.stderr
