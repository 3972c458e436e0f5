"""Whether a run is still at work (its training job or its validation), so that housekeeping
(`rm`, `archive`, `gc`) never pulls files from under a job."""

from __future__ import annotations

from expctl.runs import Run
from expctl.state import run_state, validation_state

# States in which a job may still write into the run folder: `running` (also a Slurm job
# pending or starting) and the transient states a launcher or a queue may report.
ACTIVE_STATES = ("running", "launched", "queued", "pending")


def busy_reason(run: Run) -> str | None:
    """Why the run must be left alone now (`it is running`, ...), or None when it is idle."""
    status = run_state(run)
    if status in ACTIVE_STATES:
        return f"it is {status}"
    if validation_state(run) == "running":
        return "its validation is running"
    return None
