"""Draws the example image folder configs/data/shapes/: one subfolder per class (circle, square,
triangle), 64×64 images in PNG and JPEG, with random colours, sizes, positions and noise.

    python configs/data/make_shapes.py [FOLDER] [--per-class N]

The folder is committed; this script only documents how it was made (seeded, so it is reproducible).
"""

import argparse
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter


def draw(kind: str, rng: random.Random, size: int = 64) -> Image.Image:
    background = tuple(rng.randint(0, 120) for _ in range(3))
    img = Image.new("RGB", (size, size), background)
    pen = ImageDraw.Draw(img)
    colour = tuple(rng.randint(130, 255) for _ in range(3))
    r = rng.randint(size // 5, size // 3)
    cx, cy = rng.randint(r, size - r), rng.randint(r, size - r)
    if kind == "circle":
        pen.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif kind == "square":
        pen.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
    else:
        pen.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    for _ in range(rng.randint(10, 40)):  # speckle noise
        x, y = rng.randrange(size), rng.randrange(size)
        img.putpixel((x, y), tuple(rng.randint(0, 255) for _ in range(3)))
    return img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.8)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", default=str(Path(__file__).parent / "shapes"))
    parser.add_argument("--per-class", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(7)
    for kind in ("circle", "square", "triangle"):
        out = Path(args.folder) / kind
        out.mkdir(parents=True, exist_ok=True)
        for i in range(args.per_class):
            img = draw(kind, rng)
            if i % 3 == 0:
                img.save(out / f"{kind}_{i:03d}.jpg", quality=90)
            else:
                img.save(out / f"{kind}_{i:03d}.png")


if __name__ == "__main__":
    main()
