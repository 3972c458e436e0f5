"""`expctl attach`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from expctl.cli.app import command_app
from expctl.cli.params import run_argument
from expctl.cli.shared import load_given_run

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl launch 3scale_sizeaware_100k --tmux
  expctl attach 3scale_sizeaware_100k   # detach: Ctrl-b d (screen: Ctrl-a d)
"""


@app.command(epilog=EXAMPLES)
def attach(run_id: str | None = run_argument()) -> None:
    """Attach this terminal to a run's screen/tmux session.

    You see the job's own terminal and can type into it; detaching (Ctrl-a d in screen,
    Ctrl-b d in tmux) leaves the job running."""
    import os
    import sys

    from expctl.errors import BadInputError, ConflictError
    from expctl.launchers import get_launcher
    from expctl.state import run_status

    run = load_given_run(run_id)
    st = run_status(run)
    if st.state == "created":
        raise ConflictError(f"Run `{run.id}` has not been launched.")
    launcher = get_launcher(st.launcher or "local")
    if not st.session:
        launcher.attach_argv("")  # local: raises the explanation
        raise ConflictError(f"Run `{run.id}` has no session to attach to.")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise BadInputError("`expctl attach` needs a terminal (stdin and stdout are not a TTY).",
                            hint=f"read the output with `expctl logs {run.id}`")
    if not launcher.session_alive(st.session):
        raise ConflictError(f"The {st.launcher} session `{st.session}` of run `{run.id}` has "
                            f"ended ({st.state}).", hint=f"see `expctl logs {run.id}`")
    argv = launcher.attach_argv(st.session)
    os.execvp(argv[0], argv)
