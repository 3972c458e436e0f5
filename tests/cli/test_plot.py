"""`expctl plot`: one series of several runs as PNG/SVG/PDF, and its points as CSV."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report_study import make_study


@pytest.fixture
def study(workspace: Path) -> Path:
    make_study(workspace, matrices=False)
    return workspace


def test_figures_in_each_format(study: Path, cli, tmp_path: Path) -> None:
    png, svg, pdf = (tmp_path / f"loss.{s}" for s in ("png", "svg", "pdf"))
    for path in (png, svg, pdf):
        code, _, err = cli("plot", "loss", "-o", str(path))
        assert code == 0, err
        assert f"wrote {path}: loss of 3 runs" in err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert Image.open(png).size == (1050, 630)
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {"".join(t.itertext()).strip() for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"study (baseline)", "study_lb2", "study_lb3", "step", "loss"} <= texts
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_csv_equals_the_logged_values(study: Path, cli) -> None:
    code, out, err = cli("plot", "loss", "study_lb2", "study_lb3", "--format", "csv")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["run", "step", "loss"]
    for run_id in ("study", "study_lb2", "study_lb3"):  # the baseline comes along
        logged = [json.loads(line) for line in
                  (study / "runs" / run_id / "metrics.jsonl").read_text().splitlines()]
        mine = [(int(r[1]), float(r[2])) for r in rows[1:] if r[0] == run_id]
        assert mine == [(r["step"], r["loss"]) for r in logged]


def test_csv_to_a_file_and_a_tensorboard_series(study: Path, cli, tmp_path: Path) -> None:
    target = tmp_path / "rmse.csv"
    code, out, err = cli("plot", "val/rmse", "--format", "csv", "-o", str(target))
    assert (code, out) == (0, ""), err
    assert target.read_text() == "run,step,val/rmse\nstudy_lb2,0,3.0\nstudy_lb2,1,2.5\n" \
        "study_lb2,2,2.25\n"


BAD_REQUESTS = [
    (["nope", "-o", "x.png"], 3, "No selected run logged a series `nope`."),
    (["loss", "-o", "x.jpg"], 2, "Cannot tell the figure format of `x.jpg`."),
    (["loss"], 2, "No figure file given."),
]


def test_bad_requests(study: Path, cli) -> None:
    for args, exit_code, message in BAD_REQUESTS:
        code, out, err = cli("plot", *args)
        assert (code, out) == (exit_code, ""), args
        assert err.startswith(f"error: {message}") and "Traceback" not in err
        if exit_code == 3:
            assert "hint: series logged: acc, loss, small_map, val/rmse" in err
