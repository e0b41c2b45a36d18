"""`nnlab validate`: check a spec and its data, and describe the search space, without training.

`describe(spec)` loads the data, checks the objective against the task, and reports each
hyperparameter with its range, the number of configurations (where finite), and the parameter counts
of the smallest and largest models the space allows (found by building models at the corners of the
space and at a few random points).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from nnlab.runs import imagecache
from nnlab.spec.objectives import check_task
from nnlab.spec.schema import Spec
from nnlab.spec.space import count_configurations, extreme_params, hyperparameters, random_params

RANDOM_PROBES = 24


@dataclass
class Description:
    data: str
    task: str
    space: dict[str, str]
    configurations: float
    smallest: tuple[int, dict] = (0, {})
    largest: tuple[int, dict] = (0, {})
    notes: list[str] = field(default_factory=list)
    bases: list[tuple[str, int, str]] = field(default_factory=list)  # pretrained: (base, parameters, input size)


def describe(spec: Spec, count_models: bool = True, frame=None, runs_dir=None) -> Description:
    """What `nnlab validate` prints: the data, the space, its size, the smallest and largest models
    (`frame`: a DataFrame in place of a CSV source's file). An image folder's decoded images are read
    from, or kept in, `runs_dir`'s copy, as `nnlab run` does (see `runs.imagecache`)."""
    data = imagecache.load(spec, runs_dir, frame)
    check_task(spec, data.task, data.heads)
    if count_models or spec.model.kind == "pretrained":  # (models are built: TensorFlow's device set-up first)
        from nnlab.engine.backend import configure_device

        configure_device("auto")
    space = {name: dist.describe() for name, dist in hyperparameters(spec).items()}
    result = Description(data.summary(), data.task, space, count_configurations(spec), notes=list(data.notes))
    if spec.model.kind == "pretrained":
        from nnlab.engine.pretrained import base_facts, bases_of, check_weights, resize_note

        check_weights(bases_of(spec.model), spec.model.weights, data.input_shape)
        result.bases = base_facts(bases_of(spec.model), data.input_shape)
        result.notes += [n for n in (resize_note(b, data.input_shape) for b in bases_of(spec.model)) if n]
    if count_models:
        from nnlab.engine.models import DataShape, count_params

        shape = DataShape.of(data)
        probes = _probe_params(spec)[:2] if spec.model.kind == "pretrained" else _probe_params(spec)  # (big bases)
        counted = [(count_params(spec.model.kind, p, shape), p) for p in probes]
        result.smallest = min(counted, key=lambda c: c[0])
        result.largest = max(counted, key=lambda c: c[0])
    return result


def _probe_params(spec: Spec) -> list[dict]:
    """Params at both corners of the space and at a few seeded random points."""
    probes = [extreme_params(spec, "min"), extreme_params(spec, "max")]
    if not hyperparameters(spec):
        return probes[:1]
    rng = random.Random(spec.seed)
    return probes + [random_params(spec, rng) for _ in range(RANDOM_PROBES)]
