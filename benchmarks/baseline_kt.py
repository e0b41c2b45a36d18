"""The hand-written Keras Tuner script nnlab is compared with, written as the Keras Tuner tutorial
teaches: a HyperModel whose `build` defines the space and whose `fit` picks the batch size, NumPy
arrays passed to `tuner.search`, `RandomSearch` with the default checkpointing.

    python benchmarks/baseline_kt.py W1 DATA.npz OUT_DIR

Prints one JSON line: trials, best score, search seconds, peak RSS (MB).
"""

from __future__ import annotations

import json
import resource
import sys
import time

import keras
import keras_tuner as kt
import numpy as np
from workloads import SEED, WORKLOADS

name, data_path, out_dir = sys.argv[1], sys.argv[2], sys.argv[3]
w = WORKLOADS[name]
arrays = np.load(data_path)
x, y, x_val, y_val = arrays["x"], arrays["y"], arrays["x_val"], arrays["y_val"]
regression = name == "W3"
classes = 0 if regression else int(y.max()) + 1


class Model(kt.HyperModel):
    def build(self, hp):
        model = keras.Sequential([keras.Input(x.shape[1:])])
        if w["kind"] == "cnn":
            model.add(keras.layers.Rescaling(1 / 255))
            filters = hp.Choice("filters", [16, 32])
            for block in range(2):
                model.add(keras.layers.Conv2D(filters * 2**block, 3, padding="same", activation="relu"))
                model.add(keras.layers.MaxPooling2D(2, padding="same"))
            model.add(keras.layers.Flatten())
            model.add(keras.layers.Dense(hp.Choice("dense_units", [32, 64]), activation="relu"))
        else:
            units = hp.Choice("units", [32, 64, 128])
            for _ in range(hp.Int("layers", 1, 3)):
                model.add(keras.layers.Dense(units, activation="relu"))
        if regression:
            model.add(keras.layers.Dense(1))
            loss, metrics = "mse", []
        else:
            model.add(keras.layers.Dense(classes, activation="softmax"))
            loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
        lr = hp.Float("learning_rate", 0.0005, 0.01, sampling="log")
        model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, metrics=metrics)
        return model

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, batch_size=hp.Choice("batch_size", w["batch"]), **kwargs)


start = time.monotonic()
tuner = kt.RandomSearch(Model(), objective=w["objective"], max_trials=w["trials"], seed=SEED,
                        directory=out_dir, project_name=name, overwrite=True)
tuner.search(x, y, epochs=w["epochs"], validation_data=(x_val, y_val), verbose=0)
seconds = time.monotonic() - start
best = tuner.oracle.get_best_trials(1)[0]
print(json.dumps({"trials": len(tuner.oracle.trials), "best_score": best.score, "search_seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
