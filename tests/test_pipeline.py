"""The training pipeline: rows read in place (several parts, an index, memory-mapped files) give the
same examples, in the same shuffled order, as the arrays in memory."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.engine.pipeline import Rows, TrainingData, validation_batch


def test_rows_read_parts_end_to_end_in_the_order_of_the_index():
    a, b = np.arange(10).reshape(5, 2), np.arange(10, 16).reshape(3, 2)
    rows = Rows(a, b, index=np.array([7, 0, 5, 2]))
    assert len(rows) == 4 and rows.shape == (4, 2)
    assert rows.take(np.array([0, 1, 2, 3])).tolist() == [[14, 15], [0, 1], [10, 11], [4, 5]]
    assert rows.array().tolist() == np.concatenate([a, b])[[7, 0, 5, 2]].tolist()
    assert rows.first(2).array().tolist() == [[14, 15], [0, 1]]
    assert Rows(a).array() is a  # in memory, whole: not copied


def test_validation_batches_are_capped_by_pixels_and_split_over_replicas():
    assert validation_batch(np.zeros((100_000, 8))) == 8192
    assert validation_batch(np.zeros((5000, 64, 64, 3), np.uint8)) == 64  # 2**18 pixels / (64 × 64)
    assert validation_batch(np.zeros((89, 4)), replicas=2) == 88


@pytest.fixture()
def mapped(tmp_path):
    x = np.arange(50 * 4 * 4, dtype=np.uint8).reshape(50, 4, 4, 1) % 251
    x[:, 0, 0, 0] = np.arange(50)  # each image says its row
    np.save(tmp_path / "x.npy", x)
    return x, np.load(tmp_path / "x.npy", mmap_mode="r")


def _epoch(dataset):
    return [(x[:, 0, 0, 0].tolist(), y.tolist()) for x, y in dataset.as_numpy_iterator()]


def test_a_memory_mapped_split_gives_the_same_batches_as_the_arrays_in_memory(mapped):
    x, on_disk = mapped
    assert Rows(on_disk).mapped and not Rows(x).mapped
    y = np.arange(50) % 3
    in_memory = TrainingData(x[:40], y[:40], x[40:], y[40:], seed=1)
    from_file = TrainingData(on_disk[:40], y[:40], on_disk[40:], y[40:], seed=1)
    orders = []
    for _ in range(2):  # reshuffled each epoch, the same way
        expected, got = _epoch(in_memory.batches(16)), _epoch(from_file.batches(16))
        assert [sorted(rows) for rows, _ in expected] == [rows for rows, _ in got]  # (in file order in a batch)
        assert all(labels == [r % 3 for r in rows] for rows, labels in got)
        orders.append(got)
    assert orders[0] != orders[1]
    assert _epoch(from_file.validation) == _epoch(in_memory.validation)


def test_fold_rows_from_both_splits_of_a_memory_mapped_file_with_replicas(mapped):
    _, on_disk = mapped
    train, val = np.arange(0, 50, 2), np.arange(1, 50, 2)
    y = np.arange(50) % 3
    fold = TrainingData(Rows(on_disk[:40], on_disk[40:], index=train), y[train],
                        Rows(on_disk[:40], on_disk[40:], index=val), y[val], seed=0, replicas=2)
    batches = _epoch(fold.batches(8))
    assert [len(rows) for rows, _ in batches] == [8, 8, 8]  # the short last batch is dropped
    assert set(sum((rows for rows, _ in batches), [])) <= set(train.tolist())
    assert fold.validation_used == 24
    assert sorted(sum((rows for rows, _ in _epoch(fold.validation)), [])) == val[:24].tolist()
