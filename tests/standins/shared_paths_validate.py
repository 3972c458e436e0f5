"""Stand-in for a validation.py that writes the same fixed `confM/` folder as training:

    python shared_paths_validate.py checkpoint=PATH quality=0.3 gate=FILE

It writes the matrices of the checkpoint's epoch and step and `confusion_matrix_latest.png`,
then (slow validation) writes `<FILE>.waiting` and waits until FILE exists, then prints
`AP: <quality + 0.05>`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> int:
    args = dict(a.split("=", 1) for a in sys.argv[1:])
    ckpt = json.loads(Path(args["checkpoint"]).read_text())
    epoch, step, tag = ckpt["epoch"], ckpt["step"], ckpt["tag"]
    Path("confM").mkdir(exist_ok=True)
    matrix = b"\x89PNG\r\n\x1a\n" + f"{tag} validate e{epoch} s{step}".encode()
    Path(f"confM/confusion_matrix_e{epoch:03d}_s{step:07d}.png").write_bytes(matrix)
    Path("confM/confusion_matrix_latest.png").write_bytes(matrix)
    gate = args.get("gate", "")
    if gate:
        Path(gate + ".waiting").write_text("waiting\n")
        while not Path(gate).exists():
            time.sleep(0.05)
    print(f"AP: {float(args['quality']) + 0.05:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
