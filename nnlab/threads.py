"""How many threads scikit-learn's OpenMP code may use: one. Gradient boosting (search.baseline, the
target-transform probe) otherwise starts a thread per core, and on a machine whose cores are busy
(workers training beside it, other users) those threads wait on each other: seconds become minutes.
No TensorFlow.
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def one_thread():
    """Inside: scikit-learn's OpenMP and BLAS work on one thread (threadpoolctl, which scikit-learn
    installs)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
