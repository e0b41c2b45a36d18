"""GPU numbering and the local workers' environment, on faked device lists (no GPU, no TensorFlow)."""

from __future__ import annotations

import pytest

from nnlab.distributed import gpus as g
from nnlab.errors import NnlabError


def test_gpus_are_numbers_or_the_names_nvidia_smi_lists():
    assert g.parse_gpus("0, 1,3") == ["0", "1", "3"]
    uuid = "GPU-8a3b2c1d-0e4f-5a6b-7c8d-9e0f1a2b3c4d"
    assert g.parse_gpus(f"{uuid},MIG-5c7e1f2a-3b4c-5d6e-7f80-91a2b3c4d5e6") == [
        uuid, "MIG-5c7e1f2a-3b4c-5d6e-7f80-91a2b3c4d5e6"]
    for bad in ("0,a", "gpu0", "0,0"):
        with pytest.raises(NnlabError, match="--gpus"):
            g.parse_gpus(bad)


def test_an_inherited_mask_is_indexed_not_overwritten():
    mask = g.inherited_mask({"CUDA_VISIBLE_DEVICES": "4,5,6,7"})
    assert g.physical_devices(["0", "2"], mask) == ["4", "6"]  # as SLURM gave them
    assert g.physical_devices(["0", "1"], None) == ["0", "1"]  # no mask: the numbers themselves
    assert g.physical_devices(["GPU-abc"], mask) == ["GPU-abc"]  # a UUID passes through
    with pytest.raises(NnlabError, match=r"may use 4 GPU\(s\) \(CUDA_VISIBLE_DEVICES=4,5,6,7\)"):
        g.physical_devices(["4"], mask)
    assert g.inherited_mask({}) is None and g.inherited_mask({"CUDA_VISIBLE_DEVICES": "-1"}) == []
    with pytest.raises(NnlabError, match="hides every GPU"):
        g.physical_devices(["0"], [])


def test_workers_are_placed_per_gpu_round_robin_or_spread_over_all_gpus():
    per_gpu = g.place_workers(0, ["0", "1"], 2, 0, ["2", "3"])
    assert per_gpu.devices == ["2", "3", "2", "3"] and per_gpu.where == " on GPU(s) 0,1 (2 per GPU)"
    assert per_gpu.warning is None and per_gpu.per_device("2") == 2
    ignored = g.place_workers(3, ["0", "1"], 4, 0, None)
    assert ignored.devices == ["0", "1", "0"] and "--per-gpu 4 is ignored with --workers 3" in ignored.warning
    assert ignored.where == " on GPU(s) 0,1 (1–2 per GPU)"
    spread = g.place_workers(4, [], 1, 2, None)  # --workers 4 on a 2-GPU machine: not all on GPU 0
    assert spread.devices == ["0", "1", "0", "1"] and "GPU(s) 0,1" in spread.where
    assert g.place_workers(2, [], 1, 2, None, device="cpu").devices == [None, None]
    assert g.place_workers(2, [], 1, 0, None).devices == [None, None]


def test_each_worker_environment_names_its_gpu_the_bus_order_and_its_share_of_the_cores():
    env = g.worker_env({"PATH": "/bin", "CUDA_VISIBLE_DEVICES": "4,5"}, "5", sharing=2, workers=4, cores=16)
    assert env["CUDA_VISIBLE_DEVICES"] == "5" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert env["NNLAB_GPU_SHARED_BY"] == "2" and env["TF_NUM_INTRAOP_THREADS"] == "4"
    assert env["OMP_NUM_THREADS"] == "4" and env["TF_NUM_INTEROP_THREADS"] == "2" and env["PATH"] == "/bin"
    cpu = g.worker_env({}, None, 0, workers=3, cores=2)
    assert "CUDA_VISIBLE_DEVICES" not in cpu and cpu["TF_NUM_INTRAOP_THREADS"] == "1"


def test_run_parallel_starts_workers_with_those_environments(tmp_path, monkeypatch):
    """The launcher patched: what each worker process would be started with."""
    from nnlab.distributed import workers

    started = {}

    def serve(spec, runs_dir, *, workers, **kwargs):
        started.update(ids=[w.worker_id for w in workers.workers], envs=[w.env for w in workers.workers],
                       where=workers.where, command=workers.command)
        return None

    monkeypatch.setattr(workers, "serve_chief", serve)
    monkeypatch.setattr(workers, "check_gpus", lambda gpus: None)  # (a faked machine with GPUs)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    from nnlab.spec.loader import spec_from_dict

    spec = spec_from_dict({"data": {"source": "sklearn:iris"}, "model": {"kind": "mlp"}})
    workers.run_parallel(spec, tmp_path, workers=0, gpus=["1", "3"], per_gpu=2, spec_file=tmp_path / "s.yaml",
                         overrides=[], quiet=True)
    assert started["ids"] == ["worker1", "worker2", "worker3", "worker4"]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in started["envs"]] == ["5", "7", "5", "7"]
    assert all(e["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID" and e["NNLAB_GPU_SHARED_BY"] == "2" for e in started["envs"])
    assert started["command"][-2:] == ["--device", "gpu"] and started["where"] == " on GPU(s) 1,3 (2 per GPU)"


CANNED = [  # (what TensorFlow or CUDA wrote, the kind nnlab reads in it)
    ("ResourceExhaustedError: OOM when allocating tensor with shape[512,1024] on /job:localhost/device:GPU:0",
     "memory"),
    ("InternalError: CUDA_ERROR_OUT_OF_MEMORY: out of memory", "memory"),
    ("InternalError: Dst tensor is not initialized.", "memory"),
    ("UnknownError: Failed to get convolution algorithm. This is probably because cuDNN failed to initialize",
     "memory"),
    ("InternalError: failed to create cublas handle: CUBLAS_STATUS_ALLOC_FAILED", "memory"),
    ("UnknownError: CUDNN_STATUS_ALLOC_FAILED in tensorflow/stream_executor/cuda/cuda_dnn.cc(1529)", "memory"),
    ("InternalError: CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered", "gpu_poisoned"),
    ("InternalError: GPU sync failed", "gpu_poisoned"),
    ("InternalError: CUDA_ERROR_LAUNCH_FAILED: unspecified launch failure", "gpu_poisoned"),
    ("InternalError: uncorrectable ECC error encountered", "gpu_poisoned"),
    ("ValueError: Input 0 of layer dense is incompatible with the layer", "model"),
    ("InvalidArgumentError: Graph execution error: [Op:__inference_one_step_on_data_1234]", "model"),
]


@pytest.mark.parametrize("text, kind", CANNED)
def test_gpu_failure_messages_are_read_for_what_they_mean(text, kind):
    from nnlab.engine.failures import failure_kind

    assert failure_kind(text) == kind


def test_failure_reasons_say_whether_memory_was_shared_and_when_the_gpu_is_lost():
    from nnlab.engine.failures import explain_failure
    from nnlab.runs.records import SHARED_MEMORY_FAILURE

    oom = RuntimeError("CUDA_ERROR_OUT_OF_MEMORY: out of memory")
    assert explain_failure(oom, shared_by=1).startswith("out of memory: try a smaller batch_size")
    shared = explain_failure(oom, shared_by=3)
    assert shared.startswith(SHARED_MEMORY_FAILURE) and "3 workers" in shared and "max_failures" in shared
    lost = explain_failure(RuntimeError("CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access"), shared_by=1)
    assert lost.startswith("a CUDA error left this process's GPU unusable") and "restarts clean" in lost


def test_out_of_memory_on_a_shared_gpu_does_not_count_toward_max_failures():
    from nnlab.runs.log import RunLog
    from nnlab.runs.records import SHARED_MEMORY_FAILURE, TrialRecord

    log = RunLog.__new__(RunLog)
    shared = f"{SHARED_MEMORY_FAILURE} 2 workers: …"
    records = [TrialRecord("0", "completed", 0.5), TrialRecord("1", "failed", reason=shared),
               TrialRecord("2", "failed", reason="ValueError: bad"), TrialRecord("3", "failed", reason=shared),
               TrialRecord("4", "failed", reason="out of memory: try a smaller batch_size")]
    log.ordered = lambda: records
    assert [r.trial_id for r in log.failure_streak()] == ["2", "4"]
    from nnlab.runs.records import is_memory_failure  # every memory failure is counted apart in summary.json

    assert [r.trial_id for r in records if is_memory_failure(r)] == ["1", "3", "4"]


def test_a_lost_gpu_stops_a_single_process_sweep_with_how_to_resume():
    from nnlab.engine.search import Search, StopSearch

    with pytest.raises(StopSearch, match="Run the same command again to resume"):
        Search.gpu_poisoned(object(), "a CUDA error left this process's GPU unusable (x)")


def test_a_worker_that_lost_its_gpu_exits_75_and_is_started_again_clean():
    from types import SimpleNamespace

    from nnlab.distributed.workers import EXIT_RESTART, LocalWorkers, WorkerSweep
    from nnlab.progress import Reporter

    sweep = SimpleNamespace(worker_id="worker1", reporter=Reporter(quiet=True))
    with pytest.raises(SystemExit) as exited:
        WorkerSweep.gpu_poisoned(sweep, "a CUDA error left this process's GPU unusable (x)")
    assert exited.value.code == EXIT_RESTART == 75

    local = LocalWorkers(["nnlab", "worker"], ["worker1"], [{}], Reporter(quiet=True))
    launched = []
    local._launch = launched.append
    local.workers[0].process = SimpleNamespace(poll=lambda: EXIT_RESTART)
    chief = SimpleNamespace(stopping=False, drop_worker=lambda *a: pytest.fail("dropped"))
    local.watch(chief)
    assert launched == [local.workers[0]] and local.workers[0].restarts == 0 and not local.workers[0].done


@pytest.mark.slow
def test_the_chief_builds_best_keras_in_the_workers_policy_and_records_their_device(tmp_path):
    """A worker on a (faked) GPU reports mixed_float16: the chief, on its CPU, builds in that policy."""
    import keras

    from nnlab.distributed.chief import ChiefSweep
    from nnlab.progress import Reporter
    from nnlab.runs.lock import RunLock
    from nnlab.runs.trialprogress import TrialProgress
    from nnlab.spec.loader import spec_from_dict
    from nnlab.spec.space import finish_params, fixed_params

    spec = spec_from_dict({"name": "c", "data": {"source": "sklearn:iris"},
                           "model": {"kind": "mlp", "layers": 1, "units": 4},
                           "train": {"mixed_precision": True}})
    try:
        with RunLock(tmp_path / "c") as lock:
            chief = ChiefSweep.open(spec, tmp_path, overwrite=False, reporter=Reporter(quiet=True), lock=lock)
            assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"  # the chief's own CPU
            chief.adopt_workers_device(TrialProgress(device="GPU ×1, mixed_float16", policy="mixed_float16"))
            model = chief.trainer.compiled_model(finish_params(spec, fixed_params(spec)))
            hidden = [layer for layer in model.layers if layer.weights and layer.name != "output"]
            assert hidden and all(layer.dtype_policy.name == "mixed_float16" for layer in hidden)
            assert chief.log.summary("running").device == "GPU ×1, mixed_float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.slow
def test_every_command_that_uses_tensorflow_sets_its_devices_up_before_any_model(tmp_path, monkeypatch):
    """configure_device (memory growth on every GPU, CPU threads, Grappler) comes before any model is
    built or loaded, for run, predict, evaluate and export alike (validate of an mlp never needs TensorFlow)."""
    import numpy as np
    from typer.testing import CliRunner

    from nnlab.cli import app
    from nnlab.engine import backend
    from nnlab.engine.model import builders as models

    calls = []
    configure, build = backend.configure_device, models.build_model
    from nnlab.engine import placement

    def configure_and_say(device):
        calls.append("devices")
        return configure(device)

    monkeypatch.setattr(backend, "configure_device", configure_and_say)
    monkeypatch.setattr(placement, "configure_device", configure_and_say)  # (imported there by name)
    monkeypatch.setattr(models, "build_model", lambda *a, **k: calls.append("model") or build(*a, **k))
    from nnlab.engine import trainer

    monkeypatch.setattr(trainer, "build_model", models.build_model)
    import keras

    load = keras.saving.load_model
    monkeypatch.setattr(keras.saving, "load_model", lambda *a, **k: calls.append("model") or load(*a, **k))
    runner = CliRunner()
    (tmp_path / "s.yaml").write_text("name: s\ndata: {source: npz, path: d.npz}\nmodel: {kind: mlp, layers: 1, "
                                     "units: 4}\ntrain: {epochs: 1}\nsearch: {max_trials: 1}\n")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(40, 3)), y=rng.integers(0, 2, 40))
    commands = [["validate", str(tmp_path / "s.yaml")],
                ["run", str(tmp_path / "s.yaml"), "--runs-dir", str(tmp_path / "runs"), "-q"],
                ["predict", str(tmp_path / "runs" / "s"), str(tmp_path / "d.npz"), "-o", str(tmp_path / "p.csv")],
                ["evaluate", str(tmp_path / "runs" / "s"), str(tmp_path / "d.npz")],
                ["export", str(tmp_path / "runs" / "s"), "-o", str(tmp_path / "m.keras")]]
    for command in commands:
        calls.clear()
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
        if command[0] == "validate":  # an mlp's parameters are counted without TensorFlow (spec.sizes)
            assert calls == [], calls
            continue
        assert calls and calls[0] == "devices", (command[0], calls)
        assert "model" in calls  # (each builds or loads a model)


class FakeGpu:
    def __init__(self, index: int):
        self.name, self.device_type = f"/physical_device:GPU:{index}", "GPU"


@pytest.mark.slow
@pytest.mark.parametrize("cap", [None, "2048"])
def test_every_gpu_gets_memory_growth_or_the_hard_cap(monkeypatch, cap):
    """configure_device on a faked list of 3 GPUs: memory growth on each, or --gpu-memory's cap on each;
    a GPU that refuses is a warning, not silence."""
    import tensorflow as tf

    from nnlab.engine import backend

    gpus = [FakeGpu(i) for i in range(3)]
    growth, caps = [], []

    def set_growth(gpu, on):
        if gpu is gpus[2]:
            raise RuntimeError("Physical devices cannot be modified after being initialized")
        growth.append((gpu.name, on))

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", set_growth)
    monkeypatch.setattr(tf.config, "set_logical_device_configuration",
                        lambda gpu, config: caps.append((gpu.name, config[0].memory_limit)))
    monkeypatch.setattr(backend, "_CONFIGURED", {})
    if cap:
        monkeypatch.setenv("NNLAB_GPU_MEMORY_MB", cap)
    else:
        monkeypatch.delenv("NNLAB_GPU_MEMORY_MB", raising=False)
    if cap:
        assert backend.configure_device("gpu") == "GPU ×3"
        assert caps == [(g.name, 2048) for g in gpus] and growth == []
    else:
        with pytest.warns(RuntimeWarning, match="could not set memory growth for /physical_device:GPU:2"):
            assert backend.configure_device("gpu") == "GPU ×3"
        assert growth == [(gpus[0].name, True), (gpus[1].name, True)] and caps == []


@pytest.mark.slow
def test_no_gpu_for_device_gpu_is_one_clear_message_with_tensorflows_own_reason(tmp_path):
    """On a machine without a GPU (as CI is): exit 2, TensorFlow's reason from its own log, what to do."""
    import subprocess
    import sys

    (tmp_path / "s.yaml").write_text("data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\nsearch: {max_trials: 1}\n")
    out = subprocess.run([sys.executable, "-m", "nnlab", "run", str(tmp_path / "s.yaml"), "--device", "gpu",
                          "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode == 2 and "Traceback" not in text, text[-3000:]
    assert "TensorFlow sees no GPU on this machine" in text and "TensorFlow says:" in text
    assert "nnlab doctor" in text and "--device cpu" in text


@pytest.mark.slow
def test_a_gpu_whose_memory_is_taken_at_start_up_is_one_clear_message(monkeypatch):
    """A worker that finds its GPU full: TensorFlow's runtime fails to start on it. One message (exit 2:
    the local workers drop it instead of restarting it into the same wall), with TensorFlow's words,
    its log (asked again with the log on) and what to do."""
    import tensorflow as tf

    from nnlab.engine import backend
    from nnlab.errors import NnlabError

    def full(kind=None):
        raise RuntimeError("failed call to cuDevicePrimaryCtxRetain: CUDA_ERROR_OUT_OF_MEMORY: out of memory; "
                           "total memory reported: 85899345920")

    probes = []
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [FakeGpu(0)] if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", lambda gpu, on: None)
    monkeypatch.setattr(tf.config, "list_logical_devices", full)
    monkeypatch.setattr(backend, "probe_gpus", lambda start=False: probes.append(start) or backend.GpuProbe(
        1, "CUDA 12.5.1, cuDNN 9", ["failed to create CUDA context: CUDA_ERROR_OUT_OF_MEMORY"]))
    monkeypatch.setattr(backend, "_CONFIGURED", {})
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    with pytest.raises(NnlabError) as error:
        backend.configure_device("auto")
    text = str(error.value)
    assert "TensorFlow could not start on the GPU(s) CUDA_VISIBLE_DEVICES=1 names" in text
    assert "CUDA_ERROR_OUT_OF_MEMORY: out of memory" in text and "failed to create CUDA context" in text
    assert "another process holds it" in text and "--gpu-memory" in text and probes == [True]
    assert backend._CONFIGURED == {}  # (not taken for set up: the next try starts again)


FRESH_RUNTIME_CHECK = """
import sys
from nnlab.engine import backend, placement

configure = backend.configure_device


def checked(device):
    from tensorflow.python.eager import context  # (importing TensorFlow does not start its runtime)

    if device not in backend._CONFIGURED:  # (the set-up; a later call, a second model loaded, reuses it)
        print("NNLAB_RUNTIME", "started" if context.context()._initialized else "fresh", flush=True)
    return configure(device)


backend.configure_device = placement.configure_device = checked
sys.argv = ["nnlab"] + sys.argv[1:]
from nnlab.cli import main

main()
"""


@pytest.mark.slow
def test_tensorflows_runtime_is_not_started_before_the_device_set_up_in_any_command(tmp_path):
    """Each command that uses TensorFlow, in a fresh process: when nnlab sets the devices up (memory
    growth, caps, threads: all refused once the runtime has started), TensorFlow's runtime has not
    started yet."""
    import subprocess
    import sys

    import numpy as np

    (tmp_path / "s.yaml").write_text("name: s\ndata: {source: npz, path: d.npz}\nmodel: {kind: mlp, layers: 1, "
                                     "units: 4}\ntrain: {epochs: 1}\nsearch: {max_trials: 1}\n")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(40, 3)), y=rng.integers(0, 2, 40))
    (tmp_path / "check.py").write_text(FRESH_RUNTIME_CHECK)
    run = tmp_path / "runs" / "s"

    def start(*command):
        return subprocess.Popen([sys.executable, str(tmp_path / "check.py"), *command], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, cwd=tmp_path)

    first = start("run", "s.yaml", "--runs-dir", "runs", "-q")
    commands = [("validate", "s.yaml"), ("predict", str(run), "d.npz", "-o", "p.csv"), ("evaluate", str(run), "d.npz"),
                ("export", str(run), "-o", "m.keras"), ("report", str(run), "-o", "r.html"),
                ("retrain", str(run), "--seeds", "1"), ("explain", str(run), "--repeats", "1", "-o", "ex")]
    outputs = {"run": first.communicate(timeout=600)[0]}
    assert first.returncode == 0, outputs["run"]
    started = {command[0]: start(*command) for command in commands}  # (the rest side by side)
    for name, proc in started.items():
        outputs[name] = proc.communicate(timeout=600)[0]
        assert proc.returncode == 0, f"{name}:\n{outputs[name][-3000:]}"
    for name, output in outputs.items():
        said = [line for line in output.splitlines() if line.startswith("NNLAB_RUNTIME")]
        if name == "validate":  # (an mlp: its models are counted without TensorFlow, which never starts)
            assert said == [], output[-2000:]
            continue
        assert said and set(said) == {"NNLAB_RUNTIME fresh"}, f"{name}: {said}\n{output[-2000:]}"
