"""Where models are built and trained: the only part of nnlab that imports TensorFlow, Keras and
Keras Tuner. `backend` starts TensorFlow, `models` builds the models, `pipeline` feeds them,
`callbacks` and `metrics` watch a trial, `trainer` trains one trial's params, `search` and `sweep` run
the search, and `kerastuner` fences Keras Tuner's private names and files."""
