"""--strategy mirrored on a CPU split into 2 or 3 logical devices (NNLAB_CPU_DEVICES): real training
on several replicas, in fresh processes (the split must happen before TensorFlow starts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def nnlab(tmp_path, devices: int, spec: str, *args):
    (tmp_path / "s.yaml").write_text(spec)
    env = {**os.environ, "NNLAB_CPU_DEVICES": str(devices), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "nnlab", "run", str(tmp_path / "s.yaml"), "--runs-dir",
                           str(tmp_path / "runs"), "--strategy", "mirrored", *args],
                          capture_output=True, text=True, env=env, timeout=600)


def test_two_replicas_train_with_a_validation_set_that_does_not_split_evenly(tmp_path):
    out = nnlab(tmp_path, 2, """
name: m
data: {source: "sklearn:diabetes"}
model: {kind: mlp, layers: 1, units: 8, batch_norm: true}
train: {epochs: 2, batch_size: 32}
search: {max_trials: 1}
""")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "MirroredStrategy (2 replicas)" in out.stdout and "at most 1 left out" in out.stdout
    summary = json.loads((tmp_path / "runs" / "m" / "summary.json").read_text())
    assert summary["device"] == "CPU, MirroredStrategy (2 replicas)" and summary["completed"] == 1
    assert summary["validation_examples"] == 89  # (diabetes: 89 rows; 88 used, a multiple of 2)


def test_three_replicas_with_folds_and_synchronized_batch_norm_and_every_fold_inside_the_strategy(tmp_path):
    spec = """
name: m
seed: 1
data: {source: "sklearn:diabetes", folds: 3}
model: {kind: mlp, layers: 1, units: 8, batch_norm: true}
train: {epochs: 2, batch_size: 33, sync_batch_norm: true}
search: {max_trials: 1}
"""
    (tmp_path / "s.yaml").write_text(spec)
    check = f"""
import os
os.environ["NNLAB_CPU_DEVICES"] = "3"
import keras
from nnlab.data.load import load_data
from nnlab.engine.backend import configure_device, mirrored_strategy
from nnlab.engine.trainer import Trainer
from nnlab.spec.loader import load_spec
from nnlab.spec.space import finish_params, fixed_params
configure_device("cpu")
spec = load_spec({str(tmp_path / 's.yaml')!r})
strategy = mirrored_strategy()
trainer = Trainer(spec, load_data(spec), strategy=strategy)
params = finish_params(spec, fixed_params(spec))
built = []
def build():
    built.append(trainer.compiled_model(params))
    return built[-1]
history = trainer.fit(params, build(), build, epochs=1, verbose=0)
assert len(built) == 3 and all(m.distribute_strategy.num_replicas_in_sync == 3 for m in built), built
assert [l.synchronized for l in built[0].layers if isinstance(l, keras.layers.BatchNormalization)] == [True]
print("ok", history.history["val_loss"])
"""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0 and "ok" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]


def test_a_batch_size_that_does_not_split_over_the_replicas_is_a_clear_error_before_training(tmp_path):
    out = nnlab(tmp_path, 3, """
name: m
data: {source: "sklearn:iris"}
model: {kind: mlp, layers: 1, units: 4}
train: {epochs: 1, batch_size: {choice: [30, 32]}}
search: {max_trials: 1}
""")
    assert out.returncode == 2 and "Traceback" not in out.stdout + out.stderr
    assert "train.batch_size 32 is not a multiple of 3" in out.stdout + out.stderr
    assert not (tmp_path / "runs" / "m" / "trials.csv").exists()


def test_two_replicas_read_memory_mapped_images_from_the_kept_copy(tmp_path, image_folder):
    """An image folder's decoded copy (runs/.decoded/) is read batch by batch from the file, on 2 replicas."""
    folder = image_folder(9, ("a", "b", "c"))
    out = nnlab(tmp_path, 2, f"""
name: m
data: {{source: images, path: {folder}, image_size: [12, 12]}}
model: {{kind: cnn, conv_blocks: 1, filters: 4, dense_units: 8}}
train: {{epochs: 2, batch_size: 8}}
search: {{max_trials: 1}}
""")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = json.loads((tmp_path / "runs" / "m" / "summary.json").read_text())
    assert summary["completed"] == 1 and summary["device"] == "CPU, MirroredStrategy (2 replicas)"
    assert len(list((tmp_path / "runs" / ".decoded").glob("*/x_train.npy"))) == 1
