"""Sweeps across processes and machines on Keras Tuner's chief/worker engine (`nnlab run --workers`,
`nnlab chief`, `nnlab worker`)."""
