"""Where models are built and trained: the only part of nnlab that imports TensorFlow, Keras and
Keras Tuner. `backend` starts TensorFlow quietly, `models` builds them, `pipeline` feeds them,
`callbacks` watches a trial, `sweep` runs the search, `tunerstate` fences Keras Tuner's files."""
