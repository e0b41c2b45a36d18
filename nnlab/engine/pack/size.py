"""search.pack: how many trials a pack holds in this process (`pack_size`): the spec's number, or for
`auto` as many as pay on this device (`auto_pack`), from the largest model's size (spec.sizes), the
device's measured arithmetic rate and its memory; 1 where trials cannot share a step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from nnlab.errors import plural

FIXED_SECONDS = {"CPU": 0.5, "GPU": 1.0}  # a trial's own cost besides its steps: building, tracing (pack.py)
STEP_SECONDS = {"CPU": 0.0003, "GPU": 0.0005}  # a small model's step besides its arithmetic: the ops' own cost
CPU_MOST, GPU_MOST = 8, 32  # search.pack auto: the most trials in a pack on a CPU, on a GPU
GPU_STEP_SECONDS = 0.002  # a GPU step shorter than this waits on kernel launches, not on arithmetic
MEMORY_SHARE = 0.5  # of the memory a model may take (spec.sizes), what a pack's models may take together


@dataclass(frozen=True)
class PackChoice:
    """search.pack resolved for this process: how many trials a pack holds, and the note that says why
    (None when the spec said 1)."""

    size: int
    note: str | None = None


def pack_size(spec, data, placement, tensorboard: bool = False) -> PackChoice:
    """search.pack as a number of trials for this process's device: the spec's number, or for `auto`
    the most that pays (`auto_pack`); 1 where trials cannot share a step (said in a note)."""
    from nnlab.spec.objectives import unpackable

    asked = spec.search.pack
    if asked == 1:
        return PackChoice(1)
    why_not = unpackable(spec) or ("--tensorboard, whose logs are written by Keras's fit of one model"
                                   if tensorboard else None)
    if why_not:
        return PackChoice(1, f"search.pack: trials train one at a time with {why_not}")
    if asked != "auto":
        return PackChoice(asked, f"search.pack: {asked} trials at a time, those sharing a batch size in one pack")
    return auto_pack(spec, data, placement)


def auto_pack(spec, data, placement) -> PackChoice:
    """search.pack auto. A trial's time is its fixed cost (building, tracing: FIXED_SECONDS) and its
    steps, each the ops' own cost (STEP_SECONDS) and its arithmetic (the largest model's multiply-adds,
    spec.sizes, at this device's measured rate). On a CPU, a pack saves the fixed cost and much of the
    ops' cost but none of the arithmetic, while it delays the results the search learns from: up to
    CPU_MOST trials, in proportion to the share of a trial's time a pack can save. On a GPU a small
    model's step leaves the device waiting on launches: as many trials as keep a step's arithmetic
    under GPU_STEP_SECONDS, up to GPU_MOST. Never more than the memory allows (half of what spec.sizes
    lets one model take, shared) nor than the search's trials."""
    from nnlab.spec.sizes import largest, memory_limit

    rows = len(data.x_train)
    found = largest(spec, data.input_shape, data.output_units, rows, data.preparation.feature_counts())
    if found is None:
        return PackChoice(1, "search.pack auto: 1 (nnlab has no size estimate for this model's layers; set "
                             "search.pack to a number to pack)")
    need, size, params = found
    device = "GPU" if placement.gpu else "CPU"
    rate = measured_rate()
    batch = max(1, min(int(params["batch_size"]), rows))
    arithmetic = 3 * size.macs * batch / rate  # a step's (forward and backward)
    steps = spec.train.epochs * -(-rows // batch)
    fixed, overhead = FIXED_SECONDS[device], steps * STEP_SECONDS[device]
    if device == "CPU":
        saved = (fixed + overhead) / (fixed + overhead + steps * arithmetic)
        by_time = max(1, round(CPU_MOST * saved))
        why = f"arithmetic, which a pack does not save, is about {1 - saved:.0%} of a trial's estimated time"
    else:
        by_time = max(1, min(GPU_MOST, int(GPU_STEP_SECONDS / max(arithmetic, 1e-9))))
        why = f"a step of about {arithmetic * 1e3:.2g} ms of arithmetic"
    budget = MEMORY_SHARE * (gpu_memory() if placement.gpu else memory_limit()[0])
    by_memory = max(1, int(budget // max(need, 1)))
    limit = spec.search.trial_limit() or by_time
    chosen = max(1, min(by_time, by_memory, limit))
    capped = f"; the search has {plural(limit, 'trial')}" if limit < min(by_time, by_memory) else ""
    return PackChoice(chosen, f"search.pack auto: {chosen} trial{'s' if chosen > 1 else ''} at a time on the "
                              f"{device} ({why}, at the {rate / 1e9:.3g} G multiply-adds/s measured here; memory "
                              f"allows {by_memory}{capped}); set search.pack to a number to choose")


def measured_rate() -> float:
    """This process's device's multiply-adds per second on a float32 matrix product of a small model's
    size (a few milliseconds to measure)."""
    from nnlab.engine.backend import import_tensorflow

    tf = import_tensorflow()
    a, b = tf.random.uniform((256, 512)), tf.random.uniform((512, 512))
    (a @ b).numpy()  # (warm: the kernel chosen, the memory taken)
    runs = 8
    started = time.perf_counter()
    for _ in range(runs):
        c = a @ b
    c.numpy()
    return runs * 256 * 512 * 512 / max(time.perf_counter() - started, 1e-6)


def gpu_memory() -> float:
    """Bytes of GPU memory this process may use: the --gpu-memory cap, else its first visible GPU's
    memory as nvidia-smi says (8 GiB if it cannot), shared with the other workers on it (--per-gpu)."""
    import os
    import subprocess

    cap = os.environ.get("NNLAB_GPU_MEMORY_MB", "")
    if cap.isdigit():
        return int(cap) * 1024**2
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits",
                              *(["-i", first] if first.isdigit() else [])], capture_output=True, text=True, timeout=10)
        total = float(out.stdout.split()[0]) * 1024**2
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        total = 8 * 1024**3
    shared = os.environ.get("NNLAB_GPU_SHARED_BY", "")
    return total / (int(shared) if shared.isdigit() and int(shared) > 0 else 1)
