"""The spec's data as arrays: CSV files (`tabular`), image folders (`images`), and the split,
preprocessing and task of every source (`dataset`). No TensorFlow (only `keras:NAME` downloads use
Keras's loaders)."""
