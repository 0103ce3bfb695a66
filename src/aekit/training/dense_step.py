"""Closed-form gradients for plain dense autoencoders: the training step without autograd.

The lecture's stacked autoencoder is a chain of ``Linear`` layers with elementwise
activations, so its backward pass is known in closed form: for a layer ``a' = f(a W^T + b)``
with upstream gradient ``g`` on its pre-activation, ``dW = g^T a``, ``db = sum_rows(g)``,
``da = g W``, and the next ``g`` is ``da * f'(a)``, where ``f'`` is written in terms of the
activation's *output* (relu: ``a > 0``; sigmoid: ``a (1 - a)``; tanh: ``1 - a^2``; ...).
Autograd computes the same products but records a graph, allocates every gradient afresh
and dispatches each op through its engine on every step; for small batches that bookkeeping
costs more than the matrix products (benchmarks/speed.py). Here the step is about 25 tensor
ops with the weight gradients written in place (``out=``) into buffers that stay attached as
``p.grad``, so the optimizer, gradient clipping, checkpoints and resume see ordinary
gradients.

:func:`for_training` returns a :class:`DenseStep` only for a non-variational dense
:class:`~aekit.models.Autoencoder`, untied or tied (a tied weight's gradient sums its encoder
and its transposed decoder use), with no hooks, in a single process, and an objective that
declares a closed form for every option it has (:meth:`aekit.losses.Objective.closed_form`:
the loss terms and their gradients live there, beside the terms themselves; this module only
runs the chain rule through the layers). Otherwise it returns ``None`` and the trainer uses
autograd; an objective option added later without a declared closed form falls back by
itself. ``TrainConfig(engine="autograd")`` forces autograd. tests/test_dense_step.py checks every supported combination against
autograd (terms and gradients) and that the fallback is taken for everything else.
"""

from __future__ import annotations

import torch
from torch import nn

from aekit.models.autoencoder import Autoencoder
from aekit.models.dense import DenseDecoder, TiedDenseDecoder

# g * f'(.) in place, with f' from f's output y (aten's own fused backward kernels where
# they exist: one pass, no mask tensor), for the activations aekit builds with torch's
# default parameters.
_SELU_SCALE, _SELU_ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717
_aten = torch.ops.aten


def _relu_grad(g, y):
    return _aten.threshold_backward.grad_input(g, y, 0, grad_input=g)


def _sigmoid_grad(g, y):
    return _aten.sigmoid_backward.grad_input(g, y, grad_input=g)


def _tanh_grad(g, y):
    return _aten.tanh_backward.grad_input(g, y, grad_input=g)


def _linear_grad(g, y):
    return g


def _elu_grad(g, y):  # alpha = 1, from the output
    return _aten.elu_backward.grad_input(g, 1.0, 1, 1, True, y, grad_input=g)


def _selu_grad(g, y):
    return _aten.elu_backward.grad_input(g, _SELU_ALPHA, _SELU_SCALE, 1, True, y, grad_input=g)


ACTIVATION_GRADS = {nn.ReLU: _relu_grad, nn.Sigmoid: _sigmoid_grad, nn.Tanh: _tanh_grad,
                    nn.Identity: _linear_grad, nn.ELU: _elu_grad, nn.SELU: _selu_grad}
_INPLACE = {nn.ReLU: torch.relu_, nn.Sigmoid: torch.sigmoid_, nn.Tanh: torch.tanh_}


def _supported_activation(module) -> bool:
    if isinstance(module, nn.ELU):
        return module.alpha == 1.0
    return type(module) in ACTIVATION_GRADS


def _has_hooks(model) -> bool:
    hooks = nn.modules.module
    if any(getattr(hooks, name, None) for name in (
            "_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
            "_global_backward_pre_hooks", "_global_forward_hooks_always_called")):
        return True
    if any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
           or getattr(m, "_backward_pre_hooks", None) or "forward" in m.__dict__
           for m in model.modules()):
        return True  # hooks, or a forward replaced on the instance
    return any(getattr(p, "_backward_hooks", None) or getattr(p, "_post_accumulate_grad_hooks",
                                                              None)
               for p in model.parameters())


def for_training(model, objective, config, *, distributed: bool = False):
    """A :class:`DenseStep` when ``model``/``objective`` are covered, else ``None``."""
    if getattr(config, "engine", "auto") != "auto" or distributed:
        return None
    if type(model) is not Autoencoder or model.config.architecture != "dense" or \
            type(model.decoder) not in (DenseDecoder, TiedDenseDecoder):
        return None
    closed = getattr(objective, "closed_form", None)
    closed = closed() if callable(closed) else None
    if closed is None:  # some term has no declared closed form: autograd
        return None
    params = list(model.parameters())
    if not params or not all(p.requires_grad for p in params) or _has_hooks(model):
        return None
    if len({(p.device, p.dtype) for p in params}) != 1 or not params[0].is_floating_point():
        return None
    acts = [*model.encoder.acts, *model.decoder.acts]
    if not all(_supported_activation(a) for a in acts):
        return None
    linears = [*model.encoder.layers, *getattr(model.decoder, "layers", [])]
    if any(type(layer) is not nn.Linear or layer.bias is None for layer in linears):
        return None
    return DenseStep(model, closed)


class _Layer:
    """One affine map of the chain: ``a W^T + b``, or ``a W + b`` for a tied decoder layer
    that reuses an encoder weight transposed."""

    def __init__(self, weight, bias, transposed: bool):
        self.weight, self.bias, self.transposed = weight, bias, transposed
        out_features, in_features = weight.shape
        self.in_features, self.out_features = (out_features, in_features) if transposed \
            else (in_features, out_features)

    def forward(self, a, out):
        w = self.weight if self.transposed else self.weight.t()
        return torch.addmm(self.bias, a, w, out=out)

    def weight_grad(self, g, a_in, scale, accumulate: bool):
        """W.grad (+)= scale * g^T a (untied) or scale * a^T g (tied: W is used as W^T)."""
        grad = self.weight.grad
        m1, m2 = (a_in.t(), g) if self.transposed else (g.t(), a_in)
        torch.addmm(grad, m1, m2, beta=1 if accumulate else 0, alpha=scale, out=grad)

    def input_grad(self, g, scale, out):
        w = self.weight.t() if self.transposed else self.weight
        return torch.addmm(out, g, w, beta=0, alpha=scale, out=out)


class DenseStep:
    """One training step of a plain dense autoencoder: loss terms and gradients.

    ``step(x, generator)`` corrupts ``x`` with the objective's own noise (same generator
    draws), runs forward, writes every parameter's gradient into ``p.grad`` and returns the
    loss terms as Python floats, in the order of :attr:`keys` (the objective's own keys).
    ``closed``: the objective's :class:`~aekit.losses.objectives.ClosedForm`.
    """

    def __init__(self, model, closed):
        self.closed = closed
        enc, dec = model.encoder, model.decoder
        self.layers = [_Layer(layer.weight, layer.bias, False) for layer in enc.layers]
        if isinstance(dec, TiedDenseDecoder):  # decoder layer j: encoder layer N-1-j, as W^T
            self.layers += [_Layer(layer.weight, bias, True)
                            for layer, bias in zip(reversed(enc.layers), dec.biases)]
        else:
            self.layers += [_Layer(layer.weight, layer.bias, False) for layer in dec.layers]
        acts = [*enc.acts, *dec.acts]  # after every layer but the last (output: separate)
        # Forward: in place where torch has the in-place op; backward: g * f'(output).
        self.forward_acts = [_INPLACE.get(type(a), a) for a in acts]
        self.backward_acts = [ACTIVATION_GRADS[type(a)] for a in acts]
        self.code_index = len(enc.layers)  # the input of layer code_index is the code
        self.sigmoid_output = model.output_activation == "sigmoid"
        self.keys = list(closed.keys)
        # In the backward pass a tied weight is written by its decoder use first, then added
        # to by its encoder use.
        seen, self.accumulate = set(), {}
        for i in range(len(self.layers) - 1, -1, -1):
            key = id(self.layers[i].weight)
            self.accumulate[i] = key in seen
            seen.add(key)
        self._capacity, self._views = 0, {}
        self._attach_grad_buffers()

    def _attach_grad_buffers(self):
        """Gradient buffers that stay attached as ``p.grad`` (written in place each step)."""
        unique = {}
        for layer in self.layers:
            for p in (layer.weight, layer.bias):
                unique.setdefault(id(p), p)
        self.params = list(unique.values())
        for p in self.params:
            if p.grad is None or p.grad.shape != p.shape or not p.grad.is_contiguous():
                p.grad = torch.zeros_like(p, memory_format=torch.contiguous_format)
        self.grads = [p.grad for p in self.params]

    def _workspace(self, rows: int):
        """Views of ``rows`` rows into the step's buffers (cached per batch size).

        Activations and gradients live in buffers sized for the largest batch seen; a
        smaller batch uses their first rows. Fresh tensors of a batch's size would be
        page-faulted in on every step (the CPU allocator does not cache them), which cost
        as much as the sigmoid they hold at batch 256 (measured)."""
        views = self._views.get(rows)
        if views is not None:
            return views
        if rows > self._capacity:
            w = self.layers[0].weight
            new = lambda n: torch.empty((rows, n), dtype=w.dtype, device=w.device)  # noqa: E731
            out_widths = [layer.out_features for layer in self.layers]
            self._buffers = {
                "x": new(self.layers[0].in_features),
                "act": [new(n) for n in out_widths],  # layer outputs (the last: logits)
                "back": [new(layer.in_features) for layer in self.layers[1:]],  # d(input)
                "recon": new(out_widths[-1]), "diff": new(out_widths[-1]),
                "tmp": new(out_widths[-1])}
            self._capacity, self._views = rows, {}
        b = self._buffers
        views = {k: [t[:rows] for t in v] if isinstance(v, list) else v[:rows]
                 for k, v in b.items()}
        self._views[rows] = views
        return views

    def input_buffer(self, rows: int) -> torch.Tensor:
        """Where the trainer may write the next batch (rows x features)."""
        return self._workspace(rows)["x"]

    def step(self, x: torch.Tensor, generator=None) -> list[float]:
        with torch.no_grad():
            return self._step(x, generator)

    def _step(self, x, generator):
        closed, rows, layers = self.closed, x.shape[0], self.layers
        if any(p.grad is not g for p, g in zip(self.params, self.grads)):
            self._attach_grad_buffers()  # something (zero_grad, a reset) dropped them
        ws = self._workspace(rows)
        x_in = closed.corrupt(x, generator) if closed.corrupt is not None else x
        # Forward: keep every layer's input (its activation output) for the backward pass.
        inputs = [x_in]
        a = x_in
        for layer, act, out in zip(layers, self.forward_acts, ws["act"]):
            a = act(layer.forward(a, out))
            inputs.append(a)
        logits = layers[-1].forward(a, ws["act"][-1])
        # d(loss)/d(logits) = scale * g: the constant factor rides along in the matrix
        # products (their alpha) instead of costing a pass over the batch.
        recon_term, mse, g, scale = closed.output(logits, x, self.sigmoid_output, ws)
        terms = [recon_term]
        loss = recon_term
        code_grad = None
        if closed.code is not None:  # a penalty on the code: its weighted gradient joins g
            term, code_grad = closed.code(inputs[self.code_index], closed.code_weight)
            terms.append(term)
            loss = loss + closed.code_weight * term
        # Backward: W.grad from g and the layer's input, b.grad = sum(g), then into the input.
        back = ws["back"]
        for i in range(len(layers) - 1, -1, -1):
            layer, a_in = layers[i], inputs[i]
            layer.weight_grad(g, a_in, scale, self.accumulate[i])
            torch.sum(g, 0, out=layer.bias.grad)
            if scale != 1.0:
                layer.bias.grad.mul_(scale)
            if i == 0:
                break
            g = layer.input_grad(g, scale, back[i - 1])
            scale = 1.0
            if i == self.code_index and code_grad is not None:
                g.add_(code_grad)
            g = self.backward_acts[i - 1](g, a_in)
        return [t.item() for t in terms] + [mse.item(), float(loss)]
