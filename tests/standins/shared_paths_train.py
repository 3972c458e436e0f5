"""Stand-in for a Lightning script with W&B disabled, writing only to fixed relative paths:

    dummy/<random 8 chars>/checkpoints/epoch=N-step=M.ckpt   (bytes name the run and the code)
    confM/confusion_matrix_e{epoch:03d}_s{step:07d}.png, confM/confusion_matrix_latest.png
    train_log.jsonl                                           (one object per epoch, appended)
    tb/                                                       (TensorBoard scalars)

    python shared_paths_train.py run_tag=ID quality=0.3 epochs=2 steps_per_epoch=2 \
        linger_gate=FILE hold_gate=FILE

`hold_gate`: after the first epoch, wait until FILE exists (the run keeps training while
others run). `linger_gate`: after the final checkpoint, write `<FILE>.waiting`, then keep
working (a test-set pass) until FILE exists. Gates are polled by this script, never by the test.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path

CODE_VERSION = "v1"  # tests edit this line to prove which code a job ran


def wait_for(gate: str) -> None:
    if not gate:
        return
    Path(gate + ".waiting").write_text("waiting\n")
    while not Path(gate).exists():
        time.sleep(0.05)


def png(text: str) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + text.encode()


def main() -> int:
    args = dict(a.split("=", 1) for a in sys.argv[1:])
    tag, quality = args["run_tag"], float(args["quality"])
    epochs, per_epoch = int(args["epochs"]), int(args["steps_per_epoch"])
    data = Path("../data/dataset.txt")  # through the recipe's launch.links
    extra = Path("../extra.txt")  # an untracked file of the workspace
    stamp = {"tag": tag, "code": CODE_VERSION, "data": data.read_text().strip(),
             "extra": extra.read_text().strip() if extra.exists() else None, "cwd": os.getcwd()}
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter("tb")
    ckpts = Path("dummy") / secrets.token_hex(4) / "checkpoints"
    ckpts.mkdir(parents=True)
    Path("confM").mkdir(exist_ok=True)
    for epoch in range(epochs):
        if epoch == 1:
            wait_for(args.get("hold_gate", ""))
        step = (epoch + 1) * per_epoch
        val_ap, loss = quality + 0.01 * epoch, 1.0 - quality + 0.1 * (epochs - 1 - epoch)
        matrix = png(f"{tag} train e{epoch} s{step}")
        Path(f"confM/confusion_matrix_e{epoch:03d}_s{step:07d}.png").write_bytes(matrix)
        Path("confM/confusion_matrix_latest.png").write_bytes(matrix)
        (ckpts / f"epoch={epoch}-step={step}.ckpt").write_text(
            json.dumps({**stamp, "epoch": epoch, "step": step}))
        with open("train_log.jsonl", "a") as log:
            log.write(json.dumps({"epoch": epoch, "step": step, "val_ap": val_ap}) + "\n")
        summary = Summary(value=[Summary.Value(tag="train/loss", simple_value=loss)])
        writer.add_event(Event(wall_time=time.time(), step=step, summary=summary))
        writer.flush()
        print(f"Epoch {epoch}: step {step} val_AP={val_ap:.4f} loss={loss:.4f}", flush=True)
    writer.close()
    wait_for(args.get("linger_gate", ""))
    print(f"Testing: {tag} done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
