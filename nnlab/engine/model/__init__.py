"""What a model is: its layers built from params (`builders`: mlp, cnn, sequential, compiled; the
inference form; `blocks`: augmentation and the output layer; `pretrained`: a Keras Applications base
and its head), the metrics nnlab adds to Keras's (`metrics`), and its files: the one way a `.keras`
or weights file is opened (`files`) and the ops a converter is taught before an export
(`converterops`). TensorFlow is imported inside the functions."""
