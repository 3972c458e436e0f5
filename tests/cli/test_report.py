"""`expctl report`: a self-contained page over the selected runs, from folders and registry."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest
from report_study import make_study

VISUAL_LIBS = ("plotly", "matplotlib", "numpy", "PIL")


def test_importing_the_cli_loads_no_plotting_library(tmp_path: Path) -> None:
    code = ("import json, sys; import expctl.cli; print(json.dumps(sorted("
            f"{{m.split('.')[0] for m in sys.modules}} & set({VISUAL_LIBS!r}))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.fixture
def study(workspace: Path, cli) -> Path:
    make_study(workspace)
    (workspace / "runs" / "study_lb2" / "run.yaml").write_text(
        (workspace / "runs" / "study_lb2" / "run.yaml").read_text().replace(
            "hypothesis: null", "hypothesis: 'bigger lambda: see https://arxiv.org </script>'"))
    code, _, err = cli("launch", "study_lb3", "--local")
    assert code == 0, err
    assert cli("wait", "study_lb3", "--timeout", "60")[0] == 0
    return workspace


def sections(page: str) -> list[str]:
    return re.findall(r'<section class="run" id="run-([^"]+)"', page)


def test_a_self_contained_report_of_the_study(study: Path, cli, tmp_path: Path) -> None:
    with open(study / "expctl.yaml", "a", encoding="utf-8") as f:
        f.write("leaderboard: {columns: [train.lambda_base]}\n")
    out = tmp_path / "out" / "study.html"
    code, stdout, err = cli("report", "-o", str(out))
    assert code == 0, err
    assert stdout.strip() == str(out) and "3 runs, 4 curve charts" in err
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"https?://", page, re.I)  # no address of any kind, not even in JS
    assert not re.search(r"<link|@import|<script[^>]+src=|<iframe", page, re.I)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)
    sources = re.findall(r'src="([^"]{0,10})', markup)
    assert sources == ["data:image"] * 3  # the baseline's matrix; study_lb2's beside it
    assert page.count("plotly.js v") == 1  # the bundle embedded once
    assert out.stat().st_mode & 0o044  # readable by others, as a page to share
    assert sections(page) == ["study", "study_lb2", "study_lb3"]  # the baseline first

    board = page[page.index('id="leaderboard"'):page.index('id="curves"')]
    rows = re.findall(r"<tr class=\"(baseline)?\">(.*?)</tr>", board)
    assert [re.search(r'href="#run-([^"]+)"', r[1]).group(1) for r in rows] == \
        ["study", "study_lb2", "study_lb3"]
    assert rows[0][0] == "baseline"
    assert "<th>train.lambda_base</th>" in board  # a column of expctl.yaml
    assert [re.findall(r'<td class="num">([0-9.]+)</td><td>', r[1])[-1] for r in rows] == \
        ["1.0", "2.0", "3.0"]
    assert '<td class="num better">+0.0500 (+8.5%, better)</td>' in rows[1][1]
    assert '<td class="num worse">-0.0750 (-12.8%, worse)</td>' in rows[2][1]
    assert board.count("small_map &gt;= 0.5 PASS") == 3

    lb2 = page[page.index('id="run-study_lb2"'):page.index('id="run-study_lb3"')]
    assert "bigger lambda: see https&#58;//arxiv.org &lt;/script&gt;" in lb2
    assert "<td>params.train.lambda_base</td><td>1.0</td><td>2.0</td>" in lb2
    assert "dirty" in lb2 and "(never launched)" in lb2
    assert lb2.count('src="data:image/png;base64,') == 2  # its matrix beside the baseline's
    assert "study_lb2, step 50: confusion_matrix_step0000050.png" in lb2
    assert 'id="cmd-run-study_lb2-0"' in lb2  # the difference view against the baseline

    lb3 = page[page.index('id="run-study_lb3"'):]
    assert "<tr><th>state</th><td>finished</td></tr>" in lb3
    assert re.search(r"<td>training</td><td>[0-9T:.+-]+</td><td>[0-9T:.+-]+</td><td>"
                     r"0h00m\d\ds</td><td>0</td>", lb3)
    command = (study / "runs" / "study_lb3" / "training_command.txt").read_text().strip()
    assert f"<pre>{html.escape(command)}</pre>" in lb3 and "lambda_base=3.0" in command


def test_choosing_runs(study: Path, cli, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert cli("report", "study_lb3", "-o", str(out))[0] == 0
    assert sections(out.read_text()) == ["study", "study_lb3"]  # the baseline pinned
    assert cli("report", "--where", "train.lambda_base=2.0", "-o", str(out))[0] == 0
    assert sections(out.read_text()) == ["study", "study_lb2"]
    code, _, err = cli("report", "--sweep", "lb", "--baseline", "study_lb2", "-o", str(out))
    assert code == 0, err
    page = out.read_text()
    assert sections(page) == ["study_lb2", "study", "study_lb3"]
    assert "swept params: train.lambda_base" in page and 'id="sweep-0"' in page


BAD_SELECTIONS = [
    (["--sweep", "nope"], 3, "No run of sweep `nope` matches."),
    (["no_such_run"], 3, "No run `no_such_run`"),
    (["--metric", "nope"], 2, "Unknown metric `nope`"),
]


def test_bad_selections(workspace: Path, cli, tmp_path: Path) -> None:
    make_study(workspace, matrices=False)
    for args, exit_code, message in BAD_SELECTIONS:
        code, out, err = cli("report", *args, "-o", str(tmp_path / "r.html"))
        assert (code, out) == (exit_code, ""), args
        assert err.startswith(f"error: {message}") and "Traceback" not in err
        assert not (tmp_path / "r.html").exists()


MISSING = """
import sys
sys.modules[{name!r}] = None  # stands for a missing package: find_spec then says None
from expctl.cli import main
sys.argv = ["expctl", *{args!r}]
main()
"""


def test_without_plotly_it_says_how_to_install_it(workspace: Path, tmp_path: Path) -> None:
    make_study(workspace, matrices=False)
    code = MISSING.format(name="plotly", args=["report", "-o", str(tmp_path / "r.html")])
    done = subprocess.run([sys.executable, "-c", code], cwd=workspace, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 6
    assert done.stderr == ("error: `plotly` is not installed.\n"
                           "hint: install it: pip install 'expctl[report]'\n")
