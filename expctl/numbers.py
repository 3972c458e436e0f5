"""The one number format of a metric: how every command writes its values and changes.

A metric's format (direction, scale, decimals, label, unit) is set once, in expctl.yaml's
`metrics:`, and every human-readable output goes through MetricFormat: the same value is the
same string in tables, messages, commit messages and summary files. A change against a
baseline is always written in points of the shown unit *and* as relative percent, so the two
are never confused: `+1.70 pp (+4.4%, better)` for a fraction shown as percent (scale 100),
`+0.12 m (+5.1%, worse)` for an RMSE in metres. Machine formats (json, csv) carry raw values.
Standard library only: `ls` and `leaderboard` use it on their fast path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

PERCENT_SCALE = 100.0  # fractions shown as percent; their changes are percentage points


@dataclass(frozen=True)
class MetricFormat:
    name: str
    direction: str = "higher"  # "higher" or "lower" is better
    scale: float = 1.0  # display multiplier: 100 shows fractions as percent
    decimals: int | None = None  # None: 2 for percent (scale 100), else 4
    label: str | None = None  # column headers and messages; default: the name
    unit: str | None = None  # e.g. "m" or "s"; percent metrics are "%" and change in "pp"

    @property
    def title(self) -> str:
        return self.label or self.name

    @property
    def places(self) -> int:
        if self.decimals is not None:
            return self.decimals
        return 2 if self.percent else 4

    @property
    def percent(self) -> bool:
        return self.scale == PERCENT_SCALE and self.unit is None

    def value(self, value: float | None) -> str:
        """`40.37%` for 0.403712 at scale 100; `0.1234` unscaled; `2.19 m` with a unit."""
        if value is None:
            return "n/a"
        shown = f"{value * self.scale:.{self.places}f}"
        if self.percent:
            return shown + "%"
        return f"{shown} {self.unit}" if self.unit else shown

    def delta(self, delta: float) -> str:
        """A signed change in shown units: `+1.70 pp` (points), `-0.0120`, `+0.12 m`."""
        shown = f"{delta * self.scale:+.{self.places}f}"
        if self.percent:
            return shown + " pp"
        return f"{shown} {self.unit}" if self.unit else shown

    def change(self, delta: float, relative_pct: float | None, judged: bool = True) -> str:
        """`+1.70 pp (+4.4%, better)`: points, relative percent (when the baseline is not 0)
        and whether that is better in this metric's direction."""
        notes = [] if relative_pct is None else [relative(relative_pct)]
        if judged:
            notes.append(JUDGEMENT[self.better(delta)])
        return self.delta(delta) + (f" ({', '.join(notes)})" if notes else "")

    def better(self, delta: float) -> bool | None:
        """Whether a change is an improvement (None for no change)."""
        if delta == 0:
            return None
        return delta > 0 if self.direction == "higher" else delta < 0

    def column(self, name: str | None = None) -> str:
        """A CSV header for raw values of this metric (or of its `name`, e.g. delta): with a
        note when people see them scaled: `map (x100)`."""
        name = name or self.name
        return name if self.scale == 1 else f"{name} (x{self.scale:g})"

    def as_dict(self) -> dict:
        """For json metadata: how the raw numbers are shown."""
        data = asdict(self)
        data.pop("name")
        data["decimals"] = self.places
        data["label"] = self.title
        return data


JUDGEMENT = {True: "better", False: "worse", None: "same"}


def relative(pct: float) -> str:
    """A relative change in percent of the baseline: `+4.4%`."""
    return f"{pct:+.1f}%"


def relative_change(value: float, baseline: float) -> float | None:
    """(value - baseline) / |baseline| in percent; None when the baseline is 0."""
    return (value - baseline) / abs(baseline) * 100 if baseline else None
