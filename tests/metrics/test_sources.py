"""read_source: placeholders in paths, the newest of several files, preset names mapped to
the recipe's names, and what a source reports when it finds nothing."""

from __future__ import annotations

import os
from pathlib import Path

from expctl.metrics.sources import read_source
from expctl.recipes import MetricSource, Recipe

LIGHTNING = """\
┏━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┓
┃   Test metric   ┃ DataLoader 0 ┃
┡━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━┩
│    test/R@5     │    0.625     │
│    test/loss    │     1.5      │
└─────────────────┴──────────────┘
"""


def higher(_name: str) -> str:
    return "higher"


def test_presets_map_their_names_and_placeholders_fill_paths(tmp_path: Path):
    recipe = Recipe(params={"split": "test"})
    logs = tmp_path / "logs"
    logs.mkdir()
    old, new = logs / "r1-test-a.log", logs / "r1-test-b.log"
    old.write_text(LIGHTNING.replace("0.625", "0.1"))
    new.write_text("Testing: 100%|#####| 3/3 [00:00<00:00]\r" + LIGHTNING)
    os.utime(old, (1_000, 1_000))
    source = MetricSource(kind="lightning", path="logs/{run_id}-{split}-*.log",
                          metrics={"r_at_5": "test/R@5", "acc": "test/acc"})
    reading = read_source(source, recipe, {"run_id": "r1"}, tmp_path, higher)
    assert reading.files == [new]  # the newest match: this run's
    assert reading.values == {"r_at_5": 0.625}
    assert reading.missing == ["acc"] and reading.problem is None
    everything = read_source(MetricSource(kind="lightning", path=str(new)), recipe, {},
                             tmp_path, higher)
    assert everything.values == {"test/R@5": 0.625, "test/loss": 1.5}


def test_a_source_that_finds_nothing_says_why(tmp_path: Path):
    recipe = Recipe()
    (tmp_path / "empty.log").write_text("no tables here\n")
    nothing = read_source(MetricSource(kind="coco", path="empty.log"), recipe, {}, tmp_path,
                          higher)
    assert nothing.values == {} and nothing.problem == "found no metrics in it"
    absent = read_source(MetricSource(kind="json", path="nope.json", metrics={"a": "a"}),
                         recipe, {}, tmp_path, higher)
    assert absent.problem == "no file matches" and absent.missing == ["a"]
    folder = read_source(MetricSource(kind="tensorboard", path=".", metrics={"a": "a"}),
                         recipe, {}, tmp_path, higher)
    assert folder.problem == "no TensorBoard event files there"
