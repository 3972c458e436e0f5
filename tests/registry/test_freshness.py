"""`ls` and `leaderboard` notice run folders changed behind expctl's back (edited by hand,
pulled by git, copied in, removed) without `expctl reindex`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from conftest import write_jsonl


def _results(run_dir: Path, value: float) -> str:
    return json.dumps({"run_id": run_dir.name, "metrics": {"map": value}})


def test_changed_folders_are_read_again(workspace: Path, cli) -> None:
    source = write_jsonl(workspace.parent / "r.jsonl",
                         [{"id": i, "metrics": {"map": v}} for i, v in
                          (("a", 0.1), ("b", 0.2), ("c", 0.3))])
    assert cli("import", str(source))[0] == 0
    runs = workspace / "runs"

    def board() -> list[tuple[str, float]]:
        code, out, err = cli("leaderboard", "--metric", "map", "--format", "json")
        assert code == 0, err
        return [(r["id"], r["map"]) for r in json.loads(out)["runs"]]

    assert board() == [("c", 0.3), ("b", 0.2), ("a", 0.1)]
    # As git writes a file: a new file renamed over the old one.
    tmp = runs / "a" / ".results.tmp"
    tmp.write_text(_results(runs / "a", 0.9))
    os.replace(tmp, runs / "a" / "experiment_results.json")
    # As an editor that writes a new file and renames it over the old one.
    (runs / "b" / "experiment_results.json~").write_text(_results(runs / "b", 0.05))
    os.replace(runs / "b" / "experiment_results.json~", runs / "b" / "experiment_results.json")
    # A folder copied in from elsewhere, and one removed by hand.
    shutil.copytree(runs / "c", workspace.parent / "d")
    info = (workspace.parent / "d" / "run.yaml").read_text().replace("id: c", "id: d")
    (workspace.parent / "d" / "run.yaml").write_text(info)
    shutil.move(workspace.parent / "d", runs / "d")
    shutil.rmtree(runs / "c")
    assert board() == [("a", 0.9), ("d", 0.3), ("b", 0.05)]
    code, out, err = cli("ls", "--format", "json")
    assert code == 0 and sorted(r["id"] for r in json.loads(out)["runs"]) == ["a", "b", "d"], err
