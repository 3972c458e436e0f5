"""`expctl compare`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from typing import Literal

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import format_option, run_argument, run_option

app = command_app()  # this module's command, built when it runs

CompareFormat = Literal["table", "json"]


EXAMPLES = """Examples:

\b
  expctl compare 3scale_baseline 3scale_sizeaware      # changes are B - A
  expctl compare 3scale_sizeaware 4scale_enhanced -b 3scale_baseline  # N runs
  expctl compare 3scale_baseline 4scale_enhanced --format json
"""


@app.command("compare", epilog=EXAMPLES)
def compare_cmd(
    runs: list[str] = run_argument("Runs to compare: A B [C ...]; changes are against the "
                                   "first (B - A with two runs).", required=True, many=True),
    baseline: str | None = run_option(None, "--baseline", "-b", help="Show changes against "
                                      "this run instead of the first (added if not named)."),
    fmt: CompareFormat = format_option(CompareFormat),
) -> None:
    """Runs side by side: config, metrics, code changes.

    The config keys that differ, each metric with its change in points and relative percent
    (green where better in its direction), and `git diff --stat` between the runs' commits."""
    from expctl.errors import BadInputError

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
    _config_table([result.a, result.b], [[d.key, _short(d.a), _short(d.b)]
                                          for d in result.config])
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
    _config_table(ids, [[c.key, *(_short(c.values[r]) for r in ids)] for c in result.config])
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


def _config_table(ids: list[str], rows: list[list]) -> None:
    """The config keys that differ, one column per run (or that they are identical)."""
    from expctl import console

    if rows:
        console.table(["config key", *ids], rows, title="config differences")
    else:
        console.out("config: identical")
    console.out("")


def _short(value) -> str:
    """A config value on one line."""
    import json

    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
