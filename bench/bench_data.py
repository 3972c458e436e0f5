"""Data-generation throughput of the synthetic event data (frames per second), and cache reads.

    python bench/bench_data.py [--sequences 16] [key=value ...]

Overrides are the training script's data keys (e.g. data.width=320 data.height=192). Nothing
is written to the real cache: the cache round trip uses a temporary folder. (Generation is
numpy on the CPU; --device is accepted for symmetry with bench_train.py and must be cpu.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from models.config import ConfigError, exit_bad_config, parse_config  # noqa: E402
from models.data import generate_sequence, load_or_generate  # noqa: E402


def main() -> None:
    """Parse arguments, time generation and a cache round trip, print result lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=16, help="sequences to generate")
    parser.add_argument("--device", default="cpu", choices=["cpu"], help="generation is numpy")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = parser.parse_args()
    try:
        cfg = parse_config(args.overrides).data
    except ConfigError as error:
        exit_bad_config(error)
    started = time.perf_counter()
    for index in range(args.sequences):
        generate_sequence(cfg, "train", index)
    elapsed = time.perf_counter() - started
    frames = args.sequences * cfg.seq_len
    print(f"generate: {frames / elapsed:.1f} frames/s ({frames} frames of "
          f"{cfg.width}x{cfg.height}, {2 * cfg.time_bins} channels, in {elapsed:.2f} s)")

    with tempfile.TemporaryDirectory() as folder:
        small = replace(cfg, cache_dir=folder, train_sequences=args.sequences, val_sequences=1)
        started = time.perf_counter()
        load_or_generate(small, log=lambda message: None)
        written = time.perf_counter() - started
        started = time.perf_counter()
        splits = load_or_generate(small, log=lambda message: None)
        read = time.perf_counter() - started
        total = sum(s.num_frames for s in splits.values())
        size = sum(p.stat().st_size for p in Path(folder).glob("*.npz")) / 1e6
        print(f"cache: generate+write {total / written:.1f} frames/s, read {total / read:.1f} "
              f"frames/s ({size:.1f} MB for {total} frames)")


if __name__ == "__main__":
    main()
