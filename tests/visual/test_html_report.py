"""The HTML report in a real browser: headless chromium opens it from file:// with networking
off (its own network namespace where `unshare -n` works, a dead proxy and no DNS besides),
and the page itself says what it drew. `make system-deps` installs chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_study import STEPS, curve, make_study

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--proxy-server=127.0.0.1:9",
                  "--host-resolver-rules=MAP * ~NOTFOUND"]

# Injected first into a copy of the report: records errors and every resource the page loads,
# then, once plotly has drawn, what each chart holds and how much of it was painted.
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  window.__errors.push(String(e.message || (e.target && (e.target.src || e.target.href))));
}, true);
var __consoleError = console.error;
console.error = function () { window.__errors.push([].join.call(arguments, ' '));
  __consoleError.apply(console, arguments); };
window.addEventListener('load', function () { setTimeout(function () {
  var charts = [].map.call(document.querySelectorAll('.plotly-graph-div'), function (gd) {
    var box = gd.getBoundingClientRect();
    var lines = [].filter.call(gd.querySelectorAll('path.js-line'), function (p) {
      return (p.getAttribute('d') || '').length > 10; }).length;
    var cells = gd.querySelectorAll('.hm image, .heatmaplayer image').length;
    return {id: gd.id, width: box.width, height: box.height, lines: lines, cells: cells,
            traces: gd.data.map(function (t) { return {name: t.name, meta: t.meta || null,
              type: t.type, x: Array.from(t.x || []), y: Array.from(t.y || [])}; })};
  });
  var resources = performance.getEntriesByType('resource').map(function (r) { return r.name; });
  var pre = document.createElement('pre'); pre.id = 'probe';
  pre.textContent = JSON.stringify({charts: charts, errors: window.__errors,
                                    resources: resources});
  document.body.appendChild(pre);
}, 1000); });
</script>"""


def chromium() -> list[str]:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is not installed: run `make system-deps` (apt-get install chromium)")
    isolated = subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0 \
        if shutil.which("unshare") else False
    return (["unshare", "-n"] if isolated else []) + [exe]


def browse(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [*chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               "--virtual-time-budget=5000", *args, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def probe(report: Path, tmp_path: Path, shot: Path) -> dict:
    """What the probed copy of `report` says it drew, and a screenshot of it in `shot`."""
    text = report.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    done = browse(probed, tmp_path / "profile", "--dump-dom", f"--screenshot={shot}",
                  "--window-size=1280,1800")
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-3000:]
    return json.loads(html.unescape(found.group(1)))


def test_the_report_renders_offline_with_the_logged_values(workspace: Path, cli,
                                                           tmp_path: Path) -> None:
    make_study(workspace)
    report = tmp_path / "report.html"
    code, _, err = cli("report", "--sweep", "lb", "-o", str(report))
    assert code == 0, err
    shot = tmp_path / "shot.png"
    seen = probe(report, tmp_path, shot)
    assert seen["errors"] == []
    assert all(r.startswith(("data:", "file:")) for r in seen["resources"]), seen["resources"]

    curves = [c for c in seen["charts"] if c["id"].startswith("curve-")]
    by_series = {c["traces"][0]["meta"]["series"]: c for c in curves}
    assert sorted(by_series) == ["acc", "loss", "small_map", "val/rmse"]
    for chart in curves:
        assert chart["width"] > 300 and chart["height"] > 300
        assert chart["lines"] == len(chart["traces"])  # every trace painted a line
    loss = by_series["loss"]
    # the baseline drawn last (on top), named as such
    assert [t["meta"]["run"] for t in loss["traces"]] == ["study_lb2", "study_lb3", "study"]
    assert loss["traces"][-1]["name"] == "study (baseline)"
    lb2 = next(t for t in loss["traces"] if t["meta"]["run"] == "study_lb2")
    assert lb2["x"] == STEPS and lb2["y"] == curve("study_lb2")["loss"]
    records = [json.loads(line) for line in
               (workspace / "runs" / "study_lb2" / "metrics.jsonl").read_text().splitlines()]
    assert lb2["y"] == [r["loss"] for r in records]  # exactly what the training logged

    sweeps = [c for c in seen["charts"] if c["id"].startswith("sweep-")]
    assert len(sweeps) == 1 and sorted(sweeps[0]["traces"][0]["x"]) == [1.0, 2.0, 3.0]
    matrices = [c for c in seen["charts"] if c["id"].startswith(("cm-", "cmd-"))]
    # the baseline's heatmap, study_lb2's and its difference against the baseline
    assert sorted(c["id"].split("-")[0] for c in matrices) == ["cm", "cm", "cmd"]
    assert all(c["cells"] > 0 for c in matrices)  # heatmaps painted

    from PIL import Image

    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1800)
    # The first chart's drawing area (below the title and the leaderboard): painted lines in
    # several colours, not a blank box.
    area = image.crop((60, 450, 1100, 800))
    colours = area.getcolors(maxcolors=1_000_000)
    painted = sum(n for n, rgb in colours if sum(rgb) < 600)
    assert len(colours) > 50 and painted > 2000
