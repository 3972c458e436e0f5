"""What `rm` and `archive` share: show the plan, confirm it, carry it out, report."""

from __future__ import annotations

WORDS = {  # action: (verb, past tense)
    "remove": ("remove", "removed"),
    "archive": ("archive", "archived"),
    "restore": ("restore", "restored"),
}


def carry_out(ws, run_ids: list[str], action: str, yes: bool, dry_run: bool) -> None:
    from expctl import console
    from expctl.cli.confirm import confirm
    from expctl.errors import ExpctlError
    from expctl.registry import open_registry
    from expctl.removal import apply_removal, plan_removal

    verb, past = WORDS[action]
    plan = plan_removal(ws, run_ids, action)  # every run checked before anything changes
    console.table(["run", "files", "size", "path"],
                  [[t.run_id, t.files, console.size(t.bytes), str(t.path)] for t in plan.targets],
                  right_align=("files", "size"))
    for note in plan.notes:
        console.warn(note)
    runs = f"{len(plan.targets)} run{'s' if len(plan.targets) != 1 else ''}"
    total = f"{sum(t.files for t in plan.targets)} files, {console.size(plan.bytes)}"
    if dry_run:
        console.info(f"would {verb} {runs} ({total}); nothing changed (--dry-run)")
        return
    confirm(f"{verb.capitalize()} {runs} ({total}): {', '.join(plan.ids)}?", yes,
            f"{verb} {runs}")
    with open_registry(ws) as db:  # a broken registry is refused before any folder moves
        problems = apply_removal(ws, plan, db)
    for problem in problems:
        console.warn(problem)
    failed = {p.split(":", 1)[0] for p in problems}
    for target in plan.targets:
        if target.run_id not in failed:
            console.success(f"{past} {target.run_id}")
    if problems:
        raise ExpctlError(f"{len(problems)} of {len(plan.targets)} runs not {past}.")
