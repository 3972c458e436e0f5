"""YAML is read within limits: an alias bomb or deep nesting is exit 2 at once, unexpanded."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from helpers import expctl_script


def _bomb(levels: int) -> str:
    lines = ['  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"  l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# Runs the command as its only child, so the peak memory reported is that command's alone
# (RUSAGE_CHILDREN of the test process would be the largest of every child it ever had).
MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=20)
use = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.write(done.stderr)
print(json.dumps([done.returncode, use.ru_utime + use.ru_stime, use.ru_maxrss]))
"""


def _timed(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float, float, int]:
    """The command, its wall and CPU seconds and its peak memory (KiB)."""
    import json
    import sys

    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE, expctl_script(), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=30)
    wall = time.perf_counter() - started
    code, cpu, peak = json.loads(done.stdout.strip().splitlines()[-1])
    done.returncode = code
    return done, wall, cpu, peak


@pytest.mark.parametrize("levels", [9, 10])
def test_a_billion_laughs_in_a_recipe_is_exit_2_at_once(workspace: Path, levels: int) -> None:
    recipe = 'command: ["python", "-c", "pass"]\nparams:\n' + _bomb(levels)
    if levels == 9:
        assert len(recipe.encode()) < 800  # the 424-byte bomb of the report, in a recipe
    (workspace / "recipes" / "bomb.yaml").write_text(recipe)
    done, wall, cpu, peak_kib = _timed(["new", "bomb"], workspace)
    assert done.returncode == 2, done.stderr
    assert "bomb.yaml" in done.stderr and "expands to more than" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 2  # the message and its hint
    # CPU time: on a shared 2-core machine the wall time also counts waiting for a core.
    assert cpu < 1.0, (cpu, wall)
    assert wall < 10
    assert peak_kib < 300 * 1024  # the expanded document would take gigabytes
    assert not (workspace / "runs" / "bomb").exists()


@pytest.mark.parametrize("where", ["expctl.yaml", "recipe"])
def test_deep_nesting_and_self_reference_are_refused(workspace: Path, cli, where: str) -> None:
    deep = "[" * 200 + "]" * 200
    for text, words in ((f"metrics: {deep}\n", "nested more than"),
                        ("metrics: &a [*a]\n", "inside itself"),
                        ("metrics:\n" + _bomb(9), "expands to more than")):
        if where == "expctl.yaml":
            (workspace / "expctl.yaml").write_text(text)
            code, _, err = cli("ls")
        else:
            (workspace / "recipes" / "deep.yaml").write_text('command: ["x"]\n' + text)
            code, _, err = cli("new", "deep")
        assert code == 2 and words in err, (where, text[:30], err)
        assert "internal error" not in err


def test_a_bomb_in_a_set_value_is_refused(workspace: Path) -> None:
    from expctl.errors import BadInputError
    from expctl.recipes import load_recipe
    from expctl.workspace import Workspace

    parts = ["&l0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    parts += [f"&l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    value = "[" + ", ".join(parts) + "]"
    started = time.process_time()
    with pytest.raises(BadInputError, match="expands to more than"):
        load_recipe(Workspace(workspace), "baseline", [f"model.scales={value}"])
    assert time.process_time() - started < 1.0


def test_only_plainly_small_documents_skip_the_node_walk() -> None:
    """reindex reads two YAML files per run: one without aliases whose size and nesting are
    bounded by its characters needs no walk; anything else is walked (and refused past the
    limits) as before."""
    from expctl.yaml_limits import MAX_DEPTH, plainly_within

    assert plainly_within("params:\n  lr: 0.01\n  stages: [2, 3, 4]\n  opt: {name: sgd}\n")
    assert not plainly_within("a: &x [1, 2]\nb: *x\n")  # an alias
    assert not plainly_within("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert not plainly_within("".join(" " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 1)))
    assert not plainly_within("- " * (MAX_DEPTH + 1) + "x\n")
    assert not plainly_within("x: 1\n" * 100_000)  # past MAX_NODES characters
