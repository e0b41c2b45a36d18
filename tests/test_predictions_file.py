"""The predictions CSV: one row per input, classes as the data writes them, values as numbers."""

from __future__ import annotations

import numpy as np

from nnlab.data.preparation import Target
from nnlab.tools.apply import predictions_csv
from nnlab.tools.inputs import Inputs


def test_class_codes_are_written_as_the_data_has_them_and_values_as_numbers():
    inputs = Inputs(np.zeros((3, 1)), ["1", "2", "3"], "row", unread={2: "could not decode the image"})
    survived = Target(None, "classification", [0, 1])
    fare = Target("fare", "regression")
    text = predictions_csv(inputs, [(survived, [0, 1, 0], np.array([[0.8, 0.2], [0.3, 0.7], [1, 0]])),
                                    (fare, [7.25, 71.0, 0.0], None)], with_proba=True)
    assert text.splitlines() == ["row,predictions,fare,proba_0,proba_1", "1,0,7.25,0.8,0.2", "2,1,71.0,0.3,0.7",
                                 "3,could not decode the image,,,"]  # (Titanic's 0/1, not 0.0/1.0)


def test_labels_in_new_data_match_the_classes_trimmed_in_any_case_and_as_whole_numbers():
    from nnlab.data.tabular import label_key
    from nnlab.tools.inputs import encode_labels

    assert [label_key(v) for v in (" Stop ", 1.0, "16.0", "16", True)] == ["stop", "1", "16", "16", "true"]
    images = Target(None, "classification", ["Cat", "cat", "16"])
    assert encode_labels(["cat", "Cat", "CAT", "16.0", 16], images, "t.csv").tolist() == [1, 0, 0, 2, 2]
