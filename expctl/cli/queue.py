"""`expctl queue`: the workspace queue with positions and reasons; cancel, pause, resume."""

from __future__ import annotations

from typing import Literal

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import format_option, run_argument

app = command_app(name="queue")  # a group: the listing (its callback) and subcommands


QueueFormat = Literal["table", "json", "csv"]
EXAMPLES = """Examples:

\b
  expctl launch 3scale_sizeaware_100k --queue   # put a run in the queue
  expctl queue                                  # what runs, what waits, why
  expctl queue cancel 3scale_sizeaware_100k
  expctl queue pause
"""


@app.callback(invoke_without_command=True, subcommand_metavar="[COMMAND [ARGS]...]",
              epilog=EXAMPLES)
def queue_list(ctx: typer.Context, fmt: QueueFormat = format_option(QueueFormat)) -> None:
    """The workspace queue: positions and reasons; cancel, pause.

    Without a subcommand, lists the queue: the running runs, then the waiting ones by
    position, each with its priority, GPUs or slots and why it waits."""
    if ctx.invoked_subcommand is not None:
        return
    from expctl import console
    from expctl.queue.operations import is_paused, list_queue

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


@app.command("cancel", epilog="Example:\n\n\b\n  expctl queue cancel 3scale_baseline_100k")
def queue_cancel(
    run_ids: list[str] = run_argument("Queued runs to take out of the queue.", required=True,
                                      many=True),
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


@app.command("pause", epilog="Example:\n\n\b\n  expctl queue pause")
def queue_pause() -> None:
    """Start no more queued runs until `queue resume`.

    Running runs go on; queued ones keep their places."""
    from expctl import console
    from expctl.queue.operations import pause

    pause(get_workspace(), True)
    console.success("queue paused: running runs go on, no new one starts")


@app.command("resume", epilog="Example:\n\n\b\n  expctl queue resume")
def queue_resume() -> None:
    """Let queued runs start again after `expctl queue pause`."""
    from expctl import console
    from expctl.queue.operations import pause

    pause(get_workspace(), False)
    console.success("queue resumed")
