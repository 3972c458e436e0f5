"""One number format (expctl.numbers): a recorded run rendered through every command and
format shows each metric as the same string for people, and raw numbers in json and csv."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from standins.kit import PY, cli, git, make_workspace

from expctl.numbers import MetricFormat

# An argparse + JSONL training stand-in: a loss per step in $EXPCTL_RUN_DIR/metrics.jsonl,
# then the validation metrics it logs at the end (like Lightning's val_* scalars).
TRAIN = """\
import argparse, json, os, time
p = argparse.ArgumentParser()
for name in ("--steps", "--map", "--ap75", "--loss"):
    p.add_argument(name, type=float)
a = p.parse_args()
path = os.path.join(os.environ["EXPCTL_RUN_DIR"], "metrics.jsonl")
steps = int(a.steps)
for step in range(1, steps + 1):
    loss = a.loss + (steps - step) * 0.01
    with open(path, "a") as f:
        f.write(json.dumps({"step": step, "time": time.time(), "loss": loss}) + "\\n")
    print(f"step {step}/{steps} loss={loss:.4f}", flush=True)
with open(path, "a") as f:
    f.write(json.dumps({"step": steps, "map": a.map, "ap75": a.ap75}) + "\\n")
"""
# The validation stand-in writes the final metrics as a JSON file.
EVALUATE = """\
import json, os, sys
values = dict(item.split("=") for item in sys.argv[1:])
out = os.path.join(os.environ["EXPCTL_RUN_DIR"], "validation_results", "metrics.json")
json.dump({k: float(v) for k, v in values.items()}, open(out, "w"))
print("evaluated", values)
"""
RECIPE = f"""\
description: a tiny detector stand-in
model: tiny detector
command: ["{PY}", "train.py", "--steps", "{{steps}}", "--map", "{{truth.map}}",
          "--ap75", "{{truth.ap75}}", "--loss", "{{truth.loss}}"]
steps_param: train.steps
params:
  train: {{steps: 3}}
  truth: {{map: 0.5, ap75: 0.5, loss: 0.5}}
validate:
  command: ["{PY}", "evaluate.py", "map={{truth.map}}", "ap75={{truth.ap75}}"]
metrics:
  primary: map
  small: ap75
  sources:
    - kind: json
      path: validation_results/metrics.json
      metrics: {{map: map, ap75: ap75}}
    - kind: jsonl
      path: metrics.jsonl
      metrics: {{loss: loss}}
"""
SETTINGS = """\
launcher: local
baseline: base
leaderboard: {metric: map, columns: [ap75, loss]}
metrics:
  map: {direction: higher, scale: 100, label: mAP}
  ap75: {direction: higher}
  loss: {direction: lower, decimals: 4}
"""
BASE = {"map": 0.386793, "ap75": 0.3701, "loss": 0.1301}
PROBE = {"map": 0.403712, "ap75": 0.3776, "loss": 0.1234}
# What people read, by hand: values and changes against the baseline (points, relative).
VALUE = {"map": "40.37%", "ap75": "0.3776", "loss": "0.1234"}
CHANGE = {"map": "+1.69 pp (+4.4%, better)", "ap75": "+0.0075 (+2.0%, better)",
          "loss": "-0.0067 (-5.1%, better)"}
LABEL = {"map": "mAP", "ap75": "ap75", "loss": "loss"}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_workspace(tmp_path_factory.mktemp("numbers"), {"tiny": RECIPE})
    (root / "expctl.yaml").write_text(SETTINGS)
    (root / "train.py").write_text(TRAIN)
    (root / "evaluate.py").write_text(EVALUATE)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "stand-ins")
    outputs = {}
    for run_id, truth in (("base", BASE), ("probe", PROBE)):
        sets = [arg for k, v in truth.items() for arg in ("--set", f"truth.{k}={v}")]
        outputs[run_id] = cli(root, "cycle", run_id, "--recipe", "tiny", *sets)
    (root / "cycle.out").write_text(outputs["probe"].stdout)
    return root


def human_outputs(root: Path) -> dict[str, str]:
    """Every human rendering of run `probe`, by where it came from."""
    run = root / "runs" / "probe"
    again = cli(root, "cycle", "probe")  # everything done: the record is skipped
    assert "record: skipped" in again.stderr
    shown = {
        "cycle record table": (root / "cycle.out").read_text(),
        "cycle, record skipped": again.stdout,
        "record": cli(root, "record", "probe").stderr,
        "show": cli(root, "show", "probe").stdout,
        "status": cli(root, "status", "probe").stdout,
        "ls": cli(root, "ls").stdout,
        "compare": cli(root, "compare", "base", "probe").stdout,
        "commit --dry-run": cli(root, "commit", "probe", "--dry-run").stdout,
        "metrics_summary.txt": (run / "validation_results/metrics_summary.txt").read_text(),
        "evaluation_info.txt": (run / "validation_results/evaluation_info.txt").read_text(),
    }
    for fmt in ("table", "md", "latex"):
        shown[f"leaderboard {fmt}"] = cli(root, "leaderboard", "--format", fmt).stdout
    return shown


# Which strings each rendering must hold: (metric, "value" or "change").
EXPECTED = {
    "cycle record table": [(m, k) for m in VALUE for k in ("value", "change")],
    "cycle, record skipped": [(m, k) for m in VALUE for k in ("value", "change")],
    "record": [(m, "value") for m in VALUE],
    "show": [(m, "value") for m in VALUE],
    "status": [(m, "value") for m in VALUE],  # the job's latest logged values
    "ls": [("map", "value")],  # the primary metric only
    "compare": [(m, k) for m in VALUE for k in ("value", "change")],
    "commit --dry-run": [("map", "value"), ("map", "change"), ("ap75", "value"),
                         ("ap75", "change")],
    "metrics_summary.txt": [(m, k) for m in VALUE for k in ("value", "change")],
    "evaluation_info.txt": [(m, k) for m in VALUE for k in ("value", "change")],
    "leaderboard table": [(m, "value") for m in VALUE] + [("map", "change")],
    "leaderboard md": [(m, "value") for m in VALUE] + [("map", "change")],
    "leaderboard latex": [(m, "value") for m in VALUE] + [("map", "change")],
}


def test_one_recorded_run_reads_the_same_in_every_command_and_format(study: Path) -> None:
    """People see each metric as one string everywhere; programs get the raw numbers."""
    check_human_formats(study)
    check_machine_formats(study)


def check_human_formats(study: Path) -> None:
    shown = human_outputs(study)
    assert set(shown) == set(EXPECTED)
    for where, wanted in EXPECTED.items():
        text = shown[where].replace(r"\%", "%")  # LaTeX escapes the percent sign
        for metric, kind in wanted:
            expected = VALUE[metric] if kind == "value" else CHANGE[metric]
            assert expected in text, f"{where}: no `{expected}` for {metric}\n{shown[where]}"
    # Headers and messages use the label; points are never written as a bare percent.
    for where in ("cycle record table", "leaderboard table", "compare", "metrics_summary.txt"):
        assert re.search(r"^\s*mAP\s", shown[where], re.M) or " mAP " in shown[where], where
    for where, text in shown.items():
        assert not re.search(r"[+-]\d+\.\d+%\s*(vs|improvement)", text), where
    assert "- Performance: mAP 40.37%, +1.69 pp (+4.4%, better) vs base" in \
        shown["commit --dry-run"]


def test_a_lower_is_better_rise_is_called_worse() -> None:
    rmse = MetricFormat("val_rmse", direction="lower", decimals=2)
    assert rmse.change(0.12, 5.1) == "+0.12 (+5.1%, worse)"
    assert MetricFormat("map", scale=100).change(0.017, 4.4) == "+1.70 pp (+4.4%, better)"
    assert MetricFormat("d", unit="m").change(-0.5, None) == "-0.5000 m (worse)"
    assert MetricFormat("map", scale=100).change(0.0, 0.0) == "+0.00 pp (+0.0%, same)"


def check_machine_formats(study: Path) -> None:
    board = json.loads(cli(study, "leaderboard", "--format", "json").stdout)["runs"]
    probe = next(r for r in board if r["id"] == "probe")
    assert probe["map"] == PROBE["map"] and probe["ap75"] == PROBE["ap75"]
    assert probe["delta"] == pytest.approx(PROBE["map"] - BASE["map"])
    assert probe["delta_pct"] == pytest.approx((PROBE["map"] - BASE["map"]) / BASE["map"] * 100)

    rows = list(csv.DictReader(io.StringIO(cli(study, "leaderboard", "--format", "csv").stdout)))
    assert list(rows[0])[:5] == ["rank", "id", "map (x100)", "delta (x100)", "delta_pct"]
    row = next(r for r in rows if r["id"] == "probe")
    assert float(row["map (x100)"]) == PROBE["map"]  # every digit, nothing formatted
    assert float(row["delta (x100)"]) == pytest.approx(PROBE["map"] - BASE["map"], abs=1e-15)
    assert float(row["ap75"]) == PROBE["ap75"] and float(row["loss"]) == PROBE["loss"]
    assert not any("%" in cell or "pp" in cell for r in rows for cell in r.values())

    ls_rows = list(csv.DictReader(io.StringIO(cli(study, "ls", "--format", "csv").stdout)))
    assert {r["id"]: float(r["primary_value"]) for r in ls_rows} == {
        "base": BASE["map"], "probe": PROBE["map"]}
    ls_json = json.loads(cli(study, "ls", "--format", "json").stdout)["runs"]
    assert {r["id"]: r["primary_value"] for r in ls_json}["probe"] == PROBE["map"]

    show = json.loads(cli(study, "show", "probe", "--format", "json").stdout)
    assert show["metrics"] == PROBE
    assert show["formats"]["map"] == {"direction": "higher", "scale": 100.0, "decimals": 2,
                                      "label": "mAP", "unit": None}
    status = json.loads(cli(study, "status", "probe", "--format", "json").stdout)
    assert status["metrics"]["map"] == PROBE["map"] and status["formats"]["map"]["scale"] == 100
    compared = json.loads(cli(study, "compare", "base", "probe", "--format", "json").stdout)
    by_name = {m["metric"]: m for m in compared["metrics"]}
    assert by_name["loss"]["delta"] == pytest.approx(PROBE["loss"] - BASE["loss"])
    assert by_name["loss"]["b_better"] is True and compared["formats"]["loss"]["decimals"] == 4
    results = json.loads((study / "runs/probe/experiment_results.json").read_text())
    assert results["metrics"] == PROBE


def test_formats_are_set_once_per_workspace_not_per_recipe(tmp_path: Path) -> None:
    recipe = RECIPE.replace("metrics:\n", "metrics:\n  specs: {map: {scale: 100}}\n", 1)
    root = make_workspace(tmp_path, {"tiny": recipe})
    refused = cli(root, "new", "r1", "--recipe", "tiny", check=False)
    assert refused.returncode == 2 and "metrics.specs is not read any more" in refused.stderr
    assert "move it there: `metrics: {map: {scale: 100}}`" in refused.stderr
    assert not (root / "runs" / "r1").exists()


@pytest.mark.parametrize(("setting", "problem"), [
    ("{decimals: 3, unit: m, label: depth}", None),
    ("{decimals: -1}", "decimals"),
    ("{scale: 0}", "scale"),
    ("{units: m}", "units"),
])
def test_the_fast_settings_read_agrees_with_full_validation(tmp_path: Path, setting: str,
                                                            problem: str | None) -> None:
    from expctl.errors import BadInputError
    from expctl.registry.settings import _cache, read_settings
    from expctl.workspace import Workspace, init_workspace

    ws, _ = init_workspace(tmp_path)
    (tmp_path / "expctl.yaml").write_text(f"metrics:\n  d_rmse: {setting}\n")
    _cache.clear()
    if problem is None:
        fmt = read_settings(ws).format("d_rmse")
        assert (fmt.direction, fmt.places, fmt.unit, fmt.title) == ("lower", 3, "m", "depth")
        assert fmt.value(2.19) == "2.190 m" and Workspace(tmp_path).settings is not None
        return
    with pytest.raises(BadInputError, match=problem):
        read_settings(ws)
