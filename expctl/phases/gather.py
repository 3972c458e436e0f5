"""Gather: bring the files a phase left behind into the run folder.

The recipe's `artifacts:` say where files appear (globs with placeholders). Only files
modified inside the phase's own time window are taken (training: the supervisor's start and
end; validation: validate's), so leftovers of earlier runs in shared folders such as `confM/`
or `dummy/*/checkpoints/` are never gathered. The chosen checkpoint becomes
checkpoints/final_model.ckpt. A manifest (training_logs/gathered.json) records what came from
where, so gathering again changes nothing, and a source moved away with `--move` still counts.
"""

from __future__ import annotations

import errno
import glob
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expctl.errors import BadInputError, ConflictError, ExpctlError, NotFoundError
from expctl.metrics.context import expand, render_pattern, run_context, run_recipe
from expctl.picking import pick_files, rank, step_of
from expctl.recipes import ArtifactSpec, Recipe
from expctl.rundir import FINAL_CHECKPOINT, LOG_FILE, VALIDATION_LOG, Manifest
from expctl.rundir import relative_to_run as _rel
from expctl.runs import Run
from expctl.sharing import describe_writers, is_private, writers_besides
from expctl.windows import Window, phase_window
from expctl.workspace import Workspace
from expctl.worktree import job_workdir

CHECKPOINT_ARTIFACT = "checkpoint"



@dataclass
class Gathered:
    """One file brought in (or found in place)."""

    artifact: str
    source: str  # absolute path it came from
    dest: str  # path inside the run folder
    action: str  # linked, copied, moved, in place, unchanged


@dataclass
class Missing:
    """An artifact that matched nothing from this phase."""

    artifact: str
    patterns: list[str]
    required: bool
    outside_window: int  # files that matched but are older or newer: someone else's


@dataclass
class RefusedLink:
    """A symbolic link a glob matched that leads out of the folder the glob gathers from:
    never followed, so a link to a secret never brings the secret into the run folder."""

    artifact: str
    link: str  # the link's own path
    target: str  # where it leads (not read)


@dataclass
class Ambiguous:
    """A file this run would have taken that another run of the workspace may have written
    (both were active when it was written, in a place they share): left where it is."""

    artifact: str
    source: str
    others: list[str]  # the other runs' ids

    def describe(self, run_id: str) -> str:
        return (f"artifact `{self.artifact}`: `{self.source}` may be "
                f"{describe_writers(self.others)}'s, not `{run_id}`'s: it was written while "
                f"they and `{run_id}` were active, in a folder they share; not gathered")


@dataclass
class GatherResult:
    phase: str
    window: Window
    gathered: list[Gathered] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    refused: list[RefusedLink] = field(default_factory=list)
    ambiguous: list[Ambiguous] = field(default_factory=list)
    run_id: str = ""

    def check(self) -> None:
        """Raise for the first required artifact that matched nothing, naming the globs, and
        for a checkpoint that may be another run's."""
        for item in self.ambiguous:
            if item.artifact == CHECKPOINT_ARTIFACT:
                raise ConflictError(
                    item.describe(self.run_id).replace("; not gathered", "") + ".",
                    hint="give each run its own working tree (recipe `isolation: tree`, in a "
                    "git repository), or copy the right file to "
                    f"{FINAL_CHECKPOINT} by hand",
                )
        for miss in self.missing:
            if miss.required:
                leftovers = (f"; {miss.outside_window} matching file(s) are other runs' "
                             f"(outside this run's {self.phase} window "
                             f"({self.window.describe()}) or past its planned steps)"
                             if miss.outside_window else "")
                raise NotFoundError(
                    f"Required artifact `{miss.artifact}` matched nothing from this run's "
                    f"{self.phase} phase; tried: {', '.join(miss.patterns)}{leftovers}.",
                    hint="fix the artifact's glob in the recipe, or check the job's log",
                )


def gather(ws: Workspace, run: Run, phase: str = "train", move: bool = False) -> GatherResult:
    """Gather every artifact of `phase` into the run folder; see the module docstring."""
    recipe = run_recipe(run)
    window = phase_window(ws, run, phase)
    manifest = Manifest.load(run.path)
    result = GatherResult(phase, window, run_id=run.id)
    context = run_context(ws, run, recipe)
    workdir = job_workdir(ws, run, recipe, phase)  # the run's tree, or the shared workspace
    try:
        for name, spec in recipe.artifacts.items():
            if spec.phase != phase:
                continue
            _gather_artifact(ws, run, recipe, name, spec, context, workdir, window, manifest,
                             move, result)
    finally:
        manifest.save()
    return result


def _gather_artifact(ws: Workspace, run: Run, recipe: Recipe, name: str, spec: ArtifactSpec,
                     context: dict[str, Any], workdir: Path, window: Window,
                     manifest: Manifest, move: bool, result: GatherResult) -> None:
    is_checkpoint = name == CHECKPOINT_ARTIFACT
    pick = spec.pick or ("highest_step" if is_checkpoint else "all")
    if is_checkpoint and pick == "all":
        raise BadInputError(f"Artifact `{name}` must pick one file (newest, highest_step or "
                            "from_log), not all.")
    patterns = [str(_absolute(render_pattern(g, recipe, context), workdir)) for g in spec.glob]
    own = manifest.destinations()
    if pick == "from_log":
        candidates, outside = _from_log(run, recipe, name, spec, window.phase, workdir), 0
    else:
        matched = []
        for pattern in patterns:
            files, links = _files(expand(pattern, workdir), glob_base(Path(pattern)))
            matched += [f for f in files if f not in own]
            known = {(r.artifact, r.link) for r in result.refused}
            result.refused += [RefusedLink(name, str(link), os.readlink(link) if
                                           link.is_symlink() else str(link.resolve()))
                               for link in dict.fromkeys(links) if (name, str(link)) not in known]
        matched = sorted(set(matched))
        candidates = [f for f in matched if window.contains(f.stat().st_mtime)]
        if is_checkpoint and run.info.steps:
            # A checkpoint past this run's planned steps is another run's: two runs writing
            # into one folder at the same time (two GPUs, one output directory).
            candidates = [f for f in candidates if step_of(f)[0] <= run.info.steps]
        outside = len(matched) - len(candidates)
        candidates = pick_files(candidates, pick)
    contested = writers_besides(ws, run, candidates)
    result.ambiguous += [Ambiguous(name, str(f), ids) for f, ids in contested.items()]
    candidates = [f for f in candidates if f not in contested]
    if contested and is_checkpoint:
        return  # never another run's weights as this run's; check() refuses
    earlier = [e for e in manifest.entries_for(name, window.phase)
               if (run.path / e["dest"]).exists()]
    if candidates and pick in ("newest", "highest_step") and earlier:
        # A file gathered before (and perhaps moved away since) still competes: gathering
        # again must never swap final_model.ckpt for an older checkpoint left behind.
        best = max(earlier, key=lambda e: rank(Path(e["source"]).name, e["mtime_ns"], pick))
        if rank(best["source"], best["mtime_ns"], pick) >= rank(
                candidates[0].name, candidates[0].stat().st_mtime_ns, pick):
            candidates = []
    if is_checkpoint and candidates:
        earlier = []  # final_model.ckpt is about to be replaced
    # Files gathered by an earlier call that no longer match (moved away with --move, or
    # rewritten later by another phase, like confM's latest matrix by validation) stay valid.
    earlier = [e for e in earlier if Path(e["source"]).resolve() not in set(candidates)]
    result.gathered += [Gathered(name, e["source"], e["dest"], "unchanged") for e in earlier]
    if not candidates:
        if not earlier:
            result.missing.append(Missing(name, patterns, spec.required, outside))
        return
    for source in candidates:
        if is_checkpoint:
            dest = run.path / (spec.dest or "checkpoints") / Path(FINAL_CHECKPOINT).name
        elif _inside(source, run.path):
            # Already in the run folder (e.g. written through $EXPCTL_RUN_DIR): keep it there.
            manifest.add(name, window.phase, source, source, "in place")
            result.gathered.append(Gathered(name, str(source), _rel(source, run.path), "in place"))
            continue
        else:
            folder = run.path / (spec.dest or default_dest(name, window.phase))
            dest = manifest.free_name(folder / source.name, name, source, window.phase)
        # A hard link shares the file: only the run's own files (its folder, its private
        # tree) are safe to link. In a shared folder a script that rewrites its checkpoint
        # path in place (torch.save to a fixed name) would otherwise change this run's
        # final_model.ckpt when a later run trains.
        link = is_checkpoint and is_private(ws, run, source)
        action = _transfer(source, dest, manifest, name, move, link=link, run=run)
        manifest.add(name, window.phase, source, dest, action)
        result.gathered.append(Gathered(name, str(source), _rel(dest, run.path), action))


def default_dest(artifact: str, phase: str) -> str:
    """The sub-folder an artifact lands in when the recipe gives no `dest`."""
    lowered = artifact.lower()
    if "checkpoint" in lowered:
        return "checkpoints"
    if "confusion" in lowered:
        return "confusion_matrices"
    return "validation_results" if phase == "validate" else "training_logs"


def _absolute(pattern: str, workdir: Path) -> Path:
    path = Path(pattern).expanduser()
    return path if path.is_absolute() else workdir / path


def glob_base(pattern: Path) -> Path:
    """The folder a pattern gathers from: its part before the first wildcard (a plain path:
    itself if it is a folder, else its folder). Links in that part are the user's choice."""
    parts = pattern.parts
    for i, part in enumerate(parts):
        if glob.has_magic(part):
            return Path(*parts[:i]) if i else Path(".")
    return pattern if pattern.is_dir() else pattern.parent


def _files(paths: list[Path], base: Path) -> tuple[list[Path], list[Path]]:
    """(files among `paths`, links refused): a folder stands for every file under it. A link
    is followed only while it stays inside `base`; one leading out is refused, unread."""
    top = base.resolve()
    found: list[Path] = []
    refused: list[Path] = []

    def take(path: Path) -> None:
        real = path.resolve()
        if not real.is_relative_to(top):
            refused.append(path)
        elif real.is_file():
            found.append(real)

    for path in paths:
        if not path.is_dir():
            if path.is_file() or path.is_symlink():
                take(path)
            continue
        if not path.resolve().is_relative_to(top):
            refused.append(path)
            continue
        for folder, dirs, names in os.walk(path):  # never descends into a linked folder
            for entry in (Path(folder) / d for d in dirs):
                if entry.is_symlink() and not entry.resolve().is_relative_to(top):
                    refused.append(entry)
            for name in names:
                take(Path(folder) / name)
    return found, refused


def _from_log(run: Run, recipe: Recipe, name: str, spec: ArtifactSpec, phase: str,
              workdir: Path) -> list[Path]:
    """The last path the phase's log names through `log_regex`, if that file exists."""
    from expctl.metrics.regex import compile_pattern
    from expctl.metrics.text import read_lines

    if not spec.log_regex:
        raise BadInputError(f"Artifact `{name}` has `pick: from_log` but no `log_regex`.",
                            hint="add log_regex: a pattern with a group (?P<path>...)")
    regex = compile_pattern(name, spec.log_regex)
    if phase == "train":
        log = run.path / LOG_FILE
    else:
        log = run.path / VALIDATION_LOG
    if not log.exists():
        return []
    for line in reversed(read_lines(log)):
        match = regex.search(line)
        if match:
            text = match.group("path") if "path" in regex.groupindex else match.group(
                1 if regex.groups else 0)
            path = _absolute(text.strip().strip("'\""), workdir)
            if path.is_symlink() and not path.resolve().is_relative_to(path.parent.resolve()):
                return []  # a link out of its folder is never followed
            return [path.resolve()] if path.is_file() else []
    return []


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _transfer(source: Path, dest: Path, manifest: Manifest, artifact: str, move: bool,
              link: bool, run: Run) -> str:
    """Bring `source` to `dest` atomically; returns how (linked, copied, moved, unchanged).

    Only a checkpoint inside the run's own folder is hard-linked (`link`). Other files are
    copied: a hard link shares the file, so a producer that rewrites its output in place
    (confM's confusion_matrix_latest.png on every validation) would change the gathered copy."""
    if dest.exists() and _same_file(source, dest):
        return "unchanged"
    if manifest.unchanged(artifact, source, dest):
        return "unchanged"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.gather.tmp")
    tmp.unlink(missing_ok=True)
    try:
        if move:
            try:
                os.rename(source, tmp)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                shutil.copy2(source, tmp)  # another file system: copy, then remove
                source.unlink()
            action = "moved"
        elif link:
            try:
                os.link(source, tmp)
                action = "linked"
            except OSError:
                shutil.copy2(source, tmp)  # another file system, or links not allowed
                action = "copied"
        else:
            shutil.copy2(source, tmp)
            action = "copied"
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExpctlError(
            f"Cannot gather `{source}` into `{dest}`: {exc.strerror or exc}."
        ) from None
    return action


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


