"""The types of the fields expctl reads from a job's exit record (training_logs/job.json),
checked before the record is used: a hand-edited or garbled record is one clear error naming
the file, never a crash in whatever reads the field first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from expctl.errors import BadInputError

_TEXT = (str,)
_NUMBER = (int, float)
# field -> the types it may have besides null
JOB_FIELDS: dict[str, tuple[type, ...]] = {
    "launch_id": _TEXT, "state": _TEXT, "started": _TEXT, "ended": _TEXT,
    "elapsed_s": _NUMBER, "exit_code": (int,), "signal": (str, int), "stop_signal": (str, int),
    "job_pid": (int,), "job_start": (int,), "error": _TEXT, "supervisor": (dict,),
}
_WORDS = {_TEXT: "a string", _NUMBER: "a number", (int,): "an integer",
          (str, int): "a signal name or number", (dict,): "a mapping"}


def check_job_record(job: dict[str, Any], path: Path) -> dict[str, Any]:
    """`job` when every known field has its type (booleans are not numbers); else BadInputError."""
    for name, types in JOB_FIELDS.items():
        value = job.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            raise BadInputError(
                f"{path}: `{name}` must be {_WORDS[types]}, not {value!r:.40}.",
                hint="expctl's supervisor writes this file: restore it from git or a backup, "
                "or delete it (the run then shows as lost)")
    return job
