"""A 2-process CPU run under `accelerate launch`, started by expctl for real."""

from __future__ import annotations

import importlib.util

import pytest
from launchkit import RECIPE, LaunchKit

pytestmark = pytest.mark.skipif(importlib.util.find_spec("accelerate") is None,
                                reason="accelerate is not installed")


@pytest.fixture()
def akit(tmp_path):
    recipe = {**RECIPE, "params": {**RECIPE["params"], "mode": "rank"},
              "launch": {"accelerate": True, "num_processes": 2, "cpu": True}}
    kit = LaunchKit(tmp_path, recipe)
    yield kit
    kit.cleanup()


def test_two_cpu_processes_both_run_and_the_exit_is_recorded(akit):
    akit.new("acc")
    dry = akit.cli("launch", "acc", "--local", "--dry-run").stdout
    assert "accelerate.commands.launch" in dry and "--multi_gpu" in dry
    assert "ACCELERATE_USE_CPU=true" in dry
    akit.launch("acc", "local")
    job = akit.wait_ended("acc", timeout=60)
    log = akit.log("acc").decode()
    assert job["exit_code"] == 0, log
    assert "rank 0 of 2" in log and "rank 1 of 2" in log
    assert akit.status("acc")["state"] == "finished"
