"""Run folders and what they hold: their plain files (`files`), opening and making them (`folder`),
and putting them side by side (`compare`). No TensorFlow."""
