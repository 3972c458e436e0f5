"""Slurm: run a job through `sbatch`, track it by job id, stop it with `scancel`.

`start` writes `slurm-<name>.sh` into the run folder and submits it with `sbatch --parsable`;
the job name, output file and working directory travel as sbatch arguments, and the script
holds only `#SBATCH` lines from the recipe's and workspace's `slurm:` settings plus the
shell-quoted argv it runs (for training: expctl's supervisor and the path of launch.json, so
no user text ever reaches a shell). The script records its own exit code in
`training_logs/slurm-<job id>.exit.json`, also when Slurm signals it (TERM: cancelled or out
of time), because Slurm forgets finished jobs after MinJobAge and its accounting reports exit
codes above 128 badly.

A job's state comes from, in order: the supervisor's exit record (status.py), squeue (while
Slurm remembers the job), sacct (accounting, or `sacct -c` over a jobcomp file), then the
script's exit file. Accelerate jobs run under `srun`, one task per node; each task runs
`python -m expctl.launchers.slurm node ACCELERATE-ARGV...`, which adds `--num_machines`,
`--machine_rank` and `--main_process_ip` from Slurm's environment.

Standard library only at the top: status.py imports this module for every Slurm run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expctl.errors import ConflictError, ExpctlError, MissingToolError
from expctl.launchers.base import Started
from expctl.rundir import now_iso, parse_iso, read_json_file, write_json_atomic

LOGS = "training_logs"
ACTIVE = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED",
                    "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT",
                    "STOPPED", "RESV_DEL_HOLD"})
# Slurm's end states without an exit record: how expctl names them (state, signal).
ENDED_AS = {"COMPLETED": ("finished", None), "FAILED": ("failed", None),
            "CANCELLED": ("killed", "SIGTERM"), "TIMEOUT": ("killed", "SIGTERM"),
            "PREEMPTED": ("killed", "SIGTERM"), "DEADLINE": ("killed", "SIGTERM"),
            "OUT_OF_MEMORY": ("killed", "SIGKILL"), "NODE_FAIL": ("lost", None),
            "BOOT_FAIL": ("lost", None), "REVOKED": ("lost", None)}
NOT_STARTED = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED"})
SUBMIT_GRACE_S = 30.0  # a job Slurm does not know yet, this soon after sbatch, is "running"
STOP_WAIT_S = 120.0  # after scancel: KillWait (30 s by default) and the record's writing
MAIN_PORT_BASE = 29500  # accelerate's rendezvous port: this plus the job id modulo 2000


def _run(argv: list[str], timeout: float = 30.0) -> subprocess.CompletedProcess:
    """A Slurm client command; a missing or hanging client becomes an ExpctlError."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        raise MissingToolError(f"Slurm's `{argv[0]}` is not installed here.",
                               hint="run expctl on a Slurm login node") from None
    except subprocess.TimeoutExpired:
        raise ExpctlError(f"`{argv[0]}` did not answer within {timeout:g}s.",
                          hint="is the Slurm controller up? try `scontrol ping`") from None


# --- settings and the batch script -----------------------------------------------------------


def slurm_spec(run_dir: Path) -> Any:
    """The run's sbatch settings: the workspace's `slurm:` defaults, then its recipe's keys."""
    from expctl.files import read_yaml, validate
    from expctl.recipes import SlurmSpec
    from expctl.workspace import Workspace

    workspace = Workspace(run_dir.parent.parent)  # runs/<id>
    merged = workspace.settings.slurm.model_dump(exclude_none=True)
    config_path = run_dir / "config.yaml"
    config = (read_yaml(config_path) or {}) if config_path.exists() else {}
    recipe = validate(SlurmSpec, config.get("slurm") or {}, f"{config_path}: slurm")
    ours = recipe.model_dump(exclude_none=True)
    extra = merged.pop("extra", []) + ours.pop("extra", [])
    merged.update(ours)
    return SlurmSpec(**merged, extra=extra)


def sbatch_options(spec: Any) -> list[str]:
    """The `#SBATCH` options for `spec`: one task per node, then each setting that is set."""
    options = [f"--nodes={spec.nodes or 1}", "--ntasks-per-node=1"]
    pairs = (("cpus-per-task", spec.cpus_per_task), ("gpus-per-node", spec.gpus_per_node or None),
             ("mem", spec.mem), ("time", spec.time), ("partition", spec.partition),
             ("account", spec.account), ("qos", spec.qos), ("constraint", spec.constraint))
    options += [f"--{name}={value}" for name, value in pairs if value is not None]
    return options + list(spec.extra)


def batch_script(argv: list[str], options: list[str], logs_dir: Path,
                 after: list[str] | None = None, tasks: Path | None = None) -> str:
    """A bash batch script that runs `argv` and records how it ended.

    TERM (scancel, time limit) is recorded as 143 at once, since SIGKILL follows KillWait
    seconds later, then passed on. INT and USR1 (e.g. `--signal=B:USR1@300` before the time
    limit) become SIGINT for the command: expctl's "save and exit" request. `after` runs
    next, with the same signals (for the supervisor: it waits while a job whose supervisor
    died lives on, so the Slurm job stays RUNNING exactly as long as the job).

    With `tasks` (a job array's task-index file, one run folder per line) each task reads its
    run folder from line SLURM_ARRAY_TASK_ID, records its end there as
    `slurm-<array job>_<task>.exit.json`, and runs `argv` + that run's launch.json."""
    sbatch = "".join(f"#SBATCH {option}\n" for option in options)
    then = "" if not after else f"""
# Its job may outlive a supervisor that died: the Slurm job lasts while any of it runs.
first=$code
{shlex.join(after)} &
child=$!
wait_child
[ "$code" -eq 0 ] && code=$first
"""
    job = '"$SLURM_JOB_ID"'
    exit_file = shlex.quote(str(logs_dir)) + '/slurm-"$SLURM_JOB_ID".exit.json'
    command = shlex.join(argv)
    resolve = ""
    if tasks is not None:
        job = '"$task_id"'
        exit_file = f'"$run_dir"/{LOGS}/slurm-"$task_id".exit.json'
        command += ' "$run_dir"/launch.json'
        resolve = (f"mapfile -t runs < {shlex.quote(str(tasks))}\n"
                   'run_dir="${runs[$SLURM_ARRAY_TASK_ID]}"\n'
                   'task_id="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"\n')
    return f"""#!/bin/bash
{sbatch}# Written by expctl. The command's working directory and environment are in launch.json.
export PYTHONUNBUFFERED=1
{resolve}exit_file={exit_file}
child=""

record() {{  # exit code, signal name or nothing
    local signal=null
    [ -n "$2" ] && signal="\\"$2\\""
    printf '{{"job_id": "%s", "exit_code": %d, "signal": %s, "ended": "%s", "host": "%s"}}\\n' \\
        {job} "$1" "$signal" "$(date -Iseconds)" "$(hostname)" >"$exit_file.tmp" &&
        mv -f "$exit_file.tmp" "$exit_file"
}}
on_term() {{
    record 143 SIGTERM
    [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}}
save_and_exit() {{
    [ -n "$child" ] && kill -INT "$child" 2>/dev/null
}}
trap on_term TERM
trap save_and_exit INT USR1
wait_child() {{  # sets code: the child's exit status
    while :; do
        wait "$child"
        code=$?
        [ "$code" -le 128 ] && break
        # Above 128: killed by a signal, or `wait` was cut short by a trapped one.
        kill -0 "$child" 2>/dev/null && continue
        wait "$child"  # it ended meanwhile: its status, unless the first wait had it (127)
        again=$?
        [ "$again" -ne 127 ] && code=$again
        break
    done
}}

{command} &
child=$!
wait_child
{then}[ -f "$exit_file" ] || record "$code" ""
exit "$code"
"""


def exit_file(run_dir: Path, job_id: str) -> Path:
    return run_dir / LOGS / f"slurm-{job_id}.exit.json"


def submit(argv: list[str], run_dir: Path, name: str, spec: Any,
           after: list[str] | None = None) -> str:
    """Write the batch script into the run folder, submit it, return the job id."""
    logs_dir = run_dir / LOGS
    logs_dir.mkdir(parents=True, exist_ok=True)
    script = run_dir / f"slurm-{name}.sh"
    script.write_text(batch_script(argv, sbatch_options(spec), logs_dir, after),
                      encoding="utf-8")
    output = str(logs_dir).replace("%", "%%") + f"/slurm-{name}-%j.out"
    command = ["sbatch", "--parsable", f"--job-name={name}", f"--output={output}",
               f"--chdir={run_dir}", "--export=ALL", str(script)]
    return _sbatch(command, script, "job")


def submit_array(argv: list[str], tasks: Path, name: str, spec: Any, output_dir: Path,
                 dependency: str | None = None) -> str:
    """Submit one job array, task i running `argv` + the launch.json of line i of `tasks`;
    returns the array's job id (task i is `<id>_<i>`)."""
    count = len([line for line in tasks.read_text(encoding="utf-8").splitlines() if line])
    script = output_dir / f"slurm-{name}.sh"
    script.write_text(batch_script(argv, sbatch_options(spec), output_dir, tasks=tasks),
                      encoding="utf-8")
    output = str(output_dir).replace("%", "%%") + "/slurm-%A_%a.out"
    command = ["sbatch", "--parsable", f"--job-name={name}", f"--array=0-{count - 1}",
               f"--output={output}", f"--chdir={output_dir}", "--export=ALL"]
    if dependency:
        command.append(f"--dependency=afterok:{dependency}")
    return _sbatch([*command, str(script)], script, "job array")


def _sbatch(command: list[str], script: Path, what: str) -> str:
    """Run `sbatch --parsable ...`; the job id, or why sbatch refused (naming the script)."""
    result = _run(command)
    job_id = result.stdout.strip().split(";")[0]
    if result.returncode != 0 or not job_id.isdigit():
        why = " ".join((result.stderr or result.stdout).split()) or f"exit {result.returncode}"
        raise ExpctlError(f"sbatch refused the {what}: {why}",
                          hint=f"check the `slurm:` settings; the script is {script}")
    return job_id


_JOB_ID = re.compile(r"\d+(_\d+)?")  # a job, or one task of a job array


def is_job_id(text: str) -> bool:
    return bool(_JOB_ID.fullmatch(text))


# --- what Slurm knows about a job --------------------------------------------------------------


@dataclass
class SlurmJob:
    """A job as Slurm (or the batch script's exit file) reports it."""

    job_id: str
    state: str  # Slurm's word: PENDING, RUNNING, COMPLETED, CANCELLED, ... or UNKNOWN
    node: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    signal: str | None = None
    source: str = "squeue"  # squeue, sacct, or none (Slurm does not know it, or cannot say)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def query_job(job_id: str, name: str | None = None) -> SlurmJob:
    """squeue while Slurm holds the job, then sacct (accounting, or `sacct -c`). A job whose
    name is not `name` is another job that reuses the id (a new cluster): not ours. Without
    Slurm's commands or controller the state is UNKNOWN, with the reason."""
    try:
        return _query_job(job_id, name)
    except ExpctlError as exc:
        return SlurmJob(job_id, "UNKNOWN", reason=exc.message, source="none")


def _query_job(job_id: str, name: str | None) -> SlurmJob:
    # -r: one line per array task, also for tasks still pending as one record
    result = _run(["squeue", "-h", "-r", "-j", job_id, "--states=all", "-o", "%T|%N|%r|%j"])
    line = result.stdout.strip().splitlines()[-1:] if result.returncode == 0 else []
    if line:
        state, node, reason, job_name = (line[0].split("|") + ["", "", "", ""])[:4]
        if name is None or job_name == name:
            return SlurmJob(job_id, state.split()[0], node or None,
                            None if reason in ("None", "") else reason)
    elif result.returncode != 0 and "Invalid job id" not in result.stderr:
        return SlurmJob(job_id, "UNKNOWN", reason=" ".join(result.stderr.split())[:200],
                        source="none")
    return _sacct(job_id, name) or SlurmJob(job_id, "UNKNOWN", source="none")


def _sacct(job_id: str, name: str | None) -> SlurmJob | None:
    fields = ["-n", "-P", "-X", "-j", job_id, "-o", "JobID,JobName,State,ExitCode,NodeList"]
    for argv in (["sacct", *fields], ["sacct", "-c", *fields]):
        result = _run(argv)
        if result.returncode != 0:
            continue  # no accounting here: try the jobcomp file
        rows = [r.split("|") for r in result.stdout.splitlines() if r.count("|") >= 4]
        rows = [r for r in rows if r[0] == job_id and (name is None or r[1] == name)]
        if rows:
            _, _, state, code, node = rows[-1][:5]
            exit_code, signal = _exit_pair(code)
            return SlurmJob(job_id, state.split()[0], None if node in ("", "(null)") else node,
                            exit_code=exit_code, signal=signal, source="sacct")
    return None


def _exit_pair(text: str) -> tuple[int | None, str | None]:
    """sacct's `code:signal` as (exit code, signal name)."""
    code, _, sig = text.partition(":")
    try:
        number = int(sig or 0)
        if number:
            import signal as signals

            try:
                return None, signals.Signals(number).name
            except ValueError:
                return None, f"SIG{number}"
        return int(code), None
    except ValueError:
        return None, None


def read_exit_file(run_dir: Path, job_id: str) -> dict[str, Any] | None:
    record = read_json_file(exit_file(run_dir, job_id))
    return record if record is not None and str(record.get("job_id")) == job_id else None


def slurm_view(run_dir: Path, launch: dict[str, Any], record: dict[str, Any] | None
               ) -> dict[str, Any]:
    """The job's state for status.py when the supervisor has not recorded an end: the
    JobStatus fields to set (state, exit_code, signal, ended, slurm_state, node, reason)."""
    job_id = str(launch.get("session") or "")
    launched = parse_iso(launch.get("launched")) or 0.0
    recently = time.time() - launched < SUBMIT_GRACE_S
    if not is_job_id(job_id):  # being submitted; long after, sbatch must have failed
        return {"state": "running" if recently else "lost", "slurm_state": "SUBMITTING"}
    job = query_job(job_id, launch.get("job_name") or launch.get("run_id"))
    view: dict[str, Any] = {"slurm_state": job.state, "node": job.node, "reason": job.reason}
    if job.active:
        return {**view, "state": "running"}
    done = read_exit_file(run_dir, job_id)
    if done is not None and done.get("supervisor_died"):
        killed = done.get("signal")
        note = ("its supervisor died; the job was stopped" if killed else
                "the job ended after its supervisor died; exit code unknown")
        return {**view, "state": "killed" if killed else "lost", "exit_code": None,
                "signal": killed, "ended": done.get("ended"), "note": note,
                "node": job.node or done.get("host")}
    if done is not None:  # the batch script outlived its command and said how it ended
        killed = done.get("signal")
        state = "killed" if killed else ("finished" if done.get("exit_code") == 0 else "failed")
        return {**view, "state": state, "exit_code": None if killed else done.get("exit_code"),
                "signal": killed, "ended": done.get("ended"), "node": job.node or done.get("host")}
    if job.state in ENDED_AS:
        state, signal = ENDED_AS[job.state]
        return {**view, "state": state, "exit_code": job.exit_code if state != "killed" else None,
                "signal": job.signal or signal}
    if job.state == "UNKNOWN" and job.source == "none" and job.reason:
        return {**view, "state": "running"}  # the controller does not answer: we cannot tell
    return {**view, "state": "running" if recently and record is None else "lost"}


# --- stop --------------------------------------------------------------------------------------


def stop_job(run: Any, state_of: Callable[[], Any], force: bool = False, grace: float = 30.0,
             notify: Callable[[str], None] = lambda _text: None) -> Any:
    """Cancel a pending job at once; ask a running one to save and exit (SIGINT), then
    `scancel` it after `grace` seconds (at once with `force`). scancel exits 0 even for
    unknown jobs, so every step is checked against the job's state (`state_of()`, the run's
    derived status)."""
    status = state_of()
    job_id = str(status.session or "")
    if status.state != "running" or not is_job_id(job_id):
        raise ConflictError(f"Run `{run.id}` is not running ({status.state}).")
    if not force and status.slurm_state == "RUNNING":
        # Only the batch script (which passes SIGINT to expctl's supervisor) and the srun
        # steps (accelerate's processes); never both to the same process.
        _scancel(["--batch", "--signal=INT", job_id])
        _scancel(["--signal=INT", job_id], quiet=True)
        notify(f"sent SIGINT to Slurm job {job_id} of run {run.id}; waiting up to {grace:g}s")
        if _wait_ended(state_of, grace):
            return state_of()
    was_pending = status.slurm_state in NOT_STARTED
    _scancel([job_id])
    notify(f"cancelled Slurm job {job_id} of run {run.id}; waiting for it to end")
    if not _wait_ended(state_of, STOP_WAIT_S):
        final = query_job(job_id)
        raise ExpctlError(f"Slurm job {job_id} of run `{run.id}` is still {final.state} "
                          "after scancel.", hint=f"see `scontrol show job {job_id}`")
    if was_pending and read_exit_file(run.path, job_id) is None:
        # It never ran, so nothing else will record how it ended, and Slurm forgets it.
        _write_exit(run.path, job_id, 143, "SIGTERM")
    return state_of()


def _scancel(args: list[str], quiet: bool = False) -> None:
    result = _run(["scancel", *args])
    if result.returncode != 0 and not quiet:
        raise ExpctlError(f"scancel failed: {' '.join(result.stderr.split())}")


def _wait_ended(state_of: Callable[[], Any], wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while state_of().state == "running":
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def _write_exit(run_dir: Path, job_id: str, code: int, signal: str | None) -> None:
    """The batch script's record, for a job cancelled before it ran (so on no node)."""
    path = exit_file(run_dir, job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"job_id": job_id, "exit_code": code, "signal": signal,
                             "ended": now_iso(), "host": None})


# --- the launcher --------------------------------------------------------------------------------


class SlurmLauncher:
    """Submits the command as a Slurm batch job; the session is the job id."""

    name = "slurm"
    handle = "job"
    attachable = False
    exports_environment = True  # sbatch --export=ALL: no environment file to outlive the job

    def check_available(self) -> None:
        if shutil.which("sbatch") is None:
            raise MissingToolError(
                "Slurm's sbatch is not installed here: launch from a Slurm login node, "
                "or use --screen, --tmux or --local.")

    def session_name(self, run_id: str) -> str:
        return run_id  # the job name; Slurm allows duplicates, the job id is the handle

    def start(self, supervisor_argv: list[str], run_dir: Path, name: str | None) -> Started:
        spec = slurm_spec(run_dir)
        argv = list(supervisor_argv)
        if spec.python and argv and argv[0] == sys.executable:
            argv[0] = spec.python
        after = None
        if argv[1:3] == ["-m", "expctl.launchers.supervisor"]:
            after = [argv[0], "-m", "expctl.launchers.slurm", "orphans", argv[-1]]
        job_id = submit(argv, run_dir, name or run_dir.name, spec, after)
        return Started(job_id, lambda: False, queued=True)

    def session_alive(self, session: str) -> bool:
        return is_job_id(session) and query_job(session).active

    def attach_argv(self, session: str) -> list[str]:
        from expctl.errors import BadInputError

        raise BadInputError(f"Slurm job {session} has no terminal to attach to.",
                            hint="follow its output with `expctl logs -F`")

    def adapt_command(self, command: Any, run_dir: Path) -> Any:
        """Accelerate jobs run under srun, one task per node, through `node` below (which adds
        the machine count, rank and main address); so do plain jobs on several nodes.
        expctl's own GPU choice is dropped: Slurm assigns the GPUs."""
        spec = slurm_spec(run_dir)
        env = {k: v for k, v in command.env.items() if k != "CUDA_VISIBLE_DEVICES"}
        nodes = spec.nodes or 1
        argv = list(command.argv)
        parts = accelerate_parts(argv)
        if parts is not None:
            prefix, options, target = parts
            options = _drop_options(options, ("--num_machines", "--main_process_port",
                                               "--gpu_ids"))
            python = spec.python or sys.executable
            argv = [python, "-u", "-m", "expctl.launchers.slurm", "node",
                    *prefix, *options, *target]
        elif nodes == 1:
            return type(command)(argv, command.cwd, env)
        cpus = [f"--cpus-per-task={spec.cpus_per_task}"] if spec.cpus_per_task else []
        srun = ["srun", f"--nodes={nodes}", f"--ntasks={nodes}", "--ntasks-per-node=1",
                *cpus, "--kill-on-bad-exit=1", "--unbuffered", "--export=ALL"]
        return type(command)([*srun, *argv], command.cwd, env)


_ACCELERATE_PAIRS = ("--num_processes", "--num_machines", "--mixed_precision",
                     "--dynamo_backend", "--main_process_port", "--gpu_ids")


def accelerate_parts(argv: list[str]) -> tuple[list[str], list[str], list[str]] | None:
    """(launcher, options, target) of an `accelerate launch` argv built by command.py, or
    None for any other command."""
    if argv[:2] == ["accelerate", "launch"]:
        start = 2
    elif argv[1:3] == ["-m", "accelerate.commands.launch"]:
        start = 3
    else:
        return None
    end = start
    while end < len(argv):
        if argv[end] in _ACCELERATE_PAIRS:
            end += 2
        elif argv[end] == "--multi_gpu":
            end += 1
        else:
            break
    return argv[:start], argv[start:end], argv[end:]


def _drop_options(options: list[str], names: tuple[str, ...]) -> list[str]:
    """`options` without the given `--option value` pairs."""
    kept, skip = [], False
    for item in options:
        if skip:
            skip = False
        elif item in names:
            skip = True
        else:
            kept.append(item)
    return kept


LAUNCHER = SlurmLauncher()


# --- one node's task of a multi-node accelerate job ------------------------------------------


def node_argv(argv: list[str], environ: dict[str, str]) -> list[str]:
    """Accelerate's argv with this node's place in the job, from Slurm's environment: the
    number of machines, this machine's rank, and the first node as the main process."""
    nodes = int(environ.get("SLURM_JOB_NUM_NODES") or environ.get("SLURM_NNODES") or 1)
    rank = int(environ.get("SLURM_NODEID") or 0)
    job_id = int(environ.get("SLURM_JOB_ID") or 0)
    head = _first_host(environ.get("SLURM_JOB_NODELIST") or socket.gethostname())
    parts = accelerate_parts(argv)
    if parts is None or "--num_processes" not in parts[1]:
        raise ExpctlError("`node` expects an `accelerate launch` argv with --num_processes.")
    prefix, options, target = parts
    at = options.index("--num_processes")
    per_node = int(options[at + 1])
    placed = ["--num_processes", str(per_node * nodes), "--num_machines", str(nodes),
              "--machine_rank", str(rank), "--main_process_ip", _address(head),
              "--main_process_port", str(MAIN_PORT_BASE + job_id % 2000)]
    return [*prefix, *options[:at], *placed, *options[at + 2 :], *target]


def _first_host(nodelist: str) -> str:
    """The first host of a Slurm node list such as `gpu[03-05,07],cpu01`: scontrol's answer,
    else the list read here (its first item, its first bracketed number)."""
    try:
        result = _run(["scontrol", "show", "hostnames", nodelist])
        hosts = result.stdout.split() if result.returncode == 0 else []
    except ExpctlError:
        hosts = []
    if hosts:
        return hosts[0]
    first = re.split(r",(?![^\[]*\])", nodelist.strip())[0]
    match = re.fullmatch(r"([^\[]*)\[([^\],-]+)[^\]]*\](.*)", first)
    return match.group(1) + match.group(2) + match.group(3) if match else first


def _address(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        return host


def wait_for_orphans(launch_path: Path) -> int:
    """After the supervisor: while its job outlives it, wait (the batch script runs this);
    then write the exit file, saying the supervisor died. See liveness.wait_while_alive."""
    import signal as signals

    from expctl.launchers.liveness import wait_while_alive
    from expctl.rundir import JOB_FILE

    run_dir = launch_path.parent
    launch = read_json_file(launch_path) or {}
    job = read_json_file(run_dir / JOB_FILE)
    if job is not None and job.get("launch_id") != launch.get("launch_id"):
        job = None
    code = wait_while_alive(run_dir, launch, job)
    job_id = os.environ.get("SLURM_JOB_ID", "")
    if code and job_id.isdigit() and read_exit_file(run_dir, job_id) is None:
        name = signals.Signals(code - 128).name if code > 128 else None
        write_json_atomic(exit_file(run_dir, job_id), {
            "job_id": job_id, "exit_code": None, "signal": name, "ended": now_iso(),
            "host": socket.gethostname(), "supervisor_died": True})
    return code


def main(argv: list[str] | None = None) -> int:
    """`python -m expctl.launchers.slurm node ACCELERATE-ARGV...` (run by srun on each node);
    `... orphans LAUNCH_JSON` (run by the batch script after the supervisor)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "orphans":
        return wait_for_orphans(Path(args[1]))
    if len(args) < 2 or args[0] != "node":
        print("usage: python -m expctl.launchers.slurm node ACCELERATE-ARGV...", file=sys.stderr)
        return 2
    try:
        command = node_argv(args[1:], dict(os.environ))
    except (ExpctlError, ValueError) as exc:
        print(f"expctl slurm node: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    os.execvp(command[0], command)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
