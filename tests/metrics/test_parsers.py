"""Metric parsers: cleaned log lines, the COCO and Lightning presets, regex, JSONL, JSON,
TensorBoard event files and success criteria."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from expctl.errors import BadInputError
from expctl.metrics.coco import COCO_KEYS, group_mean, parse_coco
from expctl.metrics.criteria import judge, parse_criteria, parse_criterion
from expctl.metrics.jsonfile import read_json_metrics
from expctl.metrics.jsonl import read_jsonl
from expctl.metrics.lightning import parse_lightning
from expctl.metrics.regex import read_regex
from expctl.metrics.series import reduce_index
from expctl.metrics.tensorboard import event_files, read_tensorboard
from expctl.metrics.text import clean_lines

ROWS = [
    ("Precision", "(AP)", "0.50:0.95", "   all", 100),
    ("Precision", "(AP)", "0.50     ", "   all", 100),
    ("Precision", "(AP)", "0.75     ", "   all", 100),
    ("Precision", "(AP)", "0.50:0.95", " small", 100),
    ("Precision", "(AP)", "0.50:0.95", "medium", 100),
    ("Precision", "(AP)", "0.50:0.95", " large", 100),
    ("Recall   ", "(AR)", "0.50:0.95", "   all", 1),
    ("Recall   ", "(AR)", "0.50:0.95", "   all", 10),
    ("Recall   ", "(AR)", "0.50:0.95", "   all", 100),
    ("Recall   ", "(AR)", "0.50:0.95", " small", 100),
    ("Recall   ", "(AR)", "0.50:0.95", "medium", 100),
    ("Recall   ", "(AR)", "0.50:0.95", " large", 100),
]


def coco_block(values: list[float]) -> list[str]:
    """The 12 lines pycocotools prints for `values` (in COCO_KEYS order)."""
    return [f" Average {kind} {short} @[ IoU={iou} | area={area} | maxDets={dets:>3} ] = {v:.3f}"
            for (kind, short, iou, area, dets), v in zip(ROWS, values, strict=True)]


def values(base: float) -> list[float]:
    return [round(base + i / 1000, 3) for i in range(12)]


# --- cleaning ---------------------------------------------------------------------------------


def test_clean_lines_splits_carriage_returns_and_drops_progress_bars():
    raw = ("loading\r\n"
           "Epoch 0:   0%|          | 0/10 [00:00<?, ?it/s]"
           "\rEpoch 0:  50%|█████     | 5/10 [00:01<00:01,  4.95it/s, loss=0.3, v_num=0]"
           "\rreal line after a redraw\n"
           " 30%|███       | 3/10 [00:00<00:00, 100.00it/s]val_AP=0.31 printed under a bar\n"
           "\x1b[32mcoloured\x1b[0m\n"
           "\r100%|██████████| 10/10 [00:02<00:00,  4.99it/s]\n")
    assert clean_lines(raw) == ["loading", "real line after a redraw",
                                "val_AP=0.31 printed under a bar", "coloured"]


# --- COCO -------------------------------------------------------------------------------------


def test_coco_single_block_maps_every_line():
    summary = parse_coco(clean_lines("\n".join(coco_block(values(0.3))) + "\n"))
    assert summary is not None
    assert summary.overall == dict(zip(COCO_KEYS, values(0.3), strict=True))
    assert summary.per_class == []


def test_coco_takes_block_after_last_overall_and_keeps_per_class_blocks():
    lines = []
    for class_id in range(3):
        lines.append(f"Class {class_id}:")
        lines += coco_block(values(0.1 * (class_id + 1)))
    lines.append("=== Overall ===")
    overall = coco_block(values(0.5))
    # tqdm glued in front of one summary line, as in a raw screen log
    overall[3] = "Validating: 100%|██████████| 8/8 [00:01<00:00]\r" + overall[3]
    lines += overall
    summary = parse_coco(clean_lines("\n".join(lines)))
    assert summary.overall == dict(zip(COCO_KEYS, values(0.5), strict=True))
    assert [b["map"] for b in summary.per_class] == [0.1, 0.2, 0.3]
    assert summary.class_ids == [0, 1, 2]  # from the `Class N:` headers
    assert group_mean(summary.by_class(), [1, 2]).value == pytest.approx(0.25)
    assert group_mean(summary.by_class(), [1, 5]).value is None  # never a partial mean


def test_coco_names_lines_by_content_so_longer_summaries_parse():
    extra = [" Average Recall     (AR) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.700",
             " Average Recall     (AR) @[ IoU=0.75      | area=   all | maxDets=100 ] = 0.600"]
    summary = parse_coco(coco_block(values(0.3)) + extra)  # faster-coco-eval's 14 lines
    assert summary.overall["ar50"] == 0.7 and summary.overall["ar75"] == 0.6
    assert summary.overall["map"] == 0.3 and len(summary.overall) == 14
    lvis = [line.replace("maxDets=100", "maxDets=300") for line in coco_block(values(0.2))]
    assert parse_coco(lvis).overall["ar300"] == 0.208


def test_coco_leaves_out_minus_one_and_uses_last_block_without_overall():
    first = coco_block(values(0.2))
    second = coco_block([0.4] * 3 + [-1.0] + [0.4] * 8)
    summary = parse_coco(first + second)
    assert "map_small" not in summary.overall and summary.overall["map"] == 0.4
    assert parse_coco(["no summary here"]) is None


# --- Lightning --------------------------------------------------------------------------------

RICH_TABLE = """\
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃      Validate metric      ┃       DataLoader 0        ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│          val/mAP          │    0.3401000201702118     │
│         val_loss          │    1.2339999675750732     │
└───────────────────────────┴───────────────────────────┘
"""

PLAIN_TABLE = """\
────────────────────────────────────────────────────────────────────────────────
       Test metric             DataLoader 0             DataLoader 1
────────────────────────────────────────────────────────────────────────────────
        test/AP                  0.25                     0.5
       test_loss             2.0000001e-01
────────────────────────────────────────────────────────────────────────────────
"""


def test_lightning_rich_boxed_table():
    raw = "Validation DataLoader 0: 100%|██████████| 4/4 [00:00<00:00]\r" + RICH_TABLE
    assert parse_lightning(clean_lines(raw)) == {"val/mAP": 0.3401000201702118,
                                                 "val_loss": 1.2339999675750732}


def test_lightning_ascii_pipes_and_dashes():
    table = ("+-------------------+-----------------+\n"
             "|  Validate metric  |  DataLoader 0   |\n"
             "+-------------------+-----------------+\n"
             "|     val_rmse      |      2.125      |\n"
             "|      delta1       |      0.5        |\n"
             "+-------------------+-----------------+\n")
    assert parse_lightning(clean_lines(table)) == {"val_rmse": 2.125, "delta1": 0.5}


def test_lightning_plain_table_first_dataloader_and_last_table_wins():
    older = RICH_TABLE.replace("0.3401000201702118", "0.1")
    found = parse_lightning(clean_lines(older + "some training output\n" + PLAIN_TABLE))
    assert found == {"test/AP": 0.25, "test_loss": 0.20000001}
    assert parse_lightning(["nothing"]) is None


# --- regex ------------------------------------------------------------------------------------


def test_regex_last_match_first_group_and_whole_match():
    lines = ["epoch 1 val_rmse=3.1", "epoch 2 val_rmse=2.5 (best)", "loss: nan", "score 7"]
    found = read_regex(lines, {"val_rmse": r"val_rmse=([\d.]+)", "loss": r"loss: (\S+)",
                               "score": r"(?<=score )\d+"})
    assert found == {"val_rmse": 2.5, "score": 7.0}  # `nan` text is not a number here
    with pytest.raises(BadInputError, match="invalid regular expression"):
        read_regex(lines, {"x": "(unclosed"})


# --- JSONL and JSON ---------------------------------------------------------------------------


def lower_for_gap(name: str) -> str:
    return "lower" if name.endswith("gap") else "higher"


def test_jsonl_reductions_by_direction_and_torn_last_line(tmp_path: Path):
    path = tmp_path / "train_log.jsonl"
    records = [{"epoch": 0, "ap": 0.2, "ap_gap": 0.09, "eval": {"ar": 0.3}},
               {"epoch": 1, "ap": 0.35, "ap_gap": 0.05, "eval": {"ar": 0.4}},
               {"epoch": 2, "ap": 0.3, "ap_gap": 0.07, "note": "x"}]
    path.write_text("\n".join(json.dumps(r) for r in records) + '\n{"epoch": 3, "ap": 0.9')
    fields = {"ap": "ap", "ap_gap": "ap_gap", "ar": "eval.ar"}
    assert read_jsonl(path, fields, "last", lower_for_gap) == {"ap": 0.3, "ap_gap": 0.07,
                                                                "ar": 0.4}
    assert read_jsonl(path, fields, "best", lower_for_gap) == {"ap": 0.35, "ap_gap": 0.05,
                                                                "ar": 0.4}
    assert read_jsonl(path, fields, "min", lower_for_gap)["ap"] == 0.2
    # `by`: the gap at the epoch with the best AP, not the best gap anywhere
    records[1]["ap_gap"] = 0.08
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert read_jsonl(path, fields, "best", lower_for_gap, by="ap")["ap_gap"] == 0.08
    with pytest.raises(BadInputError, match="names no metric"):
        read_jsonl(path, fields, "best", lower_for_gap, by="nope")


def test_reduce_index_ties_go_to_the_later_point():
    assert reduce_index([1.0, 3.0, 3.0, 2.0], "max", "higher") == 2
    assert reduce_index([1.0, 3.0], "best", "lower") == 0


def test_json_key_paths_with_list_indexes(tmp_path: Path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"bbox": {"mAP": 0.31, "per_class": [0.1, 0.2]},
                                "a.b": 1, "flag": True}))
    found = read_json_metrics(path, {"map": "bbox.mAP", "c1": "bbox.per_class.1",
                                     "last": "bbox.per_class.-1", "dotted": "a.b",
                                     "flag": "flag", "none": "bbox.nope"})
    assert found == {"map": 0.31, "c1": 0.2, "last": 0.2, "dotted": 1.0}


# --- TensorBoard ------------------------------------------------------------------------------


def write_events(folder: Path, name: str, points: list[tuple[int, float]], wall0: float) -> None:
    """An event file written with tensorboard's own writer (no torch needed)."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(folder), filename_suffix=name)
    for i, (step, value) in enumerate(points):
        summary = Summary(value=[Summary.Value(tag="val/rmse", simple_value=value)])
        writer.add_event(Event(wall_time=wall0 + i, step=step, summary=summary))
    writer.close()


def test_tensorboard_merges_files_and_reduces(tmp_path: Path):
    write_events(tmp_path / "tb", ".a", [(0, 3.0), (1, 2.5)], wall0=1000.0)
    write_events(tmp_path / "tb", ".b", [(2, 2.0), (3, 2.25)], wall0=2000.0)  # a resume
    files = event_files([tmp_path / "tb"])
    assert len(files) == 2
    tags = {"val_rmse": "val/rmse"}
    assert read_tensorboard(files, tags, "last", lambda _n: "lower") == {"val_rmse": 2.25}
    assert read_tensorboard(files, tags, "best", lambda _n: "lower") == {"val_rmse": 2.0}
    assert read_tensorboard(files, tags, "max", lambda _n: "lower") == {"val_rmse": 3.0}
    assert read_tensorboard(files, {"x": "missing/tag"}, "last", lambda _n: "lower") == {}


# --- criteria ---------------------------------------------------------------------------------


def test_criteria_operators_percent_and_verdicts():
    criteria = parse_criteria({"small_map": ">= 0.20", "val_rmse": "< 2.2", "ap": "!= 0",
                               "delta1": "> 45%", "gap": "<=0.1", "n": "== 3"})
    verdicts = {v.criterion.metric: v for v in judge(criteria, {
        "small_map": 0.2, "val_rmse": 2.2, "ap": 0.0, "delta1": 0.46, "n": 3})}
    assert [verdicts[m].passed for m in ("small_map", "val_rmse", "ap", "delta1", "n")] == [
        True, False, False, True, True]
    assert verdicts["gap"].passed is None and verdicts["gap"].word == "NOT MEASURED"
    assert parse_criterion("x", "> 45%").threshold == pytest.approx(0.45)


@pytest.mark.parametrize("text", ["0.2", ">= high", "=> 0.2", ">= 0.2 0.3", ""])
def test_malformed_criterion_is_a_clear_error(text):
    with pytest.raises(BadInputError, match="is not a comparison"):
        parse_criterion("small_map", text)
