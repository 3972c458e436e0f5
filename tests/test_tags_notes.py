"""`expctl tag` and `expctl note`: kept in the run folder (annotations.yaml), shown by ls and
show, filtered by `ls --tag` and `leaderboard --tag`, kept by reindex and by a re-import, and
serialised on the run folder's lock when several processes tag one run at once. The tests on
the `workspace` fixture run on PostgreSQL too (`pytest --postgres`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import registry_rows, remove_registry, write_jsonl
from helpers import expctl_script
from standins.kit import cli, make_workspace

from expctl.files import read_yaml  # noqa: E402
from expctl.phases.new import create_run  # noqa: E402
from expctl.registry import index_runs  # noqa: E402
from expctl.runs import write_results  # noqa: E402
from expctl.workspace import Workspace  # noqa: E402

RECIPE = """\
description: tag test
command: "true"
metrics: {primary: map}
"""


def study(tmp_path: Path) -> Path:
    root = make_workspace(tmp_path, {"base": RECIPE})
    ws = Workspace(root)
    for run_id, value in (("a", 0.3), ("b", 0.4), ("c", 0.5)):
        write_results(create_run(ws, run_id, "base"), {"map": value})
    index_runs(ws, ["a", "b", "c"])
    return root


def ls_json(root: Path, *args: str) -> list[dict]:
    return json.loads(cli(root, "ls", "-f", "json", *args).stdout)["runs"]


def tagged_workspace(workspace: Path) -> Path:
    """The conftest workspace (SQLite, or PostgreSQL with --postgres) with runs a, b, c."""
    ws = Workspace(workspace)
    for run_id, value in (("a", 0.3), ("b", 0.4), ("c", 0.5)):
        write_results(create_run(ws, run_id, "baseline"), {"small_map": value})
    index_runs(ws, ["a", "b", "c"])
    return workspace


def run_ok(cli, *args: str) -> tuple[str, str]:
    code, out, err = cli(*args)
    assert code == 0, (args, err)
    return out, err


def ids(cli, *args: str) -> list[str]:
    return [r["id"] for r in json.loads(run_ok(cli, *args, "-f", "json")[0])["runs"]]


def test_tags_are_shown_filtered_and_kept_by_reindex(workspace: Path, cli):
    root = tagged_workspace(workspace)
    assert "tags" not in run_ok(cli, "ls")[0].splitlines()[0]  # no tags: no column
    assert "a: tags paper, promising" in run_ok(cli, "tag", "a", "promising", "paper")[1]
    run_ok(cli, "tag", "b", "paper")
    assert read_yaml(root / "runs" / "a" / "annotations.yaml") == {
        "tags": ["paper", "promising"], "notes": []}
    table = run_ok(cli, "ls")[0].splitlines()
    assert table[0].split()[-1] == "tags"
    assert table[-1].split()[0] == "a" and table[-1].endswith("paper,promising")
    assert ids(cli, "ls", "--tag", "paper") == ["b", "a"]
    assert ids(cli, "ls", "--tag", "paper", "--tag", "promising") == ["a"]
    board = json.loads(run_ok(cli, "leaderboard", "--tag", "paper", "-f", "json")[0])["runs"]
    assert [(r["rank"], r["id"]) for r in board] == [(1, "b"), (2, "a")]
    assert ids(cli, "leaderboard", "--where", "tag=promising") == ["a"]

    remove_registry(root)  # the registry is only an index: the folders keep the tags
    run_ok(cli, "reindex")
    assert ids(cli, "ls", "--tag", "paper") == ["b", "a"]
    run_ok(cli, "tag", "a", "paper", "--remove")
    assert ids(cli, "ls", "--tag", "paper") == ["b"]
    rows = json.loads(run_ok(cli, "ls", "-f", "json")[0])["runs"]
    assert {r["id"]: r["tags"] for r in rows} == {"a": ["promising"], "b": ["paper"], "c": []}


def test_notes_are_dated_and_shown_by_show(tmp_path: Path):
    root = study(tmp_path)
    cli(root, "tag", "c", "best")
    cli(root, "note", "c", "loss spikes at 40k: lr too high?")
    cli(root, "note", "c", "second thought")
    shown = json.loads(cli(root, "show", "c", "-f", "json").stdout)
    assert shown["tags"] == ["best"]
    assert [n["text"] for n in shown["notes"]] == ["loss spikes at 40k: lr too high?",
                                                  "second thought"]
    assert all(n["at"][:4].isdigit() and "T" in n["at"] for n in shown["notes"])
    text = cli(root, "show", "c").stdout
    assert "  tags      best" in text.splitlines()
    assert "notes" in text and "loss spikes at 40k: lr too high?" in text
    assert "deleted 2 note(s)" in cli(root, "note", "c", "--clear").stderr
    assert read_yaml(root / "runs" / "c" / "annotations.yaml")["notes"] == []


def test_bad_tags_and_notes_are_one_line_errors(tmp_path: Path):
    root = study(tmp_path)
    for args, message in ((("tag", "a", "has space"), "Invalid tag `has space`"),
                          (("tag", "a", "-x"), ""),
                          (("note", "a", "   "), "Empty note"),
                          (("note", "a"), "No note given"),
                          (("ls", "--tag", "a/b"), "Invalid tag")):
        done = cli(root, *args, check=False)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr
    missing = cli(root, "tag", "nope", "x", check=False)
    assert missing.returncode == 3 and "No run `nope`" in missing.stderr
    assert not (root / "runs" / "a" / "annotations.yaml").exists()


def test_four_concurrent_tag_processes_keep_every_tag(workspace: Path, cli):
    root = tagged_workspace(workspace)
    tags = [f"t{i}" for i in range(4)]
    procs = [subprocess.Popen([expctl_script(), "tag", "a", tag], cwd=root,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for tag in tags]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert read_yaml(root / "runs" / "a" / "annotations.yaml")["tags"] == tags
    rows = registry_rows(root, "SELECT tag FROM tags WHERE run_id = 'a' ORDER BY tag")
    assert [r[0] for r in rows] == tags  # the registry ends in the file's last state
    assert ids(cli, "ls", "--tag", "t0", "--tag", "t3") == ["a"]


def test_records_and_tags_at_once_leave_the_registry_as_the_folder_is(workspace: Path, cli):
    """`record` and `tag` of one run write different files of its folder and both index it:
    each reads the folder under the registry's write lock, so whichever indexes last writes
    the folder's final state, with every tag and every metric."""
    root = tagged_workspace(workspace)
    commands = [["record", "a", f"m{i}=0.{i}"] for i in range(1, 4)]
    commands += [["tag", "a", f"t{i}"] for i in range(1, 4)]
    procs = [subprocess.Popen([expctl_script(), *args], cwd=root, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for args in commands]
    assert [p.wait(timeout=120) for p in procs] == [0] * len(commands)
    run = root / "runs" / "a"
    tags = read_yaml(run / "annotations.yaml")["tags"]
    metrics = json.loads((run / "experiment_results.json").read_text())["metrics"]
    assert tags == ["t1", "t2", "t3"] and {"m1", "m2", "m3", "small_map"} <= set(metrics)
    rows = registry_rows(root, "SELECT tag FROM tags WHERE run_id = 'a' ORDER BY tag")
    assert [r[0] for r in rows] == tags
    rows = registry_rows(root, "SELECT name, value FROM metrics WHERE run_id = 'a'"
                         " AND value IS NOT NULL")
    assert dict(rows) == metrics


def test_an_older_registry_is_migrated_and_a_reimport_keeps_tags(tmp_path: Path, monkeypatch):
    root = make_workspace(tmp_path, {"base": RECIPE})
    ws = Workspace(root)
    from expctl.registry import migrations, open_registry

    with monkeypatch.context() as m:  # a registry written before tags existed
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
        m.setattr(migrations, "KNOWN", migrations.KNOWN[:1])
        open_registry(ws).close()
    rows = [{"id": "imp", "metrics": {"map": 0.2}}]
    cli(root, "import", str(write_jsonl(tmp_path / "r.jsonl", rows)))  # migrates to m002
    assert "m002_tags" in {r[0] for r in registry_rows(root, "SELECT name FROM "
                                                             "expctl_migrations")}
    cli(root, "tag", "imp", "legacy")
    cli(root, "import", str(write_jsonl(tmp_path / "r.jsonl",
                                        [{"id": "imp", "metrics": {"map": 0.25}}])))
    assert [r["id"] for r in ls_json(root, "--tag", "legacy")] == ["imp"]  # re-import kept it
    board = json.loads(cli(root, "leaderboard", "-m", "map", "-f", "json").stdout)["runs"]
    assert [(r["id"], r["map"]) for r in board] == [("imp", 0.25)]
