"""search.constraints during a search (`Skips`): why a configuration's model is over a limit, and each
one left out said (the first few) and counted in summary.json's `skipped` by the process that keeps the
run's records. The oracle side, drawing again, is `engine.kerastuner.keep_within`. No TensorFlow but
max_latency_ms's timing (`engine.latency`)."""

from __future__ import annotations

from nnlab.data.dataset import Dataset
from nnlab.progress import Reporter
from nnlab.spec.constraints import over
from nnlab.spec.schema import Spec
from nnlab.spec.sizes import model_size
from nnlab.spec.space import active_values, sample_params

SAID = 3  # configurations said one by one; the rest are counted
EXAMPLES = 5  # kept in summary.json with their reason


class Skips:
    def __init__(self, spec: Spec, data: Dataset, reporter: Reporter, log=None, latencies=None):
        """`log`: the run's RunLog where this process keeps the records (None: a worker's); `latencies`:
        search.latency's timings (`engine.latency.Latencies`), for max_latency_ms."""
        self.spec, self.data, self.reporter, self.log, self.latencies = spec, data, reporter, log, latencies
        self.count = 0

    def reason(self, oracle, values: dict) -> str | None:
        """Why a configuration's model is over search.constraints (None: within them, or no estimate)."""
        hps = oracle.get_space()
        hps.values.update(values)
        params = sample_params(hps, self.spec)
        size = model_size(self.spec.model.kind, params, self.data.input_shape, self.data.output_units,
                          self.data.preparation.feature_counts())
        constraints = self.spec.search.constraints
        too_big = over(constraints, size) if size is not None else None
        if too_big:  # (not timed: it is not trained)
            return too_big
        timed = self.latencies.of(params) if constraints.max_latency_ms is not None and self.latencies else None
        return over(constraints, size, timed)

    def said(self, values: dict | None, reason: str) -> None:
        """A configuration never trained (values None: the search stops)."""
        if values is None:
            self.reporter.warn(f"{reason}: the search stops")
            return
        shown = active_values(values, self.spec)
        self.count += 1
        if self.log is not None:
            skipped = dict(self.log.skipped or {"count": 0, "examples": []})
            skipped["count"] += 1
            if len(skipped["examples"]) < EXAMPLES:
                skipped["examples"] = [*skipped["examples"], {"hyperparameters": shown, "reason": reason}]
            self.log.skipped = skipped
        if self.count <= SAID:
            more = "; more are counted in summary.json (skipped)" if self.count == SAID else ""
            self.reporter.note(f"not trained, over search.constraints: "
                               f"{' '.join(f'{k}={v}' for k, v in shown.items())} ({reason}){more}")
