"""Shell completion of commands, run ids, recipes and sweeps, through the real console script
with the environment a shell's completion function sets (typer's protocol:
`_EXPCTL_COMPLETE=complete_bash` with COMP_WORDS/COMP_CWORD; zsh and fish pass
_TYPER_COMPLETE_ARGS)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import child_env, expctl_script

from expctl.cli import COMMANDS

HEAVY = ("sqlmodel", "sqlalchemy", "git", "pydantic", "yaml", "torch", "rich")


@pytest.fixture
def complete(cli):
    """What bash would offer for the last word of `words` (a trailing space: a new word),
    through the same entry point as the console script."""
    def offered(words: str, cwd: Path, **env: str) -> list[str]:
        cword = len(words.split()) - (0 if words.endswith(" ") else 1)
        code, out, err = cli(cwd=cwd, env={"COMP_WORDS": words, "COMP_CWORD": str(cword),
                                           "_EXPCTL_COMPLETE": "complete_bash", **env})
        assert (code, err) == (0, "")
        return out.split()

    return offered


PROBE = """
import json, sys
from expctl.cli import run
run([])
print(json.dumps(sorted(m for m in sys.modules if m.startswith("expctl.cli.")
                        or m.split(".")[0] in {heavy!r})), file=sys.stderr)
"""


def completed_with_modules(words: str, cwd: Path) -> tuple[list[str], list[str]]:
    """The completions of `words` and the expctl.cli and heavy modules it imported."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=set(HEAVY))], cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          env=child_env(COMP_WORDS=words, COMP_CWORD=str(cword),
                                        _EXPCTL_COMPLETE="complete_bash"))
    return done.stdout.split(), json.loads(done.stderr.strip().splitlines()[-1])


def test_command_names_complete_from_the_catalog_alone(tmp_path: Path, complete) -> None:
    """`expctl s<TAB>` offers the catalog's names, importing no command module (the start-up
    budget of `--help`); zsh and fish show each name's summary."""
    offered, modules = completed_with_modules("expctl s", tmp_path)
    assert offered == ["snapshot", "sweep", "status", "stop", "show", "sweep-summary"]
    assert set(modules) <= {"expctl.cli.app", "expctl.cli.catalog", "expctl.cli.shared"}
    assert complete("expctl ", tmp_path) == list(COMMANDS)
    assert complete("expctl --w", tmp_path) == ["--workspace"]
    assert complete("expctl queue ", tmp_path) == ["cancel", "pause", "resume"]
    done = subprocess.run([expctl_script()], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env=child_env(_TYPER_COMPLETE_ARGS="expctl rei",
                                                    _EXPCTL_COMPLETE="complete_zsh"))
    assert '"reindex":"Rebuild the registry from the run folders."' in done.stdout


@pytest.fixture
def runs(workspace: Path, cli) -> Path:
    """The workspace with two runs, an archived one and a sweep folder."""
    for run_id in ("baseline_1k", "baseline_2k", "baseline_3k"):
        assert cli("new", run_id)[0] == 0
    assert cli("archive", "baseline_1k", "--yes")[0] == 0
    (workspace / "sweeps" / "lr-sweep").mkdir(parents=True)
    (workspace / "recipes" / "big.yml").write_text("extends: baseline\n", encoding="utf-8")
    return workspace


def test_run_ids_recipes_sweeps_and_choices(runs: Path, tmp_path: Path, complete) -> None:
    """Run ids from runs/ (not .archive), recipes from recipes/, sweeps from sweeps/, in the
    workspace the command line names; values of a choice."""
    assert complete("expctl show ", runs) == ["baseline_2k", "baseline_3k"]
    assert complete("expctl compare baseline_2k base", runs) == ["baseline_2k", "baseline_3k"]
    assert complete("expctl leaderboard --baseline baseline_3", runs) == ["baseline_3k"]
    assert complete("expctl queue cancel b", runs) == ["baseline_2k", "baseline_3k"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert complete("expctl show ", elsewhere) == []  # no workspace: nothing, and no error
    assert complete(f"expctl -C {runs} show ", elsewhere) == ["baseline_2k", "baseline_3k"]
    assert complete("expctl stop ", elsewhere, EXPCTL_WORKSPACE=str(runs)) == \
        ["baseline_2k", "baseline_3k"]
    assert complete("expctl ls --recipe ", runs) == ["baseline", "big"]
    assert complete("expctl new b", runs) == ["baseline", "big", "baseline_2k", "baseline_3k"]
    assert complete("expctl sweep-summary ", runs) == ["lr-sweep"]
    assert complete("expctl archive --restore ", runs) == ["baseline_1k"]
    assert complete("expctl archive ", runs) == ["baseline_2k", "baseline_3k"]
    assert complete("expctl leaderboard --format ", runs) == \
        ["table", "md", "csv", "json", "latex"]
    assert complete("expctl ls --status f", runs) == ["finished", "failed"]


def test_completing_a_run_id_imports_only_that_command(runs: Path) -> None:
    """Folder names only: no registry, no pydantic, YAML or git, one command module; zsh gets
    the same through its own protocol."""
    offered, modules = completed_with_modules("expctl show base", runs)
    assert offered == ["baseline_2k", "baseline_3k"]
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []
    assert set(modules) <= {"expctl.cli.show", "expctl.cli.app", "expctl.cli.catalog",
                            "expctl.cli.params", "expctl.cli.shared"}
    done = subprocess.run([expctl_script()], cwd=runs, capture_output=True, text=True,
                          timeout=60, env=child_env(_TYPER_COMPLETE_ARGS="expctl logs base",
                                                    _EXPCTL_COMPLETE="complete_zsh"))
    assert done.returncode == 0, done.stderr
    assert '"baseline_2k"' in done.stdout and '"baseline_3k"' in done.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_installed_script_completes_in_a_real_bash(runs: Path) -> None:
    """`expctl --install-completion` from bash (into the test's HOME), then bash's own call of
    the completion function it installed, for `expctl show b<TAB>` and `expctl sh<TAB>`."""
    exe = expctl_script()
    shell = ["bash", "--norc", "-c"]
    installed = subprocess.run([*shell, f'"{exe}" --install-completion; true'], cwd=runs,
                               capture_output=True, text=True, timeout=60, env=child_env())
    assert "bash completion installed" in installed.stdout, installed.stdout + installed.stderr
    shown = subprocess.run([*shell, f'"{exe}" --show-completion; true'], cwd=runs,
                           capture_output=True, text=True, timeout=60, env=child_env())
    script = Path.home() / ".bash_completions" / "expctl.sh"
    assert shown.stdout.strip() == script.read_text().strip()
    calls = f"""
source "$HOME/.bashrc"
COMP_WORDS=(expctl show b); COMP_CWORD=2; _expctl_completion "{exe}"
echo "runs: ${{COMPREPLY[*]}}"
COMP_WORDS=(expctl sh); COMP_CWORD=1; _expctl_completion "{exe}"
echo "commands: ${{COMPREPLY[*]}}"
"""
    done = subprocess.run([*shell, calls], cwd=runs, capture_output=True, text=True,
                          timeout=60, env=child_env())
    assert done.stdout.splitlines() == ["runs: baseline_2k baseline_3k", "commands: show"], \
        done.stdout + done.stderr
