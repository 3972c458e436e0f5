"""`expctl status`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from typing import Literal

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import format_option, run_argument
from expctl.cli.shared import is_number, load_given_run, progress_text

app = command_app()  # this module's command, built when it runs

StatusFormat = Literal["table", "json"]


EXAMPLES = """Examples:

\b
  expctl status                          # the current run
  expctl status 3scale_sizeaware_100k --format json
"""


@app.command(epilog=EXAMPLES)
def status(
    run_id: str | None = run_argument(),
    fmt: StatusFormat = format_option(StatusFormat),
) -> None:
    """A run's job: state, step, ETA, latest metrics.

    Read from the run folder and the job's processes: the state (with exit code or signal),
    time since the job started, last step of the planned steps, the ETA from the job's own
    pace and the latest values the job logged."""
    from dataclasses import asdict

    from expctl import console
    from expctl.launchers.status import duration, status_text
    from expctl.state import run_status

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
