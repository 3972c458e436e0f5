"""Commit: put a recorded run's folder into git with a templated message.

Only the run's small text, JSON, YAML and PNG files are committed; checkpoints and files over
the size limit are listed in a .gitignore inside the run folder instead. The commit contains
exactly those paths (`git commit --only`), so whatever else the user has staged stays staged
and uncommitted. Every git call is an argument list, never a shell.
"""

from __future__ import annotations

import os
import string
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from expctl.errors import (
    BadInputError,
    ConflictError,
    ExpctlError,
    MissingToolError,
    NotFoundError,
    NothingToCommitError,
)
from expctl.rundir import CYCLE_LOG
from expctl.runs import Results, Run
from expctl.workspace import Workspace

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
COMMITTED_SUFFIXES = (".txt", ".md", ".log", ".json", ".jsonl", ".yaml", ".yml", ".csv", ".tsv",
                      ".png", ".patch")
CHECKPOINT_SUFFIXES = (".ckpt", ".pt", ".pth", ".safetensors", ".bin", ".h5", ".pkl")
RUN_GITIGNORE = ".gitignore"
_GITIGNORE_HEADER = "# written by `expctl commit`: checkpoints and large files stay local\n"

DEFAULT_TEMPLATE = """\
feat: complete ${id} experiment

- Model: ${model}
- Performance: ${primary_label} ${primary_value}, ${primary_change}
- Small objects: ${small_label} ${small_value}, ${small_change}
- Criteria: ${criteria}
- Key findings: ${findings}
"""
# Lines of the default template dropped when the run has nothing to put in them.
_OPTIONAL_LINES = {"- Small objects:": "small_label", "- Criteria:": "criteria",
                   "- Key findings:": "findings"}


@dataclass
class CommitPlan:
    """What a commit would contain (all a dry run does is compute this)."""

    repo: Path
    paths: list[str]  # relative to the repository root
    changed: list[str]  # the subset that differs from HEAD
    excluded: list[str]  # checkpoints, large files, other binaries: relative to the run folder
    ignore_file: str  # the run folder's .gitignore, relative to the repository root
    ignore_text: str
    message: str
    sha: str | None = None  # the new commit, once made
    notes: list[str] = field(default_factory=list)


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise MissingToolError("git is not installed.",
                               hint="install git with your package manager") from None
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise ExpctlError(f"git {args[0]} failed: {detail[-1] if detail else result.returncode}.")
    return result


def repo_root(folder: Path) -> Path:
    """The work tree holding `folder`; a clear error outside git."""
    result = _git(folder, "rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        raise NotFoundError(f"`{folder}` is not inside a git repository.",
                            hint="run `git init` in the workspace, or commit by hand")
    return Path(result.stdout.strip()).resolve()


def select_files(run: Run, max_bytes: int) -> tuple[list[Path], list[Path]]:
    """(files to commit, files to keep out) of the run folder. A symbolic link is kept out
    (named in the run's .gitignore) and never followed: its target may be anyone's file."""
    keep, skip = [], []
    for folder, dirs, names in os.walk(run.path):  # never descends into a linked folder
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if d != ".git")
        skip += [here / d for d in dirs if (here / d).is_symlink()]
        for name in sorted(names):
            path = here / name
            if path.is_symlink():
                skip.append(path)
                continue
            if name in (RUN_GITIGNORE, ".git") or not path.is_file():
                continue
            if path == run.path / CYCLE_LOG:
                # `cycle` goes on writing it after committing: committed, it would leave the
                # tree dirty, and every later run would record a git.patch.
                skip.append(path)
                continue
            if name.startswith(".") and name.endswith(".tmp"):
                continue  # a half-written file of a concurrent writer
            small = path.stat().st_size <= max_bytes
            wanted = path.suffix.lower() in COMMITTED_SUFFIXES
            (keep if small and wanted else skip).append(path)
    return sorted(keep), sorted(skip)


def ignore_text(run: Run, skipped: list[Path]) -> str:
    """The run folder's .gitignore: checkpoint patterns and every file kept out by name."""
    lines = [f"*{s}" for s in CHECKPOINT_SUFFIXES] + [f"/{CYCLE_LOG}"]
    lines += [f"/{p.relative_to(run.path).as_posix()}" for p in skipped
              if p.suffix.lower() not in CHECKPOINT_SUFFIXES and p != run.path / CYCLE_LOG]
    return _GITIGNORE_HEADER + "\n".join(lines) + "\n"


def plan_commit(ws: Workspace, run: Run, findings: str | None = None,
                template: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> CommitPlan:
    """Everything a commit needs, without changing anything."""
    results = run.results()
    if results is None or not results.metrics:
        raise ConflictError(f"Run `{run.id}` has not been recorded yet.",
                            hint=f"run `expctl record {run.id}` (or `expctl validate`) first")
    repo = repo_root(ws.root)
    keep, skip = select_files(run, max_bytes)
    ignore_path = run.path / RUN_GITIGNORE
    text = ignore_text(run, skip)
    rel = [_relative(p, repo) for p in [*keep, ignore_path]]
    ignored = set(_ignored(repo, rel))
    notes = [f"{p} is ignored by the repository's .gitignore" for p in sorted(ignored)]
    paths = [p for p in rel if p not in ignored]
    current = ignore_path.read_text(encoding="utf-8") if ignore_path.exists() else None
    changed = _changed(repo, _relative(run.path, repo), set(paths))
    gitignore_rel = _relative(ignore_path, repo)
    if current != text and gitignore_rel in paths and gitignore_rel not in changed:
        changed.append(gitignore_rel)
    message = render_message(ws, run, results, findings, template)
    return CommitPlan(repo, paths, changed, [p.relative_to(run.path).as_posix() for p in skip],
                      gitignore_rel, text, message, notes=notes)


def commit_run(ws: Workspace, run: Run, findings: str | None = None,
               template: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
               dry_run: bool = False, while_training: bool = False) -> CommitPlan:
    """Commit the run's files (see the module docstring); a dry run only plans. Refused
    while the run still trains, unless `while_training`."""
    if not while_training:
        from expctl.state import refuse_while_training

        refuse_while_training(run, "commit")
    plan = plan_commit(ws, run, findings, template, max_bytes)
    if not plan.paths:
        raise NothingToCommitError(
            f"Nothing to commit for run `{run.id}`: git ignores all its files.",
            hint="see `git check-ignore -v` on the run folder; remove the rule")
    if not plan.changed:
        raise NothingToCommitError(
            f"Nothing to commit for run `{run.id}`: its files are committed already.",
            hint="record it again, or add findings to a new commit")
    if dry_run:
        return plan
    from expctl.files import write_text_atomic

    write_text_atomic(plan.repo / plan.ignore_file, plan.ignore_text)
    _git(plan.repo, "add", "--", *plan.paths)
    _commit(plan)
    plan.sha = _git(plan.repo, "rev-parse", "HEAD").stdout.strip()
    return plan


def _commit(plan: CommitPlan) -> None:
    """`git commit --only`: the commit holds these paths as they are in the work tree and
    nothing else the index holds, so the user's other staged changes stay staged."""
    try:
        result = subprocess.run(
            ["git", "-C", str(plan.repo), "commit", "--only", "--quiet", "-F", "-", "--",
             *plan.paths], input=plan.message, capture_output=True, text=True)
    except FileNotFoundError:
        raise MissingToolError("git is not installed.") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise ExpctlError(f"git commit failed: {detail.splitlines()[-1] if detail else '?'}",
                          hint="the run's files are staged; fix the problem and commit again")


def _relative(path: Path, repo: Path) -> str:
    try:  # the folder resolved, not the file: a link is committed as itself or not at all
        return (path.parent.resolve() / path.name).relative_to(repo).as_posix()
    except ValueError:
        raise BadInputError(f"`{path}` is outside the git repository `{repo}`.") from None


def _ignored(repo: Path, paths: list[str]) -> list[str]:
    """The paths the repository's own ignore rules exclude (they are not forced in)."""
    if not paths:
        return []
    result = subprocess.run(["git", "-C", str(repo), "check-ignore", "--no-index", "--stdin"],
                            input="\n".join(paths) + "\n", capture_output=True, text=True)
    return [line for line in result.stdout.splitlines() if line]


def _changed(repo: Path, folder: str, paths: set[str]) -> list[str]:
    """Those of `paths` whose work-tree content differs from HEAD (new or modified). Asked
    for the whole folder at once: a run may hold thousands of files."""
    if not paths:
        return []
    result = _git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all",
                  "--ignored=no", "--", folder)
    return sorted(entry[3:] for entry in result.stdout.split("\0")
                  if len(entry) > 3 and entry[3:] in paths)


# --- the message --------------------------------------------------------------------------


def message_fields(ws: Workspace, run: Run, results: Results,
                   findings: str | None) -> dict[str, str]:
    """The named fields a template can use ($id, $model, $primary_value, ...)."""
    from expctl.metrics.context import run_recipe
    from expctl.metrics.specs import metric_format

    recipe = run_recipe(run)
    extra = results.model_dump()
    deltas = extra.get("deltas") or {}
    fields = {"id": run.id, "ID": run.id, "run_id": run.id, "recipe": run.info.recipe or "",
              "model": recipe.model or run.info.recipe or run.id,
              "findings": findings or "",
              "baseline": extra.get("baseline") or "none",
              "sha": run.info.git.sha or "", "hypothesis": run.info.hypothesis or ""}
    for role, name in (("primary", recipe.metrics.primary or _first(results)),
                       ("small", recipe.metrics.small)):
        fmt = metric_format(ws, name) if name else None
        value = results.metrics.get(name) if name else None
        delta = deltas.get(name) or {} if name else {}
        fields[f"{role}_name"] = name or ""
        fields[f"{role}_label"] = fmt.title if fmt else ""
        fields[f"{role}_value"] = fmt.value(value) if fmt else "n/a"
        # Points and relative percent, judged by the metric's direction, as every command
        # writes them: "+1.70 pp (+4.4%, better)", "+0.12 (+5.1%, worse)".
        fields[f"{role}_delta"] = (fmt.change(delta["delta"], delta.get("delta_pct"))
                                   if fmt and delta.get("delta") is not None else "n/a")
        fields[f"{role}_change"] = (
            "this is the baseline" if fields["baseline"] == run.id
            else f"{fields[f'{role}_delta']} vs {fields['baseline']}"
            if delta.get("delta") is not None else "no baseline value to compare")
    verdicts = extra.get("criteria") or {}
    words = {True: "PASS", False: "FAIL", None: "NOT MEASURED"}
    fields["criteria"] = "; ".join(f"{m} {v.get('criterion')} {words[v.get('passed')]}"
                                   for m, v in verdicts.items())
    return fields


def _first(results: Results) -> str | None:
    return next(iter(results.metrics), None)


def render_message(ws: Workspace, run: Run, results: Results, findings: str | None,
                   template: str | None) -> str:
    """The commit message from `template` (string.Template: $id, ${primary_value}, ...)."""
    fields = message_fields(ws, run, results, findings)
    if template is None:
        lines = [line for line in DEFAULT_TEMPLATE.splitlines()
                 if not any(line.startswith(p) and not fields[f]
                            for p, f in _OPTIONAL_LINES.items())]
        template = "\n".join(lines) + "\n"
    try:
        return string.Template(template).substitute(fields)
    except KeyError as exc:
        raise BadInputError(f"Unknown field ${exc.args[0]} in the commit template.",
                            hint="fields: " + ", ".join(f"${k}" for k in sorted(fields))) from None
    except ValueError as exc:
        raise BadInputError(f"Invalid commit template: {exc}.",
                            hint="write $name or ${name}; a literal $ is $$") from None
