"""A small study for the report, plot and tensorboard tests: three runs of one recipe made
with the real `create_run`, their curves logged through expctl.track in a subprocess (as a
training script logs them), recorded from a jsonl metric source (deltas, criteria verdicts),
TensorBoard scalars in one run, confusion matrices (PNG + JSON) in two."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

STUDY_RECIPE = """\
description: a study for the report tests
model: test model
command: ["python", "-c", "print('training')", "{overrides}"]
steps_param: train.max_steps
params:
  train: {lr: 0.001, max_steps: 1000, lambda_base: 1.0}
metrics:
  primary: small_map
  sources:
    - {kind: jsonl, path: metrics.jsonl, metrics: {small_map: small_map}, reduce: last}
criteria:
  small_map: ">= 0.5"
"""

LOGGER = """
import sys
from expctl import track
for step, loss, acc, small in zip(*[map(float, a.split(",")) for a in sys.argv[1:5]]):
    track.log({"loss": loss, "acc": acc, "small_map": small}, step=int(step))
track.flush()
"""

# run id -> (lambda_base, losses): six points per run, small enough to compare exactly.
CURVES = {
    "study": (1.0, [2.0, 1.5, 1.2, 1.0, 0.9, 0.85]),
    "study_lb2": (2.0, [2.1, 1.4, 1.0, 0.8, 0.7, 0.65]),
    "study_lb3": (3.0, [2.2, 1.6, 1.3, 1.25, 1.2, 1.15]),
}
STEPS = [0, 10, 20, 30, 40, 50]


def curve(run_id: str) -> dict[str, list[float]]:
    """The values each run logs (also what the tests compare against)."""
    _, losses = CURVES[run_id]
    return {"loss": losses, "acc": [round(1 - v / 3, 4) for v in losses],
            "small_map": [round(0.8 - v / 4, 4) for v in losses]}


def make_study(root: Path, sweep: str | None = "lb", matrices: bool = True) -> list[str]:
    """The study in workspace `root` (baseline: `study`); returns the run ids."""
    from expctl.phases.new import create_run
    from expctl.phases.record import record_run
    from expctl.registry import index_runs
    from expctl.runs import load_run, save_info
    from expctl.workspace import find_workspace

    (root / "recipes" / "study.yaml").write_text(STUDY_RECIPE, encoding="utf-8")
    settings = root / "expctl.yaml"
    settings.write_text(settings.read_text() + "\nbaseline: study\n", encoding="utf-8")
    ws = find_workspace(str(root))
    for run_id, (lambda_base, _) in CURVES.items():
        run = create_run(ws, run_id, "study", [f"train.lambda_base={lambda_base}"])
        run.info.sweep = sweep
        save_info(run)
        values = curve(run_id)
        env = {**os.environ, "EXPCTL_RUN_DIR": str(run.path), "EXPCTL_RUN_ID": run_id}
        args = [",".join(map(str, STEPS))] + [",".join(map(str, values[k]))
                                             for k in ("loss", "acc", "small_map")]
        subprocess.run([sys.executable, "-c", LOGGER, *args], env=env, check=True)
    for run_id in CURVES:  # the baseline first has results: the others get deltas against it
        record_run(ws, load_run(ws, run_id))
    write_events(ws.runs_dir / "study_lb2" / "training_logs" / "tensorboard",
                 [(0, 3.0), (1, 2.5), (2, 2.25)])
    if matrices:
        write_matrix(ws.runs_dir / "study" / "confusion_matrices", 50, [[8, 2], [1, 9]])
        write_matrix(ws.runs_dir / "study_lb2" / "confusion_matrices", 50, [[9, 1], [3, 7]])
    index_runs(ws, list(CURVES))
    return list(CURVES)


def write_events(folder: Path, points: list[tuple[int, float]], tag: str = "val/rmse") -> None:
    """A TensorBoard event file written with tensorboard's own writer."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(folder))
    for i, (step, value) in enumerate(points):
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
        writer.add_event(Event(wall_time=1000.0 + i, step=step, summary=summary))
    writer.close()


def write_matrix(folder: Path, step: int, counts: list[list[int]]) -> None:
    """confusion_matrix_step{step}.png and .json, as the built-in example writes them."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    stem = f"confusion_matrix_step{step:07d}"
    payload = {"labels": ["car", "bike"], "matrix": counts}
    (folder / f"{stem}.json").write_text(json.dumps(payload), encoding="utf-8")
    Image.new("RGB", (40, 40), (30, 60, 200)).save(folder / f"{stem}.png")
