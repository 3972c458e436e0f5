"""Every bad input: one clear line on stderr (plus an optional hint), a non-zero exit code,
never a traceback, and nothing changed in the workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from expctl.errors import ExitCode

BAD_IDS = {
    "dotdot": ("../x", "Invalid run id `../x`."),
    "semicolon": ("a;b", "Invalid run id `a;b`."),
    "command": ("$(touch pwned)", "Invalid run id `$(touch pwned)`."),
    "empty": ("", "Empty run id."),
    "long": ("a" * 300, "Run id is 300 characters long; at most 100."),
    "slash": ("a/b", "Invalid run id `a/b`."),
    "dash": ("-rf", None),  # an option to typer: a usage error, still exit 2
}


def assert_refused(result, code: int, first_line: str | None) -> None:
    got, out, err = result
    assert got == code, err
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    if first_line is not None:
        assert lines[0] == f"error: {first_line}"
        assert len(lines) <= 2  # the message, and a hint at most
        assert len(lines) == 1 or lines[1].startswith("hint: ")


@pytest.mark.parametrize("case", BAD_IDS)
@pytest.mark.parametrize("command", [["new"], ["show"], ["record"]])
def test_bad_run_ids(workspace: Path, cli, snapshot, command: list[str], case: str) -> None:
    assert cli("new", "baseline_1k")[0] == 0  # so `record`/`show` have a current run
    run_id, message = BAD_IDS[case]
    args = [*command, run_id] + (["m=1"] if command == ["record"] else [])
    if case == "dash":
        args = [*command, "--", run_id] + (["m=1"] if command == ["record"] else [])
        message = "Invalid run id `-rf`."
    before = snapshot(workspace)
    assert_refused(cli(*args), ExitCode.BAD_INPUT, message)
    assert snapshot(workspace) == before
    assert not (workspace / "pwned").exists()


def test_yaml_syntax_error_names_file_and_line(workspace: Path, cli, snapshot) -> None:
    recipe = workspace / "recipes" / "broken.yaml"
    recipe.write_text("description: ok\nparams:\n  lr: [0.1, 0.2\n  steps: 3\n")
    before = snapshot(workspace)
    code, out, err = cli("new", "broken_1k")
    assert (code, out) == (ExitCode.BAD_INPUT, "")
    first = err.splitlines()[0]
    assert first.startswith(f"error: {recipe}:")
    assert "YAML syntax error" in first
    line = int(first.split(f"{recipe}:")[1].split(":")[0])
    assert line in (3, 4, 5)  # where the parser noticed the unclosed list
    assert "Traceback" not in err
    assert snapshot(workspace) == before


def test_unknown_recipe_key_names_file_and_key(workspace: Path, cli, snapshot) -> None:
    recipe = workspace / "recipes" / "typo.yaml"
    recipe.write_text("description: ok\nparms:\n  lr: 0.1\n")
    before = snapshot(workspace)
    assert_refused(cli("new", "typo"), ExitCode.BAD_INPUT, f"{recipe}: parms: unknown key")
    assert snapshot(workspace) == before


def test_unknown_set_key(workspace: Path, cli, snapshot) -> None:
    before = snapshot(workspace)
    code, out, err = cli("new", "baseline_1k", "--set", "train.lrr=0.1")
    assert_refused((code, out, err), ExitCode.BAD_INPUT,
                   "Unknown key `train.lrr` in --set train.lrr=0.1.")
    assert "train.lr" in err.splitlines()[1]  # the hint names the closest key
    assert snapshot(workspace) == before


def test_mistyped_set_value(workspace: Path, cli, snapshot) -> None:
    before = snapshot(workspace)
    code, out, err = cli("new", "baseline_1k", "--set", "train.max_steps=lots")
    assert_refused((code, out, err), ExitCode.BAD_INPUT, None)
    assert "expected an integer" in err
    assert snapshot(workspace) == before


def test_unknown_recipe(workspace: Path, cli, snapshot) -> None:
    before = snapshot(workspace)
    code, _, err = cli("new", "nothing_1k")
    assert code == ExitCode.NOT_FOUND
    assert err.startswith("error: No recipe matches run id `nothing_1k`.")
    assert snapshot(workspace) == before


def test_non_numeric_metric(workspace: Path, cli, snapshot) -> None:
    assert cli("new", "baseline_1k")[0] == 0
    before = snapshot(workspace)
    assert_refused(cli("record", "small_map=0,17"), ExitCode.BAD_INPUT,
                   "Metric `small_map`: `0,17` is not a number.")
    assert snapshot(workspace) == before


def test_existing_run_is_a_conflict(workspace: Path, cli, snapshot) -> None:
    assert cli("new", "baseline_1k")[0] == 0
    before = snapshot(workspace)
    code, _, err = cli("new", "baseline_1k")
    assert code == ExitCode.CONFLICT
    assert err.startswith("error: Run `baseline_1k` already exists.")
    assert snapshot(workspace) == before


def test_bad_settings_file_is_reported_by_ls(workspace: Path, cli) -> None:
    (workspace / "expctl.yaml").write_text("leaderbord:\n  metric: map\n")
    code, _, err = cli("ls")
    assert code == ExitCode.BAD_INPUT
    assert err.splitlines()[0] == f"error: {workspace / 'expctl.yaml'}: leaderbord: unknown key"
    (workspace / "expctl.yaml").write_text("metrics:\n  map: {direction: up}\n")
    code, _, err = cli("leaderboard", "--metric", "map")
    assert code == ExitCode.BAD_INPUT
    assert "metrics.map.direction" in err.splitlines()[0]


def test_new_with_a_corrupt_registry_creates_nothing(workspace: Path, cli, snapshot) -> None:
    (workspace / "registry.db").write_bytes(b"not a database" * 100)
    before = snapshot(workspace)
    code, out, err = cli("new", "baseline_1k")
    assert code == ExitCode.REGISTRY
    assert "not an SQLite database" in err and "expctl reindex" in err
    assert "Traceback" not in err
    assert snapshot(workspace) == before
