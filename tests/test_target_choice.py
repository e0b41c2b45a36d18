"""data.target_transform: auto — log(1 + y) or as it is, chosen by R² in the target's own units on
held-out training rows (no TensorFlow)."""

from __future__ import annotations

import re

import numpy as np

from nnlab.data.load import load_data
from nnlab.data.targetchoice import choose_transform
from nnlab.spec.loader import load_spec


def _scores(note: str) -> tuple[float, float]:
    logged, plain = re.search(r"R² (-?[\d.]+) fitted as log\(1 \+ y\) against (-?[\d.]+) as it is", note).groups()
    return float(logged), float(plain)


def test_the_transform_with_the_higher_r2_in_the_targets_units_is_chosen():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    multiplicative = np.exp(1.5 * x[:, 0] + 0.5 * rng.normal(size=2000))  # (relative errors: log fits it)
    additive = 5 + x[:, 0] + x[:, 1] ** 2 + 0.5 * rng.normal(size=2000)
    additive -= additive.min()
    for y, wanted in ((multiplicative, "log"), (additive, None)):
        choice = choose_transform(x, y, y[:10], "y", seed=0)
        logged, plain = _scores(choice.note)
        assert (choice.transform.kind if choice.transform else None) == wanted
        assert (logged > plain) == (wanted == "log")  # (the note's figures are what decided)
    again = choose_transform(x, multiplicative, multiplicative[:10], "y", seed=0)
    assert again.note == choose_transform(x, multiplicative, multiplicative[:10], "y", seed=0).note  # (seeded)


def test_a_target_below_zero_anywhere_is_fitted_as_it_is_with_a_note():
    x = np.arange(40.0).reshape(20, 2)
    choice = choose_transform(x, np.arange(20.0), np.array([3.0, -1.5]), "profit", seed=0)
    assert choice.transform is None and "goes down to -1.5" in choice.note


def test_auto_in_a_spec_chooses_per_target_and_the_preparation_records_it(write, tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2500, 2))
    energy = np.round(30 * np.exp(1.4 * x[:, 0] + 0.4 * rng.normal(size=2500)), 2)
    rows = [f"{a:.4f},{b:.4f},{e},{a - b:.4f}" for (a, b), e in zip(x, energy)]
    write("e.csv", "a,b,energy,gap\n" + "\n".join(rows) + "\n")
    write("s.yaml", "data: {source: csv, path: e.csv, target: [energy, gap], target_transform: auto}\n"
                    "model: {kind: mlp, layers: 1, units: 8}\n")
    dataset = load_data(load_spec(tmp_path / "s.yaml"))
    energy_target, gap_target = dataset.targets
    assert energy_target.transform is not None and energy_target.transform.kind == "log"
    assert gap_target.transform is None  # (it goes below 0)
    notes = [n for n in dataset.notes if n.startswith("data.target_transform: auto")]
    assert len(notes) == 2 and "'energy' as log(1 + y)" in notes[0] and "'gap' as it is" in notes[1]
    from nnlab.data.preparation import Preparation, preparation_of
    recorded = Preparation.from_json(preparation_of(dataset).to_json()).outputs()  # (preprocessing.json)
    assert [t.transform.kind if t.transform else None for t in recorded] == ["log", None]
