"""The few settings the read path needs, read from expctl.yaml without pydantic.

`ls` and `leaderboard` need the registry URL, the baseline, the leaderboard defaults and each
metric's number format (direction, scale, decimals, label, unit). Validating all of expctl.yaml
with pydantic is a noticeable part of start-up, so this module reads the file with the C YAML
loader and accepts it only when every part it reads has exactly the expected shape. Anything
else falls back to `Workspace.settings` (full validation), which reports the problem or accepts
the file, so both paths always give the same answer; the fallback is only slower.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from expctl.numbers import MetricFormat
from expctl.workspace import Workspace, direction_by_name

# Top-level keys of expctl.yaml. An unknown key sends the file to full validation, which names
# it; a key added to the settings model later only costs that slower path until listed here.
KNOWN_KEYS = frozenset({"launcher", "baseline", "leaderboard", "metrics", "registry", "slurm",
                        "queue"})
DIRECTIONS = ("higher", "lower")
METRIC_KEYS = frozenset({"direction", "scale", "decimals", "label", "unit"})
MAX_DECIMALS = 12


@dataclass(frozen=True)
class ReadSettings:
    """What the read path uses from expctl.yaml."""

    registry: str | None = None
    baseline: str | None = None
    board_metric: str | None = None
    board_columns: tuple[str, ...] = ()
    directions: dict[str, str] = field(default_factory=dict)  # only metrics that set one
    scales: dict[str, float] = field(default_factory=dict)
    decimals: dict[str, int] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    def direction(self, metric: str) -> str:
        """'higher' or 'lower' is better: settings first, then the name (as Workspace does)."""
        if metric in self.directions:
            return self.directions[metric]
        return direction_by_name(metric)

    def scale(self, metric: str) -> float:
        return self.scales.get(metric, 1.0)

    def format(self, metric: str) -> MetricFormat:
        """The metric's number format: what expctl.yaml sets, the rest by default."""
        return MetricFormat(metric, self.direction(metric), self.scale(metric),
                            self.decimals.get(metric), self.labels.get(metric),
                            self.units.get(metric))


_cache: dict[str, ReadSettings] = {}


def read_settings(ws: Workspace) -> ReadSettings:
    """The workspace's settings for the read path (cached per process)."""
    key = str(ws.root)
    if key not in _cache:
        _cache[key] = _fast(ws) or _from_model(ws.settings)
    return _cache[key]


def registry_url(ws: Workspace) -> str:
    """Workspace.registry_url without validating the whole settings file."""
    url = os.environ.get("EXPCTL_REGISTRY_URL") or read_settings(ws).registry
    return url or f"sqlite:///{ws.root / 'registry.db'}"


def _fast(ws: Workspace) -> ReadSettings | None:
    """Settings from a file of the expected shape, or None to ask the full validation."""
    try:
        text = ws.settings_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ReadSettings()
    except (OSError, UnicodeDecodeError):
        return None  # the full validation names the problem
    data = _parsed_before(ws, text)
    fresh = data is _NOT_CACHED
    if fresh:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            return None
    settings = _from_data(data)
    # Remembered only once its shape is checked: the shape has scalars at its leaves, while
    # any other YAML (an alias bomb) could expand without bound when written out as JSON.
    if fresh and settings is not None:
        _remember_parsed(ws, text, data)
    return settings


def _from_data(data: Any) -> ReadSettings | None:
    """Settings from parsed expctl.yaml of the expected shape, else None."""
    if data is None:
        return ReadSettings()
    if not isinstance(data, dict) or not set(data) <= KNOWN_KEYS:
        return None
    board = data.get("leaderboard", {})
    metrics = data.get("metrics", {})
    if not (
        _opt_str(data.get("registry"))
        and _opt_str(data.get("baseline"))
        and isinstance(board, dict)
        and set(board) <= {"metric", "columns"}
        and _opt_str(board.get("metric"))
        and _str_list(board.get("columns", []))
        and isinstance(metrics, dict)
        and all(isinstance(k, str) and _metric_spec(v) for k, v in metrics.items())
    ):
        return None
    return ReadSettings(
        registry=data.get("registry"),
        baseline=data.get("baseline"),
        board_metric=board.get("metric"),
        board_columns=tuple(board.get("columns", [])),
        directions={k: v["direction"] for k, v in metrics.items() if "direction" in v},
        scales={k: float(v["scale"]) for k, v in metrics.items() if "scale" in v},
        decimals={k: v["decimals"] for k, v in metrics.items() if v.get("decimals") is not None},
        labels={k: v["label"] for k, v in metrics.items() if v.get("label") is not None},
        units={k: v["unit"] for k, v in metrics.items() if v.get("unit") is not None},
    )


# expctl.yaml as last parsed, beside its text, in .expctl/: the read path then needs no YAML
# parser (importing one is a good part of `ls`'s own time). Keyed by the whole text, so any
# edit, however made, is parsed again.
PARSED_FILE = "settings-parsed.json"
_NOT_CACHED = object()


def _parsed_before(ws: Workspace, text: str) -> Any:
    import json

    try:
        cached = json.loads((ws.state_dir / PARSED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _NOT_CACHED
    if not isinstance(cached, dict) or cached.get("text") != text or "data" not in cached:
        return _NOT_CACHED
    return cached["data"]


def _remember_parsed(ws: Workspace, text: str, data: Any) -> None:
    """Only data that JSON gives back unchanged (YAML also has dates, sets, other keys)."""
    import json

    try:
        dumped = json.dumps({"text": text, "data": data}, allow_nan=False)
        if json.loads(dumped)["data"] != data:
            return
        path = ws.state_dir / PARSED_FILE
        tmp = path.with_name(f".{PARSED_FILE}.{os.getpid()}.tmp")
        tmp.write_text(dumped, encoding="utf-8")
        os.replace(tmp, path)
    except (TypeError, ValueError, OSError):
        pass  # not cacheable, or no .expctl/ to write in: parsed again next time


def _from_model(settings: Any) -> ReadSettings:
    return ReadSettings(
        registry=settings.registry,
        baseline=settings.baseline,
        board_metric=settings.leaderboard.metric,
        board_columns=tuple(settings.leaderboard.columns),
        # Only fields written in expctl.yaml count, as in expctl.metrics.specs: a metric listed
        # for its scale alone keeps the direction its name suggests.
        directions={k: v.direction for k, v in settings.metrics.items()
                    if "direction" in v.model_fields_set},
        scales={k: v.scale for k, v in settings.metrics.items() if "scale" in v.model_fields_set},
        decimals={k: v.decimals for k, v in settings.metrics.items() if v.decimals is not None},
        labels={k: v.label for k, v in settings.metrics.items() if v.label is not None},
        units={k: v.unit for k, v in settings.metrics.items() if v.unit is not None},
    )


def _opt_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _metric_spec(value: Any) -> bool:
    if not isinstance(value, dict) or not set(value) <= METRIC_KEYS:
        return False
    scale, decimals = value.get("scale", 1.0), value.get("decimals")
    return (
        value.get("direction", "higher") in DIRECTIONS
        and isinstance(scale, (int, float))
        and not isinstance(scale, bool)
        and scale > 0
        and (decimals is None or (type(decimals) is int and 0 <= decimals <= MAX_DECIMALS))
        and _opt_str(value.get("label"))
        and _opt_str(value.get("unit"))
    )
