"""Which GPU each local worker gets, and the environment it starts with (no TensorFlow here).

`--gpus` names GPUs as this process sees them: indices into an inherited `CUDA_VISIBLE_DEVICES` (as
SLURM and containers set it: `--gpus 0,1` under `CUDA_VISIBLE_DEVICES=4,5,6,7` means physical GPUs
4 and 5), or GPU UUIDs (`GPU-8a3b…`) and MIG instances (`MIG-…`) as `nvidia-smi -L` lists them, which
pass through as they are. Every worker gets `CUDA_DEVICE_ORDER=PCI_BUS_ID`, so an index means what
`nvidia-smi` means by it, and thread pools sized to its share of the host's cores.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from nnlab.errors import NnlabError

_NAMED = re.compile(r"^(GPU|MIG)-[0-9A-Za-z/.-]+$")


def parse_gpus(text: str | None) -> list[str]:
    """`--gpus 0,1` / `--gpus GPU-8a3b…,MIG-…`: the entries, checked."""
    if not text:
        return []
    gpus = [g.strip() for g in text.split(",") if g.strip()]
    bad = [g for g in gpus if not (g.isdigit() or _NAMED.match(g))]
    if not gpus or bad:
        raise NnlabError(f"--gpus {text!r}: expected GPU numbers (--gpus 0,1), or GPU UUIDs and MIG names as "
                         f"`nvidia-smi -L` lists them (GPU-…, MIG-…), separated by commas"
                         + (f"; not {', '.join(map(repr, bad))}" if bad else ""))
    if len(set(gpus)) != len(gpus):
        raise NnlabError(f"--gpus {text!r}: a GPU is listed twice; use --per-gpu K for several workers per GPU")
    return gpus


def inherited_mask(environ=None) -> list[str] | None:
    """The GPUs this process may use by `CUDA_VISIBLE_DEVICES` (None when it is not set)."""
    value = (os.environ if environ is None else environ).get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    return [g.strip() for g in value.split(",") if g.strip() and g.strip() != "-1"]


def visible_gpu_count(environ=None) -> int:
    """How many GPUs this process may use, without starting TensorFlow: `nvidia-smi -L`'s count, cut to
    the inherited CUDA_VISIBLE_DEVICES. 0 without nvidia-smi (no NVIDIA driver)."""
    mask = inherited_mask(environ)
    if mask is not None and not mask:
        return 0
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    count = sum(line.startswith("GPU ") for line in listed.splitlines())
    return min(count, len(mask)) if mask is not None else count


def physical_devices(gpus: list[str], mask: list[str] | None) -> list[str]:
    """What each `--gpus` entry becomes in a worker's CUDA_VISIBLE_DEVICES: an index is looked up in the
    inherited mask (when there is one); a UUID or MIG name passes through."""
    out = []
    for gpu in gpus:
        if not gpu.isdigit() or mask is None:
            out.append(gpu)
            continue
        if int(gpu) >= len(mask):
            shown = ",".join(mask) or "(none)"
            raise NnlabError(f"--gpus {gpu}: this process may use {len(mask)} GPU(s) (CUDA_VISIBLE_DEVICES="
                             f"{shown}); --gpus counts among them, from 0 to {len(mask) - 1}"
                             if mask else f"--gpus {gpu}: CUDA_VISIBLE_DEVICES hides every GPU from this process")
        out.append(mask[int(gpu)])
    return out


@dataclass
class Placement:
    """Local workers on GPUs: each worker's device (None: the CPU) and what people are told."""

    devices: list[str | None]
    where: str
    warning: str | None = None

    def per_device(self, device: str | None) -> int:
        return sum(d == device for d in self.devices)


def place_workers(workers: int, gpus: list[str], per_gpu: int, visible_gpus: int, mask: list[str] | None,
                  device: str = "auto") -> Placement:
    """Which device each of `workers` local workers trains on.

    - `--gpus G --per-gpu K` without `--workers`: K workers per listed GPU.
    - `--gpus G` with `--workers N`: N workers round robin over G (`--per-gpu` does not apply; said so).
    - `--workers N` alone on a machine with GPUs (and not `--device cpu`): round robin over all of them,
      rather than every worker opening every GPU and training on GPU 0.
    """
    warning = None
    if gpus:
        physical = physical_devices(gpus, mask)
        if workers and per_gpu != 1:
            warning = (f"--per-gpu {per_gpu} is ignored with --workers {workers}: the {workers} workers are spread "
                       f"round robin over the {len(gpus)} GPU(s) listed")
        count = workers or len(gpus) * per_gpu
        devices = [physical[i % len(physical)] for i in range(count)]
        listed = ",".join(gpus)
    elif visible_gpus and device != "cpu" and workers:
        all_gpus = [str(i) for i in range(visible_gpus)]
        physical = physical_devices(all_gpus, mask)
        devices = [physical[i % len(physical)] for i in range(workers)]
        listed = ",".join(all_gpus)
    else:
        return Placement([None] * workers, "")
    shares = sorted({sum(d == x for d in devices) for x in set(devices)})
    share = f"{shares[0]} per GPU" if len(shares) == 1 else f"{shares[0]}–{shares[-1]} per GPU"
    return Placement(devices, f" on GPU(s) {listed} ({share})", warning)


def worker_env(base: dict, device: str | None, sharing: int, workers: int, cores: int | None = None) -> dict:
    """A local worker's environment: its GPU (or none), the PCI bus order, how many workers share its GPU
    (for its out-of-memory reasons), and thread pools sized to its share of the host's cores."""
    env = dict(base)
    env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    if device is not None:
        env["CUDA_VISIBLE_DEVICES"] = device
        env["NNLAB_GPU_SHARED_BY"] = str(sharing)
    threads = max(1, (cores or os.cpu_count() or 1) // max(workers, 1))
    for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        env.setdefault(name, str(threads))
    env.setdefault("TF_NUM_INTEROP_THREADS", str(min(2, threads)))
    return env
