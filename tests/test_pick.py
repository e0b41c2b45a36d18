"""search.latency and the pick: the cheapest trial within a margin of the best (`runs.pick`), the front
against latency, and the limits on latency (no TensorFlow here: the runs are fabricated)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.errors import RunError, SpecError
from nnlab.runs import files
from nnlab.runs.records import LATENCY, Summary, TrialRecord
from nnlab.spec.constraints import Constraints, over
from nnlab.spec.loader import spec_from_dict, spec_hash

runner = CliRunner()


def timed_run(runs, scores: list[float], latencies: list[float | None], direction: str = "max"):
    """A fabricated run whose trial i scores scores[i] and took latencies[i] ms (None: not timed)."""
    run_dir = runs / "timed"
    records = [TrialRecord(str(i), "completed", score, 2, 3, 1.0, hyperparameters={"units": 8 * (i + 1)},
                           metrics={"val_accuracy": score, **({LATENCY: ms} if ms is not None else {})})
               for i, (score, ms) in enumerate(zip(scores, latencies))]
    files.write_trials(run_dir / files.TRIALS, records, ["units"], ["val_accuracy", LATENCY])
    files.write_summary(run_dir / files.SUMMARY, Summary(
        run="timed", status="completed", model="mlp", data="sklearn:digits", tuner="random",
        objective="val_accuracy", direction=direction, hyperparameter_names=["units"],
        metric_names=["val_accuracy", LATENCY]))
    return run_dir


def test_the_pick_is_the_fastest_trial_within_the_margin_absolute_or_relative(tmp_path):
    from nnlab.runs.pick import pick

    run = timed_run(tmp_path, [0.95, 0.945, 0.93, 0.94, 0.90], [4.0, 2.0, 0.5, 1.0, 0.1])
    assert pick(run, "fastest-within", "0.01").trial_id == "3"  # (0.94: within 0.01 of 0.95, 1 ms)
    assert pick(run, "fastest-within", "0.005").trial_id == "1"
    assert pick(run, "fastest-within", "0").trial_id == "0" and pick(run, "fastest-within", "0").is_best
    assert pick(run, "fastest-within", "2.2%").trial_id == "2"  # (2.2% of 0.95 = 0.0209)
    said = pick(run, "fastest-within", "0.01").describe()
    assert "trial 3" in said and "absolute" in said and "4× slower" in said
    assert "relative" in pick(run, "fastest-within", "1%").describe()
    import nnlab

    assert nnlab.open(run).pick("fastest-within", 0.01).trial_id == "3"  # (from Python, as the flag picks)


def test_a_loss_is_picked_within_its_margin_upward_and_ties_go_to_the_better_score(tmp_path):
    from nnlab.runs.pick import pick

    run = timed_run(tmp_path, [0.30, 0.32, 0.31, 0.45], [3.0, 1.0, 1.0, 0.2], direction="min")
    assert pick(run, "fastest-within", "0.02").trial_id == "2"  # (1 ms both; 0.31 is the lower loss)
    assert pick(run, "fastest-within", "0.2").trial_id == "3"


def test_a_pick_that_cannot_be_made_says_why(tmp_path):
    from nnlab.runs.pick import pick

    run = timed_run(tmp_path, [0.9, 0.8], [None, None])
    with pytest.raises(RunError, match="timed no trial: set search.latency"):
        pick(run, "fastest-within", "0.01")
    with pytest.raises(RunError, match="give one of smallest-within, fastest-within"):
        pick(run, "best-within", "0.01")
    for margin in ("-0.1", "abc", "x%"):
        with pytest.raises(RunError, match="is not a number ≥ 0"):
            pick(run, "fastest-within", margin)
    result = runner.invoke(app, ["export", str(run), "-o", str(tmp_path / "m.keras"), "--trial", "1",
                                 "--pick", "fastest-within", "0.01"])
    assert result.exit_code == 2 and "give --trial or --pick, not both" in result.output
    result = runner.invoke(app, ["compare", str(run), "--pareto", "latency"])
    assert result.exit_code == 2 and "timed no trial" in result.output


def test_the_front_against_latency_is_marked_with_each_trial_s_time(tmp_path):
    from nnlab.runs.tradeoff import front, trial_costs

    run = timed_run(tmp_path, [0.95, 0.945, 0.93, 0.96, 0.90], [4.0, 2.0, 3.0, 1.0, 0.1])
    records = files.read_trials(run / files.TRIALS, ["units"], ["val_accuracy", LATENCY])
    costs = trial_costs(run, records, "latency")
    assert costs == {"0": 4.0, "1": 2.0, "2": 3.0, "3": 1.0, "4": 0.1}
    assert front({r.trial_id: (r.score, costs[r.trial_id]) for r in records}, "max") == {"3", "4"}


def test_max_latency_ms_needs_a_runtime_and_is_part_of_the_limits():
    base = {"data": {"source": "sklearn:iris"}, "model": {"kind": "mlp"}}
    with pytest.raises(SpecError, match="max_latency_ms needs search.latency"):
        spec_from_dict({**base, "search": {"constraints": {"max_latency_ms": 2}}})
    timed = spec_from_dict({**base, "search": {"latency": "litert", "constraints": {"max_latency_ms": 2}}})
    assert timed.search.constraints.max_latency_ms == 2 and not timed.search.constraints.on_size
    limited = {**base, "search": {"constraints": {"max_params": 1000}}}
    assert spec_hash(spec_from_dict(limited)) == "04148b053bcb00ae"  # (as before max_latency_ms was a key)
    assert spec_hash(spec_from_dict(base)) != spec_hash(spec_from_dict({**base, "search": {"latency": "keras"}}))
    limits = Constraints(max_params=1000, max_latency_ms=2)
    assert over(limits, None, 3.5) == "3.5 ms > max_latency_ms 2"
    assert over(limits, None, 1.0) is None
    assert over(limits, None, "onnx cannot run this model: no op X") == "onnx cannot run this model: no op X"
