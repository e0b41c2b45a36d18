"""search.constraints: a configuration over a limit is never trained (the search draws again, the skip is
counted with its reason, not a failure), and a space with no model within the limits is refused before
any training, naming the smallest model it allows."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.errors import SpecError
from nnlab.spec.constraints import Constraints, over
from nnlab.spec.loader import spec_from_dict, spec_hash
from nnlab.spec.sizes import Size

runner = CliRunner()
SPEC = ("name: c\nseed: 1\ndata: {source: 'sklearn:digits'}\n"
        "model: {kind: mlp, layers: {int: [1, 3]}, units: {choice: [16, 64, 256]}}\ntrain: {epochs: 2}\n"
        "search: {tuner: TUNER, max_trials: 5, pack: PACK, constraints: {max_params: 10000}}\n")


def test_the_front_holds_the_trials_no_other_beats_on_both_score_and_size():
    from nnlab.runs.tradeoff import front

    points = {"a": (0.90, 100.0), "b": (0.95, 400.0), "c": (0.85, 100.0), "d": (0.95, 300.0), "e": (0.80, 50.0)}
    assert front(points, "max") == {"a", "d", "e"}  # (c: a is as small and better; b: d is as good and smaller)
    assert front({k: (-s, c) for k, (s, c) in points.items()}, "min") == {"a", "d", "e"}  # (a loss: lower wins)


def test_each_limit_says_why_a_model_is_over_it():
    size = Size(parameters=250_000, activations=0, macs=3_000_000)
    assert over(Constraints(max_params=100_000), size) == "250,000 parameters > max_params 100,000"
    assert over(Constraints(max_size_mb=0.5), size) == "1 MB > max_size_mb 0.5"  # (4 bytes a parameter)
    assert over(Constraints(max_macs=10**6), size) == "3,000,000 multiply-adds > max_macs 1,000,000"
    assert over(Constraints(max_params=10**6, max_size_mb=2, max_macs=10**7), size) is None
    with pytest.raises(ValueError, match="at least one of"):
        Constraints()


def test_constraints_are_refused_with_hyperband_and_leave_an_unlimited_spec_s_hash_as_it_was():
    base = {"data": {"source": "sklearn:iris"}, "model": {"kind": "mlp"}}
    with pytest.raises(SpecError, match="not offered with tuner: hyperband"):
        spec_from_dict({**base, "search": {"tuner": "hyperband", "constraints": {"max_params": 10}}})
    limited = spec_from_dict({**base, "search": {"constraints": {"max_params": 10**6}}})
    assert spec_hash(spec_from_dict(base)) != spec_hash(limited)  # (a limit changes what is searched)
    assert len(spec_hash(spec_from_dict(base))) == 16


def test_a_space_with_no_model_within_the_limits_is_refused_before_any_training(tmp_path):
    (tmp_path / "c.yaml").write_text(SPEC.replace("TUNER", "random").replace("PACK", "1"))
    for command in (["validate"], ["run", "--runs-dir", str(tmp_path / "runs")]):
        result = runner.invoke(app, [*command, str(tmp_path / "c.yaml"), "--set", "search.constraints.max_params=100"])
        assert result.exit_code == 2, result.output
        assert "the smallest it allows has 1,210 parameters" in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.parametrize("tuner, pack", [("grid", 1), ("random", 2)])  # (random: also timed and picked)
def test_no_trial_over_the_limit_is_ever_trained(tmp_path, tuner, pack):
    from nnlab.spec.loader import load_spec
    from nnlab.spec.sizes import model_size
    from nnlab.spec.space import finish_params, fixed_params

    text = SPEC.replace("TUNER", tuner).replace("PACK", str(pack))
    if tuner == "random":  # search.latency too, with a limit every model keeps
        text = text.replace("constraints: {", "latency: onnx, constraints: {max_latency_ms: 1000, ")
    (tmp_path / "c.yaml").write_text(text)
    result = runner.invoke(app, ["run", str(tmp_path / "c.yaml"), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "not trained, over search.constraints" in result.output
    summary = json.loads((tmp_path / "runs" / "c" / "summary.json").read_text())
    rows = (tmp_path / "runs" / "c" / "trials.csv").read_text().splitlines()[1:]
    assert len(rows) == 5 and all(",completed," in row for row in rows)  # (the 5 configurations within it)
    header = (tmp_path / "runs" / "c" / "trials.csv").read_text().splitlines()[0].split(",")
    spec = load_spec(tmp_path / "c.yaml")
    for row in rows:
        values = dict(zip(header, row.split(",")))
        params = finish_params(spec, {**fixed_params(spec), "layers": int(values["layers"]),
                                      "units": int(values["units"])})
        size = model_size("mlp", params, (64,), 10)
        assert size.parameters <= 10_000, (values, size)
    assert summary["skipped"]["count"] >= 1 and summary["failed"] == 0
    assert all("> max_params 10,000" in e["reason"] for e in summary["skipped"]["examples"])
    shown = runner.invoke(app, ["compare", str(tmp_path / "runs" / "c"), "--pareto", "params", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    trials = json.loads(shown.output)
    on = [t for t in trials if t["front"]]
    assert on and all(t["params"] <= 10_000 for t in trials)
    smallest = min(trials, key=lambda t: t["params"])
    assert smallest["front"] and min(on, key=lambda t: t["score"])["score"] == min(t["score"] for t in trials)
    if tuner == "random":
        picked_and_exported(tmp_path / "runs" / "c", trials)


def picked_and_exported(run_dir, trials):
    """Each completed trial timed; the front's checkpoints kept; --pareto latency; --pick exports a model that
    passes the export check in every format."""
    from nnlab.runs.folder import RunFolder
    from nnlab.runs.pick import pick

    timed = {t["trial_id"]: t["metrics"]["latency_ms"] for t in trials}
    assert all(ms > 0 for ms in timed.values()), timed
    shown = runner.invoke(app, ["compare", str(run_dir), "--pareto", "latency", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert {t["trial_id"]: t["latency_ms"] for t in json.loads(shown.output)} == timed
    chosen = pick(run_dir, "smallest-within", "1000")  # (any score: the smallest model of all)
    assert chosen.chosen_cost == min(t["params"] for t in trials)
    assert RunFolder(run_dir).checkpoint_path(chosen.trial_id).is_file() or chosen.is_best
    which = "wrote the best configuration" if chosen.is_best else f"wrote the model of trial {chosen.trial_id}"
    for name in ("m.keras", "m_saved", "m.onnx", "m.tflite", "m.mlpackage"):
        result = runner.invoke(app, ["export", str(run_dir), "-o", str(run_dir.parent / name),
                                     "--pick", "smallest-within", "1000"])
        assert result.exit_code == 0, (name, result.output)
        assert "pick: smallest-within 1000" in result.output and which in result.output, result.output
