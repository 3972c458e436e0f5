"""`expctl gc`: delete the checkpoints of runs a rule does not keep. Implementation:
expctl.gc."""

from __future__ import annotations

from typing import Literal

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.confirm import YES_HELP
from expctl.cli.params import format_option

app = command_app()  # this module's command, built when it runs

GcFormat = Literal["table", "json"]


EXAMPLES = """Examples:

\b
  expctl gc --dry-run                  # what the default rule would delete
  expctl gc --keep-best 5 --keep-tag paper --yes
"""


@app.command("gc", epilog=EXAMPLES)
def gc_cmd(
    keep_best: int = typer.Option(3, "--keep-best", metavar="N", help="Keep the best N runs by "
                                  "the metric (ties at the cut are all kept).", min=0),
    keep_tags: list[str] = typer.Option([], "--keep-tag", metavar="TAG", help="Keep runs with "
                                        "this tag (repeatable; default: every tagged run is "
                                        "kept)."),
    metric: str | None = typer.Option(None, "--metric", "-m", metavar="METRIC", help="Rank by "
                                      "this metric (default: leaderboard.metric in expctl.yaml, "
                                      "else each run's primary metric).", show_default=False),
    yes: bool = typer.Option(False, "--yes", "-y", help=YES_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="List exactly what would be deleted "
                                 "and the bytes; change nothing."),
    fmt: GcFormat = format_option(GcFormat),
) -> None:
    """Delete the checkpoints of runs that a rule does not keep.

    Kept are the baseline, the best N, tagged runs, runs not ranked yet and runs at work;
    only checkpoint files go, everything else of a run folder stays."""
    from expctl import console
    from expctl.cli.confirm import confirm
    from expctl.errors import ExpctlError
    from expctl.gc import GcRule, apply_gc, plan_gc
    from expctl.ids import check_metric_name, check_tag

    rule = GcRule(keep_best, tuple(check_tag(t) for t in keep_tags),
                  check_metric_name(metric) if metric else None)
    ws = get_workspace()
    plan = plan_gc(ws, rule)
    for problem in plan.problems:
        console.warn(f"skipped {problem}")
    if fmt == "json":
        console.print_json({
            "delete": [{"run": f.run_id, "path": str(f.path.relative_to(ws.root)),
                        "bytes": f.bytes, "kind": f.kind} for f in plan.files],
            "bytes": plan.bytes, "freed": plan.freed, "kept": plan.kept,
            "dry_run": dry_run,
        })
    else:
        console.table(["run", "file", "size"],
                      [[f.run_id, str(f.path.relative_to(ws.root)), console.size(f.bytes)]
                       for f in plan.files], right_align=("size",))
        for run_id, why in plan.kept.items():
            console.info(f"kept {run_id}: {why}")
    if not plan.files:
        console.info("nothing to delete")
        return
    summary = (f"{len(plan.files)} file(s) of {len(plan.runs)} run(s), "
               f"{console.size(plan.bytes)} (frees {console.size(plan.freed)})")
    if dry_run:
        console.info(f"would delete {summary}; nothing changed (--dry-run)")
        return
    confirm(f"Delete {summary}?", yes, "delete checkpoints")
    deleted, problems = apply_gc(ws, plan)
    for problem in problems:
        console.warn(problem)
    console.success(f"deleted {len(deleted)} file(s), "
                    f"{console.size(sum(f.bytes for f in deleted))}")
    if problems:
        raise ExpctlError(f"{len(problems)} problem(s); some files were left.")
