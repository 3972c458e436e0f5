"""The job's command line, working directory and environment, built from a run's recipe.

A plain recipe command runs as rendered. With `launch.accelerate: true` it is wrapped in
`accelerate launch` with the number of processes, GPU ids, mixed precision and a free main
process port. Nothing here goes through a shell: every value stays one argv item.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from expctl.errors import BadInputError, NotFoundError
from expctl.recipes import Recipe, render_command
from expctl.runs import Run
from expctl.workspace import Workspace
from expctl.worktree import ensure_workdir

_GPUS = re.compile(r"\d+(,\d+)*")
_PYTHON = re.compile(r"python(\d+(\.\d+)*)?")


@dataclass
class JobCommand:
    """What the supervisor runs. `env` is only what expctl adds to the launching environment."""

    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)


def parse_gpus(text: str) -> list[int]:
    """`0,1` -> [0, 1]; anything but digits and commas is refused."""
    cleaned = text.strip()
    if not _GPUS.fullmatch(cleaned):
        raise BadInputError(f"Invalid --gpus `{text}`.",
                            hint="give GPU ids as digits and commas, e.g. 0,1")
    ids = [int(x) for x in cleaned.split(",")]
    if len(set(ids)) != len(ids):
        raise BadInputError(f"Invalid --gpus `{text}`: a GPU id is repeated.")
    return ids


def run_recipe(run: Run) -> Recipe:
    """The resolved recipe stored in the run's config.yaml (what `new` decided to run)."""
    from expctl.files import validate

    return validate(Recipe, run.config(), str(run.path / "config.yaml"))


def build_command(
    ws: Workspace, run: Run, recipe: Recipe, gpus: list[int] | None = None, resume: bool = False
) -> JobCommand:
    """The job for `run`: argv (resume_args appended when resuming, `{last_checkpoint}` in
    them being this run's newest own checkpoint), cwd and added env."""
    if not recipe.command:
        raise BadInputError(
            f"Run `{run.id}` has no training command.",
            hint=f"add `command:` to recipe `{run.info.recipe}` and create a new run",
        )
    cwd = ensure_workdir(ws, run, recipe, "train")
    context = {"run_id": run.id, "run_dir": str(run.path), "workspace": str(ws.root),
               "workdir": str(cwd), "steps": run.info.steps if run.info.steps is not None else ""}
    argv = render_command(recipe.command, recipe.params, context)
    if not argv:
        raise BadInputError(f"The training command of run `{run.id}` is empty.")
    if not cwd.is_dir():
        raise NotFoundError(
            f"Working directory `{cwd}` does not exist.",
            hint=f"fix launch.workdir in recipe `{run.info.recipe}` (relative to the workspace)",
        )
    if resume and recipe.resume_args:
        from expctl.resume import PLACEHOLDER, last_checkpoint, uses_last_checkpoint

        if uses_last_checkpoint(recipe.resume_args):
            context[PLACEHOLDER] = str(last_checkpoint(ws, run, recipe, cwd))
        argv += render_command(recipe.resume_args, recipe.params, context)
    env = {k: str(v) for k, v in recipe.launch.env.items()}
    chosen = gpus if gpus is not None else recipe.launch.gpus
    if recipe.launch.accelerate:
        processes = len(gpus) if gpus else recipe.launch.num_processes
        argv, extra = accelerate_argv(argv, recipe, chosen, processes, free_port())
        env.update(extra)
    elif chosen is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in chosen)
    env.update({"EXPCTL_RUN_DIR": str(run.path), "EXPCTL_RUN_ID": run.id,
                "PYTHONUNBUFFERED": "1"})
    return JobCommand(argv, cwd, env)


def accelerate_argv(
    script: list[str], recipe: Recipe, gpus: list[int] | None, processes: int, port: int
) -> tuple[list[str], dict[str, str]]:
    """`accelerate launch ... <script>` and the environment it needs.

    `python -m pkg.mod args` becomes `-m pkg.mod args` and `python file.py args` becomes
    `file.py args`, launched by the same interpreter; any other program runs with
    `--no_python`. CPU runs use ACCELERATE_USE_CPU with --multi_gpu: `--cpu` with several
    processes starts only one."""
    spec = recipe.launch
    if gpus is not None and not spec.cpu and len(gpus) != processes:
        raise BadInputError(
            f"{processes} processes but {len(gpus)} GPU ids ({','.join(map(str, gpus))}).",
            hint="give one GPU id per process, or set launch.num_processes in the recipe",
        )
    program = os.path.basename(script[0])
    if _PYTHON.fullmatch(program) and len(script) > 1:
        launcher = [script[0], "-m", "accelerate.commands.launch"]
        rest = script[1:]
        if rest[0] == "-m" and len(rest) > 1:
            target = ["-m", *rest[1:]]
        elif rest[0].startswith("-"):
            raise BadInputError(
                f"Cannot run `{' '.join(script[:3])}` under accelerate.",
                hint="the command must be `python script.py ...` or `python -m module ...`",
            )
        else:
            target = rest
    else:
        launcher = ["accelerate", "launch"]
        target = ["--no_python", *script]
    options = ["--num_processes", str(processes), "--num_machines", "1",
               "--mixed_precision", spec.mixed_precision, "--dynamo_backend", "no",
               "--main_process_port", str(port)]
    env: dict[str, str] = {}
    if processes > 1:
        options.append("--multi_gpu")
    if spec.cpu:
        env["ACCELERATE_USE_CPU"] = "true"
    elif gpus is not None:
        options += ["--gpu_ids", ",".join(str(g) for g in gpus)]
    return [*launcher, *options, *target], env


def free_port() -> int:
    """A TCP port nobody listens on right now, for accelerate's rendezvous."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
