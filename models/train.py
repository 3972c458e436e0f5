"""Train the recurrent event-camera detector on synthetic data (nanoGPT-style config, Accelerate).

One CPU (the demo; defaults in models/config.py, any key overridable):
    python -m models.train train.max_steps=300
One GPU (Accelerate picks it up; mixed precision comes from the launcher):
    python -m models.train
    accelerate launch --mixed_precision bf16 -m models.train
Several GPUs (each process samples its own clips; rank 0 writes all files):
    accelerate launch --multi_gpu --num_processes 4 -m models.train train.batch_size=16
Several CPU processes (to try the distributed path without GPUs):
    ACCELERATE_USE_CPU=true torchrun --nproc_per_node 2 -m models.train
Variants and resuming:
    python -m models.train fpn.in_stages=[1,2,3,4] loss.size_aware=true
    python -m models.train [the same overrides] --resume    # from the newest checkpoint
Tiny run for tests (seconds on a CPU):
    python -m models.train data.width=64 data.height=64 data.train_sequences=4 \\
        data.val_sequences=2 data.seq_len=4 train.max_steps=4 train.batch_size=2

Into out_dir (`out_dir=`, else $EXPCTL_RUN_DIR, else ./out):
    checkpoints/ckpt_step{step:07d}.pt     model, optimizer, scheduler, step, resolved config
    training_logs/config.yaml               the resolved configuration
    training_logs/tensorboard/              TensorBoard scalars (train/*, val/*)
    confusion_matrices/confusion_matrix_step{step:07d}.{png,json}   at every evaluation
Metrics also go to expctl through `expctl.track` (a no-op outside expctl).
A bad setting stops the program with one line on stderr and exit code 2, before any work.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from accelerate import Accelerator
from torch.utils.tensorboard import SummaryWriter

from expctl import track
from models.config import (
    Config,
    ConfigError,
    architecture_differences,
    describe_defaults,
    exit_bad_config,
    parse_config,
    resolve_out_dir,
)
from models.data import EventSplit, load_or_generate
from models.detector import Detector
from models.evaluate import evaluate_model, load_checkpoint
from models.loss import detection_loss
from models.runtime import set_cpu_threads

CHECKPOINT_PATTERN = re.compile(r"ckpt_step(\d+)\.pt$")
LOSS_KEYS = ("loss", "loss_obj", "loss_cls", "loss_box")
EVAL_KEYS = ("map", "small_map", "ap50", "ap75", "map_small", "map_medium", "map_large", "ar100")


def parse_args(argv: list[str]) -> tuple[Config, bool]:
    """Overrides and `--resume` -> (config, resume); ConfigError on anything unknown."""
    resume = "--resume" in argv
    options = [a for a in argv if a.startswith("-") and a != "--resume"]
    if options:
        raise ConfigError(f"unknown option `{options[0]}` (options: --resume, --help)")
    return parse_config([a for a in argv if a != "--resume"]), resume


def learning_rate_factor(step: int, cfg: Config) -> float:
    """Multiplier of train.lr at a step: linear warm-up, then cosine decay to train.min_lr."""
    t = cfg.train
    if step < t.warmup_steps:
        return (step + 1) / (t.warmup_steps + 1)
    progress = (step - t.warmup_steps) / max(t.max_steps - t.warmup_steps, 1)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return (t.min_lr + cosine * (t.lr - t.min_lr)) / t.lr


def sample_clips(
    split: EventSplit, cfg: Config, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of random clips: frames (B, L, 2T, H, W) uint8 and boxes (B, L, M, 5)."""
    batch, length = cfg.train.batch_size, cfg.train.clip_len
    sequences = rng.integers(0, split.frames.shape[0], size=batch)
    starts = rng.integers(0, split.frames.shape[1] - length + 1, size=batch)
    frame_index = starts[:, None] + np.arange(length)
    frames = split.frames[sequences[:, None], frame_index]
    boxes = split.boxes[sequences[:, None], frame_index].copy()
    if cfg.train.flip:
        flipped = rng.random(batch) < 0.5
        frames[flipped] = frames[flipped][..., ::-1]
        real = boxes[..., 0] >= 0
        mirrored = cfg.data.width - boxes[..., 1] - boxes[..., 3]
        boxes[..., 1] = np.where(flipped[:, None, None] & real, mirrored, boxes[..., 1])
    return torch.from_numpy(frames), torch.from_numpy(boxes)


def latest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint with the highest step in folder, if any."""
    found = [(int(m.group(1)), p) for p in folder.glob("ckpt_step*.pt")
             if (m := CHECKPOINT_PATTERN.search(p.name))]
    return max(found)[1] if found else None


def save_checkpoint(path: Path, state: dict) -> None:
    """Write atomically, so --resume never picks up a half-written file."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    torch.save(state, partial)
    partial.replace(path)


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on conv weights only; norms and biases are left alone."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def evaluate_and_log(
    model: Detector, split: EventSplit, cfg: Config, step: int, out_dir: Path, writer: SummaryWriter
) -> None:
    """Periodic evaluation: a summary line, metrics to expctl and TensorBoard, confusion matrix."""
    metrics, _ = evaluate_model(
        model, split, cfg, next(model.parameters()).device,
        out_dir / "confusion_matrices", f"confusion_matrix_step{step:07d}",
    )
    shown = " | ".join(f"{k} {metrics[k]:.4f}" for k in EVAL_KEYS)
    print(f"eval step {step}: {shown}", flush=True)
    track.log(metrics, step=step)
    for key, value in metrics.items():
        writer.add_scalar(f"val/{key}", value, step)


def train(cfg: Config, resume: bool) -> Path:
    """The training loop; returns the path of the final checkpoint."""
    accelerator = Accelerator()
    main_process = accelerator.is_main_process
    set_cpu_threads(cfg.train.threads, accelerator.num_processes)
    out_dir = Path(resolve_out_dir(cfg))
    ckpt_dir = out_dir / "checkpoints"

    # The checkpoint is read before any data work, so a mismatch fails fast.
    checkpoint = None
    if resume:
        found = latest_checkpoint(ckpt_dir)
        if found is None:
            accelerator.print(f"no checkpoint in {ckpt_dir}; starting from step 0")
        else:
            checkpoint = load_checkpoint(str(found))
            changed = architecture_differences(checkpoint["config"], cfg.to_dict())
            if changed:
                raise ConfigError(f"`{changed[0]}` differs from the checkpoint {found}")
            accelerator.print(f"resuming from {found} (step {checkpoint['step']})")

    torch.manual_seed(cfg.train.seed)
    model = Detector(cfg)
    optimizer = torch.optim.AdamW(
        parameter_groups(model, cfg.train.weight_decay), lr=cfg.train.lr, betas=(0.9, 0.99)
    )
    # Stepped by hand once per optimizer step (not handed to accelerate, which would step it
    # once per process), so the schedule follows train.max_steps on any number of GPUs.
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_factor(step, cfg)
    )
    step = 0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        step = int(checkpoint["step"])

    with accelerator.main_process_first():
        splits = load_or_generate(cfg.data, log=accelerator.print)
    train_split, val_split = splits["train"], splits["val"]
    model, optimizer = accelerator.prepare(model, optimizer)
    raw_model: Detector = accelerator.unwrap_model(model)
    anchors = raw_model.anchors(cfg.data.height, cfg.data.width, accelerator.device)

    writer = None
    if main_process:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "training_logs").mkdir(parents=True, exist_ok=True)
        (out_dir / "training_logs" / "config.yaml").write_text(
            yaml.safe_dump(cfg.to_dict(), sort_keys=False)
        )
        writer = SummaryWriter(str(out_dir / "training_logs" / "tensorboard"), purge_step=step)
    frames_per_step = cfg.train.batch_size * cfg.train.clip_len * accelerator.num_processes
    accelerator.print(
        f"training {sum(p.numel() for p in raw_model.parameters()) / 1e6:.2f}M parameters, "
        f"fpn.in_stages={cfg.fpn.in_stages}, size_aware={cfg.loss.size_aware}, "
        f"{train_split.num_frames} train frames, steps {step}->{cfg.train.max_steps}, "
        f"device {accelerator.device}, {accelerator.num_processes} process(es)",
    )

    final_path = ckpt_dir / f"ckpt_step{step:07d}.pt"
    loss_sum = torch.zeros(4, device=accelerator.device)
    interval_steps, interval_start = 0, time.perf_counter()
    model.train()
    while step < cfg.train.max_steps:
        rng = np.random.default_rng([cfg.train.seed, step, accelerator.process_index])
        frames, boxes = sample_clips(train_split, cfg, rng)
        frames, boxes = frames.to(accelerator.device), boxes.to(accelerator.device)
        raw, _ = model(frames)
        losses = detection_loss(raw.flatten(0, 1), anchors, boxes.flatten(0, 1), cfg)
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(losses["loss"])
        if cfg.train.grad_clip > 0:
            accelerator.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
        optimizer.step()
        scheduler.step()
        step += 1
        loss_sum += torch.stack([losses[k] for k in LOSS_KEYS]).detach()
        interval_steps += 1
        last = step == cfg.train.max_steps

        if step % cfg.train.log_every == 0 or last:
            mean = (loss_sum / interval_steps).tolist()
            speed = interval_steps * frames_per_step / (time.perf_counter() - interval_start)
            lr = scheduler.get_last_lr()[0]
            record = {"loss": mean[0], "loss_obj": mean[1], "loss_cls": mean[2],
                      "loss_box": mean[3], "lr": lr, "frames_per_s": speed}
            accelerator.print(
                f"step {step}/{cfg.train.max_steps} | loss {mean[0]:.4f} | lr {lr:.2e} | "
                f"{speed:.1f} frames/s", flush=True,
            )
            if main_process:
                track.log(record, step=step)
                for key, value in record.items():
                    writer.add_scalar(f"train/{key}", value, step)
            loss_sum.zero_()
            interval_steps, interval_start = 0, time.perf_counter()

        if step % cfg.train.eval_every == 0 or last:
            if main_process:  # the others wait: evaluation is small and writes files
                with accelerator.autocast():
                    evaluate_and_log(raw_model, val_split, cfg, step, out_dir, writer)
            accelerator.wait_for_everyone()

        if step % cfg.train.ckpt_every == 0 or last:
            final_path = ckpt_dir / f"ckpt_step{step:07d}.pt"
            if main_process:
                save_checkpoint(final_path, {
                    "model": raw_model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                    "config": cfg.to_dict(),
                })
            accelerator.wait_for_everyone()
        if interval_steps == 0:
            interval_start = time.perf_counter()  # evaluation and saving are not training speed

    if main_process:
        writer.close()
        track.flush()
    accelerator.print(f"final checkpoint: {final_path}", flush=True)
    return final_path


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; see the module docstring."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        print(f"{__doc__}\nSettings and their defaults:\n{describe_defaults()}")
        return
    try:
        cfg, resume = parse_args(argv)
        train(cfg, resume)
    except ConfigError as error:
        exit_bad_config(error)


if __name__ == "__main__":
    main()
