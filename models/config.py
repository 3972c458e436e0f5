"""Configuration of the example: defaults with comments, `key=value` overrides, validation.

nanoGPT style: every setting has a default here; a command line such as
``python -m models.train fpn.in_stages=[1,2,3,4] train.max_steps=600`` overrides any of them by
dotted key. Values are parsed with ``yaml.safe_load`` and must have the type of the default
(an int is accepted where a float is expected). A misspelt key or a bad value stops the program
with one line on stderr and exit code 2, before any data is generated or a model is built.
This module imports no torch, so a bad command line fails fast.
"""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import yaml

# The synthetic world has this many object kinds (see data.OBJECT_KINDS); names are labels only.
NUM_CLASSES = 8
VALID_FPN_STAGES = ([2, 3, 4], [1, 2, 3, 4])
EXIT_BAD_CONFIG = 2


class ConfigError(ValueError):
    """A bad setting; the message is one line meant for the user."""


@dataclass
class DataConfig:
    """The synthetic event-camera data; every field but cache_dir is part of the cache key."""

    width: int = 160  # frame width in pixels; a multiple of 32 (the coarsest stride)
    height: int = 96  # frame height in pixels; a multiple of 32
    time_bins: int = 5  # T: histogram bins per frame; the input has 2 polarities x T channels
    seq_len: int = 16  # frames per sequence; objects keep their identity across a sequence
    train_sequences: int = 96  # sequences in the training split
    val_sequences: int = 16  # sequences in the validation split
    min_objects: int = 3  # objects per sequence, at least
    max_objects: int = 6  # objects per sequence, at most
    size_scale: float = 1.0  # multiplies every object size and speed (0.5 for tiny test frames)
    # Relative frequency of each class in the synthetic world (cars and pedestrians are common).
    class_weights: list[float] = field(
        default_factory=lambda: [3.0, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0]
    )
    contrast_threshold: float = 0.1  # brightness change that fires one event (0.05-0.2)
    noise_rate: float = 0.004  # background-activity events per pixel, bin and polarity (0-0.02)
    hot_pixels: int = 12  # pixels per sequence that fire on about half of the bins
    pause_prob: float = 0.15  # chance an object stops for 2-4 frames (it then makes no events)
    seed: int = 0  # seed of the generator; train and val use disjoint streams
    # Where generated data is cached; "" = $EXPCTL_DATA_CACHE, else .cache/expctl-data (cwd).
    cache_dir: str = ""


@dataclass
class ClassConfig:
    """Class names (by id) and the class group that `small_map` averages over."""

    names: list[str] = field(
        default_factory=lambda: [
            "Car", "Truck", "Motorcycle", "Bicycle", "Pedestrian", "Bus", "Static", "Other",
        ]
    )
    small: list[int] = field(default_factory=lambda: [2, 3, 4])  # class ids averaged by small_map


@dataclass
class ModelConfig:
    """Backbone: 4 stages with strides 4, 8, 16, 32."""

    widths: list[int] = field(default_factory=lambda: [16, 32, 64, 96])  # channels per stage
    depths: list[int] = field(default_factory=lambda: [1, 1, 1, 1])  # residual blocks per stage
    lstm_stages: list[int] = field(default_factory=lambda: [1, 2, 3, 4])  # stages with a ConvLSTM


@dataclass
class FpnConfig:
    """PAFPN neck over 3 scales (stages 2-4) or 4 scales (stages 1-4, adds stride 4)."""

    in_stages: list[int] = field(default_factory=lambda: [2, 3, 4])  # [2, 3, 4] or [1, 2, 3, 4]
    width: int = 48  # channels of every pyramid level


@dataclass
class HeadConfig:
    """Anchor-free YOLOX-style head: objectness, class and box per grid cell."""

    width: int = 48  # channels of the class and box branches
    center_radius: float = 1.5  # cells within this many strides of a box centre are positives
    scale_ratio: float = 4.0  # a box goes to the finest level whose stride * ratio >= its long side


@dataclass
class LossConfig:
    """Loss weights, and the optional size-aware weighting of small boxes."""

    box_weight: float = 5.0  # weight of the GIoU box loss (YOLOX uses 5)
    l1_weight: float = 1.0  # weight of the L1 loss on raw box offsets and log sizes
    size_aware: bool = False  # weight positives by 1 + size_weight * exp(-area / size_threshold)
    size_threshold: float = 128.0  # box area in px^2 where the extra weight has fallen to 1/e
    size_weight: float = 2.0  # extra weight of a box of area 0 (1 + size_weight in total)


@dataclass
class TrainConfig:
    """Optimisation and the training loop."""

    max_steps: int = 300  # optimizer steps in total (300: the CPU demo, about 2 min)
    batch_size: int = 8  # clips per step (per process)
    clip_len: int = 4  # frames per clip; the ConvLSTM state is carried through a clip
    lr: float = 3e-3  # peak learning rate of AdamW
    min_lr: float = 1e-4  # learning rate at the end of the cosine decay
    warmup_steps: int = 40  # linear warm-up from 0 to lr
    weight_decay: float = 0.05  # AdamW weight decay (not applied to norms and biases)
    grad_clip: float = 10.0  # clip the gradient norm to this; 0 disables
    flip: bool = True  # random horizontal flips of whole clips
    log_every: int = 20  # steps between progress lines and loss/lr metrics
    eval_every: int = 100  # steps between evaluations on the validation split
    ckpt_every: int = 100  # steps between checkpoints (a final one is always written)
    seed: int = 0  # seed of the model init and the clip sampler
    threads: int = 0  # torch CPU threads; 0 = all cores but one (see models/runtime.py)


@dataclass
class EvalConfig:
    """Post-processing and evaluation."""

    score_threshold: float = 0.01  # detections below this score are dropped before NMS
    nms_iou: float = 0.6  # IoU above which NMS suppresses a box of the same class
    max_dets: int = 100  # detections kept per frame (COCO's maxDets)
    pre_nms_topk: int = 1000  # candidates per frame before NMS
    confusion_score: float = 0.3  # detections at or above this score enter the confusion matrix
    # COCO's area ranges are 32^2 and 96^2 px for ~640 px images; scaled by 1/16 for 160x96 frames
    # so that small, medium and large objects all occur in the synthetic data.
    small_area: float = 64.0  # boxes below this area (px^2) are "small" in map_small
    medium_area: float = 576.0  # boxes below this area (and not small) are "medium"
    batch_size: int = 8  # validation sequences per forward pass


@dataclass
class Config:
    """Everything one training or evaluation run needs."""

    out_dir: str = ""  # "" = $EXPCTL_RUN_DIR, or ./out outside expctl
    data: DataConfig = field(default_factory=DataConfig)
    classes: ClassConfig = field(default_factory=ClassConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    fpn: FpnConfig = field(default_factory=FpnConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain nested data (stored in checkpoints)."""
        return asdict(self)


def config_from_dict(values: dict[str, Any]) -> Config:
    """Build a Config from nested data shaped like `Config.to_dict()`."""
    sections = {}
    for f in fields(Config):
        if f.name in values and isinstance(values[f.name], dict):
            sections[f.name] = f.default_factory(**values[f.name])  # type: ignore[misc]
        elif f.name in values:
            sections[f.name] = values[f.name]
    return Config(**sections)


def _type_name(value: Any) -> str:
    return {bool: "a bool", int: "an int", float: "a number", str: "a string", list: "a list"}.get(
        type(value), type(value).__name__
    )


def _coerce(key: str, raw: str, default: Any) -> Any:
    """Parse one override value and check it against the type of its default."""
    if isinstance(default, str):
        return raw  # a path or a name: keep the text exactly as given
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"`{key}={raw}`: cannot parse `{raw}` as YAML") from None
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, list):
        ok = isinstance(value, list)
        if ok and default:
            item = default[0]
            value = [_coerce_item(key, raw, v, item) for v in value]
    else:
        ok = True
    if not ok:
        raise ConfigError(f"`{key}={raw}`: expected {_type_name(default)}, got `{raw}`")
    return value


def _coerce_item(key: str, raw: str, value: Any, default: Any) -> Any:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, float) and number:
        return float(value)
    if type(value) is type(default):
        return value
    raise ConfigError(f"`{key}={raw}`: expected a list of {_type_name(default)[2:].strip()}s")


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of nested `values` with `dotted.key=value` overrides applied and checked."""
    result = copy.deepcopy(values)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"`{item}`: expected key=value (e.g. train.max_steps=600)")
        parts = key.split(".")
        node: Any = result
        for depth, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                where = ".".join(parts[:depth]) or "the config"
                known = ", ".join(sorted(node)) if isinstance(node, dict) else ""
                raise ConfigError(f"unknown config key `{key}` (keys of {where}: {known})")
            if depth < len(parts) - 1:
                node = node[part]
        if isinstance(node[parts[-1]], dict):
            raise ConfigError(f"`{key}` is a section; set one of its keys, e.g. `{key}.<name>=...`")
        node[parts[-1]] = _coerce(key, raw, node[parts[-1]])
    return result


def validate(cfg: Config) -> None:
    """Reject settings that are well-typed but make no sense, with one clear message."""
    positive = {
        "train.max_steps": cfg.train.max_steps,
        "train.batch_size": cfg.train.batch_size,
        "train.clip_len": cfg.train.clip_len,
        "train.log_every": cfg.train.log_every,
        "train.eval_every": cfg.train.eval_every,
        "train.ckpt_every": cfg.train.ckpt_every,
        "data.time_bins": cfg.data.time_bins,
        "data.seq_len": cfg.data.seq_len,
        "data.train_sequences": cfg.data.train_sequences,
        "data.val_sequences": cfg.data.val_sequences,
        "data.min_objects": cfg.data.min_objects,
        "eval.max_dets": cfg.eval.max_dets,
        "eval.batch_size": cfg.eval.batch_size,
        "fpn.width": cfg.fpn.width,
        "head.width": cfg.head.width,
        "data.size_scale": cfg.data.size_scale,
        "loss.size_threshold": cfg.loss.size_threshold,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"`{key}` must be positive, got `{value}`")
    if cfg.train.warmup_steps < 0:
        raise ConfigError(f"`train.warmup_steps` must be >= 0, got `{cfg.train.warmup_steps}`")
    if cfg.fpn.in_stages not in VALID_FPN_STAGES:
        raise ConfigError(
            f"`fpn.in_stages` must be [2, 3, 4] (3 scales) or [1, 2, 3, 4] (4 scales), "
            f"got `{cfg.fpn.in_stages}`"
        )
    if len(cfg.classes.names) != NUM_CLASSES:
        raise ConfigError(
            f"`classes.names` must name the {NUM_CLASSES} synthetic classes, "
            f"got {len(cfg.classes.names)} names"
        )
    bad = [c for c in cfg.classes.small if not 0 <= c < len(cfg.classes.names)]
    if bad:
        raise ConfigError(
            f"`classes.small` names class id `{bad[0]}`, which does not exist "
            f"(ids are 0-{len(cfg.classes.names) - 1})"
        )
    if not cfg.classes.small:
        raise ConfigError("`classes.small` must list at least one class id")
    if len(set(cfg.classes.small)) != len(cfg.classes.small):
        raise ConfigError(f"`classes.small` lists a class twice: `{cfg.classes.small}`")
    if len(cfg.data.class_weights) != NUM_CLASSES or min(cfg.data.class_weights) < 0:
        raise ConfigError(f"`data.class_weights` needs {NUM_CLASSES} non-negative numbers")
    if sum(cfg.data.class_weights) <= 0:
        raise ConfigError("`data.class_weights` must not be all zero")
    for key, size in (("data.width", cfg.data.width), ("data.height", cfg.data.height)):
        if size < 64 or size % 32:
            raise ConfigError(f"`{key}` must be a multiple of 32 and at least 64, got `{size}`")
    if cfg.data.max_objects < cfg.data.min_objects:
        raise ConfigError("`data.max_objects` must be >= `data.min_objects`")
    if cfg.train.clip_len > cfg.data.seq_len:
        raise ConfigError(
            f"`train.clip_len` ({cfg.train.clip_len}) exceeds `data.seq_len` ({cfg.data.seq_len})"
        )
    if len(cfg.model.widths) != 4 or len(cfg.model.depths) != 4:
        raise ConfigError("`model.widths` and `model.depths` need one entry per stage (4)")
    if min(cfg.model.widths) <= 0 or min(cfg.model.depths) < 0:
        raise ConfigError("`model.widths` must be positive and `model.depths` >= 0")
    if any(s not in (1, 2, 3, 4) for s in cfg.model.lstm_stages):
        raise ConfigError(
            f"`model.lstm_stages` may only list stages 1-4, got `{cfg.model.lstm_stages}`"
        )
    if not 0 <= cfg.data.pause_prob <= 1 or not 0 <= cfg.data.noise_rate <= 1:
        raise ConfigError("`data.pause_prob` and `data.noise_rate` must lie in [0, 1]")
    if cfg.data.contrast_threshold <= 0:
        raise ConfigError("`data.contrast_threshold` must be positive")


def parse_config(argv: list[str], base: dict[str, Any] | None = None) -> Config:
    """Defaults (or `base`), then `key=value` overrides from argv, then validation."""
    values = base if base is not None else Config().to_dict()
    cfg = config_from_dict(apply_overrides(values, argv))
    validate(cfg)
    return cfg


def describe_defaults() -> str:
    """Every setting as `dotted.key=default`, one per line (their comments: models/config.py)."""
    lines = []
    for section, values in Config().to_dict().items():
        if not isinstance(values, dict):
            lines.append(f"{section}={values!r}")
            continue
        lines += [f"{section}.{key}={value!r}" for key, value in values.items()]
    return "\n".join(lines)


def resolve_out_dir(cfg: Config) -> str:
    """`out_dir=` if given, else the expctl run folder, else ./out."""
    return cfg.out_dir or os.environ.get("EXPCTL_RUN_DIR") or "out"


def exit_bad_config(error: ConfigError) -> None:
    """Print the one-line error and exit with the bad-config code (no traceback)."""
    print(f"error: {error}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_BAD_CONFIG)


def merge_into_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """Stored config values laid over today's defaults (keys added since are filled in)."""
    merged = Config().to_dict()
    for section, content in values.items():
        if isinstance(content, dict) and isinstance(merged.get(section), dict):
            merged[section].update({k: v for k, v in content.items() if k in merged[section]})
        elif section in merged:
            merged[section] = content
    return merged


# Settings that change the weights' shapes or meaning: fixed once a model is trained.
ARCHITECTURE_KEYS = (
    "model.widths", "model.depths", "model.lstm_stages", "fpn.in_stages", "fpn.width",
    "head.width", "data.time_bins",
)


def architecture_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Dotted architecture keys whose values differ between two config dicts."""
    diffs = []
    for key in ARCHITECTURE_KEYS:
        section, name = key.split(".")
        if a.get(section, {}).get(name) != b.get(section, {}).get(name):
            diffs.append(key)
    return diffs
