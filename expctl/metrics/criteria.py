"""Success criteria from a recipe (`small_map: ">= 0.20"`, `val_rmse: "< 2.2"`) and verdicts."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from expctl.errors import BadInputError

_OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
              "==": operator.eq, "!=": operator.ne}
_CRITERION = re.compile(
    r"^\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(%?)\s*$"
)


@dataclass(frozen=True)
class Criterion:
    metric: str
    op: str
    threshold: float  # in the metric's own units (a `20%` criterion is stored as 0.20)
    text: str  # as written in the recipe

    def holds(self, value: float) -> bool:
        return bool(_OPERATORS[self.op](value, self.threshold))


@dataclass(frozen=True)
class Verdict:
    criterion: Criterion
    value: float | None

    @property
    def passed(self) -> bool | None:
        """True or False; None when the metric was not measured."""
        return None if self.value is None else self.criterion.holds(self.value)

    @property
    def word(self) -> str:
        return {True: "PASS", False: "FAIL", None: "NOT MEASURED"}[self.passed]

    def as_dict(self) -> dict:
        return {"criterion": self.criterion.text, "value": self.value, "passed": self.passed}


def parse_criterion(metric: str, text: str) -> Criterion:
    """`>= 0.20` -> Criterion; `20%` means 0.20. Anything else is a clear error."""
    match = _CRITERION.match(str(text))
    if not match:
        raise BadInputError(
            f"Criterion `{metric}: {text}` is not a comparison.",
            hint='write an operator (>=, >, <=, <, ==, !=) and a number, e.g. ">= 0.20" or "< 2.2"',
        )
    threshold = float(match.group(2)) / (100 if match.group(3) else 1)
    return Criterion(metric, match.group(1), threshold, f"{match.group(1)} {match.group(2)}"
                     f"{match.group(3)}")


def parse_criteria(criteria: dict[str, str]) -> list[Criterion]:
    return [parse_criterion(metric, text) for metric, text in criteria.items()]


def judge(criteria: list[Criterion], metrics: dict[str, float]) -> list[Verdict]:
    return [Verdict(c, metrics.get(c.metric)) for c in criteria]
