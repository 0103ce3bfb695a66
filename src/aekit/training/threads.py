"""How many CPU threads training and inference use: chosen from the work, never from the load.

Why not from the load: torch runs each operator on an OpenMP team that meets at a barrier
when the operator ends, and a team member that shares its core with another process waits
a whole time slice for its turn. But the kernels' results depend on the team size (oneDNN's
weight-gradient reductions, MKL's GEMMs on Intel hosts: tested, not assumed), so a count
that follows the load makes a seeded fit depend on what else the machine runs. A count
chosen from the work is the same on a quiet and on a busy machine, so the same seed gives
bit-identical weights on both (tests/test_threads_determinism.py trains every model kind
beside a spinning process and without one).

The policy (``threads=None``, the default), measured on a 2-core machine
(benchmarks/threads.py, results in benchmarks/results/threads.md): per training step,
forward + backward + Adam, quiet and beside two busy processes:

- torch's own team of 2 threads lost beside busy processes at nearly every size (up to
  10x slower than one thread): a member that shares its core with another process stalls
  the barrier at the end of every operator. Quiet, it gained 15-50% above ~0.2 GFLOP;
- the same step as two shards of the batch, each on its own thread of one intra-op thread
  (:class:`aekit.training.steps.ShardedStep`), gained about as much quiet and also beside
  busy processes above ~0.2 GFLOP: a shard never waits for another until the step ends.

So small work (below ``TEAM_MIN_FLOPS`` per step: every dense model of the lecture, the
VAEs, the conv AE on tiny data) runs on one thread, and larger work as one shard per core
(:func:`shards_for`) when the objective's loss adds up over rows (it says so: sparsity on
the batch's mean activation, for one, does not); otherwise on a team of half the cores,
leaving the other half to the machine's other work. The shards fix the arithmetic, so the
thread count changes only the speed: ``AEKIT_NUM_THREADS=1`` runs the same shards one after
another and gives the same weights.

:func:`inference_threads` is the same rule for one inference call (encode, decode,
reconstruct), from one 64-row chunk's work: below the bar one thread; above it the chunks
themselves are the shards (:func:`inference_workers`), each on a worker of one intra-op
thread, since rows never interact at inference. The counts used are recorded in every epoch's history record (``threads``, ``shards``), which the run
folder's ``history.json`` keeps.

Override: an estimator's ``n_threads`` (``TrainConfig.threads``, ``aekit train
--n-threads N``), or the environment variable ``AEKIT_NUM_THREADS=N`` (any entry point);
``torch.set_num_threads`` (or ``OMP_NUM_THREADS``) before a fit caps the count. torch's
count is restored when training or inference ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
from concurrent.futures import ThreadPoolExecutor

import torch

from aekit.errors import ConfigError

ENV = "AEKIT_NUM_THREADS"
# FLOPs per training step (or per 64-row inference chunk) from which a team gets more than
# one thread (benchmarks/results/threads.md: quiet, 2 threads took 0.77x the time at 0.2
# GFLOP and 0.56-0.66x from 0.4 GFLOP; below, the gain was small or none).
TEAM_MIN_FLOPS = 2e8
# Fewest rows a shard of a training step gets (the step's work is already >= TEAM_MIN_FLOPS:
# a segmenter's batch of 16 scenes splits, a batch of 3 rows does not).
SHARD_MIN_ROWS = 4


# An estimator's n_threads for the calls it makes (its fit, transform, ...): see for_calls.
_CALLER = contextvars.ContextVar("aekit_n_threads", default=None)


@contextlib.contextmanager
def for_calls(n: int | None):
    """A fixed count ``n`` for every training and inference call inside the block, in this
    thread: how an estimator's ``n_threads`` reaches the inference its methods run, and
    ``aekit train --n-threads`` every call of its run. None keeps the enclosing block's
    count (the policy where there is none), so an estimator left at ``n_threads=None``
    inside the CLI's block follows the flag."""
    token = _CALLER.set(_CALLER.get() if n is None else n)
    try:
        yield
    finally:
        _CALLER.reset(token)


def requested(threads: int | None) -> int | None:
    """The fixed thread count asked for: ``threads`` if given, else the caller's
    (:func:`for_calls`), else ``$AEKIT_NUM_THREADS``, else None (choose from the work)."""
    if threads is not None:
        return int(threads)
    if _CALLER.get() is not None:
        return _CALLER.get()
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"environment variable {ENV}={value!r} must be an integer >= 1 "
                          "(the CPU threads training uses), or unset (aekit chooses from "
                          "the work)")
    return n


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, as a container limits it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def for_work(flops: float, bound: int | None = None, cores: int | None = None) -> int:
    """Threads for work of ``flops`` per step: 1 below :data:`TEAM_MIN_FLOPS`, else half the
    cores (at most ``bound``, torch's count), at least 1. Never reads the load."""
    bound = torch.get_num_threads() if bound is None else bound
    cores = available_cores() if cores is None else cores
    if flops < TEAM_MIN_FLOPS:
        return 1
    return max(1, min(int(bound), cores // 2))


def forward_flops_per_row(model, n_features: int) -> float:
    """FLOPs of one row's forward pass through ``model``'s linear and convolution layers
    (2 per multiply-add), counted by hooks on a one-row pass of zeros in eval mode; the
    global RNG and the model's mode are left as they were. 0 off the CPU."""
    try:
        param = next(model.parameters())
    except StopIteration:
        return 0.0
    if param.device.type != "cpu":
        return 0.0
    macs = [0]

    def count(module, inputs, output):
        out = output if torch.is_tensor(output) else None
        if out is None:
            return
        if isinstance(module, torch.nn.Linear):
            macs[0] += out.numel() * module.in_features
        elif isinstance(module, torch.nn.modules.conv._ConvTransposeNd):
            k = math.prod(module.kernel_size)
            macs[0] += inputs[0].numel() * module.out_channels // module.groups * k
        elif isinstance(module, torch.nn.modules.conv._ConvNd):
            k = math.prod(module.kernel_size)
            macs[0] += out.numel() * module.in_channels // module.groups * k

    kinds = (torch.nn.Linear, torch.nn.modules.conv._ConvNd)
    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, kinds)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            model(torch.zeros(1, n_features, dtype=param.dtype))
    except Exception:  # a module that cannot take zeros: count nothing (one thread)
        return 0.0
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return 2.0 * macs[0]


def training_flops(model, n_features: int, batch_size: int) -> float:
    """FLOPs of one training step: forward, then backward at about twice the forward."""
    return 3.0 * forward_flops_per_row(model, n_features) * batch_size


def shards_for(flops: float, batch_size: int, cores: int | None = None) -> int:
    """Slices a training step of ``flops`` is split into (:class:`aekit.training.steps.
    ShardedStep`, when the objective allows): 1 below :data:`TEAM_MIN_FLOPS`, else one per
    core, each of at least :data:`SHARD_MIN_ROWS` rows. Never reads the load, and not the
    thread count either: the shards fix the weights, the threads only how fast."""
    cores = available_cores() if cores is None else cores
    if flops < TEAM_MIN_FLOPS:
        return 1
    return max(1, min(cores, batch_size // SHARD_MIN_ROWS))


@contextlib.contextmanager
def training_threads(threads: int | None, flops_per_step: float, shards: int = 1):
    """Run training on the count the policy gives and restore torch's count afterwards.
    Yields the count of threads that work. With ``shards`` > 1 that is the number of
    shard workers (a fixed count if one was asked for, at most one per shard), each on one
    intra-op thread; else torch's intra-op team (a fixed count, or :func:`for_work`)."""
    before = torch.get_num_threads()
    fixed = requested(threads)
    if shards > 1:  # torch's count (OMP_NUM_THREADS, set_num_threads) caps the workers
        n, team = min(shards, fixed if fixed is not None else max(1, before)), 1
    else:
        n = team = fixed if fixed is not None else for_work(flops_per_step, before)
    try:
        if team != before:
            torch.set_num_threads(team)
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def inference_threads(flops: float):
    """Threads for one inference call of ``flops`` (a 64-row chunk's work): the same rule
    as training (a fixed count if one was asked for, $AEKIT_NUM_THREADS, else
    :func:`for_work`); torch's count restored."""
    return training_threads(None, flops)


def inference_workers(flops: float, chunks: int) -> int:
    """Workers for ``chunks`` independent inference chunks of ``flops`` each: one per
    shard the work would get in training (:func:`shards_for`, so 1 below the bar), capped
    by the chunks and by a fixed count if one was asked for (or torch's count). Each
    chunk's operators run on one thread, whichever worker runs it, so the outputs do not
    depend on the count."""
    shards = min(chunks, shards_for(flops, chunks * SHARD_MIN_ROWS))
    if shards <= 1:
        return 1
    fixed = requested(None)
    return max(1, min(shards, fixed if fixed is not None else torch.get_num_threads()))


def worker_pool(workers: int) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads that each run torch on one intra-op thread, with this
    thread's denormal mode (both are per-thread CPU state): the shards' workers."""
    flush = flushing_denormals()

    def init_worker():
        torch.set_num_threads(1)
        if flush:
            torch.set_flush_denormal(True)

    return ThreadPoolExecutor(workers, initializer=init_worker)


def flushing_denormals() -> bool:
    """Whether this thread treats subnormal floats as zero (torch has no getter: probed)."""
    tiny = torch.tensor([1e-30], dtype=torch.float32)
    return bool((tiny * 1e-10).item() == 0.0)  # 1e-40 is subnormal in float32
