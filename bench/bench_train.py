"""Training throughput of the example detector (frames per second), on CPU or GPU.

    python bench/bench_train.py [--steps 20] [--device cuda --bf16] [key=value ...]

Overrides are the training script's (e.g. fpn.in_stages=[1,2,3,4]). Clips come from a few
freshly generated sequences (no cache is touched); the first --warmup steps are not timed.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from models.config import ConfigError, exit_bad_config, parse_config  # noqa: E402
from models.data import generate_split  # noqa: E402
from models.detector import Detector  # noqa: E402
from models.loss import detection_loss  # noqa: E402
from models.runtime import set_cpu_threads  # noqa: E402
from models.train import parameter_groups, sample_clips  # noqa: E402


def main() -> None:
    """Parse arguments, time training steps, print one result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = parser.parse_args()
    try:
        cfg = parse_config(args.overrides)
    except ConfigError as error:
        exit_bad_config(error)
    device = torch.device(args.device)
    set_cpu_threads(cfg.train.threads)
    data_cfg = replace(cfg.data, train_sequences=4)
    split = generate_split(data_cfg, "train")
    torch.manual_seed(0)
    model = Detector(cfg).to(device)
    optimizer = torch.optim.AdamW(parameter_groups(model, cfg.train.weight_decay), lr=cfg.train.lr)
    anchors = model.anchors(cfg.data.height, cfg.data.width, device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if args.bf16 else nullcontext()
    rng = np.random.default_rng(0)
    frames_per_step = cfg.train.batch_size * cfg.train.clip_len
    started = 0.0
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        frames, boxes = sample_clips(split, cfg, rng)
        frames, boxes = frames.to(device), boxes.to(device)
        with autocast:
            raw, _ = model(frames)
        losses = detection_loss(raw.flatten(0, 1), anchors, boxes.flatten(0, 1), cfg)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    print(
        f"train: {args.steps * frames_per_step / elapsed:.1f} frames/s "
        f"({elapsed / args.steps * 1000:.0f} ms/step, {frames_per_step} frames/step, "
        f"fpn.in_stages={cfg.fpn.in_stages}, {cfg.data.width}x{cfg.data.height}, "
        f"device {device}{', bf16' if args.bf16 else ''}, {torch.get_num_threads()} threads)"
    )


if __name__ == "__main__":
    main()
