"""Synthetic event-camera sequences: objects of 8 classes moving over a static background.

The world: a static camera looks at a smooth background; objects (cars, trucks, buses moving
along the horizontal "road", pedestrians, bicycles and others wandering, flickering static
signs) move on smooth tracks that bounce off the frame edges, and sometimes pause. A pixel
fires an event whenever its brightness changes by the contrast threshold between two time bins
(ON for brighter, OFF for darker), so events appear at moving edges and stripes only; sensor
noise adds random background activity and a few hot pixels. A paused object fires nothing but
keeps its box: a recurrent model has to remember it.

Each frame is a stacked histogram of event counts, 2 polarities x T time bins (channels
`[ON bin 0..T-1, OFF bin 0..T-1]`), labelled with the boxes at the end of the frame.
Generation is vectorised numpy, deterministic by seed (each sequence has its own seeded stream,
so train and val never share one), and cached on disk per data configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from models.config import DataConfig

# Bump whenever generated data changes for the same configuration, so old caches are not reused.
GENERATOR_VERSION = 3
MAX_EVENTS_PER_BIN = 3  # counts saturate here, like a bounded histogram
RECT, ELLIPSE, WHEELS = 0, 1, 2
SPLITS = {"train": 0, "val": 1}


class ObjectKind(NamedTuple):
    """Appearance and motion of one class of synthetic object (sizes in px at 160x96)."""

    width: tuple[float, float]  # range of box widths
    height: tuple[float, float]  # range of box heights
    speed: tuple[float, float]  # range of speeds in px per frame
    on_road: bool  # moves roughly horizontally (else in any direction)
    shape: int  # RECT, ELLIPSE or WHEELS
    stripes: tuple[int, int]  # texture stripes across x and y (0 = plain); they fire events too
    flicker: bool  # brightness toggles every time bin (a blinking sign), even when still


# Indexed by class id: 0 Car, 1 Truck, 2 Motorcycle, 3 Bicycle, 4 Pedestrian, 5 Bus, 6 Static,
# 7 Other. Classes 2-4 are small (a few px to ~14 px); buses and trucks are large.
OBJECT_KINDS = (
    ObjectKind((16, 26), (9, 13), (2.0, 4.0), True, RECT, (2, 0), False),
    ObjectKind((30, 44), (15, 21), (1.5, 3.0), True, RECT, (1, 1), False),
    ObjectKind((9, 13), (6, 8), (2.5, 4.5), True, ELLIPSE, (0, 0), False),
    ObjectKind((8, 12), (6, 9), (1.5, 3.0), True, WHEELS, (0, 0), False),
    ObjectKind((3, 5), (8, 14), (1.0, 2.0), False, ELLIPSE, (0, 0), False),
    ObjectKind((48, 64), (18, 24), (1.5, 3.0), True, RECT, (5, 0), False),
    ObjectKind((8, 16), (8, 16), (0.0, 0.0), False, RECT, (0, 0), True),
    ObjectKind((8, 18), (8, 18), (1.0, 2.5), False, RECT, (2, 2), False),
)


@dataclass
class EventSplit:
    """One split: event histograms and per-frame boxes of whole sequences."""

    frames: np.ndarray  # (sequences, seq_len, 2*T, H, W) uint8 event counts
    # (sequences, seq_len, max_objects, 5) float32: class, x, y, w, h; class -1 pads
    boxes: np.ndarray

    @property
    def num_frames(self) -> int:
        """Frames in the split."""
        return self.frames.shape[0] * self.frames.shape[1]


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth static brightness pattern in about [0.3, 0.7] plus fine fixed texture."""
    ys = np.arange(height, dtype=np.float32)[:, None] / height
    xs = np.arange(width, dtype=np.float32)[None, :] / width
    image = np.full((height, width), rng.uniform(0.45, 0.55), dtype=np.float32)
    for _ in range(4):
        fx, fy = rng.uniform(0.3, 3.0, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        image += rng.uniform(0.02, 0.05) * np.sin(2 * np.pi * (fx * xs + fy * ys) + phase)
    image += rng.uniform(-0.02, 0.02, size=(height, width)).astype(np.float32)
    return image


def _tracks(
    rng: np.random.Generator, cfg: DataConfig, kinds: np.ndarray, sizes: np.ndarray
) -> np.ndarray:
    """Top-left corners (n, snapshots, 2) at every time-bin boundary of the sequence."""
    n, frames, bins = len(kinds), cfg.seq_len, cfg.time_bins
    limits = np.array([cfg.width, cfg.height], dtype=np.float32) - sizes  # (n, 2)
    start = rng.uniform(0, 1, size=(n, 2)) * limits
    speed = np.array([rng.uniform(*OBJECT_KINDS[k].speed) for k in kinds]) * cfg.size_scale
    on_road = np.array([OBJECT_KINDS[k].on_road for k in kinds])
    # Road users drive left or right within 15 degrees of the horizontal; others go anywhere.
    heading = np.where(
        on_road,
        rng.uniform(-0.26, 0.26, n) + np.pi * (rng.random(n) < 0.5),
        rng.uniform(0, 2 * np.pi, n),
    )
    velocity = speed[:, None] * np.stack([np.cos(heading), np.sin(heading)], axis=1)  # (n, 2)
    # Smooth speed changes: a small random walk of the velocity, frame by frame.
    drift = np.cumsum(rng.normal(0, 0.08, size=(n, frames, 2)), axis=1) * speed[:, None, None]
    per_frame = velocity[:, None, :] + drift
    moving = np.ones((n, frames), dtype=np.float32)
    for i in np.flatnonzero(rng.random(n) < cfg.pause_prob):
        first = rng.integers(1, max(frames - 1, 2))
        moving[i, first : first + rng.integers(2, 5)] = 0.0
    per_bin = np.repeat(per_frame * moving[:, :, None], bins, axis=1) / bins  # (n, frames*bins, 2)
    raw = start[:, None, :] + np.concatenate(
        [np.zeros((n, 1, 2)), np.cumsum(per_bin, axis=1)], axis=1
    )
    # Bounce off the frame edges: fold the unbounded path into [0, limit].
    span = np.maximum(limits, 1e-3)[:, None, :]
    folded = np.mod(raw, 2 * span)
    return np.where(folded > span, 2 * span - folded, folded).astype(np.float32)


def _render(
    rng: np.random.Generator,
    cfg: DataConfig,
    kinds: np.ndarray,
    sizes: np.ndarray,
    corners: np.ndarray,
) -> np.ndarray:
    """Brightness (snapshots, H, W) at every time-bin boundary, objects over the background."""
    snapshots = corners.shape[1]
    background = _background(rng, cfg.height, cfg.width)
    intensity = np.broadcast_to(background, (snapshots, cfg.height, cfg.width)).copy()
    xs = np.arange(cfg.width, dtype=np.float32) + 0.5  # pixel centres
    ys = np.arange(cfg.height, dtype=np.float32) + 0.5
    toggle = np.where(np.arange(snapshots) % 2 == 0, 1.0, -1.0).astype(np.float32)
    # Large objects first, so small ones are never hidden behind a bus.
    for i in np.argsort(-(sizes[:, 0] * sizes[:, 1])):
        kind = OBJECT_KINDS[kinds[i]]
        w, h = sizes[i]
        u = (xs[None, :] - corners[i, :, 0:1]) / w  # (S, W) position inside the box, 0..1
        v = (ys[None, :] - corners[i, :, 1:2]) / h  # (S, H)
        inside_x = (u >= 0) & (u < 1)
        inside_y = (v >= 0) & (v < 1)
        if kind.shape == RECT:
            mask = inside_y[:, :, None] & inside_x[:, None, :]
        elif kind.shape == ELLIPSE:
            mask = ((2 * v - 1) ** 2)[:, :, None] + ((2 * u - 1) ** 2)[:, None, :] <= 1.0
        else:  # two wheels side by side
            wheel_u = np.where(u < 0.5, 4 * u - 1, 4 * u - 3)
            mask = ((2 * v - 1) ** 2)[:, :, None] + (wheel_u**2)[:, None, :] <= 1.0
            mask &= inside_x[:, None, :]
        stripes_x = np.where(np.floor(u * 2 * kind.stripes[0]) % 2 == 0, 1.0, -1.0)
        stripes_y = np.where(np.floor(v * 2 * kind.stripes[1]) % 2 == 0, 1.0, -1.0)
        pattern = (stripes_y if kind.stripes[1] else np.ones_like(v))[:, :, None] * (
            stripes_x if kind.stripes[0] else np.ones_like(u)
        )[:, None, :]
        polarity = 1.0 if rng.random() < 0.5 else -1.0  # brighter or darker than the road
        base = 0.5 + polarity * rng.uniform(0.25, 0.38)
        value = base + 0.1 * pattern
        if kind.flicker:
            value = value + 0.15 * toggle[:, None, None]
        np.copyto(intensity, value.astype(np.float32), where=mask)
    return intensity


def _events(rng: np.random.Generator, cfg: DataConfig, intensity: np.ndarray) -> np.ndarray:
    """Event histograms (seq_len, 2*T, H, W) from brightness changes between bin boundaries."""
    change = np.diff(intensity, axis=0) / cfg.contrast_threshold  # (frames*bins, H, W)
    on = np.clip(np.floor(change), 0, MAX_EVENTS_PER_BIN)
    off = np.clip(np.floor(-change), 0, MAX_EVENTS_PER_BIN)
    events = np.stack([on, off], axis=1).astype(np.uint8)  # (frames*bins, 2, H, W)
    # Background activity: independent random events on every pixel, bin and polarity.
    events += (rng.random(events.shape, dtype=np.float32) < cfg.noise_rate).astype(np.uint8)
    # Hot pixels: a few fixed pixels that fire on about half of the bins, in one polarity.
    bins_total, _, height, width = events.shape
    pixels = rng.integers(0, height * width, size=cfg.hot_pixels)
    polarity = rng.integers(0, 2, size=cfg.hot_pixels)
    fires = rng.random((bins_total, cfg.hot_pixels)) < 0.5
    flat = events.reshape(bins_total, 2, height * width)
    flat[:, polarity, pixels] += fires.astype(np.uint8)
    np.minimum(events, MAX_EVENTS_PER_BIN, out=events)
    frames = events.reshape(cfg.seq_len, cfg.time_bins, 2, height, width).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(frames).reshape(cfg.seq_len, 2 * cfg.time_bins, height, width)


def generate_sequence(cfg: DataConfig, split: str, index: int) -> tuple[np.ndarray, np.ndarray]:
    """One sequence: frames (seq_len, 2T, H, W) uint8 and boxes (seq_len, max_objects, 5)."""
    rng = np.random.default_rng([cfg.seed, SPLITS[split], index])
    count = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    weights = np.asarray(cfg.class_weights, dtype=np.float64)
    kinds = rng.choice(len(OBJECT_KINDS), size=count, p=weights / weights.sum())
    sizes = np.array(
        [[rng.uniform(*OBJECT_KINDS[k].width), rng.uniform(*OBJECT_KINDS[k].height)]
         for k in kinds],
        dtype=np.float32,
    ).reshape(count, 2) * cfg.size_scale
    sizes = np.clip(sizes, 2.0, [cfg.width - 1, cfg.height - 1]).astype(np.float32)
    corners = _tracks(rng, cfg, kinds, sizes)
    frames = _events(rng, cfg, _render(rng, cfg, kinds, sizes, corners))
    boxes = np.full((cfg.seq_len, cfg.max_objects, 5), -1.0, dtype=np.float32)
    ends = corners[:, cfg.time_bins :: cfg.time_bins]  # (n, seq_len, 2): label at end of frame
    boxes[:, :count, 0] = kinds[None, :]
    boxes[:, :count, 1:3] = ends.transpose(1, 0, 2)
    boxes[:, :count, 3:5] = sizes[None, :, :]
    return frames, boxes


def generate_split(cfg: DataConfig, split: str) -> EventSplit:
    """All sequences of one split."""
    count = cfg.train_sequences if split == "train" else cfg.val_sequences
    pairs = [generate_sequence(cfg, split, i) for i in range(count)]
    return EventSplit(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))


def cache_key(cfg: DataConfig) -> str:
    """Hash of everything that determines the data (the cache folder is not part of it)."""
    values = asdict(cfg)
    values.pop("cache_dir")
    values["generator_version"] = GENERATOR_VERSION
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def cache_dir(cfg: DataConfig) -> Path:
    """`data.cache_dir`, else $EXPCTL_DATA_CACHE, else .cache/expctl-data under the cwd."""
    return Path(cfg.cache_dir or os.environ.get("EXPCTL_DATA_CACHE") or ".cache/expctl-data")


def cache_path(cfg: DataConfig) -> Path:
    """The cache file of this data configuration."""
    return cache_dir(cfg) / f"events-{cache_key(cfg)}.npz"


def load_or_generate(
    cfg: DataConfig, log: Callable[[str], None] = print, splits: tuple[str, ...] = tuple(SPLITS)
) -> dict[str, EventSplit]:
    """The splits asked for, read from the cache, or all generated once and cached atomically."""
    path = cache_path(cfg)
    if path.exists():
        with np.load(path) as stored:  # only the arrays asked for are decompressed
            return {s: EventSplit(stored[f"{s}_frames"], stored[f"{s}_boxes"]) for s in splits}
    started = time.perf_counter()
    generated = {s: generate_split(cfg, s) for s in SPLITS}
    frames = sum(s.num_frames for s in generated.values())
    log(f"generated {frames} frames in {time.perf_counter() - started:.1f} s; caching to {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write to a private name and rename: concurrent runs never read a half-written cache.
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
    with open(partial, "wb") as f:
        arrays = {}
        for name, split in generated.items():
            arrays[f"{name}_frames"], arrays[f"{name}_boxes"] = split.frames, split.boxes
        np.savez_compressed(f, **arrays)
    os.replace(partial, path)
    meta = {"config": asdict(cfg), "generator_version": GENERATOR_VERSION}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return {s: generated[s] for s in splits}
