"""How a metric is judged and shown: direction, display scale and label.

Each field comes from the recipe's `metrics.specs` when it sets it, else from the workspace's
`metrics:` settings, else from the metric's name (names ending in loss, rmse, gap... are
lower-is-better)."""

from __future__ import annotations

from dataclasses import dataclass

from expctl.recipes import Recipe
from expctl.workspace import Workspace, direction_by_name


@dataclass(frozen=True)
class MetricStyle:
    name: str
    direction: str = "higher"  # "higher" or "lower" is better
    scale: float = 1.0  # display multiplier; 100 shows fractions as percent
    label: str | None = None

    @property
    def title(self) -> str:
        return self.label or self.name

    def show(self, value: float | None) -> str:
        """The value as people read it: `34.08%` for a fraction with scale 100."""
        return self._written(value, "")

    def show_delta(self, delta: float | None) -> str:
        """A signed change in display units: `+0.06%` (percentage points for scale 100)."""
        return self._written(delta, "+")

    def _written(self, value: float | None, sign: str) -> str:
        if value is None:
            return "n/a"
        shown = value * self.scale
        return f"{shown:{sign}.2f}%" if self.scale == 100 else f"{shown:{sign}.4g}"

    def better(self, delta: float) -> bool | None:
        """Whether a change is an improvement (None for no change)."""
        if delta == 0:
            return None
        return delta > 0 if self.direction == "higher" else delta < 0


def metric_style(ws: Workspace, recipe: Recipe | None, name: str) -> MetricStyle:
    """The metric's style, field by field: recipe spec, workspace setting, name heuristics."""
    recipe_spec = recipe.metrics.specs.get(name) if recipe is not None else None
    ws_spec = ws.settings.metrics.get(name)

    def pick(field: str, fallback):
        if recipe_spec is not None and getattr(recipe_spec, field) is not None:
            return getattr(recipe_spec, field)
        # Settings fields have defaults; only the ones written in expctl.yaml count here.
        if ws_spec is not None and field in ws_spec.model_fields_set:
            return getattr(ws_spec, field)
        return fallback

    return MetricStyle(
        name=name,
        direction=pick("direction", direction_by_name(name)),
        scale=pick("scale", 1.0),
        label=pick("label", None),
    )
