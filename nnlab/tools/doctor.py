"""`nnlab doctor`: what this machine offers nnlab — Python, TensorFlow and its build, the NVIDIA driver's
GPUs, the GPU mask, and what TensorFlow itself sees, with its own reason when it sees no GPU."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata


def report() -> tuple[list[tuple[str, str]], list[str], bool]:
    """(facts as (name, value), TensorFlow's own lines about the GPUs, whether TensorFlow sees a GPU)."""
    from nnlab.engine.backend import probe_gpus

    facts = [("python", f"{platform.python_version()} ({sys.executable})"),
             ("system", f"{platform.system()} {platform.machine()}" + (" (WSL)" if "microsoft" in
                                                                     platform.release().lower() else ""))]
    for package in ("tensorflow", "keras", "keras-tuner"):
        try:
            facts.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            facts.append((package, "not installed"))
    facts.append(("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES", "(not set: every GPU)")))
    facts.append(("nvidia-smi", _nvidia_smi()))
    probe = probe_gpus()
    facts.append(("TensorFlow build", probe.build))
    facts.append(("TensorFlow sees", f"{probe.gpus} GPU(s)"))
    return facts, probe.reasons, probe.gpus > 0


def _nvidia_smi() -> str:
    if shutil.which("nvidia-smi") is None:
        return "not found (no NVIDIA driver on this machine, or not on PATH)"
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index,name,memory.total,driver_version",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"failed: {exc}"
    lines = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return "; ".join(lines) if lines else (out.stderr.strip().splitlines() or ["no GPU listed"])[0]
