"""Metric sources never lose each other: a source that fails (a missing package, a missing
file, a file that does not parse) is named with its reason and the others are recorded; a
missing package is exit 6 with the install command, after the rest is recorded."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from standins.kit import PY, child_env, cli, make_workspace, results  # noqa: E402

from expctl.phases.new import create_run  # noqa: E402
from expctl.phases.record import record_run  # noqa: E402
from expctl.runs import load_run  # noqa: E402
from expctl.workspace import Workspace  # noqa: E402

COCO_LOG = "\n".join([
    "Overall",
    " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.345",
    " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.612",
]) + "\n"

RECIPE = f"""\
description: a COCO log and TensorBoard scalars
command: ["{PY}", "-c", "pass"]
params: {{lr: 0.1}}
metrics:
  primary: map
  sources:
    - {{kind: coco, path: validation_results/validation_output.log}}
    - {{kind: tensorboard, path: training_logs/tb, metrics: {{val_rmse: Val/RMSE}}, reduce: min}}
    - {{kind: json, path: validation_results/broken.json, metrics: {{fps: speed.fps}}}}
    - {{kind: jsonl, path: training_logs/never_written.jsonl, metrics: {{loss: loss}}}}
"""

# A sitecustomize that makes `import tensorboard` fail as it does where the package is not
# installed: this simulates its absence (tensorboard is installed in the test environment).
SIMULATE_NO_TENSORBOARD = '''\
import sys


class SimulatedAbsence:
    """Refuses tensorboard and its submodules, as a Python without the package would."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorboard" or name.startswith("tensorboard."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, SimulatedAbsence())
'''


def prepared_run(tmp_path: Path) -> tuple[Workspace, Path]:
    (tmp_path / "ws").mkdir()
    ws = Workspace(make_workspace(tmp_path / "ws", {"tb": RECIPE}))
    run = create_run(ws, "tb", "tb")
    (run.path / "validation_results" / "validation_output.log").write_text(COCO_LOG)
    (run.path / "validation_results" / "broken.json").write_text('{"speed": {"fps": 3')
    write_scalars(run.path / "training_logs" / "tb", [(0, 3.0), (1, 2.0), (2, 2.25)])
    return ws, run.path


def write_scalars(folder: Path, points: list[tuple[int, float]]) -> None:
    """A real event file, written with tensorboard's own writer (as a training script would)."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(folder))
    for step, value in points:
        summary = Summary(value=[Summary.Value(tag="Val/RMSE", simple_value=value)])
        writer.add_event(Event(wall_time=1000.0 + step, step=step, summary=summary))
    writer.close()


def without_tensorboard(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "simulate_no_tensorboard"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(SIMULATE_NO_TENSORBOARD)
    return child_env(PYTHONPATH=str(folder))


def test_without_tensorboard_exit_6_with_install_command_and_coco_recorded(tmp_path: Path):
    ws, run_path = prepared_run(tmp_path)
    env = without_tensorboard(tmp_path)
    check = subprocess.run([PY, "-c", "import tensorboard"], env=env, capture_output=True)
    assert check.returncode != 0  # the simulation works
    done = subprocess.run([PY, "-m", "expctl", "-C", str(ws.root), "record", "tb"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 6, done.stderr
    assert "pip install 'expctl[tensorboard]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert "`tensorboard`" in done.stderr
    metrics = results(ws.root, "tb")["metrics"]
    assert metrics == {"map": 0.345, "ap50": 0.612}  # the COCO source's, recorded anyway
    sources = results(ws.root, "tb")["sources"]
    assert "needs the Python package `tensorboard`" in sources[1]["problem"]
    # With the package (the same run, nothing else changed) the scalars are read too.
    again = cli(ws.root, "record", "tb")
    assert again.returncode == 0
    assert results(ws.root, "tb")["metrics"]["val_rmse"] == 2.0


def test_each_failing_source_is_named_with_its_reason(tmp_path: Path):
    ws, run_path = prepared_run(tmp_path)
    result = record_run(ws, load_run(ws, "tb"))
    assert result.metrics["map"] == 0.345 and result.metrics["val_rmse"] == 2.0
    broken = next(w for w in result.warnings if "broken.json" in w)
    assert "invalid JSON" in broken
    missing = next(w for w in result.warnings if "never_written.jsonl" in w)
    assert "no file matches" in missing
    data = json.loads((run_path / "experiment_results.json").read_text())
    assert "invalid JSON" in data["sources"][2]["problem"]
    assert data["sources"][3]["missing"] == ["loss"]
