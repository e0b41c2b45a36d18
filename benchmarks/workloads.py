"""The speed benchmark's workloads: the same data, split, space and budget for nnlab and for the
hand-written Keras Tuner baseline (`baseline_kt.py`).

W1  MLP classification on scikit-learn's digits, 12 trials × 10 epochs, batch 32/64
W2  CNN on 6,000 synthetic 32×32×3 images (4 classes, 10% of labels redrawn at random), 8 trials × 5 epochs
W3  MLP regression, 20,000 × 20, 12 trials × 10 epochs

`prepare(name, folder)` writes the workload's data as an .npz (train and validation arrays, split once
with the workload's seed) and an nnlab spec that points at it; the baseline reads the same .npz. The
spec has `refit: false`: the hand-written baseline has no final refit, so like is timed with like.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SEED = 7
WORKLOADS = {
    "W1": dict(kind="mlp", trials=12, epochs=10, batch=[32, 64], objective="val_accuracy"),
    "W2": dict(kind="cnn", trials=8, epochs=5, batch=[32, 64], objective="val_accuracy"),
    "W3": dict(kind="mlp", trials=12, epochs=10, batch=[32, 64], objective="val_loss"),
}


def _arrays(name: str, size: float = 1.0):
    rng = np.random.default_rng(SEED)
    if name == "W1":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x, y = digits.data.astype(np.float32), digits.target.astype(np.int64)
    elif name == "W2":
        n = int(6000 * size)
        y = rng.integers(0, 4, n)
        x = rng.normal(0.0, 40.0, (n, 32, 32, 3)) + 100
        rows, cols = np.mgrid[0:32, 0:32]
        patterns = [np.sin(rows / 3.0), np.sin(cols / 3.0), np.sin((rows + cols) / 4.0), np.cos(rows * cols / 60.0)]
        for c in range(4):
            x[y == c] += 30 * patterns[c][None, :, :, None]
        x = np.clip(x, 0, 255).astype(np.uint8)
        flip = rng.random(n) < 0.1  # label noise: no model reaches 1.0, so the scores can be compared
        y[flip] = rng.integers(0, 4, int(flip.sum()))
    else:
        n = int(20000 * size)
        x = rng.normal(size=(n, 20)).astype(np.float32)
        w = rng.normal(size=20)
        y = (x @ w + 0.5 * np.sin(3 * x[:, 0]) * x[:, 1] + rng.normal(0, 0.3, n)).astype(np.float32) * 10 + 50
    return x, y


def prepare(name: str, folder: Path, size: float = 1.0) -> tuple[Path, Path]:
    """Write the workload's .npz and nnlab spec into `folder`; return their paths."""
    from sklearn.model_selection import train_test_split

    folder.mkdir(parents=True, exist_ok=True)
    x, y = _arrays(name, size)
    stratify = y if name != "W3" else None
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=SEED, stratify=stratify)
    if x.ndim == 2:  # tabular: standardize with training statistics, as nnlab and the tutorial do
        mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
        x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    data = folder / f"{name}.npz"
    np.savez(data, x=x_train, y=y_train, x_val=x_val, y_val=y_val)
    w = WORKLOADS[name]
    if w["kind"] == "mlp":
        model = "{kind: mlp, layers: {int: [1, 3]}, units: {choice: [32, 64, 128]}}"
    else:
        model = "{kind: cnn, conv_blocks: 2, filters: {choice: [16, 32]}, dense_units: {choice: [32, 64]}}"
    task = "regression" if name == "W3" else "classification"
    spec = folder / f"{name}.yaml"
    spec.write_text(
        f"name: {name}\nseed: {SEED}\n"
        f"data: {{source: npz, path: {data.name}, task: {task}}}\n"
        f"model: {model}\n"
        f"train: {{epochs: {w['epochs']}, batch_size: {{choice: {w['batch']}}}, "
        f"learning_rate: {{float: [0.0005, 0.01], log: true}}}}\n"
        f"search: {{tuner: random, max_trials: {w['trials']}, objective: {w['objective']}, refit: false}}\n"
    )
    return data, spec
