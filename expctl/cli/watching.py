"""Watching a job: the live progress `wait` and `cycle` show, and what Ctrl-C says.

One line of progress for both: step/planned (the bar on a terminal), elapsed time since the
job started, one ETA from the job's own pace, the latest loss (expctl.launchers.status). Off a
terminal a plain line at most every PLAIN_EVERY_S seconds. Ctrl-C stops the watching, never
the job: the message says so and names the command that stops it.
"""

from __future__ import annotations

import time

PLAIN_EVERY_S = 10.0  # off a terminal: at most one progress line this often


def watch_job(ws, run, timeout: float | None = None, what: str = "training"):
    """Wait for `run`'s job, showing its progress; returns (final status, timed out)."""
    import sys

    from expctl import console
    from expctl.launchers.control import wait_for
    from expctl.launchers.status import watch_parts
    from expctl.registry.settings import read_settings

    loss = read_settings(ws).format("loss")
    plain = not sys.stderr.isatty()
    last_shown = [float("-inf")]
    with console.progress(f"{run.id} {what}", run.info.steps) as bar:
        def show(st) -> None:
            now = time.monotonic()
            if plain and st.state == "running" and now - last_shown[0] < PLAIN_EVERY_S:
                return
            last_shown[0] = now
            parts = watch_parts(st, loss)
            if st.state != "running":
                parts.append(st.state)
            bar.update(st.last_step, " · ".join(parts))

        return wait_for(run, timeout, on_update=show)


def job_goes_on(run_id: str, what: str = "training") -> None:
    """After Ctrl-C in a watching command: the job was not touched, and how to stop it."""
    from expctl import console

    console.error(f"interrupted: only the watching stopped; the {what} of run {run_id} goes on",
                  hint=f"stop it with `expctl stop {run_id}`; watch again with "
                  f"`expctl wait {run_id}`")


def interrupted(run) -> int:
    """What Ctrl-C in `wait` or `logs -F` says (the job goes on, if it still runs); the exit
    code (130)."""
    from expctl import console
    from expctl.errors import ExitCode
    from expctl.state import run_state

    if run_state(run) == "running":
        job_goes_on(run.id)
    else:
        console.error("interrupted")
    return int(ExitCode.INTERRUPTED)
