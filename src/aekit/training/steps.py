"""Training steps: how one batch becomes gradients and loss terms. The loop
(:class:`aekit.training.trainer.Trainer`) is the same for every step.

- :class:`AutogradStep`: the objective's loss, ``backward()``; any model, any objective.
- :class:`ClosedFormStep`: closed-form gradients of a plain dense autoencoder
  (:mod:`aekit.training.dense_step`), no autograd graph; chosen by :func:`choose_step` only
  when the objective declares a closed form for every active term.
- :class:`DistributedStep`: DistributedDataParallel over the autograd step; each rank takes
  its slice of the global batch.

A step returns ``(keys, values, rows)``: the loss terms' names, their values (Python floats
when ``host``, else 0-d tensors) and the rows they average over (for the epoch's means).
"""

from __future__ import annotations

from aekit.training import dense_step, distributed


class AutogradStep:
    def __init__(self, model, objective, *, host: bool, forward=None):
        self.model, self.objective, self.host = model, objective, host
        self.forward = forward or model  # DDP: the wrapped module
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.keys = None

    def __call__(self, source, idx, generator, epoch, scale: float = 1.0):
        xb = source.batch(idx)
        terms = self.objective(self.forward, xb, generator=generator, epoch=epoch)
        if self.keys is None:
            self.keys = list(terms)
        # One scalar read per term on the host; it doubles as the finite check.
        values = [v.item() for v in terms.values()] if self.host else \
            [v.detach() for v in terms.values()]
        for p in self.params:  # zero_grad(set_to_none=True) without the bookkeeping
            p.grad = None
        loss = terms["loss"]
        (loss if scale == 1.0 else loss * scale).backward()
        return self.keys, values, len(idx)


class ClosedFormStep:
    """Gradients land in ``p.grad``; the terms come back as floats (one CPU process)."""

    host = True

    def __init__(self, dense):
        self.dense, self.keys = dense, dense.keys

    def __call__(self, source, idx, generator, epoch):
        b = len(idx)
        values = self.dense.step(source.batch(idx, out=self.dense.input_buffer(b)),
                                 generator=generator)
        return self.keys, values, b


class DistributedStep:
    """This rank's slice of the global batch through the autograd step. DDP averages
    gradients over ranks; weighting the loss by the slice's share makes the update the
    global batch mean even when slices differ in size."""

    host = False

    def __init__(self, inner: AutogradStep):
        self.inner = inner
        self.rank, self.world = distributed.rank(), distributed.world_size()

    @property
    def keys(self):
        return self.inner.keys

    def __call__(self, source, idx, generator, epoch):
        lo, hi = distributed.rank_slice(len(idx), self.rank, self.world)
        b = hi - lo
        scale = self.world * b / len(idx)
        part = idx[lo:hi] if b > 0 else idx[:1]  # an empty slice still joins the all-reduce
        keys, values, _ = self.inner(source, part, generator, epoch, scale=scale)
        return keys, values, b


def choose_step(model, objective, config, device, *, ddp: bool):
    """The step for this model, objective and config: closed form where eligible (one CPU
    process, ``engine='auto'``, every active objective term declared with a closed form),
    DDP over autograd under a process group, else autograd."""
    host = device.type == "cpu" and not ddp
    if ddp:
        return DistributedStep(AutogradStep(model, objective, host=False,
                                            forward=distributed.wrap(model, device)))
    dense = dense_step.for_training(model, objective, config) if host else None
    if dense is not None:
        return ClosedFormStep(dense)
    return AutogradStep(model, objective, host=host)
