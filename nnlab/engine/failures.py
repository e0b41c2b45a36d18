"""Why a trial failed, in words a person can act on, and what kind of failure it was: the
configuration's own, out of memory (counted apart from search.max_failures), or a CUDA error that
left the process's GPU unusable (the process restarts clean). No TensorFlow.
"""

from __future__ import annotations

import os

from nnlab.runs.records import MEMORY_FAILURE, SHARED_MEMORY_FAILURE


class TrialFailed(Exception):
    """Raised inside a trial with a reason a person can act on."""


# What TensorFlow, CUDA, cuDNN and cuBLAS write when a trial fails for want of memory, and when a CUDA
# error leaves the process's GPU context unusable (every later kernel fails until the process ends).
MEMORY_SIGNS = ("ResourceExhausted", "OOM when allocating", "out of memory", "CUDA_ERROR_OUT_OF_MEMORY",
                "Dst tensor is not initialized", "CUDNN_STATUS_ALLOC_FAILED", "CUBLAS_STATUS_ALLOC_FAILED",
                "failed to create cublas handle", "Failed to get convolution algorithm", "MemoryError")
POISON_SIGNS = ("CUDA_ERROR_ILLEGAL_ADDRESS", "illegal memory access", "CUDA_ERROR_LAUNCH_FAILED",
                "unspecified launch failure", "CUDA_ERROR_ECC_UNCORRECTABLE", "uncorrectable ECC error",
                "device-side assert", "GPU sync failed", "CUDA_ERROR_ILLEGAL_INSTRUCTION")
POISONED = "a CUDA error left this process's GPU unusable"


def failure_kind(text: str) -> str:
    """"gpu_poisoned", "memory" or "model" (anything else: the configuration's own failure)."""
    if any(sign in text for sign in POISON_SIGNS):
        return "gpu_poisoned"
    if any(sign in text for sign in MEMORY_SIGNS):
        return "memory"
    return "model"


def explain_failure(exc: BaseException, shared_by: int | None = None) -> str:
    """One line a person can act on. `shared_by`: how many workers share this process's GPU (from
    `--per-gpu`; the variable NNLAB_GPU_SHARED_BY when not given)."""
    if isinstance(exc, TrialFailed):
        return str(exc)
    text = f"{type(exc).__name__}: {str(exc).strip()}"
    kind = "memory" if isinstance(exc, MemoryError) else failure_kind(text)
    if shared_by is None:
        shared = os.environ.get("NNLAB_GPU_SHARED_BY", "")
        shared_by = int(shared) if shared.isdigit() else 1
    if kind == "gpu_poisoned":
        return f"{POISONED} ({first_useful_line(text)}); the process restarts clean to go on"
    if kind == "memory" and shared_by > 1:
        return (f"{SHARED_MEMORY_FAILURE} {shared_by} workers: the others may hold the memory this trial "
                "needed (not counted toward search.max_failures); try fewer --per-gpu or a smaller batch_size")
    if kind == "memory":
        return f"{MEMORY_FAILURE} try a smaller batch_size, a smaller model or smaller images"
    return first_useful_line(text) or type(exc).__name__


def first_useful_line(message: str | None) -> str | None:
    if not message:
        return None
    lines = [line.strip() for line in str(message).strip().splitlines() if line.strip()]
    return (lines[0] if len(lines) < 3 else lines[-1])[:300] if lines else None
