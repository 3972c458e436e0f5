"""The coco source groups per-class blocks by the class ids printed in their headers: out of
order, with ids missing (named, with the configured policy), and by print order without ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from standins.kit import cli, make_workspace, results  # noqa: E402

from expctl.metrics.coco import group_mean, parse_coco  # noqa: E402
from expctl.phases.new import create_run  # noqa: E402
from expctl.phases.record import record_run  # noqa: E402
from expctl.workspace import Workspace  # noqa: E402

LINES = [
    "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
    "Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ]",
    "Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ]",
    "Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
    "Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
    "Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
    "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ]",
    "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]",
    "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
    "Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
    "Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
    "Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
]
# The AP printed for each class id: what the hand-computed means below are made of.
AP = {1: 0.111, 2: 0.222, 3: 0.333, 4: 0.444, 5: 0.555}


def block(ap: float) -> list[str]:
    return [f" {line} = {ap + i * 0.001:.3f}" for i, line in enumerate(LINES)]


def validation_log(headers: list[tuple[str, float]]) -> str:
    """A validation script's output: progress noise, one block per header, then Overall."""
    lines = ["loading annotations into memory...", "Done (t=0.01s)", "num_classes: 8"]
    for header, ap in headers:
        lines += [header, "Accumulating evaluation results...", *block(ap)]
    lines += ["Overall", *block(0.3)]
    return "\n".join(lines) + "\n"


RVT_ORDER = [3, 1, 5, 2, 4]  # printed out of order, class 0 absent from the output


def rvt_log() -> str:
    return validation_log([(f"Class id - [{k}] No. of instances - {900 + k}", AP[k])
                           for k in RVT_ORDER])


def test_ids_from_rvt_headers_printed_out_of_order():
    summary = parse_coco(rvt_log().splitlines())
    assert summary.class_ids == RVT_ORDER
    assert summary.overall["map"] == 0.3
    by_class = summary.by_class()
    assert {k: v["map"] for k, v in by_class.items()} == AP
    small = group_mean(by_class, [2, 3, 4])
    assert small.value == pytest.approx((0.222 + 0.333 + 0.444) / 3) and small.missing == []


@pytest.mark.parametrize("header", [
    "Class id - [{k}] No. of instances - 17",
    "Class: {k}",
    "class_id={k}",
    "Class {k} (Pedestrian)",
    "Class {k} (Pedestrian):",
    "[{k}] Pedestrian",
    "category_id: {k}",
    "Category {k}",
])
def test_every_documented_header_form_names_the_class(header: str):
    order = [4, 2, 3]
    summary = parse_coco(validation_log([(header.format(k=k), AP[k]) for k in order])
                         .splitlines())
    assert summary.class_ids == order
    assert summary.by_class()[3]["map"] == AP[3]


def test_missing_ids_skip_or_mean_present():
    by_class = parse_coco(rvt_log().splitlines()).by_class()
    skipped = group_mean(by_class, [0, 1, 2], missing="skip")
    assert skipped.value is None and skipped.missing == [0]
    present = group_mean(by_class, [0, 1, 2], missing="mean_present")
    assert present.value == pytest.approx((0.111 + 0.222) / 2) and present.missing == [0]


def test_blocks_without_ids_keep_the_print_order():
    summary = parse_coco(validation_log([("Per-class results:", AP[k]) for k in (1, 2, 3)])
                         .splitlines())
    assert summary.numbering == "positional"
    assert group_mean(summary.by_class(), [0, 2]).value == pytest.approx((0.111 + 0.333) / 2)


RECIPE = """\
description: coco ids
command: "true"
params: {{lr: 0.1}}
metrics:
  primary: map
  sources:
    - kind: coco
      path: validation_results/validation_output.log
      metrics: {{map: map}}
      groups: {{small_map: [2, 3, 4], car_truck: [0, 1], big: [5]}}
      missing: {missing}
"""


def workspace(tmp_path: Path, missing: str) -> Workspace:
    return Workspace(make_workspace(tmp_path, {"coco": RECIPE.format(missing=missing)}))


def test_record_groups_by_id_and_names_the_unmeasured_group(tmp_path: Path):
    ws = workspace(tmp_path, "skip")
    run = create_run(ws, "coco", "coco")
    (run.path / "validation_results" / "validation_output.log").write_text(rvt_log())
    done = cli(ws.root, "record", "coco")
    metrics = results(ws.root, "coco")["metrics"]
    assert metrics["small_map"] == pytest.approx((0.222 + 0.333 + 0.444) / 3)
    assert metrics["big"] == pytest.approx(0.555)
    assert metrics["map"] == 0.3 and "car_truck" not in metrics
    assert "group `car_truck`: class id(s) 0 not in the output, not measured" in done.stderr
    source = results(ws.root, "coco")["sources"][0]
    assert source["notes"] == ["class ids: as printed in the block headers (3, 1, 5, 2, 4)"]
    assert source["missing"] == ["car_truck"]
    assert "class id(s) 0 not in the output" in source["gaps"][0]
    info = (run.path / "validation_results" / "evaluation_info.txt").read_text()
    assert "warning: group `car_truck`: class id(s) 0 not in the output" in info


def test_record_mean_present_averages_what_is_there(tmp_path: Path):
    ws = workspace(tmp_path, "mean_present")
    run = create_run(ws, "coco", "coco")
    (run.path / "validation_results" / "validation_output.log").write_text(rvt_log())
    result = record_run(ws, run)
    assert result.metrics["car_truck"] == pytest.approx(0.111)
    assert any("class id(s) 0 not in the output, mean of the 1 classes present" in w
               for w in result.warnings)


def test_record_says_when_blocks_were_numbered_by_position(tmp_path: Path):
    ws = workspace(tmp_path, "skip")
    run = create_run(ws, "coco", "coco")
    log = validation_log([("--- next class ---", AP[k]) for k in (1, 2, 3, 4, 5, 1)])
    (run.path / "validation_results" / "validation_output.log").write_text(log)
    record_run(ws, run)
    data = json.loads((run.path / "experiment_results.json").read_text())
    assert data["metrics"]["small_map"] == pytest.approx((0.333 + 0.444 + 0.555) / 3)
    assert data["metrics"]["car_truck"] == pytest.approx((0.111 + 0.222) / 2)
    assert data["sources"][0]["notes"][0].startswith("class ids: by print order from 0")
