"""`expctl show`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import format_option, run_argument

app = command_app()  # this module's command, built when it runs

ShowFormat = Literal["table", "json"]


EXAMPLES = """Examples:

\b
  expctl show                      # the current run
  expctl show 3scale_baseline --format json
"""


@app.command(epilog=EXAMPLES)
def show(
    run: str | None = run_argument(),
    fmt: ShowFormat = format_option(ShowFormat),
) -> None:
    """Show one run: facts, status, params, metrics, files.

    Read from the run folder, never the registry: run.yaml's facts (recipe, git, launcher),
    the state, the params, the recorded metrics and logged series, tags and notes, and the
    files with their sizes."""
    from expctl import console
    from expctl.annotations import read_annotations
    from expctl.flat import flatten
    from expctl.registry.folders import METRICS_FILE, run_status, summarize_series
    from expctl.runs import info_data, load_run, resolve_run_id

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


def _params_of(run) -> dict:
    """The run's params, read as the registry reads them: config.yaml or its `params` not being
    a mapping is one line naming the file (exit 2), as `reindex` reports it."""
    from expctl.registry.folders import CONFIG_FILE, read_config

    return read_config(run.path / CONFIG_FILE).get("params") or {}


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
