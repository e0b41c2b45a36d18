"""Where this process trains, worked out once before any trial (`load_and_place`): the data loaded and
checked against the spec, the device set up, the dtype policy, whether XLA stays on, the replicas of
--strategy mirrored, and a model the spec's layers or pretrained weights cannot make refused early.
The result is a `Placement`, passed on as a value; `RunOptions` are what the command asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnlab.data.dataset import Dataset
from nnlab.engine.backend import clear_session, configure_device, mirrored_devices, set_precision
from nnlab.engine.failures import failure_kind, first_useful_line
from nnlab.errors import NnlabError
from nnlab.progress import Reporter
from nnlab.runs import imagecache
from nnlab.spec.constraints import check_reachable
from nnlab.spec.kinds import is_space
from nnlab.spec.objectives import check_task
from nnlab.spec.schema import Spec
from nnlab.spec.sizes import check_space


@dataclass(frozen=True)
class RunOptions:
    """How a command asked this process to train, beside the spec: --device (auto, cpu, gpu), --strategy
    mirrored, --tensorboard, --track, and from Python a DataFrame (`frame`) in place of a CSV source's file."""

    device: str = "auto"
    strategy: str | None = None
    tensorboard: bool = False
    frame: Any = None
    track: Any = None  # --track: a spec.trackschema.TrackSpec (None: the spec's track: or NNLAB_TRACKING_URI)


@dataclass(frozen=True)
class Placement:
    """Where the models of this process train: `device` as `configure_device` names it ("CPU", "GPU ×2"),
    the dtype `policy`, whether train.mixed_precision asked for it, whether XLA stays on (train.jit_compile),
    and the replicas of --strategy mirrored (None without)."""

    device: str
    policy: str = "float32"
    mixed_precision: bool = False
    xla: bool = False
    replicas: int | None = None

    @property
    def gpu(self) -> bool:
        return self.device != "CPU"

    @property
    def mirrored(self) -> bool:
        return self.replicas is not None

    @property
    def name(self) -> str:
        """For people and the run's summary: "CPU", "GPU ×1, mixed_float16, XLA", …"""
        parts = [self.device] + [self.policy] * self.mixed_precision + ["XLA"] * self.xla
        if self.mirrored:
            parts.append(f"MirroredStrategy ({self.replicas} replica{'s' if self.replicas > 1 else ''})")
        return ", ".join(parts)


def load_and_place(spec: Spec, options: RunOptions, reporter: Reporter, *, notes: bool = True,
                   runs_dir: Path | None = None) -> tuple[Dataset, Placement]:
    """The spec's data, checked against the objective and the memory a model may take, and where the
    models will train. The data's notes are the caller's to show (the run's header shows them); `notes`
    False also keeps this function's own notes to itself. An image folder's decoded images are read
    from, or kept in, `runs_dir`'s copy (see `runs.imagecache`)."""
    data = imagecache.load(spec, runs_dir, options.frame)
    check_task(spec, data.task, data.heads)
    check_space(spec, data.input_shape, data.output_units, len(data.x_train),  # (before any model is built)
                data.preparation.feature_counts())
    check_reachable(spec, data.input_shape, data.output_units, data.preparation.feature_counts())
    device = configure_device(options.device)
    policy = set_precision(spec.train.mixed_precision, gpu=device != "CPU")
    if spec.train.mixed_precision and device == "CPU" and notes:
        reporter.note("train.mixed_precision on a CPU computes in bfloat16: faster only on CPUs with "
                      "bfloat16 units (AMX, AVX512-BF16), and less precise on every CPU")
    xla = bool(spec.train.jit_compile) and _xla_kept(spec, data)
    if spec.train.jit_compile and not xla and notes:
        reporter.note("train.jit_compile: Keras turned XLA off for this model (a layer it cannot compile, such "
                      "as random rotation or zoom); trials train without it")
    replicas = _mirrored_replicas(spec, data) if options.strategy == "mirrored" else None
    _check_buildable(spec, data)
    return data, Placement(device, policy, spec.train.mixed_precision, xla, replicas)


def _check_buildable(spec: Spec, data: Dataset) -> None:
    """The spec's own layers (sequential): the smallest and largest model built now. Pretrained bases:
    their weights fetched or read now. Either way a clear error before any training."""
    if spec.model.kind == "sequential":
        from nnlab.spec.space import extreme_params

        for which in ("min", "max"):
            build_within_memory(spec, extreme_params(spec, which), data)
        clear_session()
    if spec.model.kind == "pretrained":
        from nnlab.engine.model.pretrained import check_weights, resize_note

        check_weights(spec.model.bases(), spec.model.weights, data.input_shape, spec.model.widths())
        data.notes += [n for n in (resize_note(b, data.input_shape) for b in spec.model.bases()) if n]
        clear_session()


def build_within_memory(spec: Spec, params: dict, data: Dataset):
    """The model of `params`, or (when it does not fit in memory: a model `spec.sizes` has no estimate
    for) a clear error instead of TensorFlow's."""
    from nnlab.engine.model.builders import build_model

    try:
        return build_model(spec.model.kind, params, data.model_shape())
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, MemoryError) and failure_kind(text) != "memory":
            raise
        raise NnlabError(f"model: a model this spec allows does not fit in this machine's memory "
                         f"({first_useful_line(text)[:200]}); make it smaller") from None


def _mirrored_replicas(spec: Spec, data: Dataset) -> int:
    """The replica count of --strategy mirrored, checked against the spec: every batch size a trial may
    draw must split evenly over the replicas (a clear error before any training), and the data's notes
    say what evenly split batches cost (the validation rows left over, the short last training batch)."""
    replicas = len(mirrored_devices())
    batch = spec.train.batch_size
    values = batch.values() if is_space(batch) else [batch]
    uneven = [v for v in values if v % replicas]
    if uneven:
        example = sorted({max(replicas, v - v % replicas) for v in uneven} | {v + replicas - v % replicas
                                                                                for v in uneven})[:4]
        raise NnlabError(f"--strategy mirrored trains on {replicas} replicas, and each batch is split evenly over "
                         f"them: train.batch_size {', '.join(map(str, uneven[:5]))} "
                         f"{'is' if len(uneven) == 1 else 'are'} not a multiple of {replicas}; use multiples such "
                         f"as {', '.join(map(str, example))}")
    if replicas > 1:
        data.notes.append(f"--strategy mirrored on {replicas} replicas: so that every batch splits evenly, each "
                          f"epoch's last, short training batch is left out, and each validation set is cut to a "
                          f"multiple of {replicas} rows (at most {replicas - 1} left out)")
    return replicas


def _xla_kept(spec: Spec, data: Dataset) -> bool:
    """Whether Keras keeps `jit_compile` on for this spec's models (it turns XLA off for models with
    layers XLA cannot compile): asked of the largest model of the space, compiled as a trial's is."""
    from nnlab.engine.model.builders import build_model, compile_model
    from nnlab.spec.space import extreme_params

    params, shape = extreme_params(spec, "max"), data.model_shape()
    model = build_model(spec.model.kind, params, shape)
    compile_model(model, params, shape, spec.train.loss, spec.train.metrics, jit_compile=True)
    kept = bool(model.jit_compile)
    clear_session()
    return kept
