#!/usr/bin/env python
"""Write synthetic stand-ins for CIFAR-10, in its python format, for tests and smoke runs.

    python scripts/make_synthetic_cifar.py DIR [--train N] [--test M] [--seed S]

Writes DIR/cifar-10-batches-py/data_batch_1..5 and test_batch (see
write_synthetic_cifar10 in scripts/cifar_files.py): each class its own colour and stripe pattern
plus noise, learnable in a few steps. These are not CIFAR-10 images: never report results
on them. Their MD5s are not the published ones, so runs on them need
``--data-dir DIR --no-verify``.

Refuses to overwrite existing batch files (they may be the real ones).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a source tree without installing
    sys.path.insert(0, str(REPO))

from cifar_files import write_synthetic_cifar10  # noqa: E402  (needs the sys.path line)

from actbench.tasks.airbench.data import BATCHES, BATCHES_FOLDER  # noqa: E402  (needs the sys.path line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help=f"data folder; files go to DIR/{BATCHES_FOLDER}/")
    parser.add_argument("--train", type=int, default=2000, help="training images (default 2000)")
    parser.add_argument("--test", type=int, default=500, help="test images (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.train < 0 or args.test < 0:
        parser.error("--train and --test must be >= 0")
    folder = args.dir / BATCHES_FOLDER
    existing = [name for name in BATCHES if (folder / name).exists()]
    if existing:
        parser.error(f"{folder} already holds {', '.join(existing)}; delete them or choose another DIR")
    written = write_synthetic_cifar10(folder, args.train, args.test, args.seed)
    for name, path in written.items():
        md5 = hashlib.md5(path.read_bytes()).hexdigest()
        print(f"{name:13s} {md5}  {path}")
    print(
        f"synthetic CIFAR-10 stand-ins: {args.train} train / {args.test} test images, seed "
        f"{args.seed}; not real data: use for tests and smoke runs with "
        f"--data-dir {args.dir} --no-verify"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
