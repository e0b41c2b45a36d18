"""`nnlab validate`: check a spec and its data, and describe the search space, without training.

`describe(spec)` loads the data, checks the objective against the task, and reports each
hyperparameter with its range, the number of configurations (where finite), and the parameter counts
of the smallest and largest models the space allows (at the corners of the space and at a few random
points: worked out by `spec.sizes`, or by building the models where it has no rule). A space whose
largest model would not fit in memory is refused first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nnlab.runs import imagecache
from nnlab.spec.constraints import check_reachable
from nnlab.spec.objectives import check_task
from nnlab.spec.schema import Spec
from nnlab.spec.sizes import check_space, model_size
from nnlab.spec.space import count_configurations, hyperparameters, probe_params


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
    check_space(spec, data.input_shape, data.output_units, len(data.x_train),  # (before any model is built)
                data.preparation.feature_counts())
    check_reachable(spec, data.input_shape, data.output_units, data.preparation.feature_counts())
    space = {name: dist.describe() for name, dist in hyperparameters(spec).items()}
    result = Description(data.summary(), data.task, space, count_configurations(spec), notes=list(data.notes))
    if spec.model.kind == "pretrained":
        from nnlab.engine.backend import configure_device
        from nnlab.engine.model.pretrained import base_facts, check_weights, resize_note

        configure_device("auto")  # (TensorFlow's device set-up before any model)
        check_weights(spec.model.bases(), spec.model.weights, data.input_shape, spec.model.widths())
        result.bases = base_facts(spec.model.bases(), data.input_shape)
        result.notes += [n for n in (resize_note(b, data.input_shape) for b in spec.model.bases()) if n]
    if count_models:
        probes = probe_params(spec)[:2] if spec.model.kind == "pretrained" else probe_params(spec)  # (big bases)
        counted = _count_params(spec, probes, data)
        result.smallest = min(counted, key=lambda c: c[0])
        result.largest = max(counted, key=lambda c: c[0])
    return result


def _count_params(spec: Spec, probes: list[dict], data) -> list[tuple[int, dict]]:
    """The parameters of each probe's model: worked out (`spec.sizes`, as Keras counts them) where every
    layer has a rule, else by building the models (a pretrained base's weights are counted so)."""
    if spec.model.kind != "pretrained":
        features = data.preparation.feature_counts()
        sizes = [model_size(spec.model.kind, p, data.input_shape, data.output_units, features) for p in probes]
        if all(sizes):
            return [(size.parameters, p) for size, p in zip(sizes, probes)]
    from nnlab.engine.backend import clear_session, configure_device
    from nnlab.engine.placement import build_within_memory

    configure_device("auto")
    counted = []
    for params in probes:
        counted.append((int(build_within_memory(spec, params, data).count_params()), params))
        clear_session()
    return counted
