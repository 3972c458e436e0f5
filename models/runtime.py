"""Process-level settings shared by training, evaluation and the benchmarks."""

from __future__ import annotations

import torch


def set_cpu_threads(requested: int, processes: int = 1) -> None:
    """`train.threads` if set, else all cores but one; several processes keep the launcher's.

    On a 2-core machine two intra-op threads stall at every op whenever anything else runs
    (measured: 6 frames/s instead of 65 with one thread), so one core is left free.
    """
    if requested:
        torch.set_num_threads(requested)
    elif processes == 1:
        torch.set_num_threads(max(1, torch.get_num_threads() - 1))
