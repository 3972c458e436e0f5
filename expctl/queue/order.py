"""Which queued runs start now, and why the others wait: one pure function, used by the
scheduler to act and by `expctl queue` to explain.

Order: priority (highest first), then arrival. A run whose dependencies are not finished
waits without holding anyone back; a run with a failed dependency is blocked. Among the
ready runs the order is strict: when the first one does not fit in the free devices, the
runs behind it wait too, so a run needing several GPUs is never starved by smaller ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from expctl.queue.store import Entry

ENDED_BADLY = ("failed", "killed", "lost", "blocked", "missing", "imported")


@dataclass
class Decision:
    entry: Entry
    action: str  # start, wait or block
    reason: str | None = None
    devices: list[int] = field(default_factory=list)


def decide(waiting: Sequence[Entry], devices: Sequence[int], busy: set[int],
           unusable: dict[int, str], dep_states: dict[str, str], paused: bool,
           unit: str = "GPU") -> list[Decision]:
    """A decision for each waiting entry (already in queue order)."""
    taken = set(busy)
    decisions = []
    head: Entry | None = None  # the first ready run that did not fit
    for entry in waiting:
        blocked = [f"run {d} {dep_states.get(d, 'missing')}" for d in entry.after
                   if dep_states.get(d, "missing") in ENDED_BADLY]
        if blocked:
            decisions.append(Decision(entry, "block", "; ".join(blocked)))
            continue
        pending = [f"{d} ({dep_states.get(d)})" for d in entry.after
                   if dep_states.get(d) != "finished"]
        if pending:
            decisions.append(Decision(entry, "wait", "waiting for run " + ", ".join(pending)))
            continue
        if paused:
            decisions.append(Decision(entry, "wait", "queue paused"))
            continue
        free = [d for d in devices if d not in taken and d not in unusable]
        if head is not None:
            # Named only when it would fit but for the order; otherwise the reason it has on
            # its own, which stays the same as the head changes (no rewrite of every entry).
            why = f"behind run {head.run_id}" if len(free) >= entry.need else _no_free(entry, unit)
            decisions.append(Decision(entry, "wait", why))
            continue
        if entry.need > len(devices):
            decisions.append(Decision(entry, "block", f"needs {entry.need} {unit}s, the queue "
                                      f"has {len(devices)}"))
            continue
        if len(free) >= entry.need:
            chosen = free[:entry.need]
            taken.update(chosen)
            decisions.append(Decision(entry, "start", None, chosen))
            continue
        head = entry
        why = f"no free {unit}" if entry.need == 1 else \
            f"no free {unit}s (needs {entry.need}, {len(free)} free)"
        low = [unusable[d] for d in devices if d in unusable and d not in taken]
        decisions.append(Decision(entry, "wait", why + (f"; {low[0]}" if low else "")))
    return decisions


def _no_free(entry: Entry, unit: str) -> str:
    return f"no free {unit}" if entry.need == 1 else f"no free {unit}s (needs {entry.need})"
