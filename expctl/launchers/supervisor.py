"""The supervisor: runs one job, copies its output to stdout.log, records how it ended.

    python -m expctl.launchers.supervisor RUN_DIR/launch.json

Every launcher (local, screen, tmux) runs this module rather than the job itself, so the log,
the exit record and signal handling are the same everywhere:

- the job runs with launch.json's argv, cwd and environment, in its own session and process
  group, so a signal to the group reaches everything it started; its stdin is /dev/null so a
  detached job never waits for input;
- its stdout and stderr go to training_logs/stdout.log byte for byte, and to this process's
  stdout (the screen/tmux window) when that is still there;
- SIGINT, SIGTERM and SIGHUP are forwarded to the job's group. SIGHUP means the session was
  killed: nobody is left to escalate, so the job gets HUP_GRACE_S and is then killed;
- when the job ends, processes it left behind (in its group, or orphans re-parented to this
  supervisor) get SIGTERM, then SIGKILL: a finished run holds no GPU;
- training_logs/job.json is written when the job starts and again, atomically, when it ends.

Standard library only, and quick to start: it sits between `expctl launch` and the job.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from expctl.launchers.envfile import take_environment
from expctl.launchers.jobfiles import (
    group_alive,
    identity,
    live_processes,
    process_start_ticks,
)
from expctl.launchers.liveness import LAUNCH_ID_VARIABLE
from expctl.rundir import (
    JOB_FILE,
    LOG_FILE,
    SUPERVISOR_LOG,
    now_iso,
    read_json_file,
    write_exit_record,
)

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
HUP_GRACE_S = 10.0  # after the session is killed, the job's time to exit before SIGKILL
LEFTOVER_GRACE_S = 3.0  # processes the job left behind: time between SIGTERM and SIGKILL
POLL_S = 0.1  # how often the loop checks the job when it prints nothing
CHUNK = 65536


class Supervisor:
    """One job's life: start, copy output, forward signals, clean up, record."""

    def __init__(self, launch_path: Path, spec: dict[str, Any]):
        self.run_dir = launch_path.parent
        self.spec = spec
        self.child: subprocess.Popen | None = None
        self.stop_signal: int | None = None  # the first signal received, if any
        self.kill_at: float | None = None  # monotonic deadline set by SIGHUP
        self.echo = True  # copy output to our stdout until the terminal goes away
        self.log_fd = -1
        self.log_failed = False
        self.job_start: int | None = None
        self.hup_grace_s = float(spec.get("hup_grace_s", HUP_GRACE_S))
        self.started = now_iso()
        self.t0 = time.monotonic()

    # --- signals ----------------------------------------------------------------------------

    def on_signal(self, signum: int, _frame: Any) -> None:
        if self.stop_signal is None:
            self.stop_signal = signum
        if signum == signal.SIGHUP:
            self.echo = False  # the pty is gone; writes would fail with EIO
            if self.kill_at is None:
                self.kill_at = time.monotonic() + self.hup_grace_s
        self._signal_job(signum)

    def _signal_job(self, signum: int) -> None:
        if self.child is not None and self.child.returncode is None:
            try:
                os.killpg(self.child.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass

    # --- the job ----------------------------------------------------------------------------

    def run(self) -> int:
        for sig in FORWARDED:
            signal.signal(sig, self.on_signal)
        _become_subreaper()
        env = self._environment()
        log_path = self.run_dir / LOG_FILE
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        _make_nonblocking(1)
        if self.stop_signal is not None:  # stopped before it could start
            return self._finish(None, error="stopped before the job started")
        try:
            self.child = subprocess.Popen(
                self.spec["argv"], cwd=self.spec["cwd"], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            )
        except OSError as exc:
            what = exc.filename or self.spec["argv"][0]
            text = f"expctl: cannot start the job: {exc.strerror}: {what}"
            self._copy((text + "\n").encode())
            code = 127 if isinstance(exc, FileNotFoundError) else 126
            return self._finish(code, error=text)
        self.job_start = process_start_ticks(self.child.pid)
        write_exit_record(self.run_dir / JOB_FILE, self._record(state="running"))
        if self.stop_signal is not None:  # arrived while the job was being spawned
            self._signal_job(self.stop_signal)
        self._pump()
        return self._finish(self.child.returncode)

    def _environment(self) -> dict[str, str]:
        """The launching shell's environment (from a private file, removed once read: it may
        hold secrets), then what expctl sets. Inheriting would be wrong: a tmux server keeps
        the environment of whoever started it."""
        env = dict(os.environ)
        env_file = self.spec.get("env_file")
        if env_file:
            saved = take_environment(Path(env_file), os.environ)
            if saved is not None:
                env = saved
                if "SLURM_JOB_ID" in os.environ:  # a Slurm job: its allocation's variables win
                    env = {k: v for k, v in env.items() if not _allocation_variable(k)}
                    env.update((k, v) for k, v in os.environ.items() if _allocation_variable(k))
            else:
                self._note(f"environment file {env_file} is missing; using the session's")
        env.update(self.spec.get("env", {}))
        # Marks every process of this launch, so it is found even if this supervisor dies.
        env[LAUNCH_ID_VARIABLE] = str(self.spec.get("launch_id") or "")
        return env

    def _pump(self) -> None:
        """Copy output until the job and everything holding its output pipe are gone."""
        assert self.child is not None and self.child.stdout is not None
        fd = self.child.stdout.fileno()
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        drain_until: float | None = None
        while True:
            if selector.select(POLL_S):
                data = os.read(fd, CHUNK)
                if not data:
                    break
                self._copy(data)
            self._reap()
            self._escalate()
            if self.child.returncode is not None and drain_until is None:
                # The job is gone; whatever it left behind may hold the pipe open forever.
                self._stop_leftovers()
                drain_until = time.monotonic() + 1.0
            if drain_until is not None and time.monotonic() > drain_until:
                break
        selector.close()
        self.child.stdout.close()
        while self.child.returncode is None:
            time.sleep(0.02)
            self._reap()
            self._escalate()
        self._stop_leftovers()

    def _reap(self) -> None:
        """Collect every exited child: the job, and orphans re-parented to this subreaper.
        Popen must not wait itself: after our waitpid it would report exit code 0."""
        assert self.child is not None
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.child.pid:
                self.child.returncode = os.waitstatus_to_exitcode(status)

    def _escalate(self) -> None:
        if self.kill_at is not None and time.monotonic() > self.kill_at:
            self.kill_at = None
            self._signal_job(signal.SIGKILL)

    def _stop_leftovers(self) -> None:
        """SIGTERM, then SIGKILL, whatever the job left running."""
        assert self.child is not None
        pgid = self.child.pid
        for sig, grace in ((signal.SIGTERM, LEFTOVER_GRACE_S), (signal.SIGKILL, 2.0)):
            orphans = _my_children(exclude=pgid)
            if not group_alive(pgid) and not orphans:
                return
            for target in orphans:
                _kill(target, sig)
            try:
                os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                self._reap()
                if not group_alive(pgid) and not _my_children(exclude=pgid):
                    return
                time.sleep(0.02)

    # --- output and records -----------------------------------------------------------------

    def _copy(self, data: bytes) -> None:
        try:
            _write_all(self.log_fd, data)
        except OSError as exc:  # e.g. a full disk: keep draining, or the job would block
            if not self.log_failed:
                self.log_failed = True
                self._note(f"cannot write {LOG_FILE}: {exc}; output is being lost")
        if self.echo:
            try:
                os.write(1, data)  # best effort: a full or vanished terminal must not stall us
            except BlockingIOError:
                pass
            except OSError:
                self.echo = False

    def _record(self, state: str, **extra: Any) -> dict[str, Any]:
        me = identity(os.getpid())
        record: dict[str, Any] = {
            "launch_id": self.spec.get("launch_id"),
            "state": state,
            "started": self.started,
            "supervisor": me,
            "job_pid": self.child.pid if self.child else None,  # also the job's process group
            "job_start": self.job_start,  # with job_pid, tells the job from a reused pid
        }
        record.update(extra)
        return record

    def _finish(self, returncode: int | None, error: str | None = None) -> int:
        """Write the exit record; returns this process's exit status (the job's, like a shell)."""
        sig = -returncode if returncode is not None and returncode < 0 else None
        code = returncode if returncode is not None and returncode >= 0 else None
        record = self._record(
            "ended",
            ended=now_iso(),
            elapsed_s=round(time.monotonic() - self.t0, 3),
            exit_code=code,
            signal=_signal_name(sig),
            stop_signal=_signal_name(self.stop_signal),
            error=error,
        )
        if error is not None and len(error) > 2000:
            record["error"] = error[:2000]  # the record must fit in its reserved space
        write_exit_record(self.run_dir / JOB_FILE, record)
        if self.log_fd >= 0:
            os.close(self.log_fd)
        if sig is not None:
            return 128 + sig
        return code if code is not None else 1

    def _note(self, text: str) -> None:
        """Best effort: on a full disk the note is lost, never the exit record after it."""
        try:
            with open(self.run_dir / SUPERVISOR_LOG, "a", encoding="utf-8") as f:
                f.write(f"{now_iso()} {text}\n")
        except OSError:
            pass


def _allocation_variable(name: str) -> bool:
    """Set by Slurm on the node for this job (ids, nodes, GPUs): never the launching shell's."""
    return name.startswith(("SLURM_", "SLURMD_", "PMI_", "PMIX_")) or name in (
        "CUDA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "ROCR_VISIBLE_DEVICES", "TMPDIR")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _make_nonblocking(fd: int) -> None:
    try:
        os.set_blocking(fd, False)
    except OSError:
        pass


def _signal_name(number: int | None) -> str | None:
    if number is None:
        return None
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"SIG{number}"


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _become_subreaper() -> None:
    """Orphans of the job (e.g. daemonised helpers) are re-parented to us, not to init, so
    they can be found and stopped when the job ends. Linux only; elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _my_children(exclude: int) -> list[int]:
    """Live (non-zombie) children of this process other than `exclude`, found through /proc."""
    me = str(os.getpid()).encode()
    return [pid for pid, fields in live_processes()
            if pid != exclude and len(fields) > 1 and fields[1] == me]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m expctl.launchers.supervisor RUN_DIR/launch.json", file=sys.stderr)
        return 2
    launch_path = Path(args[0]).resolve()
    spec = read_json_file(launch_path)
    if spec is None or not spec.get("argv"):
        print(f"expctl supervisor: cannot read {launch_path}", file=sys.stderr)
        return 2
    supervisor = Supervisor(launch_path, spec)
    try:
        return supervisor.run()
    except BaseException as exc:  # noqa: BLE001 - recorded, so the run is not silently lost
        supervisor._note("supervisor failed:\n" + traceback.format_exc())
        # A job nobody watches any more would be invisible to `stop`: end it with us.
        supervisor._signal_job(signal.SIGKILL)
        try:
            return supervisor._finish(None, error=f"supervisor failed: {exc!r}")
        except OSError:
            return 1


if __name__ == "__main__":
    sys.exit(main())
