"""A run's gathered confusion matrices: the images (PNG) with their step, and the numbers
(JSON, NPY or CSV next to them) read into a matrix that can be normalised per row."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from expctl.runs import Run

FOLDER = "confusion_matrices"
NUMBER_SUFFIXES = (".json", ".npy", ".csv")
_STEP = re.compile(r"(?:step|_s)(\d+)", re.IGNORECASE)


@dataclass
class MatrixFiles:
    """One confusion matrix of a run: its image and/or its numbers, and the step it is from."""

    kind: str  # the file name with its numbers as `#`: matrices of one kind compare
    stem: str
    step: int | None
    image: Path | None = None
    numbers: Path | None = None


@dataclass
class Matrix:
    labels: list[str]
    counts: list[list[float]]  # rows: ground truth, columns: prediction

    def row_shares(self) -> list[list[float]]:
        """Each row divided by its total (a row without counts stays 0)."""
        return [[c / total if total else 0.0 for c in row]
                for row in self.counts for total in [sum(row)]]


def step_of(stem: str) -> int | None:
    found = _STEP.findall(stem)
    return int(found[-1]) if found else None


def run_matrices(run: Run) -> list[MatrixFiles]:
    """Every matrix in the run's confusion_matrices/ (recursively), grouped by file stem."""
    folder = run.path / FOLDER
    if not folder.is_dir():
        return []
    found: dict[Path, MatrixFiles] = {}
    for path in sorted(folder.rglob("*")):
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in (".png", *NUMBER_SUFFIXES):
            continue
        key = path.with_suffix("")
        entry = found.get(key)
        if entry is None:
            entry = found[key] = MatrixFiles(re.sub(r"\d+", "#", path.stem), path.stem,
                                             step_of(path.stem))
        if suffix == ".png":
            entry.image = path
        elif entry.numbers is None:
            entry.numbers = path
    return list(found.values())


def latest_by_kind(matrices: list[MatrixFiles]) -> dict[str, MatrixFiles]:
    """The highest-step matrix of each kind (a stepless one counts as newest of its kind)."""
    latest: dict[str, MatrixFiles] = {}
    for m in matrices:
        current = latest.get(m.kind)
        if current is None or (m.step if m.step is not None else -1) >= \
                (current.step if current.step is not None else -1):
            latest[m.kind] = m
    return latest


def read_matrix(path: Path) -> Matrix | None:
    """The counts of a JSON ({"matrix", "labels"} or a bare list of rows), NPY or CSV file;
    None when the file holds no square numeric matrix."""
    try:
        if path.suffix.lower() == ".json":
            counts, labels = _from_json(json.loads(path.read_text(encoding="utf-8")))
        elif path.suffix.lower() == ".npy":
            import numpy as np

            counts, labels = np.load(path, allow_pickle=False).tolist(), None
        else:
            counts, labels = _from_csv(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return None
    if not _square(counts):
        return None
    n = len(counts)
    if not labels or len(labels) != n:
        labels = [str(i) for i in range(n)]
    return Matrix([str(label) for label in labels], [[float(c) for c in row] for row in counts])


def _from_json(data) -> tuple[list, list | None]:
    if isinstance(data, dict):
        return data.get("matrix") or data.get("counts") or [], data.get("labels")
    return data, None


def _from_csv(text: str) -> tuple[list, list | None]:
    rows = [r for r in csv.reader(text.splitlines()) if r]
    labels = None
    if rows and not _numeric(rows[0][-1]):  # a header row of labels
        labels, rows = rows[0], rows[1:]
    if rows and not _numeric(rows[0][0]):  # a first column of labels
        labels = labels[1:] if labels and len(labels) == len(rows[0]) else labels
        labels = labels or [r[0] for r in rows]
        rows = [r[1:] for r in rows]
    return [[float(c) for c in r] for r in rows], labels


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _square(counts) -> bool:
    return (isinstance(counts, list) and counts and all(
        isinstance(r, list) and len(r) == len(counts) and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in r) for r in counts))
