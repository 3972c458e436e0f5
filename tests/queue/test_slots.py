"""What the queue hands out: GPUs from expctl.yaml, from nvidia-smi, or plain slots; a run's
need; the free-memory threshold. nvidia-smi is a stand-in script here (no GPU can exist on
this machine): it prints what the real one prints for `--query-gpu=... --format=csv,...`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from expctl.errors import BadInputError
from expctl.queue.slots import Pool, pool_from_settings, run_need, unusable_gpus
from expctl.workspace import Workspace

FAKE_NVIDIA_SMI = """#!/bin/sh
case "$1" in
  --query-gpu=index) printf '0\\n1\\n2\\n' ;;
  --query-gpu=index,memory.free) printf '0, 500\\n1, 30000\\n2, 24000\\n' ;;
  *) exit 9 ;;
esac
"""


def _settings(tmp_path: Path, text: str):
    (tmp_path / "expctl.yaml").write_text(text)
    return Workspace(tmp_path).settings.queue


@pytest.fixture()
def fake_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text(FAKE_NVIDIA_SMI)
    (bin_dir / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_the_pool_comes_from_settings_then_nvidia_smi_then_one_slot(tmp_path, monkeypatch):
    assert pool_from_settings(_settings(tmp_path, "queue: {gpus: [2, 3]}\n")) == \
        Pool([2, 3], True)
    assert pool_from_settings(_settings(tmp_path, "queue: {slots: 3}\n")) == \
        Pool([0, 1, 2], False)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert pool_from_settings(_settings(tmp_path, "launcher: local\n")) == Pool([0], False)


def test_nvidia_smi_gpus_and_the_free_memory_threshold(tmp_path, fake_gpus) -> None:
    pool = pool_from_settings(_settings(tmp_path, "queue: {min_free_mib: 20000}\n"))
    assert pool == Pool([0, 1, 2], True, 20000)
    assert unusable_gpus(pool) == {0: "GPU 0 has 500 MiB free (< 20000)"}
    assert unusable_gpus(Pool([0, 1], True)) == {}  # no threshold: nvidia-smi is not asked


def test_repeated_gpu_ids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="distinct GPU ids"):
        _settings(tmp_path, "queue: {gpus: [0, 0]}\n")


def test_a_runs_need() -> None:
    assert run_need({"launch": {"gpus": [4, 5, 6]}}) == 3
    assert run_need({"launch": {"accelerate": True, "num_processes": 2}}) == 2
    assert run_need({}) == 1
