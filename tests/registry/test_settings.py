"""The read path's settings (expctl.registry.settings): expctl.yaml parsed once per text and
kept in .expctl/, so `ls` needs no YAML parser, and every edit is parsed again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from expctl.registry import settings
from expctl.workspace import init_workspace

PROBE = ("import sys; from pathlib import Path; from expctl.workspace import Workspace; "
         "from expctl.registry.settings import read_settings; "
         "f = read_settings(Workspace(Path(sys.argv[1]))).format('d_rmse'); "
         "print(f.places, 'yaml' in sys.modules)")


def _probe(root: Path) -> str:
    return subprocess.run([sys.executable, "-c", PROBE, str(root)], capture_output=True,
                          text=True, check=True, timeout=60).stdout.strip()


def test_a_parsed_expctl_yaml_is_reused_until_its_text_changes(tmp_path: Path) -> None:
    init_workspace(tmp_path)
    (tmp_path / "expctl.yaml").write_text("metrics:\n  d_rmse: {decimals: 3}\n")
    assert _probe(tmp_path) == "3 True"  # parsed, and kept
    assert (tmp_path / ".expctl" / settings.PARSED_FILE).is_file()
    assert _probe(tmp_path) == "3 False"  # the same text: no YAML parser imported
    (tmp_path / "expctl.yaml").write_text("metrics:\n  d_rmse: {decimals: 4}\n")  # same size
    assert _probe(tmp_path) == "4 True"
    assert _probe(tmp_path) == "4 False"


def test_yaml_that_json_cannot_hold_is_not_kept(tmp_path: Path) -> None:
    import datetime

    ws, _ = init_workspace(tmp_path)
    kept = tmp_path / ".expctl" / settings.PARSED_FILE
    for data in ({"baseline": datetime.date(2024, 1, 2)}, {1: "a key JSON makes a string"},
                 {"scale": float("nan")}):
        settings._remember_parsed(ws, "text", data)
        assert not kept.exists(), data
    settings._remember_parsed(ws, "text", {"baseline": "b"})
    assert settings._parsed_before(ws, "text") == {"baseline": "b"}
    assert settings._parsed_before(ws, "other text") is settings._NOT_CACHED
