"""Images per second for an epoch over an image folder: decoded every epoch (before) or once per run (nnlab).

    python benchmarks/images.py [--images 2000] [--size 64] [--epochs 3]

Draws a seeded folder of photo-sized JPEG and PNG images (three classes, 160–320 px a side, drawn like
the example shapes folder) and
reads it at `--size`×`--size` two ways, each timed epoch by epoch:

- before: the tutorial's `keras.utils.image_dataset_from_directory`, which reads and decodes every
  file again on every epoch of every trial;
- after: nnlab, which decodes the folder once per run (`nnlab.data.images.read_image_folder`, Pillow in a
  thread pool) and then serves each epoch from memory (`nnlab.engine.pipeline.TrainingData`).

Prints images per second of each epoch, the one-time decode, and what a sweep of 10 trials × 10
epochs would spend on input either way.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "configs" / "data"))

from make_shapes import draw  # noqa: E402


def draw_folder(folder: Path, images: int) -> None:
    """Photo-sized versions of the example shapes (configs/data/make_shapes.py): 160–320 px, 2/3 JPEG."""
    rng = random.Random(7)
    for i in range(images):
        kind = ("circle", "square", "triangle")[i % 3]
        img = draw(kind, rng, size=rng.randint(160, 320))
        out = folder / kind
        out.mkdir(parents=True, exist_ok=True)
        if i % 3 == 2:
            img.save(out / f"{i:05d}.png")
        else:
            img.save(out / f"{i:05d}.jpg", quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        draw_folder(folder, args.images)
        from nnlab.data.images import read_image_folder
        from nnlab.engine.backend import configure_device, import_keras
        from nnlab.engine.pipeline import TrainingData

        configure_device("cpu")
        keras = import_keras()
        n = args.images

        before = keras.utils.image_dataset_from_directory(
            folder, image_size=(args.size, args.size), batch_size=32, seed=7, verbose=False)
        before_rates = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            for _batch in before:
                pass
            before_rates.append(n / (time.perf_counter() - start))

        start = time.perf_counter()
        decoded = read_image_folder(folder, (args.size, args.size), "rgb")
        decode_s = time.perf_counter() - start
        data = TrainingData(decoded.images, decoded.labels, decoded.images[:32], decoded.labels[:32], seed=7)
        after_rates = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            for _batch in data.batches(32):
                pass
            after_rates.append(n / (time.perf_counter() - start))

    fmt = ", ".join
    print(f"{n} images ({args.size}×{args.size} RGB, from JPEG/PNG files of 160–320 px), epochs of batch 32:")
    print(f"before (image_dataset_from_directory, decodes every epoch): "
          f"{fmt(f'{r:,.0f}' for r in before_rates)} images/s")
    print(f"after (nnlab): one decode {n / decode_s:,.0f} images/s ({decode_s:.2f} s), then epochs "
          f"{fmt(f'{r:,.0f}' for r in after_rates)} images/s")
    epochs = 100  # 10 trials × 10 epochs
    best_before = max(before_rates)
    print(f"input time for 10 trials × 10 epochs: before {epochs * n / best_before:.1f} s, "
          f"after {decode_s + epochs * n / max(after_rates):.1f} s")


if __name__ == "__main__":
    main()
