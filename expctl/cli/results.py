"""Commands over runs and their results: ls, show, record, import, reindex.

Keep expensive imports out of this module's top level (see expctl.cli.app): `ls` must start in
well under 0.3 s, so its path loads only the standard library, PyYAML and expctl's registry
reader; pydantic loads only when a run folder is read.
"""

from __future__ import annotations

from pathlib import Path

import typer

from expctl.cli.app import app, check_format, get_workspace

LS_FORMATS = ("table", "json", "csv")


@app.command("ls")
def ls_cmd(
    status: str | None = typer.Option(None, "--status", "-s", help="Only runs in this state: "
                                      "created, queued, blocked, running, finished, failed, "
                                      "killed, lost or imported."),
    recipe: str | None = typer.Option(None, "--recipe", "-r", help="Only runs of this recipe."),
    sweep: str | None = typer.Option(None, "--sweep", help="Only runs of this sweep."),
    limit: int = typer.Option(50, "--limit", "-n", help="Show at most N runs, newest first; "
                              "0 shows all.", min=0),
    tags: list[str] = typer.Option([], "--tag", "-t", help="Only runs with this tag "
                                   "(repeatable: runs with every one)."),
    archived: bool = typer.Option(False, "--archived", help="List the archived runs "
                                  "(runs/.archive/, read from their folders) instead."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    all_workspaces: bool = typer.Option(False, "--all-workspaces", "-A", help="Runs of every "
                                        "workspace sharing this registry, with their "
                                        "workspace's folder (default: this workspace's)."),
) -> None:
    """List runs, newest first, from the registry."""
    from expctl import console
    from expctl.ids import check_tag
    from expctl.registry.queries import check_status
    from expctl.registry.settings import read_settings

    check_format(fmt, LS_FORMATS)
    if status is not None:
        check_status(status)
    for tag in tags:
        check_tag(tag)
    ws = get_workspace()
    here = str(ws.root.resolve())
    if archived:
        rows, run_tags, total = _archived_rows(ws, status, recipe, tags, limit)
    else:
        from expctl.registry.index import refresh_statuses
        from expctl.registry.queries import list_runs
        from expctl.registry.tags import tags_for

        with open_index(ws) as db:
            refresh_statuses(ws, db)
            db.all_workspaces = all_workspaces
            rows, total = list_runs(db, status, recipe, limit, tags, sweep)
            if refresh_shown(ws, db, [r.id for r in rows if r.workspace_path in (None, here)]):
                rows, total = list_runs(db, status, recipe, limit, tags, sweep)  # one changed
            run_tags = tags_for(db, [r.id for r in rows if r.workspace_path in (None, here)])
    settings = read_settings(ws)
    if fmt == "json":
        console.print_json([_ls_json(r, run_tags.get(r.id, []), all_workspaces)
                            for r in rows])
    elif fmt == "csv":  # raw stored values, as in json: the status as indexed
        columns = ["id", "recipe", "status", "created", "steps", "primary_metric",
                   "primary_value"]
        console.table(columns, [[r.id, r.recipe, r.status, r.created, r.steps,
                                 r.primary_metric, r.primary_value] for r in rows], fmt)
    else:
        columns = ["id", "recipe", "status", "created", "steps", "primary"]
        table = [[r.id, r.recipe or "",
                  _status_cell(ws, r) if not all_workspaces or r.workspace_path == here
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
    if total > len(rows):
        console.info(f"showing {len(rows)} of {total} runs (--limit 0 shows all)")
    elif not rows and fmt == "table":
        if archived:
            console.info("no archived runs match" if status or recipe or tags
                         else "no archived runs (see `expctl archive`)")
        else:
            console.info("no runs match" if status or recipe or tags or sweep else "no runs yet: "
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


def _status_cell(ws, row):
    """A running run's status as its launcher sees it now, with progress, elapsed time, ETA
    and loss (`running 1.2k/100k · 4m05s elapsed · eta 2h10m · loss 0.31`, or Slurm's
    `PENDING (Priority)`), read from its folder; any other run's as indexed."""
    if row.status in ("queued", "blocked"):
        from expctl.queue.store import queue_dir, read_entry

        entry = read_entry(queue_dir(ws.root), row.id)
        return f"{row.status} ({entry.reason})" if entry and entry.reason else row.status
    if row.status != "running":
        return row.status
    from expctl.errors import ExpctlError
    from expctl.registry.settings import read_settings
    from expctl.runs import load_run
    from expctl.state import status_cell

    try:
        return status_cell(load_run(ws, row.id), read_settings(ws).format("loss"))
    except ExpctlError:
        return row.status


@app.command()
def show(
    run: str | None = typer.Argument(None, help="Run id (default: the current run)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Show one run from its folder: run.yaml facts, status, params, metrics, files."""
    from expctl import console
    from expctl.annotations import read_annotations
    from expctl.flat import flatten
    from expctl.registry.folders import METRICS_FILE, run_status, summarize_series
    from expctl.runs import info_data, load_run, resolve_run_id

    check_format(fmt, ("table", "json"))
    ws = get_workspace()
    r = load_run(ws, resolve_run_id(ws, run))
    info = info_data(r.info)
    status = run_status(r)
    params = flatten(_params_of(r))
    metrics = r.metrics()
    series = summarize_series(r.path / METRICS_FILE)
    annotations = read_annotations(r.path)
    files = _files(r.path)
    from expctl.registry.settings import read_settings

    formats = {name: read_settings(ws).format(name) for name in [*metrics, *series]}
    if fmt == "json":
        console.print_json({"id": r.id, "status": status, "info": info, "params": params,
                            "metrics": metrics,
                            "series": {k: vars(v) for k, v in series.items()},
                            "tags": annotations.tags,
                            "notes": [n.model_dump() for n in annotations.notes],
                            "formats": {k: f.as_dict() for k, f in formats.items()},
                            "files": files, "path": str(r.path)})
        return
    git = r.info.git
    git_text = (f"{(git.sha or '(no commit)')[:12]} on {git.branch or 'detached HEAD'}"
                + (", dirty" if git.dirty else "") if git.available else f"none ({git.reason})")
    facts = [("status", status), ("recipe", r.info.recipe or ""), ("created", r.info.created),
             ("steps", r.info.steps), ("imported", "yes" if r.info.imported else "no"),
             ("git", git_text), ("launcher", r.info.launcher or ""),
             ("session", r.info.session or ""), ("hypothesis", r.info.hypothesis or ""),
             ("forked from", r.info.forked_from or ""), ("tags", ", ".join(annotations.tags)),
             ("path", str(r.path))]
    console.key_values([(k, v) for k, v in facts if v not in ("", None)], title=f"run {r.id}")
    console.key_values(list(params.items()) or [("(none)", "-")], title="params")
    console.key_values([(formats[k].title, formats[k].value(v)) for k, v in metrics.items()]
                       or [("(none)", "-")], title="metrics")
    if series:
        def shown(name: str, value) -> str:
            return formats[name].value(value) if isinstance(value, (int, float)) else str(value)

        console.key_values([(formats[k].title, f"last {shown(k, s.last)} @ {s.last_step}, "
                             f"min {shown(k, s.min)} @ {s.min_step}, max {shown(k, s.max)} @ "
                             f"{s.max_step} ({s.count} points)")
                            for k, s in series.items()], title=f"series ({METRICS_FILE})")
    if annotations.notes:
        console.key_values([(n.at[:16].replace("T", " "), n.text) for n in annotations.notes],
                           title="notes")
    console.out("files")
    for name in files or ["(none)"]:
        console.out(f"  {name}")


@app.command()
def record(
    args: list[str] | None = typer.Argument(None, help="[RUN] name=value ...: final metrics "
                                            "(RUN defaults to the current run). With no "
                                            "name=value, read the recipe's metric sources."),
    while_training: bool = typer.Option(False, "--while-training", help="Go ahead although "
                                        "the run is still training (results not final)."),
    refresh_sources: bool = typer.Option(False, "--refresh-sources", help="Read the metric "
                                         "sources of the recipe as it is now in recipes/ "
                                         "(not the run's config.yaml); the previous "
                                         "experiment_results.json is kept in "
                                         "results_history/."),
) -> None:
    """Store final metrics in a run's experiment_results.json and the registry."""
    from expctl import console
    from expctl.errors import BadInputError
    from expctl.registry import index_runs, open_registry
    from expctl.runs import load_run, resolve_run_id, write_results

    args = list(args or [])
    run_arg = args.pop(0) if args and "=" not in args[0] else None
    metrics = parse_metric_args(args)  # every value checked before anything is written
    if metrics and refresh_sources:
        raise BadInputError("--refresh-sources reads the metric sources; give no name=value.")
    ws = get_workspace()
    run = load_run(ws, resolve_run_id(ws, run_arg))
    if not while_training:
        from expctl.state import refuse_while_training

        refuse_while_training(run, "record")
    with open_registry(ws) as db:  # a broken registry is refused before the run is touched
        if metrics:
            write_results(run, metrics)
            index_runs(ws, [run.id], db)
            console.success(f"recorded {run.id}: {_shown(ws, metrics)}")
            return
        from expctl.phases.record import record_run

        result = record_run(ws, run, refresh_sources=refresh_sources)
        index_runs(ws, [run.id], db)
    for warning in result.warnings:  # a source that failed, a group left unmeasured
        console.warn(warning)
    if result.kept is not None:
        console.info(f"previous results kept in {result.kept.relative_to(run.path)}")
    console.success(f"recorded {run.id}: {_shown(ws, result.metrics) or 'no metrics found'}")
    result.check_packages()


def _shown(ws, metrics: dict[str, float]) -> str:
    """`mAP 40.37%, loss 0.1234`: each metric in its number format (expctl.numbers)."""
    from expctl.registry.settings import read_settings

    formats = read_settings(ws)
    return ", ".join(f"{formats.format(k).title} {formats.format(k).value(v)}"
                     for k, v in metrics.items())


def parse_metric_args(items: list[str]) -> dict[str, float]:
    """name=value pairs -> metrics; a bad name or a non-numeric value is exit 2."""
    import math

    from expctl.errors import BadInputError
    from expctl.ids import check_metric_name

    metrics: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep:
            raise BadInputError(f"`{item}` is not name=value.", hint="e.g. small_map=0.1728")
        check_metric_name(name)
        try:
            value = float(text)
        except ValueError:
            raise BadInputError(f"Metric `{name}`: `{text}` is not a number.",
                                hint="e.g. small_map=0.1728") from None
        if not math.isfinite(value):
            raise BadInputError(f"Metric `{name}`: `{text}` is not a finite number.")
        metrics[name] = value
    return metrics


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="CSV (id column + one column per metric) or JSONL "
                                "({\"id\", \"metrics\", \"params\"} per line)."),
    recipe: str | None = typer.Option(None, "--recipe", "-r", help="Recipe name to record on "
                                      "the imported runs; only its spelling is checked, as the "
                                      "results may come from a recipe not in recipes/."),
) -> None:
    """Bring in results obtained elsewhere as runs marked imported (re-import updates them)."""
    from expctl import console
    from expctl.phases.importer import import_runs

    ws = get_workspace()
    result = import_runs(ws, file, recipe)
    console.success(f"imported {len(result.created) + len(result.updated)} runs from {file.name}"
                    f" ({len(result.created)} new, {len(result.updated)} updated)")


@app.command("reindex")
def reindex_cmd() -> None:
    """Rebuild the registry from the run folders alone."""
    from expctl import console
    from expctl.registry import reindex

    ws = get_workspace()
    result = reindex(ws)
    for note in result.notes:
        console.warn(note)
    for problem in result.skipped:
        console.warn(f"skipped {problem}")
    console.success(f"indexed {result.runs} runs ({result.params} params, "
                    f"{result.metrics} metrics)" + (f"; skipped {len(result.skipped)}"
                                                    if result.skipped else ""))


# --- helpers shared with the leaderboard --------------------------------------------------------


def open_index(ws):
    """The registry for reading; says so when a missing one had to be rebuilt first."""
    from expctl import console
    from expctl.registry.index import open_index as open_and_fill

    db, opened = open_and_fill(ws)
    for problem in opened.skipped:  # one line per unreadable folder; the others are listed
        console.warn(f"skipped {problem}")
    if opened.rebuilt:
        why = "was new" if opened.fresh else "held no runs of this workspace"
        console.info(f"the registry {why}: indexed {opened.rebuilt} runs from {ws.runs_dir}")
    return db


def refresh_shown(ws, db, run_ids) -> bool:
    """Read again the shown runs whose folders changed since indexed (edited or pulled by
    hand); True when some row changed. An unreadable folder is one warning."""
    from expctl import console
    from expctl.registry.index import refresh_changed

    changed, problems = refresh_changed(ws, db, run_ids)
    for problem in problems:
        console.warn(f"skipped {problem}")
    return bool(changed)


def _params_of(run) -> dict:
    """The run's params, read as the registry reads them: config.yaml or its `params` not being
    a mapping is one line naming the file (exit 2), as `reindex` reports it."""
    from expctl.registry.folders import CONFIG_FILE, read_config

    return read_config(run.path / CONFIG_FILE).get("params") or {}


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


def _files(path: Path) -> list[str]:
    """The run folder's entries: files by name, folders with their file counts."""
    entries = []
    for p in sorted(path.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir():
            count = sum(1 for f in p.rglob("*") if f.is_file())
            entries.append(f"{p.name}/ ({count} files)")
        else:
            entries.append(p.name)
    return entries
