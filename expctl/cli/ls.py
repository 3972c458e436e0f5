"""`expctl ls`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from typing import Literal

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import choices_text, format_option, recipe_option, sweep_option
from expctl.cli.shared import WHERE_HELP, WHERE_METAVAR, open_index, refresh_shown

app = command_app()  # this module's command, built when it runs

LsFormat = Literal["table", "json", "csv"]
# expctl.state.STATES (a test keeps them equal); spelt out so ls's help needs no import of it
RunState = Literal["created", "queued", "blocked", "running", "finished", "failed", "killed",
                   "lost", "imported"]
EXAMPLES = """Examples:

\b
  expctl ls
  expctl ls --status running
  expctl ls -r 3scale_sizeaware -t paper -n 10
  expctl ls --limit 0 --format json > runs.json
"""


@app.command("ls", epilog=EXAMPLES)
def ls_cmd(
    status: RunState | None = typer.Option(None, "--status", metavar="STATE", help="Only runs "
                                           f"in this state: {choices_text(RunState)}.",
                                           show_default=False),
    recipe: str | None = recipe_option("Only runs of this recipe."),
    sweep: str | None = sweep_option("Only runs of this sweep."),
    limit: int = typer.Option(50, "--limit", "-n", metavar="N", help="Show at most N runs, "
                              "newest first; 0 shows all.", min=0),
    tags: list[str] = typer.Option([], "--tag", "-t", metavar="TAG", help="Only runs with this "
                                   "tag (repeatable: runs with every one)."),
    where: list[str] = typer.Option([], "--where", "-w", metavar=WHERE_METAVAR,
                                    help=WHERE_HELP),
    archived: bool = typer.Option(False, "--archived", help="List the archived runs "
                                  "(runs/.archive/, read from their folders) instead."),
    fmt: LsFormat = format_option(LsFormat),
    all_workspaces: bool = typer.Option(False, "--all-workspaces", "-A", help="Runs of every "
                                        "workspace sharing this registry, with their "
                                        "workspace's folder (default: this workspace's)."),
) -> None:
    """List runs, newest first.

    From the registry, with each running run's progress, elapsed time and ETA, and why a
    queued run waits; a run folder changed behind expctl's back is read again."""
    from expctl import console
    from expctl.ids import check_tag
    from expctl.registry.queries import parse_where
    from expctl.registry.settings import read_settings

    wheres = [parse_where(w) for w in where]
    if wheres and archived:
        from expctl.errors import BadInputError

        raise BadInputError("--where filters the registry; --archived lists folders.",
                            hint="use --status, --recipe and --tag with --archived")
    for tag in tags:
        check_tag(tag)
    ws = get_workspace()
    here = str(ws.root.resolve())
    derived: dict = {}  # {run id: JobStatus} derived while refreshing: not derived twice
    settings = read_settings(ws)
    if archived:
        rows, run_tags, total = _archived_rows(ws, status, recipe, tags, limit)
    else:
        from expctl.registry.index import refresh_statuses
        from expctl.registry.queries import list_runs, prepare, scale_warnings
        from expctl.registry.tags import tags_for

        with open_index(ws) as db:
            refresh_statuses(ws, db, derived)
            db.all_workspaces = all_workspaces
            wheres = prepare(db, wheres)
            for warning in scale_warnings(db, wheres, settings.scale):
                console.warn(warning)
            if limit == 0 and fmt != "table":  # every run, written as it comes from the registry
                refresh_shown(ws, db, None)
                streamed, _ = list_runs(db, status, recipe, 0, tags, sweep, wheres, stream=True)
                _machine_output(fmt, _tagged(db, streamed, here), settings, all_workspaces)
                return
            rows, total = list_runs(db, status, recipe, limit, tags, sweep, wheres)
            if refresh_shown(ws, db, [r.id for r in rows if r.workspace_path in (None, here)]):
                # one shown changed
                rows, total = list_runs(db, status, recipe, limit, tags, sweep, wheres)
            run_tags = tags_for(db, [r.id for r in rows if r.workspace_path in (None, here)])
    if fmt != "table":
        _machine_output(fmt, ((r, run_tags.get(r.id, [])) for r in rows), settings,
                        all_workspaces)
    else:
        columns = ["id", "recipe", "status", "created", "steps", "primary"]
        loss = settings.format("loss")
        table = [[r.id, r.recipe or "",
                  _status_cell(ws, r, derived.get(r.id), loss)
                  if not all_workspaces or r.workspace_path == here
                  else r.status,
                  _short_time(r.created), "" if r.steps is None else r.steps,
                  _primary(r, settings)] for r in rows]
        if run_tags:  # a tags column only when a run shown has tags
            columns.append("tags")
            for r, line in zip(rows, table, strict=True):
                line.append(",".join(run_tags.get(r.id, [])))
        if all_workspaces:
            columns.append("workspace")
            for line, r in zip(table, rows, strict=True):
                line.append(r.workspace_path or "")
        console.table(columns, table, fmt, right_align=("steps",))
    if total is None:  # see queries.COUNT_AT_MOST
        console.info(f"showing the newest {len(rows)} matching runs; more match "
                     "(--limit 0 shows all)")
    elif total > len(rows):
        console.info(f"showing {len(rows)} of {total} runs (--limit 0 shows all)")
    elif not rows and fmt == "table":
        if archived:
            console.info("no archived runs match" if status or recipe or tags
                         else "no archived runs (see `expctl archive`)")
        else:
            filtered = status or recipe or tags or sweep or where
            console.info("no runs match" if filtered else "no runs yet: "
                         "create one with `expctl new` or bring results with `expctl import`")


def _archived_rows(ws, status, recipe, tags, limit):
    """`ls --archived`: RunSummary rows, their tags and the number matching, from folders."""
    from expctl import console
    from expctl.registry.queries import RunSummary
    from expctl.removal import list_archived

    records, problems = list_archived(ws)
    for problem in problems:
        console.warn(f"skipped archived {problem}")
    matching = [r for r in records if (status is None or r.status == status)
                and (recipe is None or r.recipe == recipe) and set(tags) <= set(r.tags)]
    shown = matching[:limit] if limit else matching
    rows = [RunSummary(r.id, r.recipe, r.status, r.created, r.steps, r.imported,
                       r.primary_metric, r.metrics.get(r.primary_metric or ""))
            for r in shown]
    return rows, {r.id: r.tags for r in shown if r.tags}, len(matching)


def _status_cell(ws, row, status, loss):
    """A running run's status as its launcher sees it now, with progress, elapsed time, ETA
    and loss (`running 1.2k/100k · 4m05s elapsed · eta 2h10m · loss 0.31`, or Slurm's
    `PENDING (Priority)`), read from its folder; any other run's as indexed. `status`: the
    JobStatus refresh_statuses derived for the row just now, if any (used when it agrees
    with the row)."""
    if status is not None and status.state == row.status and row.status in (
            "running", "queued", "blocked"):
        from expctl.state import cell_of

        status.planned_steps = row.steps  # as indexed now (refresh_shown may have read it)
        return cell_of(status, ws.runs_dir / row.id, loss)
    if row.status in ("queued", "blocked"):
        from expctl.queue.store import queue_dir, read_entry

        entry = read_entry(queue_dir(ws.root), row.id)
        return f"{row.status} ({entry.reason})" if entry and entry.reason else row.status
    if row.status != "running":
        return row.status
    from expctl.errors import ExpctlError
    from expctl.runs import load_run
    from expctl.state import status_cell

    try:
        return status_cell(load_run(ws, row.id), loss)
    except ExpctlError:
        return row.status


CSV_COLUMNS = ["id", "recipe", "status", "created", "steps", "primary_metric", "primary_value"]


def _machine_output(fmt: str, tagged, settings, all_workspaces: bool) -> None:
    """json or csv of (row, tags) pairs, written as they come: raw stored values (the status
    as indexed); json ends with the number formats of the primary metrics shown."""
    from expctl import console

    if fmt == "csv":
        console.csv_rows(CSV_COLUMNS, ([r.id, r.recipe, r.status, r.created, r.steps,
                                        r.primary_metric, r.primary_value] for r, _ in tagged))
        return
    metrics: dict[str, None] = {}

    def rows():
        for r, tags in tagged:
            if r.primary_metric is not None:
                metrics[r.primary_metric] = None
            yield _ls_json(r, tags, all_workspaces)

    console.json_records(rows(), "runs", lambda: {
        "formats": {m: settings.format(m).as_dict() for m in metrics}})


def _tagged(db, rows, here: str):
    """(row, its tags) as the rows come, the tags looked up for STREAM_LINES rows at a time
    (and not at all when no run of the workspace has a tag)."""
    from itertools import islice

    from expctl.console import STREAM_LINES
    from expctl.registry.tags import any_tags, tags_for

    rows = iter(rows)
    tagged = any_tags(db)
    while chunk := list(islice(rows, STREAM_LINES)):
        found = tags_for(db, [r.id for r in chunk if r.workspace_path in (None, here)]) \
            if tagged else {}
        for r in chunk:
            yield r, found.get(r.id, [])


def _ls_json(r, tags: list[str], all_workspaces: bool = False) -> dict:
    row = {"id": r.id, "recipe": r.recipe, "status": r.status, "created": r.created,
           "steps": r.steps, "imported": r.imported, "primary_metric": r.primary_metric,
           "primary_value": r.primary_value, "tags": tags}
    if all_workspaces:
        row["workspace"] = r.workspace_path
    return row


def _primary(r, settings) -> str:
    if r.primary_metric is None or r.primary_value is None:
        return ""
    fmt = settings.format(r.primary_metric)
    return f"{fmt.title} {fmt.value(r.primary_value)}"


def _short_time(iso: str) -> str:
    """2025-11-23T14:05:09+01:00 -> 2025-11-23 14:05 (the run's local time)."""
    return iso[:16].replace("T", " ")
