"""Configuration of the built-in example: overrides, type checks, bad configs stop early."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from models.config import Config, ConfigError, parse_config  # noqa: E402
from models.train import learning_rate_factor, main  # noqa: E402


def test_defaults_have_the_demo_shape():
    cfg = parse_config([])
    assert cfg.fpn.in_stages == [2, 3, 4]
    assert cfg.classes.small == [2, 3, 4]
    assert cfg.classes.names[4] == "Pedestrian"


def test_overrides_are_parsed_as_yaml_and_typed():
    cfg = parse_config([
        "fpn.in_stages=[1, 2, 3, 4]", "train.max_steps=7", "train.lr=1", "loss.size_aware=true",
        "out_dir=123", "classes.names=[a, b, c, d, e, f, g, h]",
    ])
    assert cfg.fpn.in_stages == [1, 2, 3, 4]
    assert cfg.train.max_steps == 7
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)  # int accepted for float
    assert cfg.loss.size_aware is True
    assert cfg.out_dir == "123"  # strings are taken verbatim
    assert cfg.classes.names[0] == "a"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.max_step=5", "unknown config key `train.max_step`"),
        ("trian.max_steps=5", "unknown config key `trian.max_steps`"),
        ("train.max_steps=many", "`train.max_steps=many`: expected an int"),
        ("train.max_steps=2.5", "expected an int"),
        ("loss.size_aware=1", "expected a bool"),
        ("train.max_steps=0", "`train.max_steps` must be positive"),
        ("train.max_steps=-10", "`train.max_steps` must be positive"),
        ("fpn.in_stages=[1, 2, 3]", "`fpn.in_stages` must be [2, 3, 4]"),
        ("fpn.in_stages=[2, 3, 4, 5]", "`fpn.in_stages` must be"),
        ("classes.small=[2, 9]", "`classes.small` names class id `9`, which does not exist"),
        ("classes.small=[-1]", "class id `-1`"),
        ("fpn=[2, 3]", "`fpn` is a section"),
        ("train.max_steps", "expected key=value"),
    ],
)
def test_bad_overrides_raise_one_clear_message(override, message):
    with pytest.raises(ConfigError) as caught:
        parse_config([override])
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_config_in_process_exits_2_with_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPCTL_DATA_CACHE", str(tmp_path / "cache"))
    with pytest.raises(SystemExit) as caught:
        main(["classes.small=[3, 8]"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: `classes.small`")
    assert not (tmp_path / "cache").exists()


def test_bad_config_as_a_process_exits_2_before_any_data(tmp_path):
    env = {**os.environ, "EXPCTL_DATA_CACHE": str(tmp_path / "cache"),
           "EXPCTL_RUN_DIR": str(tmp_path / "run")}
    result = subprocess.run(
        [sys.executable, "-m", "models.train", "train.max_steps=5", "fpn.in_stage=[1, 2, 3, 4]"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        result.stderr.strip()
    ] and "unknown config key `fpn.in_stage`" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


def test_learning_rate_warms_up_then_decays_to_min():
    cfg = Config()
    cfg.train.max_steps, cfg.train.warmup_steps, cfg.train.lr, cfg.train.min_lr = 100, 10, 1.0, 0.1
    factors = [learning_rate_factor(s, cfg) for s in range(100)]
    assert factors[0] < factors[5] < factors[9] <= 1.0
    assert factors[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:], strict=False))
    assert learning_rate_factor(100, cfg) == pytest.approx(0.1)
