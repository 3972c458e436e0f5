"""`expctl queue`: the workspace queue with positions and reasons; cancel, pause, resume."""

from __future__ import annotations

import typer

from expctl.cli.app import app, check_format, get_workspace

queue_app = typer.Typer(help="The workspace queue: runs waiting for GPUs/slots or other runs.",
                        no_args_is_help=False, rich_markup_mode=None)
app.add_typer(queue_app, name="queue")


@queue_app.callback(invoke_without_command=True)
def queue_list(
    ctx: typer.Context,
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
) -> None:
    """List the queue: running runs, then the waiting ones by position, with reasons."""
    if ctx.invoked_subcommand is not None:
        return
    from expctl import console
    from expctl.queue.operations import is_paused, list_queue

    check_format(fmt, ("table", "json", "csv"))
    ws = get_workspace()
    rows = list_queue(ws)
    if fmt == "json":
        console.print_json([{"position": r.position, "run": r.entry.run_id, "state": r.state,
                             "priority": r.entry.priority, "need": r.entry.need,
                             "devices": r.entry.devices, "after": r.entry.after,
                             "reason": r.entry.reason, "queued": r.entry.queued}
                            for r in rows])
        return
    table = [["" if r.position is None else r.position, r.entry.run_id, r.state,
              r.entry.priority, r.entry.need, ",".join(map(str, r.entry.devices)),
              r.entry.reason or "", r.entry.queued[:19].replace("T", " ")] for r in rows]
    console.table(["pos", "run", "state", "priority", "need", "devices", "reason", "queued"],
                  table, fmt, right_align=("pos", "priority", "need"))
    if fmt == "table":
        if is_paused(ws):
            console.info("the queue is paused: `expctl queue resume` lets runs start again")
        if not rows:
            console.info("the queue is empty: queue runs with `expctl launch RUN --queue`")


@queue_app.command("cancel")
def queue_cancel(
    run_ids: list[str] = typer.Argument(..., help="Queued runs to take out of the queue."),
) -> None:
    """Take waiting runs out of the queue (they stay, as created runs)."""
    from expctl import console
    from expctl.cli.shared import update_index
    from expctl.ids import check_run_id
    from expctl.queue.operations import cancel

    ws = get_workspace()
    for run_id in run_ids:
        cancel(ws, check_run_id(run_id))
        console.success(f"took run {run_id} out of the queue")
    update_index(ws, *run_ids)


@queue_app.command("pause")
def queue_pause() -> None:
    """Start no more queued runs (running ones go on) until `expctl queue resume`."""
    from expctl import console
    from expctl.queue.operations import pause

    pause(get_workspace(), True)
    console.success("queue paused: running runs go on, no new one starts")


@queue_app.command("resume")
def queue_resume() -> None:
    """Let queued runs start again after `expctl queue pause`."""
    from expctl import console
    from expctl.queue.operations import pause

    pause(get_workspace(), False)
    console.success("queue resumed")
