"""The gather manifest, training_logs/gathered.json: what was gathered from where.

One entry per file with the source's size and modification time, so gathering again can tell
"already here" from "changed", and a source moved away with `--move` still counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from expctl.files import read_json, write_json
from expctl.runs import Run, now_iso

MANIFEST_FILE = "training_logs/gathered.json"
FINAL_CHECKPOINT = "checkpoints/final_model.ckpt"


def rel(path: Path, run: Run) -> str:
    """`path` relative to the run folder (absolute when outside it)."""
    try:
        return str(path.resolve().relative_to(run.path.resolve()))
    except ValueError:
        return str(path)


class Manifest:
    """training_logs/gathered.json: one entry per gathered file, with the source's size and
    modification time, so a second gather can tell "already here" from "changed"."""

    def __init__(self, path: Path, entries: list[dict[str, Any]]):
        self.path = path
        self.entries = entries
        self.changed = False

    @classmethod
    def load(cls, run: Run) -> Manifest:
        path = run.path / MANIFEST_FILE
        if not path.exists():
            return cls(path, [])
        data = read_json(path)
        entries = data.get("entries", []) if isinstance(data, dict) else []
        return cls(path, [e for e in entries if isinstance(e, dict) and "dest" in e])

    def save(self) -> None:
        if self.changed:
            write_json(self.path, {"version": 1, "entries": self.entries})

    def destinations(self, run: Run) -> set[Path]:
        """Files gathered into the run folder: never sources of another gather."""
        own = {(run.path / e["dest"]).resolve() for e in self.entries if e["action"] != "in place"}
        return own | {(run.path / FINAL_CHECKPOINT).resolve()}

    def entries_for(self, artifact: str, phase: str) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["artifact"] == artifact and e["phase"] == phase]

    def unchanged(self, artifact: str, source: Path, dest: Path, run: Run) -> bool:
        """The same source, not modified since, already gathered to `dest`."""
        if not dest.exists():
            return False
        stat = source.stat()
        where = rel(dest, run)
        return any(e["artifact"] == artifact and e["source"] == str(source) and e["dest"] == where
                   and e["size"] == stat.st_size and e["mtime_ns"] == stat.st_mtime_ns
                   for e in self.entries)

    def free_name(self, dest: Path, artifact: str, source: Path, phase: str, run: Run) -> Path:
        """`dest`, unless another source was gathered there: then `name_<phase>[_n].ext`, so a
        validation's confusion_matrix_latest.png never overwrites training's."""
        candidate, n = dest, 1
        while candidate.exists() and not self._owned_by(candidate, artifact, source, run):
            n += 1
            suffix = f"_{phase}" if n == 2 else f"_{phase}_{n - 1}"
            candidate = dest.with_name(f"{dest.stem}{suffix}{dest.suffix}")
        return candidate

    def _owned_by(self, dest: Path, artifact: str, source: Path, run: Run) -> bool:
        where = rel(dest, run)
        return any(e["dest"] == where and e["artifact"] == artifact and e["source"] == str(source)
                   for e in self.entries)

    def record(self, artifact: str, phase: str, source: Path, dest: Path, action: str,
               run: Run) -> None:
        where = rel(dest, run)
        try:
            stat = dest.stat() if action == "moved" else source.stat()
        except OSError:
            return
        previous = next((e for e in self.entries if e["dest"] == where), None)
        same = ("artifact", "source", "size", "mtime_ns")
        if previous is not None and all(previous[k] == v for k, v in zip(
                same, (artifact, str(source), stat.st_size, stat.st_mtime_ns), strict=True)):
            return  # gathered before, unchanged: keep the first record
        entry = {"artifact": artifact, "phase": phase, "source": str(source), "dest": where,
                 "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                 "action": action, "gathered": now_iso()}
        if previous is not None:
            self.entries.remove(previous)
        self.entries.append(entry)
        self.changed = True
