"""Tags and notes of a run, kept in its folder as annotations.yaml (so `reindex` keeps them).

    tags: [promising, paper]
    notes:
      - {at: "2026-12-01T22:05:00+00:00", text: "loss spikes at 40k: lr too high?"}

Every change reads, edits and writes the file under the run folder's lock (as `record` does
for experiment_results.json), so concurrent `expctl tag` processes of one run all land.
`then` runs after the write, still under the lock: the CLI indexes the run there, so the
registry's last write of a run's tags is always of the file's last state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from expctl.errors import BadInputError
from expctl.files import read_yaml, validate, write_yaml
from expctl.ids import check_tag
from expctl.rundir import ANNOTATIONS_FILE, now_iso
from expctl.runs import Run, locked

MAX_NOTE_LENGTH = 10_000


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: str  # when it was written (ISO 8601 with offset)
    text: str


class Annotations(BaseModel):
    """annotations.yaml: the run's tags (sorted, unique) and its notes, oldest first."""

    model_config = ConfigDict(extra="forbid")

    tags: list[str] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)


def read_annotations(run_path: Path) -> Annotations:
    """The run's annotations; empty when the file does not exist."""
    path = run_path / ANNOTATIONS_FILE
    if not path.is_file():
        return Annotations()
    annotations = validate(Annotations, read_yaml(path), str(path))
    for tag in annotations.tags:  # a hand-edited file: a bad tag names the file
        try:
            check_tag(tag)
        except BadInputError as exc:
            raise BadInputError(f"{path}: {exc.message}", exc.hint) from None
    return annotations


def read_tags(run_path: Path) -> list[str]:
    return sorted(set(read_annotations(run_path).tags))


Then = Callable[[], object] | None


def change_tags(run: Run, add: Iterable[str] = (), remove: Iterable[str] = (),
                then: Then = None) -> list[str]:
    """Add and remove tags (checked first); returns the run's tags afterwards."""
    add = [check_tag(t) for t in add]
    remove = [check_tag(t) for t in remove]
    with locked(run.path):
        annotations = read_annotations(run.path)
        tags = (set(annotations.tags) | set(add)) - set(remove)
        annotations.tags = sorted(tags)
        _write(run.path, annotations, then)
    return annotations.tags


def add_note(run: Run, text: str, then: Then = None) -> Note:
    """Append a note with the time it was written."""
    text = text.strip()
    if not text:
        raise BadInputError("Empty note.", hint='e.g. expctl note RUN "lr too high after 40k"')
    if len(text) > MAX_NOTE_LENGTH:
        raise BadInputError(f"Note is {len(text)} characters long; at most {MAX_NOTE_LENGTH}.")
    note = Note(at=now_iso(), text=text)
    with locked(run.path):
        annotations = read_annotations(run.path)
        annotations.notes.append(note)
        _write(run.path, annotations, then)
    return note


def clear_notes(run: Run, then: Then = None) -> int:
    """Remove every note; returns how many there were."""
    with locked(run.path):
        annotations = read_annotations(run.path)
        count = len(annotations.notes)
        annotations.notes = []
        _write(run.path, annotations, then)
    return count


def _write(run_path: Path, annotations: Annotations, then: Then) -> None:
    path = run_path / ANNOTATIONS_FILE
    if not annotations.tags and not annotations.notes:
        path.unlink(missing_ok=True)  # nothing to say: no file
    else:
        write_yaml(path, annotations.model_dump(mode="json"))
    if then is not None:
        then()
