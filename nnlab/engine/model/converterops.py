"""TensorFlow ops that a converter cannot convert, taught to it in the target format's own ops before
an export.

`Erfc`: TensorFlow computes the exact gelu (Keras's `gelu`, an activation a spec may choose) as
0.5·x·erfc(-x/√2). tf2onnx 1.16–1.17 has no rule for Erfc and writes it as is, a node that no ONNX
runtime has ("No Op registered for Erfc"); coremltools 9 refuses it ("Conversion for TF op 'Erfc' not
implemented"). erfc(x) = 1 - erf(x), and both formats have erf (ONNX from opset 9).
"""

from __future__ import annotations

import numpy as np

_registered: set[str] = set()


def teach_onnx() -> None:
    """Add nnlab's rules to tf2onnx's (once per process)."""
    if "onnx" in _registered:
        return
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("Erfc")
    class Erfc:
        @classmethod
        def version_9(cls, ctx, node, **kwargs):
            x = node.input[0]
            dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(x))
            erf = ctx.make_node("Erf", [x], op_name_scope=node.name, name="erf")
            one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype=dtype))
            node.type = "Sub"
            ctx.replace_inputs(node, [one.output[0], erf.output[0]])

    _registered.add("onnx")


def teach_coreml() -> None:
    """Add nnlab's rules to coremltools' TensorFlow frontend (once per process)."""
    if "coreml" in _registered:
        return
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.frontend.tensorflow.tf_op_registry import register_tf_op

    @register_tf_op(tf_alias=["Erfc"], override=True)
    def nnlab_erfc(context, node):
        x = context[node.inputs[0]]
        context.add(node.name, mb.sub(x=1.0, y=mb.erf(x=x), name=node.name))

    _registered.add("coreml")
