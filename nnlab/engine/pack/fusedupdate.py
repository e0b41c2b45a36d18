"""A Keras optimizer's step as TensorFlow's fused kernels (`fused_update`), for search.pack's steps.

A small model's training step is mostly the ops' own cost, and Keras's Adam spends about twenty ops on
each weight. TensorFlow's fused kernels (`ResourceApplyAdam`, `ResourceApplyKerasMomentum`) do the same
arithmetic as Keras's Adam and SGD, in the same order, in one op per weight, on the Keras optimizer's
own variables (its step count, slots and learning rate), so its state, checkpoints and schedule stay
Keras's. Only rounding differs: the kernel works out 1 - beta in float32 where Keras does in Python's
floats, so after a few large steps weights differ in their fifth significant digit (tested).

Where the arithmetic would differ more (another optimizer, weight decay, AMSGrad, Nesterov, loss
scaling, clipping, gradient accumulation, EMA) or gradients must first be summed across replicas (a
distribution strategy), Keras's own `apply_gradients` steps. Keras's private names used here: the
optimizer's slots `_momentums`, `_velocities` and `_get_variable_index` (checked by a test).
"""

from __future__ import annotations

from nnlab.engine import kerasprivate
from nnlab.engine.backend import import_tensorflow


def fused_update(optimizer, grads: list, weights: list) -> bool:
    """Keras's Adam or SGD (with momentum) step as TensorFlow's fused kernels, on the optimizer's own
    variables: Keras's arithmetic, one op per weight instead of about twenty (a small model's step is
    mostly ops' overhead). False where Keras's own `apply_gradients` must step: another optimizer,
    weight decay, loss scaling (mixed precision), a distribution strategy (whose gradient sums are
    in `apply_gradients`), or a gradient missing."""
    import keras

    tf = import_tensorflow()
    kind = type(optimizer)
    if kind not in (keras.optimizers.Adam, keras.optimizers.SGD) or optimizer.weight_decay \
            or getattr(optimizer, "amsgrad", False) or getattr(optimizer, "nesterov", False) \
            or optimizer.loss_scale_factor is not None or optimizer.gradient_accumulation_steps \
            or optimizer.use_ema or tf.distribute.has_strategy() or any(g is None for g in grads) \
            or optimizer.clipnorm or optimizer.clipvalue or optimizer.global_clipnorm:
        return False
    rate = tf.cast(optimizer.learning_rate, tf.float32)
    if kind is keras.optimizers.Adam:
        step = tf.cast(optimizer.iterations + 1, tf.float32)
        beta_1_power, beta_2_power = tf.pow(optimizer.beta_1, step), tf.pow(optimizer.beta_2, step)
        for grad, weight in zip(grads, weights):
            m, v = kerasprivate.adam_slots(optimizer, weight)
            tf.raw_ops.ResourceApplyAdam(
                var=_handle(weight), m=_handle(m), v=_handle(v),
                beta1_power=beta_1_power, beta2_power=beta_2_power, lr=rate, beta1=optimizer.beta_1,
                beta2=optimizer.beta_2, epsilon=optimizer.epsilon, grad=grad)
    else:
        for grad, weight in zip(grads, weights):
            if optimizer.momentum:
                momentum = kerasprivate.sgd_momentum(optimizer, weight)
                tf.raw_ops.ResourceApplyKerasMomentum(var=_handle(weight), accum=_handle(momentum), lr=rate, grad=grad,
                                                      momentum=optimizer.momentum, use_nesterov=False)
            else:
                tf.raw_ops.ResourceApplyGradientDescent(var=_handle(weight), alpha=rate, delta=grad)
    optimizer.iterations.assign_add(1)
    return True


def _handle(variable):
    """A Keras variable's TensorFlow resource handle."""
    return variable.value.handle
