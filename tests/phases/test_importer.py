"""The import phase streams its file: a first pass validates every line, a second writes and
indexes the runs BATCH at a time (batches of 3 here, so a tiny file spans several)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import registry_rows, write_jsonl

from expctl.errors import BadInputError
from expctl.phases import importer
from expctl.registry import reindex
from expctl.workspace import Workspace

ROWS = [{"id": f"r{i:02d}", "metrics": {"map": i / 100, "loss": 2 - i / 10},
         "params": {"lr": 10 ** -(i % 3), "opt": {"name": "sgd"}}} for i in range(10)]
TABLES = ("SELECT id, status, recipe, imported, steps, folder_mtime_ns FROM runs ORDER BY id",
          "SELECT run_id, name, value_text, value_num FROM params ORDER BY run_id, name",
          "SELECT run_id, name, value, last, count FROM metrics ORDER BY run_id, name")


@pytest.fixture(autouse=True)
def small_batches(monkeypatch) -> None:
    monkeypatch.setattr(importer, "BATCH", 3)


def test_a_bad_line_in_the_middle_refuses_the_whole_file(workspace: Path, snapshot) -> None:
    path = write_jsonl(workspace.parent / "r.jsonl", ROWS)
    lines = path.read_text().splitlines(keepends=True)
    lines[6] = '{"id": "r06", "metrics": {"map": "high"}}\n'  # line 7, after two batches' worth
    path.write_text("".join(lines))
    before = snapshot(workspace)
    with pytest.raises(BadInputError, match=r"r\.jsonl:7: metrics\.map: Input should be a valid"):
        importer.import_runs(Workspace(workspace), path)
    assert snapshot(workspace) == before  # not one run folder, no registry


def test_a_duplicate_far_down_is_named_with_its_first_line(workspace: Path) -> None:
    path = write_jsonl(workspace.parent / "r.jsonl", [*ROWS, ROWS[1]])
    with pytest.raises(BadInputError, match=r"r\.jsonl:11: run `r01` appears twice "
                       r"\(first at 2\)"):
        importer.import_runs(Workspace(workspace), path)
    assert not (workspace / "runs" / "r00").exists()


def test_batches_index_exactly_what_reindex_reads_from_the_folders(workspace: Path) -> None:
    ws = Workspace(workspace)
    result = importer.import_runs(ws, write_jsonl(workspace.parent / "r.jsonl", ROWS))
    assert (result.created, result.updated) == (10, 0)
    imported = [registry_rows(workspace, sql) for sql in TABLES]
    assert [r[0] for r in imported[0]] == [r["id"] for r in ROWS]
    assert len(imported[1]) == 20 and len(imported[2]) == 20
    reindex(ws)
    assert [registry_rows(workspace, sql) for sql in TABLES] == imported


def test_reimport_in_batches_merges_and_reads_the_folders_again(workspace: Path) -> None:
    ws = Workspace(workspace)
    importer.import_runs(ws, write_jsonl(workspace.parent / "r.jsonl", ROWS))
    again = [{"id": r["id"], "metrics": {"ap50": 0.5}} for r in ROWS[:7]]
    result = importer.import_runs(ws, write_jsonl(workspace.parent / "again.jsonl", again))
    assert (result.created, result.updated) == (0, 7)
    metrics = registry_rows(workspace, "SELECT name, value FROM metrics WHERE run_id = 'r04'"
                            " ORDER BY name")
    assert metrics == [("ap50", 0.5), ("loss", ROWS[4]["metrics"]["loss"]),
                       ("map", ROWS[4]["metrics"]["map"])]
    imported = [registry_rows(workspace, sql) for sql in TABLES]
    reindex(ws)
    assert [registry_rows(workspace, sql) for sql in TABLES] == imported


@pytest.mark.parametrize("run_id", ["r1", "true", "1e5", "0123", "null", "a-b.c"])
def test_run_yaml_from_the_template_is_the_full_dump(run_id: str) -> None:
    """run.yaml of new runs is dumped once per import with the id spliced in: each id keeps
    the quoting YAML needs (`'true'`, `'1e5'`), so it reads back as the same string."""
    from expctl.runs import RunInfo, info_data

    info = RunInfo(id=run_id, recipe="rvt", created="2026-01-01T00:00:00.000+00:00",
                   imported=True)
    assert importer._new_info_yaml(info) == importer._yaml(info_data(info))
