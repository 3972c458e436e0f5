"""`expctl status`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import check_format, command_app, get_workspace
from expctl.cli.shared import is_number, load_given_run, progress_text

app = command_app()  # this module's command, built when it runs


@app.command()
def status(
    run_id: str | None = typer.Argument(None, help="Run id (default: the current run)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """A run's job: state, step, ETA, latest metrics.

    A run's job: state, elapsed time, step against planned steps, ETA, latest metrics."""
    from dataclasses import asdict

    from expctl import console
    from expctl.launchers.status import duration, status_text
    from expctl.state import run_status

    check_format(fmt, ("table", "json"))
    run = load_given_run(run_id)
    if run.info.imported:
        console.key_values([("run", run.id), ("state", "imported")])
        return
    st = run_status(run, tail_bytes=65536)
    from expctl.registry.settings import read_settings

    formats = {name: read_settings(get_workspace()).format(name) for name in st.metrics}
    if fmt == "json":
        console.print_json({"run": run.id, **asdict(st),
                            "formats": {k: f.as_dict() for k, f in formats.items()}})
        return
    pairs: list[tuple[str, object]] = [("run", run.id), ("state", status_text(st))]
    if st.launcher:
        from expctl.launchers import get_launcher

        handle = get_launcher(st.launcher).handle
        where = st.launcher + (f" {handle} {st.session}" if st.session else "")
        pairs.append(("launcher", where + (f", attempt {st.attempt}" if st.attempt else "")))
    if st.node:
        pairs.append(("node", st.node))
    if st.pid:
        pairs.append(("pid", st.pid))
    for key, value in (("started", st.started), ("ended", st.ended),
                       ("elapsed", duration(st.elapsed_s))):
        if value:
            pairs.append((key, value))
    if st.exit_code is not None:
        pairs.append(("exit code", st.exit_code))
    if st.signal:
        pairs.append(("signal", st.signal))
    if st.error:
        pairs.append(("error", st.error))
    if st.note:
        pairs.append(("note", st.note))
    if st.last_step is not None or st.planned_steps:
        pairs.append(("step", progress_text(st.last_step, st.planned_steps)))
    if st.eta_s is not None:
        pairs.append(("eta", duration(st.eta_s)))
    pairs += [(formats[name].title, formats[name].value(value) if is_number(value) else value)
              for name, value in st.metrics.items()]
    console.key_values(pairs)
