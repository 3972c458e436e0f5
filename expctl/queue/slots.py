"""What the queue hands out: the GPUs of `expctl.yaml`'s `queue.gpus` (or those nvidia-smi
lists), else `queue.slots` plain slots; and how many of them a run needs."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

NVIDIA_SMI_TIMEOUT_S = 10.0


@dataclass
class Pool:
    """The devices the scheduler assigns: GPU ids (`gpus`) or slot numbers."""

    devices: list[int]
    gpus: bool  # GPU ids: each job gets CUDA_VISIBLE_DEVICES for exactly its own
    min_free_mib: int | None = None  # a GPU with less free memory is not handed out

    @property
    def unit(self) -> str:
        return "GPU" if self.gpus else "slot"


def pool_from_settings(settings: Any) -> Pool:
    """The pool for a workspace's `queue:` settings: gpus, else slots, else nvidia-smi's GPUs,
    else one slot (a machine without GPUs runs one queued job at a time)."""
    if settings.gpus is not None:
        return Pool(list(settings.gpus), True, settings.min_free_mib)
    if settings.slots is not None:
        return Pool(list(range(settings.slots)), False)
    found = nvidia_gpus()
    if found:
        return Pool(found, True, settings.min_free_mib)
    return Pool([0], False)


def _nvidia_smi(query: str) -> list[list[str]] | None:
    """Rows of `nvidia-smi --query-gpu=QUERY`; None without nvidia-smi or when it fails."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        result = subprocess.run(["nvidia-smi", f"--query-gpu={query}",
                                 "--format=csv,noheader,nounits"], capture_output=True,
                                text=True, timeout=NVIDIA_SMI_TIMEOUT_S,
                                stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return [[part.strip() for part in line.split(",")]
            for line in result.stdout.splitlines() if line.strip()]


def nvidia_gpus() -> list[int]:
    """The GPU indexes nvidia-smi lists ([] without GPUs)."""
    rows = _nvidia_smi("index") or []
    return [int(r[0]) for r in rows if r and r[0].isdigit()]


def free_memory_mib() -> dict[int, int]:
    """{GPU index: free memory in MiB} from nvidia-smi ({} when it cannot say)."""
    found = {}
    for row in _nvidia_smi("index,memory.free") or []:
        if len(row) >= 2 and row[0].isdigit() and row[1].isdigit():
            found[int(row[0])] = int(row[1])
    return found


def unusable_gpus(pool: Pool) -> dict[int, str]:
    """{GPU id: why it is not handed out now}: below the free-memory threshold."""
    if not pool.gpus or not pool.min_free_mib:
        return {}
    free = free_memory_mib()
    return {gpu: f"GPU {gpu} has {free[gpu]} MiB free (< {pool.min_free_mib})"
            for gpu in pool.devices if gpu in free and free[gpu] < pool.min_free_mib}


def run_need(config: dict) -> int:
    """GPUs (or slots) a run needs: its recipe's launch.gpus, else launch.num_processes."""
    launch = config.get("launch") or {}
    gpus = launch.get("gpus")
    if isinstance(gpus, list) and gpus:
        return len(gpus)
    processes = launch.get("num_processes")
    return processes if isinstance(processes, int) and processes > 0 else 1
