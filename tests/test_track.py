"""expctl.track: buffered, flushed every second and at exit, rank 0 only, a no-op outside
expctl, fork-safe; readers tolerate a torn last line. Each case runs in a fresh interpreter
because the module decides once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from expctl.track import read_last_records, read_records


def run_script(code: str, run_dir: Path | None, wait: bool = True, **env: str):
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("EXPCTL_RUN_DIR", "RANK", "SLURM_PROCID", "PMI_RANK",
                             "OMPI_COMM_WORLD_RANK")}
    if run_dir is not None:
        full_env["EXPCTL_RUN_DIR"] = str(run_dir)
    full_env.update(env)
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=full_env,
                            cwd=run_dir or None, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out


def test_records_are_written_in_order_at_exit(tmp_path):
    run_script("""
        from expctl import track
        class Scalar:  # like a numpy or torch scalar
            def item(self): return 0.5
        for step in range(1000):
            track.log({"loss": 1 / (step + 1), "lr": 3e-4}, step=step)
        track.log({"scalar": Scalar(), "odd": object, "text": "x"})
    """, tmp_path)
    records = read_records(tmp_path / "metrics.jsonl")
    assert len(records) == 1001
    assert [r["step"] for r in records[:1000]] == list(range(1000))
    assert records[0]["loss"] == 1.0 and records[0]["lr"] == 3e-4 and records[0]["time"] > 0
    last = records[-1]
    assert last["step"] is None and last["scalar"] == 0.5 and last["text"] == "x"
    assert last["odd"] == str(object)


def test_a_background_thread_flushes_within_a_second(tmp_path):
    proc = run_script("""
        import time
        from expctl import track
        track.log({"loss": 0.25}, step=7)
        time.sleep(30)
    """, tmp_path, wait=False)
    try:
        path = tmp_path / "metrics.jsonl"
        start = time.monotonic()
        while not read_records(path):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() - start < 2.5, "not flushed within about a second"
            time.sleep(0.02)
        assert read_records(path)[0]["loss"] == 0.25
    finally:
        proc.kill()
        proc.wait()


def test_outside_expctl_it_is_a_no_op(tmp_path):
    out = run_script(f"""
        import os, threading
        os.chdir({str(tmp_path)!r})
        from expctl import track
        track.log({{"loss": 1.0}}, step=1)
        track.flush()
        print(threading.active_count(), track._enabled)
    """, None)
    assert out.split() == ["1", "False"]
    assert list(tmp_path.iterdir()) == []


def test_only_rank_zero_writes(tmp_path):
    code = "from expctl import track\ntrack.log({'loss': 1.0}, step=1)\n"
    for env in ({"RANK": "1"}, {"SLURM_PROCID": "2"}, {"PMI_RANK": "3"}):
        run_script(code, tmp_path, **env)
    assert not (tmp_path / "metrics.jsonl").exists()
    run_script(code, tmp_path, RANK="0", SLURM_PROCID="5")  # the launcher's RANK wins
    assert len(read_records(tmp_path / "metrics.jsonl")) == 1


def test_a_forked_child_never_writes_its_parents_records(tmp_path):
    run_script("""
        import os
        from expctl import track
        track.log({"who": "parent-before-fork"}, step=1)
        pid = os.fork()
        if pid == 0:
            track.log({"who": "child"}, step=2)
            raise SystemExit(0)  # a normal exit: the child's atexit flush runs
        os.waitpid(pid, 0)
        track.log({"who": "parent-after-fork"}, step=3)
    """, tmp_path)
    whos = sorted(r["who"] for r in read_records(tmp_path / "metrics.jsonl"))
    assert whos == ["child", "parent-after-fork", "parent-before-fork"]


def test_readers_skip_a_torn_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": i, "loss": i / 10}) for i in range(50)]
    path.write_text("\n".join(lines) + "\n" + '{"step": 50, "lo')
    assert [r["step"] for r in read_records(path)] == list(range(50))
    tail = read_last_records(path, max_bytes=100)
    assert tail and tail[-1]["step"] == 49 and len(tail) < 50
    assert read_records(tmp_path / "missing.jsonl") == []
    assert read_last_records(tmp_path / "missing.jsonl") == []


def test_a_call_is_cheap(tmp_path):
    out = run_script("""
        import time
        from expctl import track
        track.log({"warm": 1})
        n = 50_000
        t0 = time.perf_counter()
        for i in range(n):
            track.log({"loss": 0.5, "acc": 0.9}, step=i)
        print((time.perf_counter() - t0) / n * 1e6)
    """, tmp_path)
    assert float(out) < 20  # bench/bench_track.py holds the real target (< 5 µs)
