"""The Slurm launcher's pure parts, no cluster needed: sbatch settings, the batch script,
accelerate's argv on each node, sacct's exit codes. The batch script is also run by bash for
real (with a fake SLURM_JOB_ID) to check what it records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from expctl.errors import BadInputError
from expctl.launchers import slurm
from expctl.recipes import SlurmSpec


def test_every_setting_becomes_one_sbatch_option() -> None:
    spec = SlurmSpec(partition="gpu", account="proj-42", qos="high", constraint="a100",
                     nodes=2, gpus_per_node=4, cpus_per_task=16, mem="64G", time="1-00:00:00",
                     extra=["--exclusive", "--signal=B:USR1@300"])
    assert slurm.sbatch_options(spec) == [
        "--nodes=2", "--ntasks-per-node=1", "--cpus-per-task=16", "--gpus-per-node=4",
        "--mem=64G", "--time=1-00:00:00", "--partition=gpu", "--account=proj-42", "--qos=high",
        "--constraint=a100", "--exclusive", "--signal=B:USR1@300"]
    # Unset keys leave the cluster's defaults; gpus_per_node 0 asks for none.
    assert slurm.sbatch_options(SlurmSpec(gpus_per_node=0)) == ["--nodes=1", "--ntasks-per-node=1"]


@pytest.mark.parametrize("settings, problem", [
    ({"partition": "gpu\n#SBATCH --account=other"}, "one word"),
    ({"partition": "a b"}, "one word"),
    ({"mem": "lots"}, "size"),
    ({"time": "2h"}, "HH:MM:SS"),
    ({"extra": ["exclusive"]}, "one sbatch option"),
    ({"extra": ["--comment=a\n#SBATCH --account=x"]}, "one sbatch option"),
    ({"nodes": 0}, "greater than or equal to 1"),
    ({"gpus": 2}, "Extra inputs are not permitted"),
])
def test_settings_that_could_break_the_script_are_refused(settings, problem) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=problem):
        SlurmSpec(**settings)


def test_numbers_are_accepted_for_memory_and_time() -> None:
    spec = SlurmSpec(mem=0, time=90)
    assert (spec.mem, spec.time) == ("0", "90")


def test_recipe_settings_override_workspace_defaults_key_by_key(workspace: Path) -> None:
    settings = workspace / "expctl.yaml"
    data = yaml.safe_load(settings.read_text())
    data["slurm"] = {"partition": "cpu", "account": "team", "time": "01:00:00",
                     "extra": ["--mail-type=END"]}
    settings.write_text(yaml.safe_dump(data))
    recipe = workspace / "recipes" / "baseline.yaml"
    recipe.write_text(recipe.read_text() + "slurm:\n  partition: gpu\n  gpus_per_node: 2\n"
                      "  extra: [--exclusive]\n")
    from expctl.phases.new import create_run
    from expctl.workspace import Workspace

    run = create_run(Workspace(workspace), "baseline_2k", overrides=["slurm.time=30"])
    spec = slurm.slurm_spec(run.path)
    assert (spec.partition, spec.account, spec.time, spec.gpus_per_node) == \
        ("gpu", "team", "30", 2)
    assert spec.extra == ["--mail-type=END", "--exclusive"]


def test_a_bad_workspace_setting_names_the_file(workspace: Path) -> None:
    settings = workspace / "expctl.yaml"
    settings.write_text(settings.read_text() + "slurm: {partition: 'a;b c'}\n")
    from expctl.phases.new import create_run
    from expctl.workspace import Workspace

    with pytest.raises(BadInputError, match="expctl.yaml"):
        run = create_run(Workspace(workspace), "baseline_2k")
        slurm.slurm_spec(run.path)


def test_the_script_holds_options_and_the_quoted_argv_only(tmp_path: Path) -> None:
    odd = tmp_path / "it's a $(dir)"
    argv = [sys.executable, "-m", "expctl.launchers.supervisor", str(odd / "launch.json")]
    text = slurm.batch_script(argv, ["--nodes=1", "--time=5"], odd / "training_logs")
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert lines[1:3] == ["#SBATCH --nodes=1", "#SBATCH --time=5"]
    assert not any(line.startswith("#SBATCH") for line in lines[3:])
    assert "export PYTHONUNBUFFERED=1" in lines
    # bash parses the quoted argv back to exactly the original items.
    run_line = next(line for line in lines if "expctl.launchers.supervisor" in line)
    parsed = subprocess.run(["bash", "-c", 'printf "%s\\n" ' + run_line.removesuffix(" &")],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert parsed == argv


def _run_script(tmp_path: Path, command: list[str], job_id: str = "4242",
                signal_after: tuple[float, int] | None = None) -> tuple[int, dict]:
    """Run a batch script for `command` as Slurm would (bash, SLURM_JOB_ID set)."""
    logs = tmp_path / "training_logs"
    logs.mkdir(exist_ok=True)
    script = tmp_path / "job.sh"
    script.write_text(slurm.batch_script(command, [], logs))
    env = {**os.environ, "SLURM_JOB_ID": job_id}
    proc = subprocess.Popen(["bash", str(script)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if signal_after is not None:
        ready = tmp_path / "ready"
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.02)
        proc.send_signal(signal_after[1])
    proc.communicate(timeout=60)
    return proc.returncode, json.loads((logs / f"slurm-{job_id}.exit.json").read_text())


def test_the_script_records_its_commands_exit_code(tmp_path: Path) -> None:
    code, record = _run_script(tmp_path, [sys.executable, "-c", "raise SystemExit(200)"])
    assert code == 200
    assert (record["job_id"], record["exit_code"], record["signal"]) == ("4242", 200, None)


JOB = ("import pathlib, signal, sys, time\n"
       "signal.signal(signal.SIGINT, lambda *a: sys.exit(5))\n"
       "signal.signal(signal.SIGTERM, lambda *a: sys.exit(6))\n"
       "pathlib.Path('ready').write_text('1')\n"
       "time.sleep(60)\n")


def test_term_is_recorded_at_once_and_passed_on(tmp_path: Path) -> None:
    code, record = _run_script(tmp_path, [sys.executable, "-c", JOB],
                               signal_after=(0, signal.SIGTERM))
    assert code == 6  # the command got SIGTERM and exited its own way
    assert (record["exit_code"], record["signal"]) == (143, "SIGTERM")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGUSR1])
def test_int_and_usr1_ask_the_command_to_save_and_exit(tmp_path: Path, sig: int) -> None:
    code, record = _run_script(tmp_path, [sys.executable, "-c", JOB], signal_after=(0, sig))
    assert code == 5  # SIGINT reached the command, which exited with its own code
    assert (record["exit_code"], record["signal"]) == (5, None)


def test_accelerate_argv_is_split_into_launcher_options_and_target() -> None:
    argv = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2",
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", "123", "--multi_gpu", "train.py", "--num_machines", "9"]
    prefix, options, target = slurm.accelerate_parts(argv)
    assert prefix == argv[:3] and target == ["train.py", "--num_machines", "9"]
    assert slurm.accelerate_parts([sys.executable, "train.py"]) is None


def test_each_node_gets_its_rank_and_the_first_nodes_address() -> None:
    argv = ["accelerate", "launch", "--num_processes", "4", "--mixed_precision", "bf16",
            "--multi_gpu", "--no_python", "train", "--num_processes", "1"]
    env = {"SLURM_JOB_NUM_NODES": "3", "SLURM_NODEID": "2", "SLURM_JOB_ID": "2017",
           "SLURM_JOB_NODELIST": "localhost"}
    got = slurm.node_argv(argv, env)
    assert got == ["accelerate", "launch", "--num_processes", "12", "--num_machines", "3",
                   "--machine_rank", "2", "--main_process_ip", "127.0.0.1",
                   "--main_process_port", str(29500 + 17), "--mixed_precision", "bf16",
                   "--multi_gpu", "--no_python", "train", "--num_processes", "1"]


@pytest.mark.parametrize("nodes, first", [
    ("gpu[03-05,07],cpu01", "gpu03"), ("node7", "node7"), ("a1,a2", "a1"),
    ("n[009-010]-ib", "n009-ib")])
def test_the_first_host_of_a_node_list(nodes: str, first: str, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # without scontrol: read here
    assert slurm._first_host(nodes) == first


@pytest.mark.parametrize("text, expected", [
    ("0:0", (0, None)), ("3:0", (3, None)), ("0:9", (None, "SIGKILL")),
    ("0:15", (None, "SIGTERM")), ("", (None, None))])
def test_sacct_exit_codes(text: str, expected) -> None:
    assert slurm._exit_pair(text) == expected


def test_without_slurm_commands_the_state_is_unknown_or_the_exit_files(tmp_path: Path,
                                                                        monkeypatch) -> None:
    """A Slurm run looked at from a machine without Slurm (or with its controller down)."""
    from expctl.rundir import now_iso

    monkeypatch.setenv("PATH", "/nonexistent")
    launch = {"session": "77", "run_id": "r", "launched": "2020-01-01T00:00:00+00:00"}
    view = slurm.slurm_view(tmp_path, launch, None)
    assert (view["state"], view["slurm_state"]) == ("running", "UNKNOWN")  # cannot tell
    assert "not installed" in view["reason"]
    (tmp_path / "training_logs").mkdir()
    (tmp_path / "training_logs" / "slurm-77.exit.json").write_text(json.dumps(
        {"job_id": "77", "exit_code": 3, "signal": None, "ended": now_iso(), "host": "n1"}))
    view = slurm.slurm_view(tmp_path, launch, None)
    assert (view["state"], view["exit_code"], view["node"]) == ("failed", 3, "n1")


def test_a_submission_that_never_got_a_job_id_ends_up_lost(tmp_path: Path) -> None:
    from expctl.rundir import now_iso

    launch = {"session": "r", "run_id": "r", "launched": now_iso()}
    assert slurm.slurm_view(tmp_path, launch, None)["state"] == "running"
    launch["launched"] = "2020-01-01T00:00:00+00:00"
    assert slurm.slurm_view(tmp_path, launch, None)["state"] == "lost"


def test_accelerate_jobs_run_under_srun_and_slurm_picks_the_gpus(workspace: Path) -> None:
    from expctl.launchers.command import JobCommand
    from expctl.phases.new import create_run
    from expctl.workspace import Workspace

    run = create_run(Workspace(workspace), "baseline_2k",
                     overrides=["slurm.nodes=2", "slurm.cpus_per_task=8"])
    accelerate = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "4",
                  "--num_machines", "1", "--main_process_port", "999", "--gpu_ids", "0,1,2,3",
                  "--multi_gpu", "train.py", "--gpu_ids", "kept"]
    env = {"CUDA_VISIBLE_DEVICES": "0,1,2,3", "EXPCTL_RUN_ID": "baseline_2k"}
    adapted = slurm.LAUNCHER.adapt_command(JobCommand(accelerate, workspace, env), run.path)
    assert adapted.argv == [
        "srun", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1", "--cpus-per-task=8",
        "--kill-on-bad-exit=1", "--unbuffered", "--export=ALL",
        sys.executable, "-u", "-m", "expctl.launchers.slurm", "node",
        sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "4",
        "--multi_gpu", "train.py", "--gpu_ids", "kept"]
    assert adapted.env == {"EXPCTL_RUN_ID": "baseline_2k"}
    plain = slurm.LAUNCHER.adapt_command(JobCommand(["train", "x"], workspace, {}), run.path)
    assert plain.argv[:2] == ["srun", "--nodes=2"] and plain.argv[-2:] == ["train", "x"]
    single = create_run(Workspace(workspace), "baseline_3k")
    same = slurm.LAUNCHER.adapt_command(JobCommand(["train", "x"], workspace, {}), single.path)
    assert same.argv == ["train", "x"]


def test_the_node_entry_point_runs_only_accelerate() -> None:
    for args in ([], ["node"], ["node", "sh", "-c", "touch /tmp/x"]):
        done = subprocess.run([sys.executable, "-m", "expctl.launchers.slurm", *args],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 2, done.stderr
        assert "accelerate" in done.stderr.lower()
