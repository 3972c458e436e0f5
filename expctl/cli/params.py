"""Parameters several commands share: a run argument, run, recipe and format options, each
with the metavar its help shows and the shell completion of its values. Completion reads folder
names only (runs/, recipes/, sweeps/): no registry, nothing beyond the standard library."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

import typer

RUN_HELP = "Run id (default: the current run)."
# The x axes of report and plot: expctl.visual.series.X_AXES (a test keeps them equal), spelt
# out so that building the commands imports nothing of expctl.visual.
Axis = Literal["step", "epoch", "time"]


def choices_text(choices: Any) -> str:
    """`table, json or csv`: the values of a Literal (or a tuple), for a help text."""
    values = [str(v) for v in (get_args(choices) or choices)]
    return ", ".join(values[:-1]) + f" or {values[-1]}" if len(values) > 1 else values[0]


def _workspace_root(ctx: typer.Context) -> Path | None:
    """The workspace the command line being completed names (-C, EXPCTL_WORKSPACE, or the
    nearest upwards), or None: completion never fails."""
    from expctl.errors import ExpctlError
    from expctl.workspace import find_workspace

    try:
        return find_workspace(ctx.find_root().params.get("workspace")).root
    except ExpctlError:
        return None


def _names(folder: Path | None, suffixes: tuple[str, ...] | None = None) -> list[str]:
    """Sorted names in `folder`: its subfolders (or, with suffixes, file stems), not hidden."""
    if folder is None or not folder.is_dir():
        return []
    if suffixes is None:
        names = (p.name for p in folder.iterdir() if p.is_dir())
    else:
        names = (p.stem for p in folder.iterdir() if p.suffix in suffixes)
    return sorted(n for n in names if not n.startswith("."))


def complete_runs(ctx: typer.Context, incomplete: str) -> list[str]:
    """Run ids of the workspace: the folders of runs/."""
    root = _workspace_root(ctx)
    return [n for n in _names(root and root / "runs") if n.startswith(incomplete)]


def complete_archived_or_runs(ctx: typer.Context, incomplete: str) -> list[str]:
    """`archive`: run ids, or with --restore the archived ones (runs/.archive/)."""
    if not ctx.params.get("restore"):
        return complete_runs(ctx, incomplete)
    root = _workspace_root(ctx)
    return [n for n in _names(root and root / "runs" / ".archive") if n.startswith(incomplete)]


def complete_recipes(ctx: typer.Context, incomplete: str) -> list[str]:
    """Recipe names of the workspace: recipes/*.yaml."""
    root = _workspace_root(ctx)
    names = _names(root and root / "recipes", (".yaml", ".yml"))
    return [n for n in names if n.startswith(incomplete)]


def complete_recipes_and_runs(ctx: typer.Context, incomplete: str) -> list[str]:
    """For an id that picks its recipe by prefix (`new`, `cycle`, `sweep`): recipes, then runs."""
    found = complete_recipes(ctx, incomplete)
    return found + [n for n in complete_runs(ctx, incomplete) if n not in found]


def complete_sweeps(ctx: typer.Context, incomplete: str) -> list[str]:
    """Sweep ids of the workspace: the folders of sweeps/."""
    root = _workspace_root(ctx)
    return [n for n in _names(root and root / "sweeps") if n.startswith(incomplete)]


def run_argument(help: str = RUN_HELP, *, required: bool = False, many: bool = False,
                 default: Any = None):
    """A RUN (or RUN...) argument, completed with the workspace's run ids."""
    return typer.Argument(... if required else default, metavar="RUN..." if many else "RUN",
                          help=help, show_default=False, autocompletion=complete_runs)


def run_option(default: Any, *names: str, help: str):
    """An option naming a run (--baseline, --from, --after), completed with run ids."""
    return typer.Option(default, *names, metavar="RUN", help=help, show_default=False,
                        autocompletion=complete_runs)


def recipe_option(help: str):
    """-r/--recipe RECIPE, completed with the workspace's recipe names."""
    return typer.Option(None, "--recipe", "-r", metavar="RECIPE", help=help,
                        show_default=False, autocompletion=complete_recipes)


def sweep_option(help: str):
    """--sweep SWEEP, completed with the workspace's sweep ids."""
    return typer.Option(None, "--sweep", metavar="SWEEP", help=help, show_default=False,
                        autocompletion=complete_sweeps)


def format_option(choices: Any, help: str | None = None, default: str = "table"):
    """-f/--format FORMAT: `choices` is the Literal the parameter is annotated with, so the
    parser checks the value and the help lists every one."""
    return typer.Option(default, "--format", "-f", metavar="FORMAT",
                        help=help or f"Output format: {choices_text(choices)}.")


def set_option(help: str):
    """-s/--set KEY=VALUE (repeatable): a config override."""
    return typer.Option([], "--set", "-s", metavar="KEY=VALUE", help=help)
