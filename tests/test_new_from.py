"""`expctl new NEW_ID --from RUN`: the source's config as it was run and its overrides, the new
--set values on top, the steps a new id names, a fresh snapshot, and `forked_from`."""

from __future__ import annotations

from pathlib import Path

from standins.kit import cli, git, make_workspace

from expctl.files import read_yaml  # noqa: E402

RECIPE = """\
description: fork test
command: ["python", "train.py", "{overrides}"]
steps_param: train.max_steps
params:
  train: {max_steps: 100, lr: 0.001, batch_size: 8}
  model: {scales: [2, 3, 4]}
metrics: {primary: map}
"""


def test_new_from_copies_config_and_overrides_with_a_fresh_snapshot(tmp_path: Path):
    root = make_workspace(tmp_path, {"base": RECIPE})
    cli(root, "new", "base_1k", "--set", "train.lr=0.01")
    # The recipe changes after the source was made: the fork keeps what the source ran.
    (root / "recipes" / "base.yaml").write_text(RECIPE.replace("batch_size: 8", "batch_size: 99"))
    git(root, "commit", "-qam", "bigger batches")
    made = cli(root, "new", "base_2k", "--from", "base_1k", "--set", "model.scales=[1, 2, 3, 4]")
    assert "created run base_2k (from base_1k, recipe base, 2000 steps" in made.stderr
    source = read_yaml(root / "runs" / "base_1k" / "config.yaml")
    fork = read_yaml(root / "runs" / "base_2k" / "config.yaml")
    assert fork["params"] == {"train": {"max_steps": 2000, "lr": 0.01, "batch_size": 8},
                              "model": {"scales": [1, 2, 3, 4]}}
    assert {k: v for k, v in fork.items() if k != "params"} == \
        {k: v for k, v in source.items() if k != "params"}
    info = read_yaml(root / "runs" / "base_2k" / "run.yaml")
    assert info["forked_from"] == "base_1k" and info["recipe"] == "base"
    assert info["overrides"] == ["train.lr=0.01", "model.scales=[1, 2, 3, 4]"]
    assert info["steps"] == 2000
    source_info = read_yaml(root / "runs" / "base_1k" / "run.yaml")
    assert "forked_from" not in source_info  # runs made from a recipe say nothing of it
    assert info["git"]["sha"] != source_info["git"]["sha"]  # a fresh snapshot, not a copy
    assert "Started from run `base_1k`" in \
        (root / "runs" / "base_2k" / "experiment_hypothesis.md").read_text()
    # An id that names no steps keeps the source's; the fork is the current run.
    cli(root, "new", "again", "--from", "base_2k")
    assert read_yaml(root / "runs" / "again" / "config.yaml")["params"]["train"]["max_steps"] == \
        2000
    assert "forked from  base_2k" in cli(root, "show").stdout


def test_new_from_refusals(tmp_path: Path):
    root = make_workspace(tmp_path, {"base": RECIPE})
    cli(root, "new", "base")
    cases = [
        (("new", "x", "--from", "nope"), 3, "No run `nope`"),
        (("new", "x", "--from", "base", "--recipe", "base"), 2, "not both"),
        (("new", "base", "--from", "base"), 4, "already exists"),
        (("new", "x", "--from", "base", "--set", "train.lr=abc"), 2, "expected a number"),
        (("new", "x", "--from", "base", "--set", "nokey=1"), 2, "Unknown key `nokey`"),
    ]
    for args, code, message in cases:
        done = cli(root, *args, check=False)
        assert done.returncode == code, (args, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr
    assert not (root / "runs" / "x").exists()
    (tmp_path / "r.csv").write_text("id,map\nimp,0.3\n")
    cli(root, "import", str(tmp_path / "r.csv"))
    imported = cli(root, "new", "x", "--from", "imp", check=False)
    assert imported.returncode == 2 and "was imported" in imported.stderr
