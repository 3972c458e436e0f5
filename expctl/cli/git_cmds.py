"""Commands that use git: commit, compare.

Import rules: see expctl.cli.app (implementation modules are imported inside the bodies)."""

from __future__ import annotations

from pathlib import Path

import typer

from expctl.cli.app import app, check_format, get_workspace


@app.command("commit")
def commit_cmd(
    run_id: str | None = typer.Argument(None, help="Run id (default: the current run)."),
    findings: str | None = typer.Option(None, "--findings", help="Key findings for the "
                                           "message."),
    template: Path | None = typer.Option(None, "--template", help="Message template file "
                                            "($id, $model, $primary_value, ...).",
                                            show_default=False),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the message and files; change "
                                 "nothing."),
    max_size: float = typer.Option(5.0, "--max-size", help="Largest file committed, in MB; "
                                   "bigger ones are git-ignored in the run folder."),
    while_training: bool = typer.Option(False, "--while-training", help="Go ahead although "
                                        "the run is still training (results not final)."),
) -> None:
    """Commit a recorded run's text, JSON, YAML and PNG files (never checkpoints) with a
    templated message; anything else you have staged stays staged."""
    from expctl import console
    from expctl.errors import BadInputError, NotFoundError
    from expctl.phases.commit import commit_run
    from expctl.runs import load_run, resolve_run_id

    ws = get_workspace()
    run = load_run(ws, resolve_run_id(ws, run_id))
    if max_size <= 0:
        raise BadInputError(f"--max-size must be positive, got `{max_size}`.")
    text = None
    if template is not None:
        try:
            text = template.read_text(encoding="utf-8")
        except OSError as exc:
            raise NotFoundError(f"Cannot read template `{template}`: {exc.strerror}.") from None
    plan = commit_run(ws, run, findings, text, int(max_size * 1024 * 1024), dry_run,
                      while_training)
    for note in plan.notes:
        console.warn(note)
    if plan.excluded:
        console.info(f"kept out of git (in {plan.ignore_file}): {', '.join(plan.excluded)}")
    if dry_run:
        console.info(f"would commit {len(plan.changed)} changed file(s) in {plan.repo}:")
        for path in plan.changed:
            console.out(f"  {path}")
        console.out("")
        console.out(plan.message.rstrip("\n"))
        return
    console.success(f"committed {plan.sha[:10] if plan.sha else '?'}: "
                    f"{len(plan.changed)} file(s) of run {run.id}")
    console.out(plan.message.splitlines()[0])


@app.command("compare")
def compare_cmd(
    runs: list[str] = typer.Argument(..., help="Runs to compare: A B [C ...]; changes are "
                                     "against the first (B - A with two runs).",
                                     show_default=False),
    baseline: str | None = typer.Option(None, "--baseline", "-b", help="Show changes against "
                                        "this run instead of the first (added if not named)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Runs side by side: the config keys that differ, the metrics with their changes (green
    where better), and `git diff --stat` between their commits."""
    from expctl.errors import BadInputError

    check_format(fmt, ("table", "json"))
    if len(dict.fromkeys(runs + ([baseline] if baseline else []))) < 2:
        raise BadInputError("Compare needs at least two different runs.",
                            hint="expctl compare A B [C ...]")
    ws = get_workspace()
    if len(runs) == 2 and baseline in (None, runs[0]):
        _compare_two(ws, runs[0], runs[1], fmt)
    else:
        _compare_many(ws, runs, baseline, fmt)


def _compare_two(ws, a: str, b: str, fmt: str) -> None:
    from expctl import console
    from expctl.console import Cell
    from expctl.phases.compare import compare_runs

    result = compare_runs(ws, a, b)
    if fmt == "json":
        console.print_json(result.as_dict())
        return
    if result.config:
        console.table(["config key", result.a, result.b],
                      [[d.key, _short(d.a), _short(d.b)] for d in result.config],
                      title="config differences")
    else:
        console.out("config: identical")
    console.out("")
    rows = []
    for m in result.metrics:
        colour = {True: "green", False: "red", None: ""}[m.b_better]
        rows.append([m.style.title, m.style.value(m.a) if m.a is not None else "",
                     m.style.value(m.b) if m.b is not None else "", Cell(m.change(), colour)])
    if rows:
        change = f"{result.b} vs {result.a}"
        console.table(["metric", result.a, result.b, change], rows, title="metrics",
                      right_align=(result.a, result.b, change))
    else:
        console.out("metrics: none recorded")
    console.out("")
    if result.git_stat:
        console.out("git diff --stat:")
        console.out(result.git_stat)
    if result.git_note:
        console.out(f"git: {result.git_note}")


def _compare_many(ws, runs: list[str], baseline: str | None, fmt: str) -> None:
    """Each run a column; a metric cell is the value and its change against the reference."""
    from expctl import console
    from expctl.console import Cell
    from expctl.phases.compare import compare_many

    result = compare_many(ws, runs, baseline)
    if fmt == "json":
        console.print_json(result.as_dict())
        return
    ids = result.runs
    if result.config:
        console.table(["config key", *ids],
                      [[c.key, *(_short(c.values[r]) for r in ids)] for c in result.config],
                      title="config differences")
    else:
        console.out("config: identical")
    console.out("")
    rows = []
    for m in result.metrics:
        cells: list = [m.style.title]
        for r in ids:
            value = m.values.get(r)
            text = m.style.value(value) if value is not None else ""
            if r != result.reference and m.delta(r) is not None:
                text += f", {m.change(r)}"
            cells.append(Cell(text, {True: "green", False: "red", None: ""}[m.better(r)]
                              if r != result.reference else ""))
        rows.append(cells)
    if rows:
        console.table(["metric", *ids], rows, title=f"metrics (changes against {result.reference})",
                      right_align=tuple(ids))
    else:
        console.out("metrics: none recorded")
    for g in result.git:
        console.out("")
        if g.stat:
            console.out(f"git diff --stat {result.reference} -> {g.run_id}:")
            console.out(g.stat)
        if g.note:
            console.out(f"git ({result.reference} -> {g.run_id}): {g.note}")


def _short(value) -> str:
    """A config value on one line."""
    import json

    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
