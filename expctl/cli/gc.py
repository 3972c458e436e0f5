"""`expctl gc`: delete the checkpoints of runs a rule does not keep. Implementation:
expctl.gc."""

from __future__ import annotations

import typer

from expctl.cli.app import check_format, command_app, get_workspace
from expctl.cli.confirm import YES_HELP

app = command_app()  # this module's command, built when it runs


@app.command("gc")
def gc_cmd(
    keep_best: int = typer.Option(3, "--keep-best", help="Keep the best N runs by the metric "
                                  "(ties at the cut are all kept).", min=0),
    keep_tags: list[str] = typer.Option([], "--keep-tag", help="Keep runs with this tag "
                                        "(repeatable; default: every tagged run is kept)."),
    metric: str | None = typer.Option(None, "--metric", "-m", help="Rank by this metric "
                                      "(default: leaderboard.metric in expctl.yaml, else each "
                                      "run's primary metric)."),
    yes: bool = typer.Option(False, "--yes", "-y", help=YES_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="List exactly what would be deleted "
                                 "and the bytes; change nothing."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Delete the checkpoints of runs that a rule does not keep.

    Delete the checkpoint files of runs not kept by the rule: the baseline, the best N,
    tagged runs, runs not ranked yet and runs at work are kept."""
    from expctl import console
    from expctl.cli.confirm import confirm
    from expctl.errors import ExpctlError
    from expctl.gc import GcRule, apply_gc, plan_gc
    from expctl.ids import check_metric_name, check_tag

    check_format(fmt, ("table", "json"))
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
