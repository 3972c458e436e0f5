"""`expctl commit`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from pathlib import Path

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import run_argument

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl commit 3scale_sizeaware_100k --dry-run
  expctl commit 3scale_sizeaware_100k --findings "small objects +1.7 pp"
"""


@app.command("commit", epilog=EXAMPLES)
def commit_cmd(
    run_id: str | None = run_argument(),
    findings: str | None = typer.Option(None, "--findings", metavar="FINDINGS", help="Key "
                                        "findings for the message."),
    template: Path | None = typer.Option(None, "--template", metavar="FILE", help="Message "
                                         "template file ($id, $model, $primary_value, ...).",
                                         show_default=False),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the message and files; change "
                                 "nothing."),
    max_size: float = typer.Option(5.0, "--max-size", metavar="MB", help="Largest file "
                                   "committed; bigger ones are git-ignored in the run folder."),
    while_training: bool = typer.Option(False, "--while-training", help="Go ahead although "
                                        "the run is still training (results not final)."),
) -> None:
    """Commit a recorded run's files with a templated message.

    Stages the run folder's text, JSON, YAML and PNG files (never checkpoints, nor files
    over --max-size) and commits only those paths; anything else you have staged stays
    staged."""
    from expctl import console
    from expctl.errors import BadInputError, NotFoundError
    from expctl.phases.commit import commit_run
    from expctl.runs import load_run, resolve_run_id

    ws = get_workspace()
    run = load_run(ws, resolve_run_id(ws, run_id))
    if max_size <= 0:
        raise BadInputError(f"--max-size must be positive, got `{max_size}`.")
    text = None
    if template is not None:
        try:
            text = template.read_text(encoding="utf-8")
        except OSError as exc:
            raise NotFoundError(f"Cannot read template `{template}`: {exc.strerror}.") from None
    plan = commit_run(ws, run, findings, text, int(max_size * 1024 * 1024), dry_run,
                      while_training)
    for note in plan.notes:
        console.warn(note)
    if plan.excluded:
        console.info(f"kept out of git (in {plan.ignore_file}): {', '.join(plan.excluded)}")
    if dry_run:
        console.info(f"would commit {len(plan.changed)} changed file(s) in {plan.repo}:")
        for path in plan.changed:
            console.out(f"  {path}")
        console.out("")
        console.out(plan.message.rstrip("\n"))
        return
    console.success(f"committed {plan.sha[:10] if plan.sha else '?'}: "
                    f"{len(plan.changed)} file(s) of run {run.id}")
    console.out(plan.message.splitlines()[0])
