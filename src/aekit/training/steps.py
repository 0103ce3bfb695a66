"""Training steps: how one batch becomes gradients and loss terms. The loop
(:class:`aekit.training.trainer.Trainer`) is the same for every step.

- :class:`AutogradStep`: the objective's loss, ``backward()``; any model, any objective.
- :class:`ClosedFormStep`: closed-form gradients of a plain dense autoencoder
  (:mod:`aekit.training.dense_step`), no autograd graph; chosen by :func:`choose_step` only
  when the objective declares a closed form for every active term.
- :class:`DistributedStep`: DistributedDataParallel over the autograd step; each rank takes
  its slice of the global batch.
- :class:`ShardedStep`: the autograd step over fixed shards of each batch, one CPU thread
  each; how a step big enough to gain from more than one core uses them
  (:mod:`aekit.training.threads` says why, and when).
- :class:`SolveStep`: the linear autoencoder's exact minimum (PCA,
  :mod:`aekit.training.closed_form`) as one step over every row; given by the caller
  (``Trainer(step=...)``), never chosen.

A step returns ``(keys, values, rows)``: the loss terms' names, their values (Python floats
when ``host``, else 0-d tensors) and the rows they average over (for the epoch's means).
"""

from __future__ import annotations

import contextlib

import torch
from threadpoolctl import threadpool_limits

from aekit.losses.objectives import row_shares
from aekit.training import dense_step, distributed, threads
from aekit.training.closed_form import principal_subspace, set_principal_weights


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


class ShardedStep:
    """The autograd step over ``shards`` fixed, contiguous slices of each batch, run on up
    to ``workers`` threads of one intra-op thread each; their gradients are summed in shard
    order.

    Why: torch's own thread team meets at a barrier after every operator, and a member that
    shares its core with another process stalls each one (beside two busy processes a team
    of 2 took 1.0-10.7x one thread's step; benchmarks/results/threads.md). A shard runs its
    whole forward and backward alone and the step joins once, so nothing waits at a
    barrier: above 0.2 GFLOP per step two shards took 0.52-0.75x one thread's step quiet,
    and 0.65-0.96x beside two busy processes. And nothing depends on which thread ran which
    shard: each shard's operators run on one thread, and the sum has a fixed order, so the
    weights are the same for any number of workers (1 included) and any load.

    Exactness: the objective gives each shard's weight (its share of the batch's loss,
    :meth:`shard_weights`), so the summed gradient is the whole batch's (up to the order of
    float additions); an objective with a term that is a statistic of the whole batch says
    so (``shardable`` false) and is not sharded. Randomness (noise, sampling) comes from
    one generator per shard, seeded each step by one draw from the loop's generator (exact
    resume).
    """

    host = True

    def __init__(self, inner: AutogradStep, shards: int, workers: int, weights):
        self.inner, self.shards, self.weights = inner, shards, weights
        self.params = inner.params
        self.generators = [torch.Generator() for _ in range(shards)]
        self.pool = threads.worker_pool(workers) if workers > 1 else None

    @property
    def keys(self):
        return self.inner.keys

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()

    def __call__(self, source, idx, generator, epoch):
        batch = source.batch(idx)
        n = len(idx)
        bounds = [distributed.rank_slice(n, i, self.shards) for i in range(self.shards)]
        bounds = [(lo, hi) for lo, hi in bounds if hi > lo]
        loss_weights = self.weights(batch, bounds)
        seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator))
        model, objective, params = self.inner.model, self.inner.objective, self.params

        def shard(i):
            lo, hi = bounds[i]
            part = tuple(t[lo:hi] for t in batch) if isinstance(batch, tuple) else batch[lo:hi]
            g = self.generators[i].manual_seed(seed + i)
            terms = objective(model, part, generator=g, epoch=epoch)
            grads = torch.autograd.grad(terms["loss"] * loss_weights[i], params,
                                        allow_unused=True)
            return list(terms), [v.item() for v in terms.values()], grads

        results = list(self.pool.map(shard, range(len(bounds)))) if self.pool is not None \
            else [shard(i) for i in range(len(bounds))]
        keys = results[0][0]
        if self.inner.keys is None:
            self.inner.keys = keys
        for j, p in enumerate(params):
            total = None
            for _, _, grads in results:  # shard order: the same sum whoever ran them
                g = grads[j]
                if g is not None:
                    total = g if total is None else total + g
            p.grad = total
        # Reported terms: row means combined by rows; the loss by its own weights.
        rows = row_shares(bounds)
        values = []
        for k, key in enumerate(keys):
            w = loss_weights if key == "loss" else rows
            values.append(sum(wi * r[1][k] for wi, r in zip(w, results)))
        return keys, values, n


class SolveStep:
    """The MSE minimum of a one-layer linear autoencoder, solved (PCA: :mod:`aekit.training.
    closed_form`) as the loop's one step of an epoch: the caller sets the batch to every
    row, and ``blocks()`` reads them once, in order, a block at a time (an array, or rows
    streamed from a file). The weights are written in place and no gradient is left, so
    the optimizer leaves them; the callbacks (history, TensorBoard, checkpoints, best
    weights) see an epoch like any other. numpy's BLAS does the work, under the thread
    count the loop chose from :meth:`flops` (threadpoolctl; torch's setting does not
    reach numpy)."""

    host = True
    keys = ["loss"]

    def __init__(self, model, blocks, n_rows: int, n_features: int):
        self.model, self.blocks = model, blocks
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.work = 2.0 * n_rows * n_features ** 2  # the scatter matrix, sum over rows

    def flops(self) -> float:
        return self.work

    def __call__(self, source, idx, generator, epoch):
        with threadpool_limits(limits=torch.get_num_threads()):
            mean, components, mse = principal_subspace(self.blocks(), self.model.code_size)
        with torch.no_grad():
            set_principal_weights(self.model, mean, components)
        for p in self.params:
            p.grad = None
        return self.keys, [mse], len(idx)


def shardable(step, objective) -> bool:
    """Whether ``step`` may run as a :class:`ShardedStep`: a host (one CPU process)
    autograd step whose objective's loss adds up over slices of the batch."""
    return type(step) is AutogradStep and step.host and \
        getattr(objective, "shardable", False)


@contextlib.contextmanager
def sharded(step, shards: int, workers: int):
    """``step`` as a :class:`ShardedStep` of ``shards`` on ``workers`` threads while the
    block runs (the pool is shut down after), or ``step`` itself for one shard."""
    if shards <= 1:
        yield step
        return
    wrapped = ShardedStep(step, shards, workers, step.objective.shard_weights)
    try:
        yield wrapped
    finally:
        wrapped.close()


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
