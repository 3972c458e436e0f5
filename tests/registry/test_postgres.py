"""The registry on PostgreSQL: every registry test again, plus what only a server has.

`pytest --postgres` (see conftest.py) keeps each test's registry in a fresh schema of the
server named by EXPCTL_TEST_POSTGRES_URL, or by the env file scripts/postgres-dev.sh writes.
The first test here reruns the registry tests that way in subprocesses (one per file), so a
plain `make test` checks both databases; the others need a server for their own reasons
(concurrent writers from several processes, concurrent first opens, a newer or foreign schema).
All are skipped, saying how to start a server, where none answers or psycopg is not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RECORDER
from postgres_server import fresh_schema, unavailable

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
# The registry tests of the foundation: every test file about the registry or the commands
# that read and write it. Each runs again with its registry in PostgreSQL.
REGISTRY_TESTS = ("registry/test_*.py", "cli/test_ls_show.py", "cli/test_leaderboard.py",
                  "cli/test_import.py", "cli/test_record.py", "phases/test_record.py",
                  "phases/test_compare.py")
SUITE_TIMEOUT_S = 600


@pytest.fixture()
def pg_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh schema set as the registry (EXPCTL_REGISTRY_URL) for this test."""
    why = unavailable()
    if why:
        pytest.skip(why)
    with fresh_schema() as url:
        monkeypatch.setenv("EXPCTL_REGISTRY_URL", url)
        yield url


def rows(url: str, sql: str) -> list[tuple]:
    from expctl.registry.db import connect

    with connect(url) as db:
        return db.query(sql)


# --- the registry tests again, on PostgreSQL ------------------------------------------------------


REGISTRY_FILES = sorted({str(p.relative_to(ROOT)) for pattern in REGISTRY_TESTS
                         for p in (ROOT / "tests").glob(pattern) if p.name != "test_postgres.py"})


@pytest.mark.parametrize("test_file", REGISTRY_FILES)
def test_registry_suite_passes_on_postgres(test_file: str) -> None:
    """Every registry test, rerun with `--postgres`: nothing may fail (SQLite-file tests skip).
    Among them: eight processes recording at once, concurrent first opens migrating once.
    One file per test, so that parallel test workers share them out."""
    why = unavailable()
    if why:
        pytest.skip(why)
    env = {k: v for k, v in os.environ.items()
           if k not in ("EXPCTL_REGISTRY_URL", "PYTEST_ADDOPTS")
           and not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--postgres", "-W", "ignore::pytest.PytestUnknownMarkWarning", test_file],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=SUITE_TIMEOUT_S)
    summary = done.stdout.strip().splitlines()[-1:] or [done.stderr[-2000:]]
    assert done.returncode == 0, done.stdout[-12000:] + done.stderr[-3000:]
    assert not any(word in summary[0] for word in ("failed", "error")), summary


# --- what only a server has ----------------------------------------------------------------------



def test_writers_and_a_reindex_at_once(workspace: Path, cli, pg_url: str) -> None:
    """`reindex` (delete all, insert all) while others write: no deadlock, nothing lost."""
    from conftest import write_jsonl

    ids = [f"w{i}" for i in range(4)]
    write_jsonl(workspace.parent / "runs.jsonl", [{"id": i, "metrics": {}} for i in ids])
    assert cli("import", str(workspace.parent / "runs.jsonl"))[0] == 0
    reindexer = ("import sys; from expctl.cli import main\n"
                 "for _ in range(10):\n"
                 "    sys.argv = ['expctl', 'reindex']\n"
                 "    try:\n        main()\n"
                 "    except SystemExit as exc:\n"
                 "        if exc.code:\n            raise\n")
    procs = [subprocess.Popen([sys.executable, "-c", RECORDER, run_id, "10"], cwd=workspace,
                              stderr=subprocess.PIPE, text=True) for run_id in ids]
    procs.append(subprocess.Popen([sys.executable, "-c", reindexer], cwd=workspace,
                                  stderr=subprocess.PIPE, text=True))
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs), errors
    count = rows(pg_url, "SELECT COUNT(*) FROM metrics")[0][0]
    assert count == 10 * len(ids)


def test_a_newer_schema_is_refused_and_never_replaced(workspace: Path, cli,
                                                      pg_url: str) -> None:
    """Unlike a private registry.db, a shared server's schema from a newer expctl is left as
    it is, even by `reindex`: teammates with the newer version still use it."""
    assert cli("ls")[0] == 0
    from expctl.registry.db import connect

    with connect(pg_url) as db, db.transaction():
        db.execute("INSERT INTO expctl_migrations (name, applied) VALUES ('m999_future', 'x')")
    for args in (["ls"], ["reindex"]):
        code, _, err = cli(*args)
        assert code == 5 and "newer expctl" in err and "m999_future" in err, args
    from expctl.registry.migrations import KNOWN

    assert len(rows(pg_url, "SELECT name FROM expctl_migrations")) == len(KNOWN) + 1


def test_a_foreign_schema_is_refused_untouched(workspace: Path, cli, pg_url: str) -> None:
    from expctl.registry.db import connect

    assert cli("new", "baseline_1k")[0] == 0
    with connect(pg_url) as db, db.transaction():
        for table in ("tags", "params", "metrics", "runs", "expctl_migrations"):
            db.execute(f"DROP TABLE {table}")
        db.execute("CREATE TABLE customers (id integer primary key)")
    for args in (["ls"], ["reindex"], ["record", "baseline_1k", "a=1"]):
        code, _, err = cli(*args)
        assert code == 5 and "not an expctl registry" in err and "customers" in err, args
    assert {r[0] for r in rows(pg_url, "SELECT table_name FROM information_schema.tables "
                                       "WHERE table_schema = current_schema()")} == {"customers"}


def test_the_password_never_shows_in_messages(workspace: Path, cli) -> None:
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://someone:s3cret@127.0.0.1:1/nowhere"
    code, _, err = cli("ls", env={"EXPCTL_REGISTRY_URL": url})
    assert code == 5 and "s3cret" not in err and "someone:***@" in err
