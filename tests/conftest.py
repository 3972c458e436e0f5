"""Shared fixtures: every test runs isolated; `workspace` and `cli` give a real setting.

- `isolated` (autouse): a temporary HOME, NO_COLOR=1, COLUMNS=120, a git identity, and no
  EXPCTL_* variables from the developer's shell.
- `workspace`: a temporary folder that is a real git repository with one commit, `expctl
  init`-ed, holding recipes/baseline.yaml (params, steps_param, a primary metric).
- `cli`: runs a command line in-process through expctl.cli.run (what the console script
  calls) and returns (exit code, stdout, stderr); cwd is the workspace when the test uses one.
- `cli_process`: the same through the real console script, for tests where the process
  boundary is the point (signals, sessions, start-up time).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import GIT_IDENTITY, expctl_script, git, run_expctl  # noqa: F401 - re-exported
from slurm_cluster import skit, slurm_conf  # noqa: F401 - the fixtures, for every Slurm test

ROOT = Path(__file__).resolve().parents[1]

BASELINE_RECIPE = f"""\
description: A tiny baseline for tests (runs in well under a second on CPU).
model: test model
command: ["{sys.executable}", "-c", "import sys; print('training', sys.argv[1:])", "{{overrides}}"]
steps_param: train.max_steps
params:
  train:
    lr: 0.001         # learning rate
    max_steps: 1000   # set from run ids like baseline_2k
    batch_size: 8
  model:
    name: tiny
    scales: [2, 3, 4]
metrics:
  primary: small_map
"""

@pytest.fixture(autouse=True)
def isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test: its own HOME, no colours, fixed width, a git identity, no EXPCTL_* leaks."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    for key in ("EXPCTL_WORKSPACE", "EXPCTL_REGISTRY_URL", "EXPCTL_RUN_DIR", "EXPCTL_DEBUG"):
        monkeypatch.delenv(key, raising=False)
    from expctl.registry import settings

    settings._cache.clear()  # settings read by in-process calls must not leak between tests


# --- `pytest --postgres`: each test's registry in PostgreSQL (tests/registry/test_postgres.py) --


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--postgres", action="store_true",
                     help="keep each test's registry in a fresh PostgreSQL schema "
                     "(EXPCTL_TEST_POSTGRES_URL, or scripts/postgres-dev.sh's server)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test` runs 4 workers), the Slurm tests share one worker: the
    dev cluster is one node, and jobs of parallel tests would wait for each other's slots."""
    for item in items:
        if item.get_closest_marker("slurm"):
            item.add_marker(pytest.mark.xdist_group("slurm"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: about the SQLite registry file itself "
                            "(WAL, a corrupt file); skipped with --postgres")


@pytest.fixture(autouse=True)
def registry_backend(isolated: None, request: pytest.FixtureRequest,
                     monkeypatch: pytest.MonkeyPatch):
    """"sqlite"; with --postgres "postgresql", and EXPCTL_REGISTRY_URL names a fresh schema."""
    if not request.config.getoption("--postgres"):
        yield "sqlite"
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("about the SQLite registry file itself")
    from postgres_server import fresh_schema, unavailable

    why = unavailable()
    if why:
        pytest.fail(f"--postgres: {why}")
    with fresh_schema() as url:
        monkeypatch.setenv("EXPCTL_REGISTRY_URL", url)
        yield "postgresql"


# Registry tests look at the registry through these, so they run on SQLite and PostgreSQL alike.


def registry_url_of(root: Path) -> str:
    """The URL the workspace's commands use in tests: --postgres's schema, or registry.db."""
    return os.environ.get("EXPCTL_REGISTRY_URL") or f"sqlite:///{root / 'registry.db'}"


def registry_rows(root: Path, sql: str, params: dict | None = None) -> list[tuple]:
    """Rows from the workspace's registry, whichever database holds it (SQLite, --postgres)."""
    from expctl.registry.db import connect

    with connect(registry_url_of(root)) as db:
        return db.query(sql, params)


def registry_execute(root: Path, *statements: str) -> None:
    """Run `statements` on the workspace's registry in one transaction."""
    from expctl.registry.db import connect

    with connect(registry_url_of(root)) as db, db.transaction():
        for statement in statements:
            db.execute(statement)


def registry_tables(root: Path) -> set[str]:
    from expctl.registry.db import connect

    with connect(registry_url_of(root)) as db:
        return db.table_names()


def registry_indexes(root: Path) -> set[str]:
    from expctl.registry.db import connect

    with connect(registry_url_of(root)) as db:
        sql = ("SELECT name FROM sqlite_master WHERE type = 'index'" if db.dialect == "sqlite"
               else "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
        return {r[0] for r in db.query(sql)}


def remove_registry(root: Path) -> None:
    """The registry as if it never existed: the SQLite files deleted, or the tables dropped."""
    url = registry_url_of(root)
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{root / 'registry.db'}{suffix}").unlink(missing_ok=True)
        return
    names = registry_tables(root)
    if names:
        registry_execute(root, f"DROP TABLE {', '.join(sorted(names))} CASCADE")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A git repository with one commit, `expctl init`-ed, with recipes/baseline.yaml."""
    from expctl.workspace import init_workspace

    root = tmp_path / "ws"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    init_workspace(root)
    (root / "recipes" / "baseline.yaml").write_text(BASELINE_RECIPE, encoding="utf-8")
    (root / "train.py").write_text("print('a training script')\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial commit")
    return root


CliResult = tuple[int, str, str]


def _default_cwd(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if "workspace" in request.fixturenames:
        return request.getfixturevalue("workspace")
    return tmp_path


@pytest.fixture
def cli(request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run `expctl ARGS...` in this process, through the same entry point as the console
    script (expctl.cli.run): returns (exit code, stdout, stderr). For tests about output and
    files; where the process itself matters (signals, sessions, start-up) use `cli_process`."""
    import io

    from expctl.cli import run as run_cli
    from expctl.registry import settings

    def run(*args: str, cwd: Path | None = None, input: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
        out, err = io.BytesIO(), io.BytesIO()
        stdout = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        stderr = io.TextIOWrapper(err, encoding="utf-8", newline="", write_through=True)
        with monkeypatch.context() as patch:
            patch.chdir(cwd or _default_cwd(request, tmp_path))
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            patch.setattr(sys, "stdin", io.StringIO(input or ""))
            patch.setattr(sys, "stdout", stdout)
            patch.setattr(sys, "stderr", stderr)
            settings._cache.clear()  # each command reads expctl.yaml afresh, as a process would
            code = run_cli([str(a) for a in args])
            stdout.flush()
            stderr.flush()
        return code, out.getvalue().decode("utf-8", "replace"), \
            err.getvalue().decode("utf-8", "replace")

    return run


@pytest.fixture
def cli_process(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., CliResult]:
    """Run `expctl ARGS...` as a real process (the console script): (exit code, stdout,
    stderr)."""
    def run(*args: str, cwd: Path | None = None, input: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
        done = run_expctl(*args, cwd=cwd or _default_cwd(request, tmp_path), input=input,
                          env={**os.environ, **(env or {})}, timeout=timeout)
        return done.returncode, done.stdout, done.stderr

    return run


SETTINGS_CACHE = ".expctl/settings-parsed.json"  # expctl.yaml's parse, written by any reader


def tree_state(root: Path) -> dict[str, bytes]:
    """Every file under `root` (but .git) with its content: compare before and after a command
    to prove it changed nothing."""
    state = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] == ".git" or str(rel) == SETTINGS_CACHE:
            continue
        state[str(rel) + ("/" if path.is_dir() else "")] = b"" if path.is_dir() else \
            path.read_bytes()
    return state


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, bytes]]:
    """`snapshot(folder)`: the folder's files and contents, to assert nothing changed."""
    return tree_state


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# The real CLI entry point, called N times in one process (`python -c RECORDER RUN N`): the
# same code path as `expctl record` (argument parsing, run folder, registry) without paying
# process start-up hundreds of times on a 2-core machine. Each call opens its own connection.
RECORDER = """
import sys
from expctl.cli import main

run = sys.argv[1]
for i in range(int(sys.argv[2])):
    sys.argv = ["expctl", "record", run, f"m{i}={i}.5"]
    try:
        main()
    except SystemExit as exc:
        if exc.code:
            raise
"""
