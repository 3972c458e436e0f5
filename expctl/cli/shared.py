"""Helpers that several command modules share: run-id help, launcher flags, the tables
of what was gathered and recorded, the registry index."""

from __future__ import annotations

from expctl.cli.app import get_workspace

# --where of `ls`, `leaderboard` (and `report`, `tensorboard`): expctl.registry.queries.
WHERE_HELP = ("Only runs matching FILTER, KEY<op>VALUE (repeatable: all of them), op one of "
              "= != < <= > >=: map>0.3, train.lr<=0.01, status!=failed, recipe=baseline, "
              "tag=best. KEY is recipe, status, sweep or tag, else a metric (its final value, "
              "as stored: 0.3, not the 30% a table shows) when some run has one so named, else "
              "a param; metrics.NAME and params.NAME choose. A run without the key never "
              "matches, not even !=.")
WHERE_METAVAR = "FILTER"  # KEY<op>VALUE, as the help says


def queue_runs(ws, ids: list[str], launcher: str | None, priority: int, after: list[str],
           resume: bool, dry_run: bool) -> None:
    """`launch --queue`: the runs into the workspace queue, and its scheduler woken."""
    from expctl import console
    from expctl.queue.operations import enqueue
    from expctl.queue.service import wake
    from expctl.runs import resolve_run_id

    after = [resolve_run_id(ws, a) for a in after]
    if dry_run:
        from expctl.phases.launch import plan_launch

        for run_id in ids:
            plan_launch(ws, run_id, launcher, None, resume)
            console.out(f"would queue {run_id}")
        console.info("dry run: nothing queued")
        return
    from expctl.phases.launch import plan_launch
    from expctl.queue.slots import run_need

    plans = [plan_launch(ws, run_id, launcher, None, resume) for run_id in ids]
    planned = [(p.run.id, p.launcher, run_need(p.run.config())) for p in plans]
    positions = enqueue(ws, planned, launcher, priority, after, resume)
    for run_id, position in zip(ids, positions, strict=True):
        console.success(f"queued run {run_id} (position {position})")
    update_index(ws, *ids)
    wake(ws.root)
    console.info("see the queue: expctl queue  |  expctl status RUN")


def update_index(ws, *run_ids: str) -> None:
    """Update the registry's rows; the job's state is already decided, so a failure here is
    only a warning."""
    from expctl import console

    try:
        from expctl.registry import index_runs

        index_runs(ws, list(run_ids))
    except Exception as exc:  # noqa: BLE001 - the index can always be rebuilt from the folders
        reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        console.warn(f"the registry was not updated ({reason}); run `expctl reindex`")


def load_given_run(run_id: str | None):
    from expctl.runs import load_run, resolve_run_id

    ws = get_workspace()
    return load_run(ws, resolve_run_id(ws, run_id))


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def progress_text(step: int | None, planned: int | None) -> str:
    done = "?" if step is None else str(step)
    if not planned:
        return done
    share = f" ({100 * step / planned:.1f}%)" if step is not None else ""
    return f"{done} / {planned}{share}"


def launcher_flag(screen: bool, tmux: bool, local: bool, slurm: bool = False) -> str | None:
    """The one launcher chosen by --screen/--tmux/--local/--slurm, or None."""
    from expctl.errors import BadInputError

    flags = (("screen", screen), ("tmux", tmux), ("local", local), ("slurm", slurm))
    chosen = [name for name, on in flags if on]
    if len(chosen) > 1:
        raise BadInputError(
            f"Choose one of --screen, --tmux, --local, --slurm (got {', '.join(chosen)})."
        )
    return chosen[0] if chosen else None


def show_gathered(result, fmt: str = "table") -> None:
    """The table of what was gathered from where, and warnings for optional misses."""
    from expctl import console

    rows = [[g.artifact, g.action, g.source, g.dest] for g in result.gathered]
    if rows or fmt != "table":
        console.table(["artifact", "action", "from", "to"], rows, fmt,
                      title=f"gathered ({result.phase} phase)")
    for refused in result.refused:
        console.warn(f"artifact `{refused.artifact}`: `{refused.link}` is a link out of the "
                     f"folder its glob gathers from (to `{refused.target}`): not gathered")
    for item in result.ambiguous:
        if item.artifact != "checkpoint":  # check() refuses an ambiguous checkpoint
            console.warn(item.describe(result.run_id))
    for miss in result.missing:
        if not miss.required:
            console.warn(f"artifact `{miss.artifact}` matched nothing from this run's "
                         f"{result.phase} phase (tried {', '.join(miss.patterns)})")
    if not rows and not result.missing:
        console.info(f"no artifacts declared for the {result.phase} phase")


def show_recorded(ws, result) -> None:
    """A record's metrics with their change against the baseline, and its criteria."""
    from expctl import console

    for warning in result.warnings:
        console.warn(warning)
    deltas = {name: d.as_dict() for name, d in result.deltas.items()}
    show_results(ws, result.metrics, deltas, result.baseline)
    for verdict in result.verdicts:
        colour = {True: "green", False: "red", None: "yellow"}[verdict.passed]
        console.message(f"criterion {verdict.criterion.metric} {verdict.criterion.text}: "
                        f"{verdict.word}", colour)


def show_results(ws, metrics: dict, deltas: dict, baseline: str | None) -> None:
    """The record table: metric (label), value and change against the baseline, each in the
    metric's number format, coloured by its direction. `deltas` as experiment_results.json
    holds them ({name: {baseline, delta, delta_pct}})."""
    from expctl import console
    from expctl.console import Cell
    from expctl.metrics.specs import metric_format

    rows = []
    for name, value in metrics.items():
        fmt = metric_format(ws, name)
        delta = deltas.get(name)
        change = Cell("")
        if delta is not None and delta.get("delta") is not None:
            colour = {True: "green", False: "red", None: ""}[fmt.better(delta["delta"])]
            change = Cell(fmt.change(delta["delta"], delta.get("delta_pct")), colour)
        rows.append([fmt.title, fmt.value(value), change])
    if not deltas:  # no baseline (or this is it): nothing to compare with
        console.table(["metric", "value"], [r[:2] for r in rows], right_align=("value",))
        return
    title = f"vs baseline {baseline}"
    console.table(["metric", "value", title], rows, right_align=("value", title))


def shown(ws, metrics: dict[str, float]) -> str:
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


def open_index(ws):
    """The registry for reading; says so when a missing one had to be rebuilt first. On a
    full disk, the registry as last indexed, read only (expctl.registry.readonly)."""
    from expctl import console
    from expctl.registry.index import open_index as open_and_fill
    from expctl.registry.readonly import full_disk_registry, open_read_only

    full = full_disk_registry(ws)
    if full is None:
        try:
            db, opened = open_and_fill(ws)
        except Exception:
            full = full_disk_registry(ws)  # the disk filled up meanwhile, or was full to SQLite
            if full is None:
                raise
    if full is not None:
        db = open_read_only(ws, full)
        console.warn("the disk is full: runs are listed as last indexed (changes since are "
                     "not shown; nothing is written)")
        return db
    for problem in opened.skipped:  # one line per unreadable folder; the others are listed
        console.warn(f"skipped {problem}")
    if opened.rebuilt:
        why = "was new" if opened.fresh else "held no runs of this workspace"
        console.info(f"the registry {why}: indexed {opened.rebuilt} runs from {ws.runs_dir}")
    return db


def refresh_shown(ws, db, run_ids) -> bool:
    """Read again the shown runs (None: every run) whose folders changed since indexed (edited or
    hand); True when some row changed. An unreadable folder is one warning."""
    from expctl import console
    from expctl.registry.index import refresh_changed

    if getattr(db, "read_only", False):  # a full disk: nothing can be indexed again
        return False
    changed, problems = refresh_changed(ws, db, run_ids)
    for problem in problems:
        console.warn(f"skipped {problem}")
    return bool(changed)


def make_sweep_runs(ws, plan, hypothesis: str | None) -> list:
    """Every run of the plan (the `new` phase, tagged with the sweep), then the sweep's files;
    a run that cannot be made (an id taken meanwhile) undoes the ones made here."""
    from expctl.phases.new import create_run
    from expctl.sweep import discard, write_sweep_files

    made = []
    try:
        for planned in plan.runs:
            made.append(create_run(ws, planned.run_id, plan.recipe, planned.overrides,
                                   hypothesis, sweep=plan.sweep_id))
        write_sweep_files(ws, plan, [r.path for r in made])
    except BaseException:
        discard(ws, plan, [r.path for r in made])
        raise
    return made


def after_job_of(ws, after: str) -> str:
    """The Slurm job id of the run a job array waits for."""
    from expctl.errors import BadInputError
    from expctl.launchers.slurm import is_job_id
    from expctl.runs import load_run

    run = load_run(ws, after)
    if run.info.launcher != "slurm" or not is_job_id(str(run.info.session or "")):
        raise BadInputError(f"--after {after}: that run is not a Slurm job.",
                            hint="with --slurm, --after names a run launched with --slurm")
    return str(run.info.session)


def submit_array(ws, sweep_id: str, ids: list[str], after_job: str | None) -> None:
    from expctl import console
    from expctl.cli.shared import update_index
    from expctl.phases.launch import plan_launch, start_array
    from expctl.sweep import tasks_file

    plans = [plan_launch(ws, run_id, "slurm") for run_id in ids]
    tasks = tasks_file(ws, sweep_id)
    job_id, launched = start_array(ws, plans, sweep_id, tasks, tasks.parent, after_job)
    console.success(f"submitted sweep {sweep_id} as Slurm job array {job_id} "
                    f"(tasks {job_id}_0 to {job_id}_{len(launched) - 1})")
    console.info(f"follow it: expctl ls --sweep {sweep_id}")
    update_index(ws, *ids)
