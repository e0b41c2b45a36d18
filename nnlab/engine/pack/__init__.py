"""search.pack: several trials trained at once, in one step (a room of `engine`).

- `trials`: a pack's trials trained as each would alone (seeds, folds), which trials share a pack
  (`pack_groups`), the models kept from pack to pack (`ModelPool`); what `engine.search` calls;
- `loop`: the mechanics: several models (`PackedModel`) stepped in one traced loop, each with its own
  optimizer, metrics, callbacks and `History`;
- `size`: how many trials a pack holds (`auto`: the model's size, the measured rate, memory);
- `fusedupdate`: a Keras optimizer's step as TensorFlow's fused kernels (Adam, SGD), for the loop.
"""
