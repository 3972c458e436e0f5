"""The queue's order (expctl.queue.order.decide): priorities, arrival, strict first in first
out among ready runs, dependencies that wait or block."""

from __future__ import annotations

from expctl.queue.order import decide
from expctl.queue.store import Entry


def _entry(run_id: str, seq: int, need: int = 1, after: tuple = (), priority: int = 0) -> Entry:
    return Entry(run_id=run_id, seq=seq, queued="", need=need, after=list(after),
                 priority=priority)


def _actions(decisions) -> list[tuple]:
    return [(d.entry.run_id, d.action, d.reason, d.devices) for d in decisions]


def test_free_gpus_go_in_order_and_never_twice() -> None:
    waiting = [_entry("a", 1), _entry("b", 2, need=2), _entry("c", 3)]
    got = _actions(decide(waiting, [0, 1, 2, 3], busy={1}, unusable={}, dep_states={},
                          paused=False))
    assert got == [("a", "start", None, [0]), ("b", "start", None, [2, 3]),
                   ("c", "wait", "no free GPU", [])]


def test_a_big_run_first_in_line_holds_back_smaller_ones() -> None:
    waiting = [_entry("big", 1, need=2), _entry("small", 2)]
    got = _actions(decide(waiting, [0, 1], busy={0}, unusable={}, dep_states={}, paused=False,
                          unit="slot"))
    assert got == [("big", "wait", "no free slots (needs 2, 1 free)", []),
                   ("small", "wait", "behind run big", [])]


def test_dependencies_wait_or_block_without_holding_back_others() -> None:
    waiting = [_entry("w", 1, after=("x",)), _entry("b", 2, after=("y",)), _entry("go", 3)]
    got = _actions(decide(waiting, [0], busy=set(), unusable={},
                          dep_states={"x": "running", "y": "failed"}, paused=False))
    assert got == [("w", "wait", "waiting for run x (running)", []),
                   ("b", "block", "run y failed", []), ("go", "start", None, [0])]


def test_paused_low_memory_and_too_big() -> None:
    assert _actions(decide([_entry("a", 1)], [0], set(), {}, {}, paused=True)) == \
        [("a", "wait", "queue paused", [])]
    low = {0: "GPU 0 has 100 MiB free (< 2000)"}
    assert _actions(decide([_entry("a", 1)], [0, 1], {1}, low, {}, paused=False)) == \
        [("a", "wait", "no free GPU; GPU 0 has 100 MiB free (< 2000)", [])]
    assert _actions(decide([_entry("a", 1, need=3)], [0, 1], set(), {}, {}, False)) == \
        [("a", "block", "needs 3 GPUs, the queue has 2", [])]


def test_runs_behind_a_head_that_would_not_fit_either_keep_their_own_reason() -> None:
    """With no slot free, every waiting run says why on its own: the text stays the same as
    runs start one after the other, so the scheduler rewrites no entry behind the head."""
    waiting = [_entry("a", 1), _entry("b", 2), _entry("c", 3, need=2)]
    got = _actions(decide(waiting, [0, 1], busy={0, 1}, unusable={}, dep_states={},
                          paused=False, unit="slot"))
    assert got == [("a", "wait", "no free slot", []), ("b", "wait", "no free slot", []),
                   ("c", "wait", "no free slots (needs 2)", [])]
    after_a_start = _actions(decide(waiting[1:], [0, 1], busy={0, 1}, unusable={},
                                    dep_states={}, paused=False, unit="slot"))
    assert after_a_start[1:] == got[2:]
