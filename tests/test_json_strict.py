"""JSON that expctl writes or prints is strict JSON: inf and nan (logged through expctl.track,
or read from a source) appear as the strings "inf", "-inf" and "nan"."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_values_are_strings_everywhere(workspace: Path, cli) -> None:
    assert cli("new", "baseline_1k")[0] == 0
    run_dir = workspace / "runs" / "baseline_1k"
    logger = ("from expctl import track\n"
              "track.log({'loss': float('inf'), 'acc': float('nan'), 'gap': -float('inf'),"
              " 'lr': 0.5}, step=1)\n"
              "track.log({'loss': 2.0}, step=2)\n")
    subprocess.run([sys.executable, "-c", logger], check=True, timeout=60,
                   env={**os.environ, "EXPCTL_RUN_DIR": str(run_dir)})
    lines = [strict(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [(r["loss"], r.get("acc"), r.get("gap"), r.get("lr")) for r in lines] == [
        ("inf", "nan", "-inf", 0.5), (2.0, None, None, None)]

    from expctl.runs import load_run, write_results
    from expctl.workspace import Workspace

    write_results(load_run(Workspace(workspace), "baseline_1k"),
                  {"small_map": math.inf, "map": 0.25})
    results = strict((run_dir / "experiment_results.json").read_text())
    assert results["metrics"] == {"small_map": "inf", "map": 0.25}
    assert load_run(Workspace(workspace), "baseline_1k").metrics()["small_map"] == math.inf

    for args in (["show", "baseline_1k", "--format", "json"],
                 ["status", "baseline_1k", "--format", "json"],
                 ["ls", "--format", "json"],
                 ["leaderboard", "--metric", "map", "--format", "json"]):
        code, out, err = cli(*args)
        assert code == 0, (args, err)
        strict(out)
    code, out, _ = cli("show", "baseline_1k", "--format", "json")
    shown = strict(out)
    assert shown["metrics"]["small_map"] == "inf"
    assert shown["series"]["loss"]["last"] == 2.0  # a non-finite point is no series value
