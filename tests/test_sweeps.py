"""Real sweeps on tiny data (2–3 trials, 1–2 epochs): each model kind, each data source, each
tuner, resume, failing trials, and compare on the results. These train real models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.engine.sweep import run
from nnlab.progress import Reporter
from nnlab.runs import files as results
from nnlab.runs.compare import compare
from nnlab.spec.loader import load_spec

pytestmark = pytest.mark.slow
runner = CliRunner()


def sweep(write, tmp_path, text, *overrides, name="s.yaml"):
    spec = load_spec(write(name, text), list(overrides))
    return run(spec, tmp_path / "runs", quiet=True)


def check_run(result, trials: int):
    run_dir = result.run_dir
    assert result.exit_code == 0
    rows = list(results.read_trials(run_dir / results.TRIALS, result.summary.hyperparameter_names,
                                    result.summary.metric_names))
    assert len(rows) == trials and all(r.status == "completed" for r in rows)
    summary = json.loads((run_dir / results.SUMMARY).read_text())
    assert summary["completed"] == trials and summary["best_score"] is not None
    for name in (results.SPEC_COPY, results.BEST_MODEL, results.PREPROCESSING):
        assert (run_dir / name).is_file()
    return summary


def test_csv_mlp_random_then_resume_then_compare(write, tmp_path):
    rng = np.random.default_rng(0)
    lines = ["size,colour,label"] + [f"{rng.normal():.3f},{['red', 'blue'][i % 2]},{'Yes' if i % 3 else 'No'}"
                                     for i in range(60)]
    write("d.csv", "\n".join(lines) + "\n")
    text = """
        data: {source: csv, path: d.csv, target: label}
        model: {kind: mlp, layers: {int: [1, 2]}, units: {choice: [4, 8]}}
        train: {epochs: 2, batch_size: 16, metrics: [f1]}
        search: {tuner: random, max_trials: 2, objective: val_f1}
    """
    summary = check_run(sweep(write, tmp_path, text), 2)
    assert summary["classes"] == ["No", "Yes"] and summary["direction"] == "max"
    # Resume: the two trials are kept, one more runs.
    result = sweep(write, tmp_path, text, "search.max_trials=3")
    check_run(result, 3)
    row = compare([tmp_path / "runs"]).rows[0]
    assert row["trials"] == 3 and row["completed"] == 3 and row["best_score"] == result.summary.best_score
    # The saved best model loads with plain Keras and predicts probabilities.
    import keras

    model = keras.saving.load_model(tmp_path / "runs" / "s" / results.BEST_MODEL)
    assert model.output_shape == (None, 1)


def test_image_folder_cnn_bayesian(write, tmp_path, image_folder):
    folder = image_folder(6, ("a", "b", "c"))
    text = f"""
        data: {{source: images, path: {folder}, image_size: [12, 12]}}
        model: {{kind: cnn, conv_blocks: {{int: [1, 2]}}, filters: 4, dense_units: 8,
                augment: {{flip: horizontal}}}}
        train: {{epochs: 1, batch_size: 8}}
        search: {{tuner: bayesian, max_trials: 2, objective: val_accuracy}}
    """
    result = sweep(write, tmp_path, text)
    check_run(result, 2)
    import keras

    # best.keras predicts in inference mode however it is called: its augmentation is left out
    model = keras.saving.load_model(result.run_dir / results.BEST_MODEL)
    assert not [layer for layer in model.layers if type(layer).__name__.startswith("Random")]
    # the decoded images were kept beside the runs (the trials read them memory-mapped)
    assert len(list((tmp_path / "runs" / ".decoded").glob("*/x_train.npy"))) == 1


def test_npz_mlp_grid(write, tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 4))
    np.savez(tmp_path / "a.npz", x=x, y=x @ np.array([1.0, -2.0, 0.5, 0.0]))
    text = """
        data: {source: npz, path: a.npz}
        model: {kind: mlp, layers: 1, units: {choice: [4, 8]}}
        train: {epochs: 1, metrics: [rmse, r2], learning_rate: {choice: [0.01, 0.02]}}
        search: {tuner: grid, max_trials: 10, objective: val_rmse}
    """
    summary = check_run(sweep(write, tmp_path, text), 4)  # the grid has four points
    assert summary["task"] == "regression"


def test_xla_and_mixed_precision_switches(write, tmp_path):
    import keras

    text = """
        data: {source: "sklearn:wine"}
        model: {kind: mlp, layers: 1, units: {choice: [4, 8]}}
        train: {epochs: 1, jit_compile: true, mixed_precision: true}
        search: {tuner: grid, max_trials: 2, objective: val_accuracy}
    """
    try:
        summary = check_run(sweep(write, tmp_path, text), 2)
        assert summary["device"] == "CPU, mixed_bfloat16, XLA"
        model = keras.saving.load_model(tmp_path / "runs" / "s" / results.BEST_MODEL)
        assert model.get_layer("output").dtype_policy.compute_dtype == "float32"  # softmax in float32
        assert any(layer.dtype_policy.compute_dtype == "bfloat16" for layer in model.layers)
        # The next run in the same process is back to float32.
        summary = check_run(sweep(write, tmp_path, text.replace("true", "false"), name="t.yaml"), 2)
        assert summary["device"] == "CPU"
        model = keras.saving.load_model(tmp_path / "runs" / "t" / results.BEST_MODEL)
        assert all(layer.dtype_policy.compute_dtype == "float32" for layer in model.layers)
    finally:
        keras.mixed_precision.set_global_policy("float32")  # whatever happened, not for the other tests


def test_the_run_says_xla_only_when_keras_kept_it_on(write, tmp_path):
    text = """
        data: {source: "sklearn:digits"}
        model: {kind: cnn, conv_blocks: 1, filters: 4, dense_layers: 0, augment: {rotation: 0.1}}
        train: {epochs: 1, jit_compile: true}
        search: {max_trials: 1}
    """
    from typer.testing import CliRunner

    from nnlab.cli import app

    result = CliRunner().invoke(app, ["run", str(write("x.yaml", text)), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "Keras turned XLA off for this model" in result.output
    summary = json.loads((tmp_path / "runs" / "x" / results.SUMMARY).read_text())
    assert summary["device"] == "CPU"  # random rotation: Keras compiles it without XLA, and the run says so


def test_sequential_layers_sweep_and_resume(write, tmp_path):
    text = """
        data: {source: "sklearn:digits"}
        model:
          kind: sequential
          layers:
            - Reshape: {target_shape: [8, 8, 1]}
            - Conv2D: {filters: {choice: [4, 8]}, kernel_size: 3, activation: relu}
            - GlobalAveragePooling2D
            - Dropout: {rate: {float: [0.0, 0.2], step: 0.2}}
        train: {epochs: 1, batch_size: 128}
        search: {max_trials: 2, objective: val_accuracy}
    """
    summary = check_run(sweep(write, tmp_path, text), 2)
    assert summary["hyperparameter_names"] == ["conv2d1_filters", "dropout3_rate"]
    check_run(sweep(write, tmp_path, text, "search.max_trials=3"), 3)  # resumes: the spec copy matches


def test_tensorboard_logs_per_trial_with_hparams(write, tmp_path):
    text = """
        data: {source: "sklearn:wine"}
        model: {kind: mlp, layers: 1, units: {choice: [4, 8]}}
        train: {epochs: 2}
        search: {tuner: grid, max_trials: 2, objective: val_accuracy}
    """
    result = run(load_spec(write("tb.yaml", text)), tmp_path / "runs", quiet=True, tensorboard=True)
    assert result.exit_code == 0
    logs = result.run_dir / "tensorboard"
    for trial in ("0", "1"):
        folder = logs / trial / "execution0"
        summary = b"".join(p.read_bytes() for p in folder.glob("events.out.tfevents.*"))
        assert b"hparams" in summary and b"units" in summary  # the HParams dashboard's data
        validation = b"".join(p.read_bytes() for p in (folder / "validation").glob("events.out.tfevents.*"))
        assert b"epoch_accuracy" in validation


def test_folds_score_each_trial_by_the_mean_over_folds(write, tmp_path):
    text = """
        data: {source: "sklearn:wine", folds: 3}
        model: {kind: mlp, layers: 1, units: 8}
        train: {epochs: 3, batch_size: 32, learning_rate: 0.01, metrics: [f1]}
        search: {max_trials: 1, objective: val_f1}
    """
    summary = check_run(sweep(write, tmp_path, text), 1)
    assert "val_f1_std" in summary["metric_names"]
    record = summary["best_metrics"]
    assert record["val_f1"] == summary["best_score"] and record["val_f1_std"] >= 0
    extras = results.read_json(tmp_path / "runs" / "s" / results.TUNER_DIR / "trial_0" / results.TRIAL_PROGRESS)
    assert len(extras["history"][0]["val_f1"]) == 3  # the mean curve over the folds, epoch by epoch
    assert max(extras["history"][0]["val_f1"]) == pytest.approx(summary["best_score"])
    # retrain trains each seed exactly as the sweep did: once per fold, scored on the folds' mean curve
    import keras

    from nnlab.tools.retrain import retrain

    fits = []
    original = keras.Model.fit

    def counted(model, x=None, *args, **kwargs):
        fits.append(sum(int(y.shape[0]) for _, y in kwargs["validation_data"]))  # each fold's own rows
        return original(model, x, *args, **kwargs)

    keras.Model.fit = counted
    try:
        out = retrain(tmp_path / "runs" / "s", top=1, seeds=2, reporter=Reporter(quiet=True))
    finally:
        keras.Model.fit = original
    assert len(fits) == 6 and sorted(set(fits)) == [59, 60]  # 2 seeds × 3 folds of wine's 178 rows
    assert results.read_json(tmp_path / "runs" / "s" / "retrain.json")["folds"] == 3
    assert len(out[0]["scores"]) == 2 and all(0 <= s <= 1 for s in out[0]["scores"])


def test_folds_mistakes(write, tmp_path):
    from nnlab.errors import DataError

    np.savez(tmp_path / "tiny.npz", x=np.zeros((5, 2)), y=np.arange(5) % 2)
    with pytest.raises(DataError, match="3 folds need at least 6 rows"):
        sweep(write, tmp_path, "data: {source: npz, path: tiny.npz, folds: 3}\nmodel: {kind: mlp}\n")
    assert not (tmp_path / "runs").exists()


def test_sklearn_digits_cnn_hyperband(write, tmp_path):
    text = """
        data: {source: "sklearn:digits"}
        model: {kind: cnn, conv_blocks: 1, filters: {choice: [4, 8]}, dense_layers: 0}
        train: {batch_size: 64}
        search: {tuner: hyperband, max_epochs: 2, factor: 2, objective: val_accuracy}
    """
    result = sweep(write, tmp_path, text)
    assert result.exit_code == 0 and result.summary.completed >= 2


def test_failing_trials_are_recorded_and_the_sweep_goes_on(write, tmp_path):
    text = """
        data: {source: "sklearn:diabetes"}
        model: {kind: mlp, layers: 1, units: 4}
        train: {epochs: 2, optimizer: sgd, learning_rate: {choice: [0.001, 10.0]}}
        search: {tuner: grid, max_trials: 2}
    """
    result = sweep(write, tmp_path, text)
    statuses = {r.hyperparameters["learning_rate"]: r for r in result.records}
    assert statuses[0.001].status == "completed"
    failed = statuses[10.0]
    assert failed.status == "failed" and "learning_rate 10 is probably too high" in failed.reason
    assert result.exit_code == 0  # one trial completed
    rows = {r["trial_id"]: r for r in compare([result.run_dir]).rows}
    assert rows[failed.trial_id]["reason"] == failed.reason


def test_a_run_whose_every_trial_failed(write, tmp_path):
    spec = write("s.yaml", """
        data: {source: "sklearn:diabetes"}
        model: {kind: mlp, layers: 1, units: 4}
        train: {epochs: 1, optimizer: sgd, learning_rate: 10.0}
        search: {max_trials: 1}
    """)
    result = runner.invoke(app, ["run", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1, result.output
    assert "Results in" in result.output and "best.keras" not in result.output  # there is none
    assert "no trial completed" in result.output
    assert results.read_json(tmp_path / "runs" / "s" / results.SUMMARY)["status"] == "failed"
    assert compare([tmp_path / "runs"]).rows[0]["status"] == "failed"


def test_cli_run_then_compare_json(write, tmp_path):
    spec = write("iris.yaml", """
        data: {source: "sklearn:iris"}
        model: {kind: mlp, units: {choice: [4, 8]}}
        train: {epochs: 1}
        search: {max_trials: 2}
    """)
    result = runner.invoke(app, ["run", str(spec), "--runs-dir", str(tmp_path / "runs"), "--name", "iris-a",
                                 "--set", "search.max_trials=1"])
    assert result.exit_code == 0, result.output
    assert "Top 1 trial by val_loss" in result.output and "[1/1] trial 0" in result.output
    result = runner.invoke(app, ["compare", str(tmp_path / "runs"), "--format", "json"])
    data = json.loads(result.output)
    assert data[0]["run"] == "iris-a" and data[0]["completed"] == 1


def test_imbalanced_classes_metrics_class_weights_and_the_positive_class(write, tmp_path):
    import keras

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 4))
    y = np.where(x[:, 0] + 0.3 * rng.normal(size=300) > 1.3, "yes", "no")  # about 10% yes
    lines = ["a,b,c,d,answer"] + [f"{r[0]:.3f},{r[1]:.3f},{r[2]:.3f},{r[3]:.3f},{t}" for r, t in zip(x, y)]
    write("bank.csv", "\n".join(lines) + "\n")
    text = """
        data: {source: csv, path: bank.csv, target: answer}
        model: {kind: mlp, layers: 1, units: 8}
        train: {epochs: 3, batch_size: 32, learning_rate: 0.01, metrics: [auc, pr_auc, precision, recall, f1],
                class_weight: {choice: [none, balanced]}}
        search: {tuner: grid, max_trials: 2, objective: val_auc}
    """
    result = sweep(write, tmp_path, text)
    assert result.exit_code == 0 and result.summary.direction == "max"
    assert result.summary.metric_names == ["loss", "accuracy", "val_loss", "val_accuracy", "val_f1", "val_auc",
                                           "val_pr_auc", "val_precision", "val_recall"]
    assert {r.hyperparameters["class_weight"] for r in result.records} == {"none", "balanced"}
    assert all(0 <= r.metrics["val_auc"] <= 1 and r.score == r.metrics["val_auc"] for r in result.records)
    assert any("positive class for auc, pr_auc, precision, recall: 'yes'" in n for n in result.summary.notes)
    keras.saving.load_model(result.run_dir / results.BEST_MODEL)  # loads without nnlab's metrics
    flipped = sweep(write, tmp_path, text, "data.positive_class=no", "search.max_trials=1", "name=flip",
                    name="flip.yaml")
    assert flipped.summary.classes == ["yes", "no"]  # the positive class is the second (index 1)


def test_class_weights_are_the_inverse_of_each_class_share(write, tmp_path):
    from nnlab.data.load import load_data
    from nnlab.engine.trainer import Trainer

    spec = load_spec(write("w.yaml", "data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\n"))
    trainer = Trainer(spec, load_data(spec))
    weights = trainer.class_weight({"class_weight": "balanced"}, np.array([0] * 6 + [1] * 3 + [2] * 1))
    assert weights == pytest.approx({0: 10 / 18, 1: 10 / 9, 2: 10 / 3})
    assert trainer.class_weight({"class_weight": "none"}, np.array([0, 1])) is None


def test_auc_for_several_classes(write, tmp_path):
    text = """
        data: {source: "sklearn:wine"}
        model: {kind: mlp, layers: 1, units: 8}
        train: {epochs: 2, metrics: [auc, precision, recall]}
        search: {max_trials: 1, objective: val_auc}
    """
    result = sweep(write, tmp_path, text)
    record = result.records[0]
    assert result.exit_code == 0 and 0 <= record.metrics["val_auc"] <= 1 and 0 <= record.metrics["val_recall"] <= 1


def test_several_targets_the_bikes_pattern(write, tmp_path):
    """casual and registered predicted by one model with two outputs; their sum is the day's total."""
    rng = np.random.default_rng(5)
    rows = ["temp,hour,season,casual,registered,mood"]
    for i in range(240):
        temp, hour = rng.uniform(0, 35), i % 24
        casual = max(0.0, 2 * temp + (10 if 10 <= hour <= 17 else 0) + rng.normal(0, 3))
        registered = max(0.0, 40 + 3 * (hour in (8, 17, 18)) * 20 + temp + rng.normal(0, 5))
        rows.append(f"{temp:.1f},{hour},{['spring', 'summer', 'fall', 'winter'][i % 4]},{casual:.1f},{registered:.1f},"
                    f"{'busy' if registered > 60 else 'calm'}")
    write("bikes.csv", "\n".join(rows) + "\n")
    text = """
        data: {source: csv, path: bikes.csv, target: [casual, registered, mood], drop: []}
        model: {kind: mlp, layers: 1, units: 16}
        train: {epochs: 3, batch_size: 32, learning_rate: 0.01, metrics: [mae, f1]}
        search: {max_trials: 1, objective: val_mae}
    """
    result = sweep(write, tmp_path, text)
    assert result.exit_code == 0, result.records
    names = result.summary.metric_names
    for name in ("val_casual_mae", "val_registered_mae", "val_mae", "val_mood_accuracy", "val_mood_f1", "val_f1",
                 "casual_loss", "val_loss"):
        assert name in names, name
    metrics = result.records[0].metrics
    assert metrics["val_mae"] == pytest.approx((metrics["val_casual_mae"] + metrics["val_registered_mae"]) / 2)
    assert result.records[0].score == metrics["val_mae"] and result.summary.classes["mood"] == ["busy", "calm"]
    (tmp_path / "new.csv").write_text("temp,hour,season\n20,8,summer\n5,3,winter\n")
    out = runner.invoke(app, ["predict", str(result.run_dir), str(tmp_path / "new.csv"), "-o", str(tmp_path / "p.csv"),
                              "--proba"])
    assert out.exit_code == 0, out.output
    header = (tmp_path / "p.csv").read_text().splitlines()[0].split(",")
    assert header == ["row", "casual", "registered", "mood", "proba_mood_busy", "proba_mood_calm"]
    out = runner.invoke(app, ["evaluate", str(result.run_dir), str(tmp_path / "bikes.csv"), "--json"])
    assert out.exit_code == 0, out.output
    scores = json.loads(out.output)["targets"]
    assert set(scores) == {"casual", "registered", "mood"} and scores["mood"]["task"] == "classification"
    assert scores["casual"]["rmse"] > 0
    import keras

    model = keras.saving.load_model(result.run_dir / results.BEST_MODEL)
    assert sorted(model.output_names) == ["casual", "mood", "registered"]
    from nnlab.data.load import load_data  # predict --trial N: the trial rebuilt with its heads, as it was scored
    from nnlab.tools.apply import load_model, open_run

    finished = open_run(result.run_dir)
    assert finished.summary.refit  # (small data: best.keras is refitted, so --trial 0 is rebuilt from its checkpoint)
    rebuilt = load_model(finished, result.records[0].trial_id)
    assert sorted(rebuilt.output_names) == ["casual", "mood", "registered"]
    data = load_data(load_spec(tmp_path / "s.yaml"))
    got = rebuilt.predict(data.x_val, verbose=0)
    for i, name in enumerate(("casual", "registered")):
        mae = float(np.mean(np.abs(got[name][:, 0] - data.y_val[:, i])))
        assert mae == pytest.approx(metrics[f"val_{name}_mae"], rel=1e-4)


def test_the_best_configuration_is_refitted_on_every_training_row(write, tmp_path):
    import keras

    from nnlab.tools.apply import load_model, open_run

    text = """
        data: {source: "sklearn:iris"}
        model: {kind: mlp, layers: 1, units: {choice: [4, 8]}}
        train: {epochs: 4, batch_size: 16, learning_rate: 0.05}
        search: {tuner: grid, max_trials: 2, objective: val_accuracy, keep: all}
    """
    result = sweep(write, tmp_path, text)
    best = min(result.records, key=lambda r: -r.score)
    assert result.summary.refit == {"trial": best.trial_id, "epochs": best.best_epoch, "rows": 150}
    finished = open_run(result.run_dir)
    refitted = keras.saving.load_model(result.run_dir / results.BEST_MODEL)
    searched = load_model(finished, best.trial_id)  # the trial as its search trained it, from its checkpoint
    from sklearn.datasets import load_iris

    x = np.asarray(load_iris().data, np.float32)
    pre = finished.preparation.source
    x = (x - np.asarray(pre.mean)) / np.asarray(pre.std)
    assert not np.allclose(refitted.predict(x, verbose=0), searched.predict(x, verbose=0))
    again = sweep(write, tmp_path, text)  # resumed: the search and its refit are done, nothing trains
    assert again.summary.refit == result.summary.refit
    from nnlab.tools.report import build_report

    page = build_report(result.run_dir).read_text()
    assert "The final model on the validation data" in page and "trained again on all 150 training rows" in page


def test_a_time_budget_without_max_trials_runs_trials_until_it_is_used(write, tmp_path):
    text = """
        data: {source: "sklearn:iris"}
        model: {kind: mlp, layers: 1, units: {int: [2, 64]}}
        train: {epochs: 1, batch_size: 64, learning_rate: {float: [0.001, 0.1], log: true}}
        search: {tuner: random, max_minutes: 0.25, objective: val_accuracy, refit: false}
    """
    result = sweep(write, tmp_path, text)
    summary = result.summary
    # (no cap of 10, max_trials' default: the budget alone ends it; a count of trials would assert the
    # machine's speed, which a loaded machine fails)
    assert summary.status == "completed" and summary.completed >= 1 and summary.max_trials is None
    assert "the time budget (search.max_minutes: 0.25) is used" in summary.stop_reason


def test_a_budget_used_up_before_trial_1_says_so(write, tmp_path):
    text = """
        data: {source: "sklearn:iris"}
        model: {kind: mlp, layers: 1, units: 4}
        search: {max_minutes: 0.0001, baseline: gbm, objective: val_accuracy}
    """
    result = sweep(write, tmp_path, text)
    assert result.exit_code == 1 and result.summary.trials == 0
    assert "was used up before trial 1 started" in result.summary.stop_reason


@pytest.mark.parametrize("transform", ["log", "standardize"])
def test_a_transformed_target_is_fitted_transformed_and_measured_in_its_own_units(write, tmp_path, transform):
    import keras

    from nnlab.data.load import load_data
    from nnlab.tools.apply import load_model, open_run

    text = f"""
        data: {{source: "sklearn:diabetes", target_transform: {transform}}}
        model: {{kind: mlp, layers: 1, units: 16}}
        train: {{epochs: 6, learning_rate: 0.01, loss: {{choice: [mse, huber]}}, metrics: [mae, r2]}}
        search: {{tuner: grid, objective: val_mae, keep: all}}
    """
    result = sweep(write, tmp_path, text)
    assert result.summary.completed == 2 and any("data.target_transform" in n for n in result.summary.notes)
    data = load_data(load_spec(result.run_dir / results.SPEC_COPY))
    for record in result.records:  # each trial's logged MAE is its model's MAE in the target's own units
        model = load_model(open_run(result.run_dir), record.trial_id)
        predicted = model.predict(data.x_val, verbose=0).ravel()
        # (the checkpoint holds the weights of the best epoch, whose metrics the record keeps)
        assert abs(np.mean(np.abs(predicted - data.y_val)) - record.metrics["val_mae"]) < 1e-3 * data.y_val.mean()
    final = keras.saving.load_model(result.run_dir / results.BEST_MODEL)  # stock layers only
    predicted = final.predict(data.x_val, verbose=0).ravel()
    assert 0.3 < predicted.mean() / data.y_val.mean() < 3  # in the target's units (about 150), not log(1 + y)
