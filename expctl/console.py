"""The only module that prints. Data goes to stdout, messages to stderr.

On a terminal tables are drawn with rich; when piped (or asked with `--format`) they are plain
text, CSV, JSON, Markdown or LaTeX. rich is imported only when something is drawn with it, and
every rich console is built with markup off so a user's `[text]` is never read as formatting.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

TABLE_FORMATS = ("table", "json", "csv")


@dataclass(frozen=True)
class Cell:
    """A table cell with a style used on a terminal (e.g. "green", "bold red")."""

    text: str
    style: str = ""

    def __str__(self) -> str:
        return self.text


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _use_color(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def _rich_console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, markup=False, highlight=False, emoji=False)


# --- messages (stderr) ---------------------------------------------------------------------


def message(text: str, style: str = "") -> None:
    """A line for the user on stderr."""
    if style and _use_color(sys.stderr):
        _rich_console(stderr=True).print(text, style=style, soft_wrap=True)
    else:
        print(text, file=sys.stderr, flush=True)


def info(text: str) -> None:
    message(text)


def success(text: str) -> None:
    message(text, "green")


def warn(text: str) -> None:
    message(f"warning: {text}", "yellow")


def error(text: str, hint: str | None = None) -> None:
    message(f"error: {text}", "bold red")
    if hint:
        message(f"hint: {hint}", "dim")


def ask(question: str) -> str:
    """A question on stderr, the answer from stdin (one line; empty at end of input)."""
    sys.stderr.write(question)
    sys.stderr.flush()
    return sys.stdin.readline().strip()


# --- data (stdout) -------------------------------------------------------------------------


def out(text: str = "") -> None:
    """A line of data on stdout."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def passthrough(data: bytes) -> None:
    """A child process's output on stdout exactly as it wrote it (progress bars and all)."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def print_json(data: Any) -> None:
    """Strict JSON: inf and nan are written as the strings "inf", "-inf", "nan"."""
    from expctl.files import dumps_json

    out(dumps_json(data))


STREAM_LINES = 1000  # rows written to stdout at a time by the streaming writers


def json_records(items: Iterable[dict], key: str, after: Callable[[], dict]) -> None:
    """A JSON object `{key: [item, ...], **after()}` written as the items come, STREAM_LINES
    items per line (one write each), so a list of any length is never held whole; `after` is
    called once the items are written (metadata gathered on the way, such as formats)."""
    from itertools import islice

    from expctl.files import dumps_json

    write = sys.stdout.write
    write(f"{{{json.dumps(key)}: [")
    items = iter(items)
    separator = "\n"
    while chunk := list(islice(items, STREAM_LINES)):
        try:  # a whole chunk per call: the C encoder at its fastest
            text = json.dumps(chunk, allow_nan=False, default=str)
        except ValueError:  # a non-finite float: written as a string, as print_json does
            text = dumps_json(chunk, indent=None)
        write(separator + text[1:-1])
        separator = ",\n"
    write("\n]" if separator != "\n" else "]")
    for name, value in after().items():
        write(f", {json.dumps(name)}: {dumps_json(value, indent=None)}")
    write("}\n")
    sys.stdout.flush()


def csv_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """CSV written as the rows come (every digit of a float, as `table` writes csv)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for n, row in enumerate(rows, start=1):
        writer.writerow([_text(c, exact=True) for c in row])
        if n % STREAM_LINES == 0:
            sys.stdout.write(buf.getvalue())
            buf.seek(0)
            buf.truncate()
    sys.stdout.write(buf.getvalue())
    sys.stdout.flush()


def table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: str = "table",
    title: str | None = None,
    right_align: Sequence[str] = (),
) -> None:
    """Render rows in `fmt`: table (rich on a terminal, aligned text when piped), csv, json,
    md or latex. Cells may be Cell objects; None prints as an empty cell."""
    # Machine formats get numbers as they are (json: numbers; csv: every digit); people get the
    # strings expctl.numbers made.
    if fmt == "json":
        print_json([dict(zip(columns, [_raw(c) for c in r], strict=False)) for r in rows])
        return
    texts = [[_text(c, exact=fmt == "csv") for c in row] for row in rows]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(texts)
        sys.stdout.write(buf.getvalue())
    elif fmt == "md":
        out("| " + " | ".join(columns) + " |")
        out("|" + "|".join("---:" if c in right_align else "---" for c in columns) + "|")
        for r in texts:
            out("| " + " | ".join(t.replace("|", "\\|") for t in r) + " |")
    elif fmt == "latex":
        _latex(columns, texts, right_align)
    elif stdout_is_terminal():
        _rich_table(columns, rows, title, right_align)
    else:
        _plain_table(columns, texts, right_align)


def size(nbytes: int) -> str:
    """Bytes as people read them: `512 B`, `1.5 KB`, `2.3 GB` (powers of 1,024)."""
    value = float(nbytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{nbytes} B"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _raw(cell: Any) -> Any:
    if cell is None or isinstance(cell, (int, float, bool)):
        return cell
    return _text(cell)


def _text(cell: Any, exact: bool = False) -> str:
    """A cell as one line of plain text: a user's newline or terminal escape code is shown
    escaped, so it can neither fake a table row nor recolour the terminal. A float has six
    significant digits, or with `exact` as many as it takes to read it back unchanged."""
    if cell is None:
        return ""
    if isinstance(cell, float):
        return repr(cell) if exact else f"{cell:.6g}"
    text = str(cell)
    if text.isprintable():  # the common case: no control character (they are unprintable)
        return text
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def _plain_table(columns: Sequence[str], rows: list[list[str]], right_align: Sequence[str]) -> None:
    widths = [len(c) for c in columns]
    for r in rows:
        widths = [max(w, len(t)) for w, t in zip(widths, r, strict=False)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            t.rjust(w) if col in right_align else t.ljust(w)
            for t, w, col in zip(cells, widths, columns, strict=False)
        ]
        return "  ".join(parts).rstrip()

    out("\n".join([line(columns), *(line(r) for r in rows)]))  # one write: a long table


def plain_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]],
               right_align: Sequence[str] = (), least: dict[str, int] | None = None) -> None:
    """An aligned text table written as the rows come: the columns are as wide as the first
    STREAM_LINES rows (and `least`, {column: width}) need; a wider cell further down widens
    only its own line."""
    from itertools import islice

    rows = iter(rows)
    head = [[_text(c) for c in r] for r in islice(rows, STREAM_LINES)]
    widths = [max(len(c), (least or {}).get(c, 0)) for c in columns]
    for r in head:
        widths = [max(w, len(t)) for w, t in zip(widths, r, strict=False)]

    def line(cells: Sequence[str]) -> str:
        parts = [t.rjust(w) if col in right_align else t.ljust(w)
                 for t, w, col in zip(cells, widths, columns, strict=False)]
        return "  ".join(parts).rstrip() + "\n"

    write = sys.stdout.write
    write(line(columns) + "".join(line(r) for r in head))
    while chunk := list(islice(rows, STREAM_LINES)):
        write("".join(line([_text(c) for c in r]) for r in chunk))
    sys.stdout.flush()


def _rich_table(columns, rows, title, right_align) -> None:
    from rich.table import Table

    tbl = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        tbl.add_column(c, justify="right" if c in right_align else "left", overflow="fold")
    from rich.text import Text

    for row in rows:
        cells = []
        for c in row:
            style = c.style if isinstance(c, Cell) else ""
            cells.append(Text(_text(c), style=style))
        tbl.add_row(*cells)
    _rich_console().print(tbl)


def _latex(columns: Sequence[str], rows: list[list[str]], right_align: Sequence[str]) -> None:
    def esc(s: str) -> str:
        for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"),
                     ("#", r"\#"), ("_", r"\_"), ("{", r"\{"), ("}", r"\}")):
            s = s.replace(a, b)
        return s

    spec = "".join("r" if c in right_align else "l" for c in columns)
    out(r"\begin{tabular}{" + spec + "}")
    out(r"\toprule")
    out(" & ".join(esc(c) for c in columns) + r" \\")
    out(r"\midrule")
    for r in rows:
        out(" & ".join(esc(t) for t in r) + r" \\")
    out(r"\bottomrule")
    out(r"\end{tabular}")


def key_values(pairs: Sequence[tuple[str, Any]], title: str | None = None) -> None:
    """A two-column block of `key: value` lines (for `show`)."""
    if title:
        out(title)
    width = max((len(k) for k, _ in pairs), default=0)
    for k, v in pairs:
        out(f"  {k.ljust(width)}  {_text(v)}")


# --- progress ------------------------------------------------------------------------------


class PlainProgress:
    """Progress as plain lines on stderr, for logs and pipes."""

    def __init__(self, description: str, total: float | None):
        self.description, self.total, self._last = description, total, ""

    def update(self, completed: float | None = None, status: str = "") -> None:
        done = "?" if completed is None else f"{completed:g}"
        total = "?" if not self.total else f"{self.total:g}"
        line = f"{self.description}: {done}/{total}" + (f" · {status}" if status else "")
        if line != self._last:
            print(line, file=sys.stderr, flush=True)
            self._last = line


class RichProgress:
    def __init__(self, progress, task, total):
        self._progress, self._task, self.total = progress, task, total

    def update(self, completed: float | None = None, status: str = "") -> None:
        kwargs: dict[str, Any] = {"status": status}
        if completed is not None:
            kwargs["completed"] = completed
        self._progress.update(self._task, total=self.total or None, **kwargs)


@contextmanager
def progress(description: str, total: float | None) -> Iterator[PlainProgress | RichProgress]:
    """A progress bar on a terminal (stderr), plain lines otherwise. Time and ETA are the
    caller's (in `status`): counted from the job's start and its own pace, not from when
    this bar appeared, so the bar has no clock of its own."""
    if not sys.stderr.isatty():
        yield PlainProgress(description, total)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=_rich_console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total or None, status="")
        yield RichProgress(bar, task, total)
