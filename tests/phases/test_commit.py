"""`expctl commit` in a real repository: only the run's small files, a message from the
template, the user's other staged changes left staged, and a dry run that changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from standins.kit import cli, git, make_workspace

from expctl.phases.new import create_run  # noqa: E402
from expctl.phases.record import record_run  # noqa: E402
from expctl.workspace import Workspace  # noqa: E402

RECIPE = """\
description: commit test
model: 3-scale FPN + size-aware loss
command: "true"
metrics:
  primary: map
  small: small_map
  sources:
    - kind: json
      path: validation_results/metrics.json
      metrics: {map: map, small_map: small_map}
criteria:
  small_map: ">= 0.20"
"""

SETTINGS = """
baseline: 3scale_baseline
metrics:
  map: {scale: 100, label: mAP}
  small_map: {scale: 100}
"""

EXPECTED_MESSAGE = """\
feat: complete 3scale_sizeaware experiment

- Model: 3-scale FPN + size-aware loss
- Performance: mAP 34.08%, +0.06 pp (+0.2%, better) vs 3scale_baseline
- Small objects: small_map 13.53%, -3.75 pp (-21.7%, worse) vs 3scale_baseline
- Criteria: small_map >= 0.20 FAIL
- Key findings: size-aware loss trades small objects for overall mAP
"""


def recorded(ws: Workspace, run_id: str, map_: float, small: float):
    run = create_run(ws, run_id, "det")
    (run.path / "validation_results" / "metrics.json").write_text(
        json.dumps({"map": map_, "small_map": small}))
    record_run(ws, run)
    return run


@pytest.fixture()
def repo(tmp_path: Path):
    root = make_workspace(tmp_path, {"det": RECIPE}, settings=SETTINGS)
    ws = Workspace(root)
    recorded(ws, "3scale_baseline", 0.3402, 0.1728)
    git(root, "add", "runs/3scale_baseline")
    git(root, "commit", "-qm", "baseline")
    run = recorded(ws, "3scale_sizeaware", 0.3408, 0.1353)
    (run.path / "checkpoints" / "final_model.ckpt").write_bytes(b"weights" * 100)
    (run.path / "confusion_matrices" / "big.png").write_bytes(b"\x89PNG" + b"0" * 6_000_000)
    (run.path / "confusion_matrices" / "small.png").write_bytes(b"\x89PNG small")
    (run.path / "training_logs" / "events.out.tfevents.1.host").write_bytes(b"\0binary")
    # Unrelated work the user has staged, and an unstaged edit: both must stay as they are.
    (root / "notes.md").write_text("my notes\n")
    git(root, "add", "notes.md")
    (root / "work" / ".keep").write_text("edited\n")
    return root, run


def index_state(root: Path) -> tuple[str, str, str]:
    return (git(root, "rev-parse", "HEAD"), git(root, "ls-files", "--stage"),
            git(root, "status", "--porcelain", "--untracked-files=all"))


def test_commit_takes_only_the_run_files_with_the_templated_message(repo):
    root, run = repo
    result = cli(root, "commit", "3scale_sizeaware", "--findings",
                 "size-aware loss trades small objects for overall mAP")
    assert "feat: complete 3scale_sizeaware experiment" in result.stdout
    committed = git(root, "show", "--name-only", "--format=", "HEAD").split()
    prefix = "runs/3scale_sizeaware/"
    expected = sorted(
        prefix + p.relative_to(run.path).as_posix() for p in run.path.rglob("*")
        if p.is_file() and p.name not in ("final_model.ckpt", "big.png")
        and not p.name.startswith("events.out"))
    assert sorted(committed) == expected
    assert prefix + ".gitignore" in committed
    assert git(root, "log", "-1", "--format=%B").rstrip("\n") == EXPECTED_MESSAGE.rstrip("\n")
    assert git(root, "diff", "--cached", "--name-only").split() == ["notes.md"]
    assert git(root, "diff", "--name-only").split() == ["work/.keep"]
    ignore = (run.path / ".gitignore").read_text().splitlines()
    assert "*.ckpt" in ignore and "/confusion_matrices/big.png" in ignore
    assert "/training_logs/events.out.tfevents.1.host" in ignore
    assert "/training_logs/cycle.log" in ignore  # cycle writes it after committing
    again = cli(root, "commit", "3scale_sizeaware", check=False)
    assert again.returncode == 4 and "Nothing to commit" in again.stderr


def test_dry_run_changes_nothing(repo):
    root, run = repo
    before, files_before = index_state(root), sorted(p for p in run.path.rglob("*"))
    result = cli(root, "commit", "3scale_sizeaware", "--dry-run", "--findings", "x")
    assert "- Performance: mAP 34.08%, +0.06 pp (+0.2%, better) vs 3scale_baseline" in result.stdout
    assert "runs/3scale_sizeaware/experiment_results.json" in result.stdout
    assert "final_model.ckpt" not in result.stdout.split("would commit")[-1]
    assert index_state(root) == before
    assert sorted(p for p in run.path.rglob("*")) == files_before  # no .gitignore written


def test_custom_template_and_clear_errors(repo, tmp_path):
    root, _ = repo
    template = tmp_path / "msg.txt"
    template.write_text("exp($ID): ${primary_label} ${primary_value} [$criteria]\n")
    cli(root, "commit", "3scale_sizeaware", "--template", str(template))
    assert git(root, "log", "-1", "--format=%B").strip() == \
        "exp(3scale_sizeaware): mAP 34.08% [small_map >= 0.20 FAIL]"
    template.write_text("$nope\n")
    bad = cli(root, "commit", "3scale_baseline", "--template", str(template), check=False)
    assert bad.returncode == 2 and "Unknown field $nope" in bad.stderr
    create_run(Workspace(root), "unrecorded", "det")
    early = cli(root, "commit", "unrecorded", check=False)
    assert early.returncode == 4 and "has not been recorded yet" in early.stderr


def test_outside_git_is_a_clear_error(tmp_path):
    from expctl.workspace import init_workspace

    ws, _ = init_workspace(tmp_path)
    (tmp_path / "recipes" / "det.yaml").write_text(RECIPE)
    recorded(ws, "solo", 0.3, 0.2)
    result = cli(tmp_path, "commit", "solo", check=False)
    assert result.returncode == 3 and "is not inside a git repository" in result.stderr


def test_the_baseline_and_a_run_without_a_baseline_value_read_right(repo, tmp_path):
    root, _ = repo
    own = cli(root, "commit", "3scale_baseline", "--dry-run").stdout
    assert "- Performance: mAP 34.02%, this is the baseline" in own
    assert "- Small objects: small_map 17.28%, this is the baseline" in own
    (root / "expctl.yaml").write_text((root / "expctl.yaml").read_text()
                                      .replace("baseline: 3scale_baseline", "baseline: gone"))
    recorded(Workspace(root), "other", 0.30, 0.10)  # deltas are taken when recording
    out = cli(root, "commit", "other", "--dry-run").stdout
    assert "- Performance: mAP 30.00%, no baseline value to compare" in out
