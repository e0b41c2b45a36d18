"""TensorFlow start-up: its quiet import, the device, the precision, and memory between trials.

TensorFlow is imported here, on first need, never at nnlab's import time (quietly: `nnlab.quiet`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re

from nnlab.engine import tfprivate
from nnlab.quiet import import_quietly


def import_tensorflow():
    """`import tensorflow`, without its start-up noise (see `nnlab.quiet`)."""
    return import_quietly("tensorflow")


def configure_device(device: str) -> str:
    """Pick the device (auto, cpu or gpu) before TensorFlow starts; return its name for people. On GPUs:
    memory growth, or with NNLAB_GPU_MEMORY_MB (`--gpu-memory MB`) a hard cap of that many MB each.
    The devices are set up once per process (TensorFlow allows no more); every later call reuses them.

    On a CPU, Grappler (TensorFlow's graph optimizer, run on every newly traced function) is turned
    off, on every call (`process_kept` restores the user's setting after each command): for a sweep's
    many small models it costs more at each trial's start than it saves (benchmarks/speed.py measures a
    sweep's time per trial). GPUs keep TensorFlow's default."""
    if device not in _CONFIGURED:
        _CONFIGURED[device] = _set_up_devices(device)
    if _CONFIGURED[device] == "CPU":
        import_tensorflow().config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    return _CONFIGURED[device]


def _set_up_devices(device: str) -> str:
    """The once-per-process part of `configure_device`: thread pools, logical CPU devices, the GPUs'
    memory (growth or a cap), the runtime started on them. Returns the device's name for people."""
    from nnlab.errors import NnlabError

    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    tf = import_tensorflow()
    _threads(tf)
    _cpu_devices(tf)
    gpus = tf.config.list_physical_devices("GPU")
    if device == "cpu" and gpus:  # TensorFlow was imported before the GPUs could be hidden
        with contextlib.suppress(RuntimeError):
            tf.config.set_visible_devices([], "GPU")
        gpus = []
    if device == "gpu" and not gpus:
        probe = probe_gpus()  # (TensorFlow's own reason: its start-up log, hidden in this process)
        why = "; ".join(probe.reasons[:3]) or "TensorFlow gave no reason"
        raise NnlabError(
            f"--device gpu: TensorFlow sees no GPU on this machine ({probe.build}). TensorFlow says: {why}. "
            "Install the GPU build with `pip install -e '.[gpu]'` (Linux x86-64 or WSL2, an NVIDIA driver for "
            "CUDA 12), check with `nnlab doctor`, or use --device cpu"
        )
    limit = os.environ.get("NNLAB_GPU_MEMORY_MB", "")
    for gpu in gpus:
        try:
            if limit.isdigit():  # --gpu-memory MB: a hard cap per process (a logical device of that size)
                tf.config.set_logical_device_configuration(
                    gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=int(limit))])
            else:  # memory growth: take what the trials need, as they need it (and keep the peak)
                tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError) as exc:  # said, not swallowed: the GPU then maps all its memory
            import warnings

            what = f"the {limit} MB cap (--gpu-memory)" if limit.isdigit() else "memory growth"
            warnings.warn(f"could not set {what} for {gpu.name} ({exc}); TensorFlow will take nearly all of its "
                          "memory", RuntimeWarning, stacklevel=3)
    if gpus:
        _start_gpus(tf)
    return f"GPU ×{len(gpus)}" if gpus else "CPU"


_CONFIGURED: dict[str, str] = {}  # device asked for → what configure_device found


def _start_gpus(tf) -> None:
    """Start TensorFlow's runtime on the GPUs now: a GPU that cannot be opened (its memory taken by
    another process, a driver fault) is one clear message here, with TensorFlow's own reason, instead
    of a traceback at the first trial (and a worker restarted into the same wall)."""
    from nnlab.engine.failures import failure_kind, first_useful_line
    from nnlab.errors import NnlabError

    try:
        tf.config.list_logical_devices("GPU")
    except Exception as exc:  # noqa: BLE001 (TensorFlow's InternalError, RuntimeError, …: all are this one failure)
        said = first_useful_line(str(exc)) or type(exc).__name__
        probe = probe_gpus(start=True)  # (its log: the CUDA lines this process hides)
        log = "; ".join(probe.reasons[:3]) or "nothing more"
        mask = os.environ.get("CUDA_VISIBLE_DEVICES")
        which = f"the GPU(s) CUDA_VISIBLE_DEVICES={mask} names" if mask else "the GPU(s)"
        if failure_kind(f"{said} {log}") == "memory":
            hint = ("Their memory is taken: another process holds it (`nvidia-smi` lists them). With --per-gpu K, "
                    "run fewer workers per GPU or cap each with --gpu-memory MB; or wait for the other job")
        else:
            hint = "Check the GPUs with `nnlab doctor`, or use --device cpu"
        raise NnlabError(f"TensorFlow could not start on {which}: {said}. TensorFlow's log: {log}. {hint}") from None


@dataclasses.dataclass
class GpuProbe:
    """What TensorFlow sees of the GPUs, asked in a fresh process with its own log on (nnlab's processes
    hide TensorFlow's start-up log, and a process's GPU state cannot be asked twice)."""

    gpus: int
    build: str  # e.g. "CUDA 12.5.1, cuDNN 9" or "CPU-only build"
    reasons: list[str]  # TensorFlow's own lines about CUDA, drivers and GPU libraries


GPU_LOG = re.compile(r"cuda|cudnn|cublas|driver|dlopen|gpu|nvidia|libcu", re.IGNORECASE)


def probe_gpus(timeout: float = 180, start: bool = False) -> GpuProbe:
    """Ask a fresh Python process what TensorFlow sees, with TF_CPP_MIN_LOG_LEVEL=0; `start`: also start
    its runtime on the GPUs (what fails when their memory is taken)."""
    import subprocess
    import sys

    code = ("import tensorflow as tf\n"
            "b = tf.sysconfig.get_build_info()\n"
            "print('NNLAB_GPUS', len(tf.config.list_physical_devices('GPU')))\n"
            "print('NNLAB_BUILD', b.get('is_cuda_build'), b.get('cuda_version'), b.get('cudnn_version'))\n"
            + ("[tf.config.experimental.set_memory_growth(g, True) for g in tf.config.list_physical_devices('GPU')]\n"
               "tf.config.list_logical_devices('GPU')\n" if start else ""))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        return GpuProbe(0, "unknown", [f"could not start Python to ask TensorFlow: {exc}"])
    gpus, build = 0, "unknown"
    for line in out.stdout.splitlines():
        if line.startswith("NNLAB_GPUS "):
            gpus = int(line.split()[1])
        elif line.startswith("NNLAB_BUILD "):
            _, cuda_build, cuda, cudnn = line.split()
            build = f"CUDA {cuda}, cuDNN {cudnn}" if cuda_build == "True" else "CPU-only build (no CUDA)"
    reasons = []
    for line in out.stderr.splitlines():
        text = re.sub(r"^[IWEF]\d{4} [\d:.]+\s+\d+ \S+\] ", "", line.strip())
        if GPU_LOG.search(text) and text not in reasons:
            reasons.append(text[:300])
    if out.returncode and not reasons:
        reasons.append(out.stderr.strip().splitlines()[-1][:300] if out.stderr.strip() else "TensorFlow failed")
    return GpuProbe(gpus, build, reasons)


def _threads(tf) -> None:
    """A local worker's share of the host's cores (`distributed.gpus.worker_env` sets the variables):
    TensorFlow's thread pools sized to it, before its runtime starts."""
    for name, setter in (("TF_NUM_INTRAOP_THREADS", tf.config.threading.set_intra_op_parallelism_threads),
                         ("TF_NUM_INTEROP_THREADS", tf.config.threading.set_inter_op_parallelism_threads)):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            with contextlib.suppress(RuntimeError):  # (the runtime already started: too late, harmless)
                setter(int(value))


def _cpu_devices(tf) -> None:
    """NNLAB_CPU_DEVICES=K splits the CPU into K logical devices (before TensorFlow's runtime starts), so
    `--strategy mirrored` can train on K replicas of a CPU-only machine: how the tests check mirrored
    training without a GPU."""
    value = os.environ.get("NNLAB_CPU_DEVICES", "")
    if value.isdigit() and int(value) > 1:
        cpus = tf.config.list_physical_devices("CPU")
        with contextlib.suppress(RuntimeError):  # (the runtime already started: too late)
            tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * int(value))


def mirrored_devices() -> list[str]:
    """The devices of `--strategy mirrored`, one replica each: every visible GPU, or, with none, every
    logical CPU device (one, unless NNLAB_CPU_DEVICES splits the CPU)."""
    tf = import_tensorflow()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return [d.name for d in devices]


def mirrored_strategy():
    """`--strategy mirrored`: TensorFlow's MirroredStrategy over `mirrored_devices()`."""
    return import_tensorflow().distribute.MirroredStrategy(devices=mirrored_devices())


def set_precision(mixed: bool, gpu: bool) -> str:
    """Keras's global dtype policy for the models of this process: float32, or mixed precision
    (float16 compute on a GPU, bfloat16 on a CPU; weights stay float32). Returns the policy name."""
    policy = ("mixed_float16" if gpu else "mixed_bfloat16") if mixed else "float32"
    set_global_policy(policy)
    return policy


def set_global_policy(policy: str) -> None:
    """Keras's global dtype policy by name (float32, mixed_float16, mixed_bfloat16)."""
    keras = import_keras()
    if keras.mixed_precision.global_policy().name != policy:
        keras.mixed_precision.set_global_policy(policy)


def clear_session() -> None:
    """Keras's `clear_session()`, keeping the dtype policy (Keras resets it to float32 with the rest
    of its global state), and without its garbage collection (see `release_custom_gradients`)."""
    keras = import_keras()
    policy = keras.mixed_precision.global_policy()
    keras.backend.clear_session(free_memory=False)
    keras.mixed_precision.set_global_policy(policy)


def import_keras():
    """`import keras` (TensorFlow backend), without TensorFlow's start-up noise."""
    import_tensorflow()
    import keras

    return keras


def custom_gradients() -> set:
    """Names in TensorFlow's global gradient registry now (see `release_custom_gradients`)."""
    return set(tfprivate.gradient_registry() or ())  # (a TensorFlow without this registry: nothing to release)


def release_custom_gradients(before: set) -> None:
    """Forget the custom gradients traced since `before`, then clear the Keras session.

    Every traced `tf.custom_gradient` is registered in a global registry under a new name and never
    removed; its closure holds the whole traced graph. Across the trials of a sweep that kept every
    trial's graphs alive: about 4 MB per trial of a small MLP (TensorFlow 2.21), the memory growth
    Keras Tuner sweeps are known for. Once a trial's model is done, nothing uses them again.
    """
    import gc

    registry = tfprivate.gradient_registry() or {}
    for name in [n for n in registry if n.startswith("CustomGradient-") and n not in before]:
        del registry[name]
    clear_session()
    gc.collect()  # one full collection; cheap once the long-lived objects are frozen (see freeze_heap)


def freeze_heap() -> None:
    """Move every object alive now (TensorFlow's modules, the data) out of the garbage collector's
    reach. A full collection walks all tracked objects, many with TensorFlow loaded; after this,
    collections between trials only walk what the trials created."""
    import gc

    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def process_kept():
    """Leave the Python process as it was found (nnlab from a notebook or a script): the environment
    (CUDA_VISIBLE_DEVICES, TF_CPP_MIN_LOG_LEVEL), the garbage collector (frozen by a sweep, see
    `freeze_heap`), Keras's dtype policy, TensorFlow's graph-optimizer options and global seed, the
    random and NumPy global generators, the signal handlers, warning filters and log levels.

    What cannot be undone: TensorFlow stays imported and its devices stay as first configured (a
    process can set them once); objects the user froze before are unfrozen with nnlab's."""
    import gc
    import logging
    import random
    import signal
    import sys
    import warnings

    import numpy as np

    environ = dict(os.environ)
    frozen = gc.get_freeze_count()
    gc_enabled, thresholds = gc.isenabled(), gc.get_threshold()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    loggers = {name: logging.getLogger(name).level for name in ("tensorflow", "absl")}
    filters = list(warnings.filters)
    random_state, numpy_state = random.getstate(), np.random.get_state()
    policy = sys.modules["keras"].mixed_precision.global_policy().name if "keras" in sys.modules else "float32"
    tf_before = sys.modules.get("tensorflow")
    options = tf_before.config.optimizer.get_experimental_options() if tf_before else {}
    seed = _global_seed() if tf_before else None
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environ)
        if gc.get_freeze_count() > frozen:
            gc.unfreeze()
        (gc.enable if gc_enabled else gc.disable)()
        gc.set_threshold(*thresholds)
        for signum, handler in handlers.items():
            if handler is not None:
                signal.signal(signum, handler)
        for name, level in loggers.items():
            logging.getLogger(name).setLevel(level)
        warnings.filters[:] = filters
        random.setstate(random_state)
        np.random.set_state(numpy_state)
        if "keras" in sys.modules:
            sys.modules["keras"].mixed_precision.set_global_policy(policy)
        tf = sys.modules.get("tensorflow")
        if tf is not None:
            tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": False, **options})
            tf.random.set_seed(seed)


def _global_seed():
    """TensorFlow's global seed now (None when none was set)."""
    return tfprivate.global_seed()
