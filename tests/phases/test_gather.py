"""Gather's choices, given a phase window: which files, which checkpoint, where they land,
and that gathering again (or after --move) changes nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from standins.kit import make_workspace

import expctl.phases.gather as gather_module  # noqa: E402
from expctl.errors import BadInputError, NotFoundError  # noqa: E402
from expctl.phases.gather import gather, step_of  # noqa: E402
from expctl.phases.new import create_run  # noqa: E402
from expctl.windows import Window, timestamp  # noqa: E402
from expctl.workspace import Workspace  # noqa: E402

RECIPE = """\
description: gather test
command: "true"
steps_param: max_steps
params: {max_steps: 600}
launch: {workdir: work}
isolation: none  # these tests are about what gather takes from a folder runs share
artifacts:
  checkpoint:
    glob: "ckpts/*/*.ckpt"
    required: true
  confusion:
    glob: "confM/*.png"
  confusion_val:
    glob: "confM/*.png"
    phase: validate
  logs:
    glob: ["{run_dir}/training_logs/own.txt", "logs/{run_id}.txt", "nothing/*.txt"]
"""

T0 = 1_700_000_000.0  # the window below is [T0, T0 + 100]


def touch(path: Path, when: float, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text or path.name)
    os.utime(path, (when, when))
    return path


@pytest.fixture()
def setup(tmp_path: Path, monkeypatch):
    root = make_workspace(tmp_path, {"g": RECIPE})
    ws = Workspace(root)
    run = create_run(ws, "g_600")

    def window(_ws, _run, phase):
        return Window(phase, T0, T0 + 100)

    monkeypatch.setattr(gather_module, "phase_window", window)
    return ws, run, root / "work"


def test_step_parsing():
    assert step_of(Path("epoch=012-step=100000-val_AP=0.32.ckpt")) == (100000, 12)
    assert step_of(Path("last_epoch=012-step=100000.ckpt")) == (100000, 12)
    assert step_of(Path("ckpt_step0000600.pt")) == (600, -1)
    assert step_of(Path("model_step_42.pt")) == (42, -1)
    assert step_of(Path("epoch_0003.pth")) == (-1, 3)


def test_timestamps_keep_their_resolution():
    assert timestamp("2025-01-01T10:00:00.123+00:00")[1] == pytest.approx(0.001)
    assert timestamp("2025-01-01T10:00:00+00:00")[1] == 1.0
    assert timestamp(12.5) == (12.5, 0.0)
    assert timestamp(None) is None and timestamp("yesterday") is None


def test_only_files_of_the_window_and_the_highest_step(setup):
    ws, run, work = setup
    # Leftovers: a higher step, and matrices from before the run (and one from after it).
    touch(work / "ckpts" / "old" / "epoch=099-step=999999-val_AP=0.99.ckpt", T0 - 3600)
    touch(work / "confM" / "confusion_matrix_e050_s0000100.png", T0 - 3600)
    touch(work / "confM" / "confusion_matrix_later.png", T0 + 500)
    # This run: the step decides, not the (stale) val_AP; at equal steps the newer file wins.
    touch(work / "ckpts" / "ab12cd34" / "epoch=001-step=600-val_AP=0.40.ckpt", T0 + 10)
    touch(work / "ckpts" / "ab12cd34" / "epoch=000-step=300-val_AP=0.45.ckpt", T0 + 5)
    last = touch(work / "ckpts" / "ab12cd34" / "last_epoch=001-step=600.ckpt", T0 + 11)
    touch(work / "confM" / "confusion_matrix_e001_s0000600.png", T0 + 10)
    touch(work / "confM" / "confusion_matrix_latest.png", T0 + 10)
    touch(run.path / "training_logs" / "own.txt", T0 + 20)

    result = gather(ws, run)
    result.check()
    final = run.path / "checkpoints" / "final_model.ckpt"
    assert final.read_text() == last.read_text()
    assert not os.path.samefile(final, last)  # copied: the source lies outside the run folder
    actions = {(g.artifact, Path(g.source).name): (g.action, g.dest) for g in result.gathered}
    assert actions == {
        ("checkpoint", last.name): ("copied", "checkpoints/final_model.ckpt"),
        ("confusion", "confusion_matrix_e001_s0000600.png"):
            ("copied", "confusion_matrices/confusion_matrix_e001_s0000600.png"),
        ("confusion", "confusion_matrix_latest.png"):
            ("copied", "confusion_matrices/confusion_matrix_latest.png"),
        ("logs", "own.txt"): ("in place", "training_logs/own.txt"),
    }
    copied = run.path / "confusion_matrices" / "confusion_matrix_latest.png"
    assert not os.path.samefile(copied, work / "confM" / "confusion_matrix_latest.png")
    assert [m.artifact for m in result.missing] == []  # logs matched one of its globs


def test_gathering_again_changes_nothing_and_move_keeps_working(setup):
    ws, run, work = setup
    ckpt = touch(work / "ckpts" / "x" / "step=500.ckpt", T0 + 1)
    touch(work / "confM" / "a.png", T0 + 2)
    gather(ws, run)
    manifest = (run.path / "training_logs" / "gathered.json").read_bytes()
    again = gather(ws, run)
    assert {g.action for g in again.gathered} == {"unchanged"}
    assert (run.path / "training_logs" / "gathered.json").read_bytes() == manifest
    # A new checkpoint of the same run replaces final_model.ckpt.
    newer = touch(work / "ckpts" / "x" / "step=600.ckpt", T0 + 3)
    gather(ws, run, move=True)
    assert not newer.exists() and ckpt.exists()
    assert (run.path / "checkpoints" / "final_model.ckpt").read_text() == "step=600.ckpt"
    after_move = gather(ws, run)  # the source is gone: the manifest still vouches for it
    final = [g for g in after_move.gathered if g.artifact == "checkpoint"]
    assert [(g.action, g.dest) for g in final] == [("unchanged", "checkpoints/final_model.ckpt")]


def test_validation_files_never_overwrite_training_ones(setup, monkeypatch):
    ws, run, work = setup
    touch(work / "ckpts" / "x" / "step=600.ckpt", T0 + 1)
    touch(work / "confM" / "confusion_matrix_latest.png", T0 + 2, "training")
    gather(ws, run)
    monkeypatch.setattr(gather_module, "phase_window",
                        lambda _ws, _run, phase: Window(phase, T0 + 200, T0 + 300))
    touch(work / "confM" / "confusion_matrix_latest.png", T0 + 250, "validation")
    result = gather(ws, run, "validate")
    assert [(g.artifact, g.dest) for g in result.gathered] == [
        ("confusion_val", "confusion_matrices/confusion_matrix_latest_validate.png")]
    folder = run.path / "confusion_matrices"
    assert (folder / "confusion_matrix_latest.png").read_text() == "training"
    assert (folder / "confusion_matrix_latest_validate.png").read_text() == "validation"


def test_required_artifact_missing_lists_globs_and_leftovers(setup):
    ws, run, work = setup
    touch(work / "ckpts" / "old" / "step=600.ckpt", T0 - 10)
    result = gather(ws, run)
    with pytest.raises(NotFoundError) as err:
        result.check()
    message = err.value.message
    assert "Required artifact `checkpoint`" in message
    assert str(work / "ckpts" / "*" / "*.ckpt") in message
    assert "1 matching file(s) are other runs'" in message
    optional = [m.artifact for m in result.missing]
    assert "confusion" in optional and "checkpoint" in optional


def test_pick_from_log_and_bad_pick(setup, tmp_path):
    ws, run, work = setup
    recipe = (ws.recipes_dir / "g.yaml").read_text()
    yaml_recipe = recipe.replace('    glob: "ckpts/*/*.ckpt"\n', '    glob: "ckpts/*/*.ckpt"\n'
                                 '    pick: from_log\n'
                                 '    log_regex: "Saved (?P<path>\\\\S+\\\\.ckpt)"\n')
    (ws.recipes_dir / "g2.yaml").write_text(yaml_recipe)
    run2 = create_run(ws, "g2_600")
    chosen = touch(work / "ckpts" / "y" / "step=5.ckpt", T0 + 1)
    touch(work / "ckpts" / "y" / "step=9.ckpt", T0 + 2)
    log = run2.path / "training_logs" / "stdout.log"
    log.write_text(f"\r 50%|#####     | 1/2 [00:00<00:00]Saved {chosen}\nEpoch 1 done\n")
    gather(ws, run2).check()
    assert (run2.path / "checkpoints" / "final_model.ckpt").read_text() == chosen.read_text()

    (ws.recipes_dir / "g3.yaml").write_text(recipe.replace('    glob: "ckpts/*/*.ckpt"\n',
                                                           '    glob: "ckpts/*/*.ckpt"\n'
                                                           '    pick: all\n'))
    with pytest.raises(BadInputError, match="must pick one file"):
        gather(ws, create_run(ws, "g3_600"))


def test_a_run_still_training_cannot_be_gathered(tmp_path):
    """No monkeypatching: a run never launched has no window."""
    root = make_workspace(tmp_path, {"g": RECIPE})
    ws = Workspace(root)
    run = create_run(ws, "g_600")
    with pytest.raises(NotFoundError, match="has not been launched"):
        gather(ws, run)
    (run.path / "validation_results" / "validation.json").write_text(json.dumps(
        {"started": "2025-01-01T00:00:00.000+00:00", "ended": None,
         "process": {"pid": os.getpid()}}))
    from expctl.errors import ConflictError

    with pytest.raises(ConflictError, match="still in its validate phase"):
        gather(ws, run, "validate")


def test_a_resumed_training_owns_the_files_of_every_attempt_but_not_the_gap():
    window = Window("train", 200.0, 300.0, earlier=((100.0, 150.0),))
    assert window.contains(120.0) and window.contains(250.0)
    assert not window.contains(170.0)  # another run may have written then
    assert "1 earlier attempt" in window.describe()


def test_a_checkpoint_rewritten_in_place_later_leaves_the_gathered_one_alone(setup):
    ws, run, work = setup
    source = touch(work / "ckpts" / "fixed" / "step=600.ckpt", T0 + 10, "weights of run 1")
    gather(ws, run).check()
    with open(source, "w") as f:  # the next run's torch.save to the same fixed name
        f.write("weights of run 2")
    assert (run.path / "checkpoints" / "final_model.ckpt").read_text() == "weights of run 1"


def test_a_checkpoint_inside_the_run_folder_is_hard_linked(tmp_path, monkeypatch):
    root = make_workspace(tmp_path, {"g": RECIPE.replace('"ckpts/*/*.ckpt"',
                                                         '"{run_dir}/checkpoints/ckpt_*.pt"')})
    ws = Workspace(root)
    run = create_run(ws, "g_600")
    monkeypatch.setattr(gather_module, "phase_window",
                        lambda _ws, _run, phase: Window(phase, T0, T0 + 100))
    own = touch(run.path / "checkpoints" / "ckpt_step0000600.pt", T0 + 10)
    result = gather(ws, run)
    result.check()
    assert os.path.samefile(run.path / "checkpoints" / "final_model.ckpt", own)
    assert [g.action for g in result.gathered if g.artifact == "checkpoint"] == ["linked"]


def test_a_checkpoint_past_the_planned_steps_is_another_runs(setup):
    ws, run, work = setup  # g_600 plans 600 steps; a concurrent 1000-step run shares ckpts/
    mine = touch(work / "ckpts" / "shared" / "step=600.ckpt", T0 + 10, "mine")
    touch(work / "ckpts" / "shared" / "step=1000.ckpt", T0 + 20, "theirs")
    gather(ws, run).check()
    assert (run.path / "checkpoints" / "final_model.ckpt").read_text() == mine.read_text()
