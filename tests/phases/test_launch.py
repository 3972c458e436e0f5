"""Building the job's command (plain and accelerate), --gpus, which runs may be launched,
--resume, and the one-line error for a missing screen/tmux."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from launchkit import RECIPE, LaunchKit, wait_until

from expctl.errors import BadInputError
from expctl.launchers.command import accelerate_argv, build_command, parse_gpus, run_recipe
from expctl.recipes import Recipe


@pytest.fixture()
def ckit(tmp_path):
    kit = LaunchKit(tmp_path)
    yield kit
    kit.cleanup()


def recipe(**launch) -> Recipe:
    return Recipe.model_validate({"command": "python -m models.train {overrides}",
                                  "params": {"lr": 0.1}, "launch": launch})


# --- units ----------------------------------------------------------------------------------


def test_parse_gpus_accepts_digits_and_commas_only():
    assert parse_gpus("0,1") == [0, 1]
    assert parse_gpus("3") == [3]
    for bad in ("", "0,", "a", "0;1", "0,,1", "$(x)", "0 1", "1,1"):
        with pytest.raises(BadInputError):
            parse_gpus(bad)


def test_accelerate_wraps_a_module_with_the_same_interpreter():
    argv, env = accelerate_argv(["/usr/bin/python3", "-m", "models.train", "lr=0.1"],
                                recipe(accelerate=True, mixed_precision="bf16"), [2, 3], 2, 29500)
    assert argv[:3] == ["/usr/bin/python3", "-m", "accelerate.commands.launch"]
    assert argv[-3:] == ["-m", "models.train", "lr=0.1"]
    joined = " ".join(argv)
    assert "--num_processes 2" in joined and "--multi_gpu" in joined
    assert "--gpu_ids 2,3" in joined and "--mixed_precision bf16" in joined
    assert "--main_process_port 29500" in joined and env == {}


def test_accelerate_runs_scripts_and_other_programs():
    argv, _ = accelerate_argv(["python", "train.py", "--x"], recipe(accelerate=True), None, 1, 1)
    assert argv[-2:] == ["train.py", "--x"] and "--multi_gpu" not in argv
    argv, _ = accelerate_argv(["./train.sh", "a"], recipe(accelerate=True), None, 1, 1)
    assert argv[:2] == ["accelerate", "launch"] and argv[-3:] == ["--no_python", "./train.sh", "a"]
    argv, env = accelerate_argv(["python", "t.py"], recipe(accelerate=True, cpu=True), None, 2, 1)
    assert env == {"ACCELERATE_USE_CPU": "true"} and "--multi_gpu" in argv
    assert "--cpu" not in argv  # with several processes it would start only one
    with pytest.raises(BadInputError, match="GPU ids"):
        accelerate_argv(["python", "t.py"], recipe(accelerate=True), [0], 2, 1)


def test_build_command_sets_gpus_env_and_resume_args(ckit):
    run = ckit.new("unit")
    job = build_command(ckit.ws, run, run_recipe(run), gpus=[0, 1], resume=True)
    assert job.env["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert job.env["EXPCTL_RUN_DIR"] == str(run.path) and job.env["EXPCTL_RUN_ID"] == "unit"
    assert job.env["PYTHONUNBUFFERED"] == "1" and job.env["ODD"] == "plain"
    assert job.argv[-2:] == ["--resume-from", f"{run.path}/checkpoints"]
    assert job.cwd == ckit.root.resolve()


def test_gpus_under_accelerate_set_the_number_of_processes(ckit):
    ckit.write_recipe("acc", {**RECIPE, "launch": {"accelerate": True}})
    run = ckit.new("acc1", recipe="acc")
    job = build_command(ckit.ws, run, run_recipe(run), gpus=[4, 5, 6])
    joined = " ".join(job.argv)
    assert "--num_processes 3" in joined and "--gpu_ids 4,5,6" in joined
    assert "CUDA_VISIBLE_DEVICES" not in job.env  # accelerate sets it from --gpu_ids


# --- through the CLI --------------------------------------------------------------------------


def test_missing_screen_or_tmux_is_one_line_saying_how_to_install(ckit, tmp_path):
    ckit.new("m")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    for tool in ("screen", "tmux"):
        result = ckit.cli("launch", "m", f"--{tool}", env={**ckit.env, "PATH": str(empty)},
                          expect=6)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"{tool} is not installed" in lines[0] and f"apt-get install {tool}" in lines[0]
    assert not (ckit.run_path("m") / "launch.json").exists()


def test_bad_flags_are_refused(ckit):
    ckit.new("f")
    assert "Invalid --gpus" in ckit.cli("launch", "f", "--gpus", "0;rm", expect=2).stderr
    ckit.cli("launch", "f", "--screen", "--tmux", expect=2)
    ckit.cli("launch", "f", "--resume", "--local", expect=2)  # never launched: nothing to resume
    shown = ckit.cli("launch", "f", "--gpus", "1,0", "--dry-run").stdout
    assert "CUDA_VISIBLE_DEVICES=1,0" in shown


def test_relaunch_rules_and_resume(ckit):
    ckit.new("r", a=2, b=3)
    ckit.launch("r", "local")
    ckit.wait_ended("r")
    refused = ckit.cli("launch", "r", "--local", expect=4)
    assert "is failed" in refused.stderr and "--resume" in refused.stderr
    ckit.cli("launch", "r", "--local", "--resume")
    wait_until(lambda: ckit.job("r").get("state") == "ended", what="the resumed attempt")
    launch = json.loads((ckit.run_path("r") / "launch.json").read_text())
    assert launch["attempt"] == 2 and launch["resume"] is True
    assert launch["argv"][-2:] == ["--resume-from", f"{ckit.run_path('r')}/checkpoints"]
    assert (ckit.run_path("r") / "training_logs" / "job.1.json").exists()
    command = (ckit.run_path("r") / "training_command.txt").read_text()
    assert command.rstrip().endswith("--resume-from " + f"{ckit.run_path('r')}/checkpoints")
    assert ckit.log("r").count(b"line 0 of the job") == 2  # both attempts, appended


def test_running_and_finished_runs_are_not_launched_again(ckit):
    ckit.new("busy", mode="hang")
    ckit.launch("busy", "local")
    assert "already running" in ckit.cli("launch", "busy", "--local", expect=4).stderr
    ckit.new("done")
    ckit.launch("done", "local")
    ckit.wait_ended("done")
    for extra in ((), ("--resume",)):
        result = ckit.cli("launch", "done", "--local", *extra, expect=4)
        assert "has finished" in result.stderr and "new run" in result.stderr


def test_default_launcher_comes_from_the_recipe_then_the_settings(ckit):
    from expctl.phases.launch import plan_launch

    ckit.new("d1")
    assert plan_launch(ckit.ws, "d1").launcher == "screen"  # expctl.yaml's default
    assert plan_launch(ckit.ws, "d1", "local").launcher == "local"  # a flag wins
    ckit.write_recipe("tm", {**RECIPE, "launch": {"launcher": "tmux"}})
    ckit.new("d2", recipe="tm")
    assert plan_launch(ckit.ws, "d2").launcher == "tmux"


def test_a_command_that_cannot_start_is_failed_with_the_reason(ckit):
    ckit.write_recipe("nope", {"command": ["/nonexistent/trainer", "x"]})
    ckit.new("nope", recipe="nope")
    ckit.launch("nope", "local")
    st = ckit.status("nope")
    assert (st["state"], st["exit_code"]) == ("failed", 127)
    assert "/nonexistent/trainer" in st["error"]
    assert b"cannot start the job" in ckit.log("nope")
    assert Path(ckit.run_path("nope") / "launch.json").exists()


def test_a_supervisor_that_dies_at_once_leaves_the_run_as_it_was(ckit, monkeypatch):
    from expctl.errors import ExpctlError
    from expctl.launchers.base import Started
    from expctl.phases import launch

    class DeadOnArrival:
        name = "local"

        def check_available(self) -> None:
            pass

        def session_name(self, run_id: str) -> None:
            return None

        def start(self, argv, run_dir, name) -> Started:
            return Started(None, lambda: True)

    ckit.new("doa")
    plan = launch.plan_launch(ckit.ws, "doa", "local")
    monkeypatch.setattr(launch, "get_launcher", lambda _name: DeadOnArrival())
    with pytest.raises(ExpctlError, match="exited without starting"):
        launch.start(ckit.ws, plan)
    assert ckit.state("doa") == "created"
    assert not (ckit.run_path("doa") / "training_command.txt").exists()
    assert list((ckit.root / ".expctl" / "jobs").glob("*.env.json")) == []
