"""`expctl gc`: the rule (baseline, best N, tagged, not ranked yet), a dry run that lists exactly
what is then deleted, and nothing but checkpoint files under runs' checkpoints/ folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import tree_state
from standins.kit import cli, make_workspace

from expctl.annotations import change_tags  # noqa: E402
from expctl.phases.new import create_run  # noqa: E402
from expctl.registry import index_runs  # noqa: E402
from expctl.runs import load_run, write_results  # noqa: E402
from expctl.workspace import Workspace  # noqa: E402

RECIPE = """\
description: gc test
command: "true"
metrics: {primary: map}
"""


def study(tmp_path: Path, values: dict[str, float | None], settings: str = "") -> Path:
    """Runs with a map each (None: not recorded), each with two checkpoints and a note file."""
    root = make_workspace(tmp_path, {"base": RECIPE}, settings)
    ws = Workspace(root)
    for run_id, value in values.items():
        run = create_run(ws, run_id, "base")
        if value is not None:
            write_results(run, {"map": value})
        ckpt = run.path / "checkpoints"
        (ckpt / "final_model.ckpt").write_bytes(b"x" * 100)
        (ckpt / "epoch_1").mkdir()
        (ckpt / "epoch_1" / "model.safetensors").write_bytes(b"y" * 50)
        (ckpt / "README.txt").write_text("not a checkpoint\n")
    index_runs(ws, list(values))
    return root


def gc_json(root: Path, *args: str) -> dict:
    return json.loads(cli(root, "gc", "--dry-run", "-f", "json", *args).stdout)


def deleted_paths(plan: dict) -> set[str]:
    return {d["path"] for d in plan["delete"]}


def ckpts(*run_ids: str) -> set[str]:
    return {f"runs/{r}/checkpoints/{name}" for r in run_ids
            for name in ("final_model.ckpt", "epoch_1/model.safetensors")}


def test_dry_run_lists_exactly_what_the_rule_then_deletes(tmp_path: Path):
    root = study(tmp_path, {"r1": 0.1, "r2": 0.2, "r3": 0.3, "r4": 0.4, "r5": 0.5, "new": None},
                 settings="baseline: r1\n")
    change_tags(load_run(Workspace(root), "r2"), ["paper"])
    before = tree_state(root / "runs")
    plan = gc_json(root, "--keep-best", "2")
    assert deleted_paths(plan) == ckpts("r3")
    assert plan["bytes"] == 150 and plan["freed"] == 150
    assert plan["kept"] == {"r1": "the baseline", "r2": "tagged paper",
                            "r4": "best 2 by map (rank 2)", "r5": "best 2 by map (rank 1)",
                            "new": "no map recorded yet"}
    table = cli(root, "gc", "--keep-best", "2", "--dry-run")
    assert sorted(line.split()[1] for line in table.stdout.splitlines()[1:]) == sorted(ckpts("r3"))
    assert "would delete 2 file(s) of 1 run(s), 150 B" in table.stderr
    assert tree_state(root / "runs") == before  # the dry run changed nothing

    done = cli(root, "gc", "--keep-best", "2", "--yes")
    assert "deleted 2 file(s), 150 B" in done.stderr
    after = tree_state(root / "runs")
    gone = {k for k in before if k not in after}
    assert gone == {p.removeprefix("runs/") for p in ckpts("r3")}
    assert after["r3/checkpoints/README.txt"] == b"not a checkpoint\n"  # only checkpoint files
    assert (root / "runs" / "r3" / "checkpoints" / "epoch_1").is_dir()
    assert gc_json(root, "--keep-best", "2")["delete"] == []  # nothing left for the rule


def test_keep_tag_narrows_which_tags_protect_and_ties_at_the_cut_are_kept(tmp_path: Path):
    root = study(tmp_path, {"a": 0.5, "b": 0.4, "c": 0.4, "d": 0.1})
    ws = Workspace(root)
    change_tags(load_run(ws, "d"), ["wip"])
    plan = gc_json(root, "--keep-best", "2")  # b and c share rank 2: both kept
    assert deleted_paths(plan) == set() and plan["kept"]["d"] == "tagged wip"
    assert plan["kept"]["c"] == "best 2 by map (rank 2)"
    plan = gc_json(root, "--keep-best", "1", "--keep-tag", "paper")
    assert deleted_paths(plan) == ckpts("b", "c", "d")
    plan = gc_json(root, "--keep-best", "1", "--keep-tag", "wip")
    assert deleted_paths(plan) == ckpts("b", "c")


def test_lower_is_better_and_an_explicit_metric(tmp_path: Path):
    root = study(tmp_path, {"a": 0.5, "b": 0.4, "c": 0.3})
    ws = Workspace(root)
    for run_id, loss in (("a", 2.0), ("b", 1.0), ("c", 3.0)):
        write_results(load_run(ws, run_id), {"val_loss": loss})
    assert deleted_paths(gc_json(root, "--keep-best", "1", "--metric", "val_loss")) == \
        ckpts("a", "c")
    assert deleted_paths(gc_json(root, "--keep-best", "1")) == ckpts("b", "c")  # by map


def test_links_and_hard_links(tmp_path: Path):
    root = study(tmp_path, {"a": 0.5, "b": 0.1})
    outside = tmp_path / "elsewhere.ckpt"
    outside.write_bytes(b"z" * 70)
    b_ckpt = root / "runs" / "b" / "checkpoints"
    os.symlink(outside, b_ckpt / "linked.ckpt")  # not b's file: neither listed nor followed
    os.link(b_ckpt / "final_model.ckpt", b_ckpt / "step_10.pt")  # one file, two names
    os.link(outside, b_ckpt / "shared.pt")  # a hard link to a file that stays elsewhere
    plan = gc_json(root, "--keep-best", "1")
    assert deleted_paths(plan) == ckpts("b") | {"runs/b/checkpoints/step_10.pt",
                                                "runs/b/checkpoints/shared.pt"}
    assert plan["bytes"] == 100 + 50 + 100 + 70
    assert plan["freed"] == 100 + 50  # the hard-linked pair once; shared.pt frees nothing
    cli(root, "gc", "--keep-best", "1", "--yes")
    assert outside.read_bytes() == b"z" * 70 and (b_ckpt / "linked.ckpt").is_symlink()


def test_gc_without_a_terminal_needs_yes(tmp_path: Path):
    root = study(tmp_path, {"a": 0.5, "b": 0.1})
    before = tree_state(root / "runs")
    refused = cli(root, "gc", "--keep-best", "1", check=False)
    assert refused.returncode == 2 and "stdin is not a terminal" in refused.stderr
    assert tree_state(root / "runs") == before
