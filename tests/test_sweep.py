"""`expctl sweep`: the cartesian product of --set lists as runs, all checked before any is
made; `ls/leaderboard --sweep`; `sweep-summary` against hand-computed means."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import tree_state

from expctl.errors import ExitCode

LS_3X2 = ["--set", "train.lr=0.001,0.002,0.004", "--set", "train.batch_size=8,16"]


def _ids(root: Path) -> set[str]:
    return {p.name for p in (root / "runs").iterdir() if not p.name.startswith(".")}


def test_a_3x2_sweep_makes_6_runs_with_their_params_and_ids(workspace: Path, cli) -> None:
    code, out, err = cli("sweep", "baseline_2k", *LS_3X2, "--id", "lrbs",
                         "--name", "{recipe}_lr{lr}_bs{batch_size}_{steps}")
    assert code == 0, err
    expected = {f"baseline_lr{lr}_bs{bs}_2k": (lr, bs)
                for lr in (0.001, 0.002, 0.004) for bs in (8, 16)}
    assert _ids(workspace) == set(expected)
    for run_id, (lr, bs) in expected.items():
        config = yaml.safe_load((workspace / "runs" / run_id / "config.yaml").read_text())
        info = yaml.safe_load((workspace / "runs" / run_id / "run.yaml").read_text())
        assert config["params"]["train"] == {"lr": lr, "max_steps": 2000, "batch_size": bs}
        assert (info["sweep"], info["steps"]) == ("lrbs", 2000)
    sweep = yaml.safe_load((workspace / "sweeps" / "lrbs" / "sweep.yaml").read_text())
    assert sweep["axes"] == {"train.lr": ["0.001", "0.002", "0.004"],
                             "train.batch_size": ["8", "16"]}
    tasks = (workspace / "sweeps" / "lrbs" / "tasks.txt").read_text().splitlines()
    assert tasks == [str(workspace / "runs" / r) for r in sweep["runs"]]
    assert "made sweep lrbs: 6 runs" in err
    # ls --sweep lists exactly them, also after the index is rebuilt from the folders.
    cli("new", "baseline_5k")
    for _ in range(2):
        code, out, _ = cli("ls", "--sweep", "lrbs", "--format", "json")
        assert {r["id"] for r in json.loads(out)["runs"]} == set(expected)
        assert cli("reindex")[0] == 0


def test_range_values_and_the_default_template(workspace: Path, cli) -> None:
    code, out, err = cli("sweep", "baseline", "--set", "train.max_steps=range(100, 400, 100)",
                         "--set", "model.scales=[2, 3],[1, 2, 3]", "--dry-run")
    assert code == 0, err
    ids = [line.split()[0] for line in out.splitlines()[1:]]
    assert ids == ["baseline_max_steps100_scales2-3", "baseline_max_steps100_scales1-2-3",
                   "baseline_max_steps200_scales2-3", "baseline_max_steps200_scales1-2-3",
                   "baseline_max_steps300_scales2-3", "baseline_max_steps300_scales1-2-3"]
    assert "would make 6 runs; nothing created" in err
    assert _ids(workspace) == set()  # --dry-run makes nothing
    assert not (workspace / "sweeps").exists()


def test_a_value_of_the_wrong_type_makes_nothing(workspace: Path, cli) -> None:
    before = tree_state(workspace)
    code, _, err = cli("sweep", "baseline", "--set", "train.lr=0.1,fast", "--set",
                       "train.batch_size=8,16")
    assert code == ExitCode.BAD_INPUT
    assert "--set train.lr=fast: expected a number" in err
    assert tree_state(workspace) == before


def test_an_id_clash_makes_nothing_and_names_the_ids(workspace: Path, cli) -> None:
    assert cli("new", "baseline_lr0.002", "--recipe", "baseline")[0] == 0
    before = tree_state(workspace)
    code, _, err = cli("sweep", "baseline", "--set", "train.lr=0.001,0.002", "--name",
                       "{recipe}_lr{lr}")
    assert code == ExitCode.CONFLICT
    assert "Run ids already taken: baseline_lr0.002; nothing was created." in err
    # Two runs of the sweep with one id, and an unsafe id: refused the same way.
    code, _, err = cli("sweep", "baseline", "--set", "train.lr=0.001,0.002", "--name", "same")
    assert code == ExitCode.BAD_INPUT and "gives `same` for two runs" in err
    code, _, err = cli("sweep", "baseline", "--set", "train.lr=0.001,0.002", "--name",
                       "../x{lr}")
    assert code == ExitCode.BAD_INPUT and "unsafe run id `../x0.001`" in err
    assert tree_state(workspace) == before


def test_the_summary_means_equal_hand_computed_ones(workspace: Path, cli) -> None:
    code, _, err = cli("sweep", "baseline", *LS_3X2, "--id", "s", "--name",
                       "r_lr{lr}_bs{batch_size}")
    assert code == 0, err
    values = {("0.001", 8): 0.10, ("0.001", 16): 0.30, ("0.002", 8): 0.20,
              ("0.002", 16): 0.25, ("0.004", 8): 0.05}  # lr 0.004 bs 16 not measured
    for (lr, bs), value in values.items():
        assert cli("record", f"r_lr{lr}_bs{bs}", f"small_map={value}")[0] == 0
    assert cli("new", "base0", "--recipe", "baseline")[0] == 0
    assert cli("record", "base0", "small_map=0.2")[0] == 0
    code, out, err = cli("sweep-summary", "s", "--baseline", "base0", "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    by_lr = {r["value"]: r for r in summary["by_key"]["train.lr"]}
    assert abs(by_lr["0.001"]["mean"] - (0.10 + 0.30) / 2) < 1e-12
    assert abs(by_lr["0.002"]["mean"] - (0.20 + 0.25) / 2) < 1e-12
    assert (by_lr["0.004"]["mean"], by_lr["0.004"]["runs"], by_lr["0.004"]["measured"]) == \
        (0.05, 2, 1)
    by_bs = {r["value"]: r for r in summary["by_key"]["train.batch_size"]}
    assert abs(by_bs["8"]["mean"] - (0.10 + 0.20 + 0.05) / 3) < 1e-12
    assert abs(by_bs["16"]["mean"] - (0.30 + 0.25) / 2) < 1e-12
    assert (by_bs["16"]["best"], by_bs["16"]["best_run"]) == (0.30, "r_lr0.001_bs16")
    assert summary["best"] == {"run": "r_lr0.001_bs16", "value": 0.30}
    assert abs(summary["delta"] - 0.10) < 1e-12 and abs(summary["delta_pct"] - 50.0) < 1e-9
    code, out, _ = cli("sweep-summary", "s", "--baseline", "base0")
    assert "r_lr0.001_bs16" in out and "+0.1" in out
    # leaderboard --sweep ranks only the sweep's runs.
    code, out, _ = cli("leaderboard", "--sweep", "s", "--format", "json")
    assert [r["id"] for r in json.loads(out)["runs"]][:2] == ["r_lr0.001_bs16", "r_lr0.002_bs16"]
    assert "base0" not in {r["id"] for r in json.loads(out)["runs"]}
