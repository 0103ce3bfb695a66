"""The one training loop. Nothing here knows which autoencoder it trains.

A model is any module whose ``forward(x, generator=)`` returns the output dict of
:mod:`aekit.models`; an objective is any callable returning a dict of loss terms with
``"loss"``. Greedy layer-wise training calls :func:`train` per layer, then once more to
fine-tune (see :mod:`aekit.training.greedy`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.optim.optimizer as torch_optimizer

from aekit.errors import ConfigError
from aekit.io.rows import fingerprint, make_source
from aekit.training import callbacks as cb
from aekit.training import distributed, steps, tensorboard, threads
from aekit.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, step_pause_hook
from aekit.training.lazy_dynamo import no_dynamo_import

log = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("cosine", "plateau")
ENGINES = ("auto", "autograd")


@dataclass
class TrainConfig:
    """How to train; JSON-serialisable. Defaults are aekit's recommended recipe."""

    epochs: int = 20
    batch_size: int = 256
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # SGD only
    lr_schedule: str | None = None  # "cosine" (per epoch) or "plateau" (halve on a plateau)
    # Linear learning-rate warm-up over the first N epochs, per step (lr/steps .. lr): keeps
    # a large lr from killing relu units in the first updates (benchmarks/speed.py).
    warmup_epochs: float = 0.0
    validation_fraction: float = 0.0  # held out from X when no X_val is given
    early_stopping: int | None = None  # patience in epochs; monitors val loss if any
    restore_best: bool = True  # end with the best epoch's weights, not the last
    grad_clip: float | None = None  # max global gradient norm
    seed: int = 0  # seeds a torch.Generator: shuffling, noise, VAE sampling
    progress: bool = False  # tqdm progress bar over epochs
    device: str = "cpu"
    eval_batch_size: int = 1024  # measured: 4096-row batches evaluate ~40% slower (page faults)
    # "auto": closed-form gradients for plain dense autoencoders (aekit.training.dense_step,
    # same maths, tested against autograd), autograd for everything else; "autograd": always.
    engine: str = "auto"
    # CPU threads: None chooses from one step's work, never the load (or
    # $AEKIT_NUM_THREADS); N fixes N. See aekit.training.threads for why.
    threads: int | None = None
    # TensorBoard event files (aekit.training.tensorboard): loss terms, learning rate,
    # validation terms and a reconstruction grid per epoch. Changes nothing computed.
    log_dir: str | None = None

    def __post_init__(self):
        def fail(msg):
            raise ConfigError(msg)

        if not isinstance(self.epochs, int) or self.epochs < 0:
            fail(f"epochs must be an integer >= 0, got {self.epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            fail(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        if self.optimizer not in OPTIMIZERS:
            fail(f"optimizer {self.optimizer!r} is not one of {list(OPTIMIZERS)}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            fail(f"lr must be a finite number > 0, got {self.lr!r}")
        if not (isinstance(self.warmup_epochs, (int, float)) and not isinstance(
                self.warmup_epochs, bool) and math.isfinite(self.warmup_epochs)
                and self.warmup_epochs >= 0):
            fail(f"warmup_epochs must be a finite number >= 0, got {self.warmup_epochs!r}")
        if self.lr_schedule is not None and self.lr_schedule not in SCHEDULES:
            fail(f"lr_schedule {self.lr_schedule!r} is not one of {list(SCHEDULES)}")
        if not 0 <= self.validation_fraction < 1:
            fail(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        if self.early_stopping is not None and self.early_stopping < 1:
            fail(f"early_stopping (patience) must be >= 1, got {self.early_stopping}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            fail(f"grad_clip must be > 0, got {self.grad_clip}")
        if self.engine not in ENGINES:
            fail(f"engine {self.engine!r} is not one of {list(ENGINES)}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(
                self.threads, int) or self.threads < 1):
            fail(f"threads must be an integer >= 1 or None, got {self.threads!r}")
        if self.log_dir is not None:  # tensorboard must be installed: checked before training
            self.log_dir = tensorboard.check_log_dir(self.log_dir)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    history: list = field(default_factory=list)  # one flat dict per epoch
    best_epoch: int = 0  # 1-based; 0 = the initial weights
    stopped_early: bool = False


def make_optimizer(params, config: TrainConfig):
    """The optimizer; Adam/AdamW use the fused kernel (one pass per parameter, about half
    the step time of ``foreach`` on CPU, same update within float rounding) where the
    parameters allow it."""
    params = list(params)
    kw = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, momentum=config.momentum, **kw)
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    fusable = all(p.dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64)
                  and p.device.type in ("cpu", "cuda") for p in params)
    return cls(params, **({"fused": True} if fusable else {"foreach": True}), **kw)


class _FusedAdamStep:
    """``optimizer.step()`` for a fused CPU Adam/AdamW, minus the Python bookkeeping.

    ``Optimizer.step`` regroups the tensors by device and dtype and runs hooks on every
    call: about 0.25 ms per step, as much as the fused kernel itself for the lecture's
    dense AE at batch 32 (measured, one thread). It creates Adam's state as
    ``torch.optim.Adam`` does on its first fused step (zero moments, a float32 step count
    on the parameter's device; ``Optimizer.step`` would also import ``torch._dynamo``,
    see :mod:`aekit.training.lazy_dynamo`) and calls the same two kernels it calls
    (``_foreach_add_`` on the step counts, then ``_fused_adam_``/``_fused_adamw_``) on the
    optimizer's own state tensors, reading the hyper-parameters from ``param_groups`` each
    time (schedulers keep working) - so the update, ``state_dict()`` and resume are
    unchanged (bit-identical, tests/test_training.py). Anything unusual (hooks, several
    groups, amsgrad, a missing gradient, other devices or dtypes, a torch without the
    kernels) falls back to ``optimizer.step()``.
    """

    def __init__(self, optimizer):
        self.optimizer, self.lists = optimizer, None
        group = optimizer.param_groups[0]
        kernel = "_fused_adamw_" if group.get("decoupled_weight_decay") else "_fused_adam_"
        self.kernel = getattr(torch, kernel, None)
        self.usable = (
            type(optimizer) in (torch.optim.Adam, torch.optim.AdamW)
            and self.kernel is not None and hasattr(torch, "_foreach_add_")
            and len(optimizer.param_groups) == 1 and group.get("fused")
            and not any(group.get(k) for k in ("amsgrad", "capturable", "differentiable"))
            and all(p.device.type == "cpu" and p.dtype == torch.float32
                    for p in group["params"]))

    def __call__(self):
        opt = self.optimizer
        params = opt.param_groups[0]["params"]
        if not self.usable or opt._optimizer_step_pre_hooks or opt._optimizer_step_post_hooks \
                or getattr(torch_optimizer, "_global_optimizer_pre_hooks", None) \
                or getattr(torch_optimizer, "_global_optimizer_post_hooks", None):
            return opt.step()
        grads = [p.grad for p in params]
        if all(g is None for g in grads):  # a step that set the weights itself (a solve):
            opt._opt_called = True  # Adam would skip every parameter (and import dynamo)
            return None
        if self.lists is None or any(g is None for g in grads):
            if any(g is None for g in grads):
                self.lists = None
                return opt.step()
            for p in params:  # Adam's lazy state, as torch.optim.Adam creates it when fused
                if p not in opt.state or not opt.state[p]:
                    opt.state[p] = {
                        "step": torch.zeros((), dtype=torch.float32, device=p.device),
                        "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                        "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
            opt._opt_called = True  # what Optimizer.step records for the LR scheduler's check
            state = [opt.state[p] for p in params]
            self.lists = ([s["exp_avg"] for s in state], [s["exp_avg_sq"] for s in state],
                          [s["step"] for s in state])
        exp_avgs, exp_avg_sqs, steps = self.lists
        group = opt.param_groups[0]
        beta1, beta2 = group["betas"]
        with torch.no_grad():
            torch._foreach_add_(steps, 1)
            self.kernel(params, grads, exp_avgs, exp_avg_sqs, [], steps,
                        amsgrad=False, lr=group["lr"], beta1=beta1, beta2=beta2,
                        weight_decay=group["weight_decay"], eps=group["eps"],
                        maximize=group["maximize"], grad_scale=None, found_inf=None)


def make_scheduler(optimizer, config: TrainConfig):
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(config.epochs, 1))
    if config.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2)
    return None


class _Subset:
    """Rows ``indices`` of another batch source (for a held-out validation split)."""

    def __init__(self, source, indices: torch.Tensor):
        self.source, self.indices, self.n = source, indices, len(indices)
        self.n_features = source.n_features

    def batch(self, idx, out=None):
        return self.source.batch(self.indices[idx.to(self.indices.device)], out=out)


def _split(source, fraction: float, seed: int):
    n_val = int(round(source.n * fraction))
    if n_val == 0:
        return source, None
    if n_val >= source.n:
        raise ConfigError(f"validation_fraction {fraction} leaves no training rows")
    perm = torch.randperm(source.n, generator=torch.Generator().manual_seed(seed + 1))
    dev = getattr(getattr(source, "X", None), "device", torch.device("cpu"))
    if not isinstance(dev, torch.device):
        dev = torch.device("cpu")
    perm = perm.to(dev)
    return _Subset(source, perm[n_val:]), _Subset(source, perm[:n_val])


def train(model, objective, X, *, X_val=None, config: TrainConfig | None = None,
          checkpoint_dir=None, resume: bool = False, callbacks=(),
          signature: dict | None = None) -> TrainResult:
    """Train ``model`` in place on rows of X (B, D) and return the per-epoch history.

    - ``checkpoint_dir``: after every epoch a checkpoint is written atomically there;
      with ``resume=True`` training continues from it and ends exactly where an
      uninterrupted run would (same seed, CPU).
    - ``signature``: JSON-able description of the run (model/objective config); a
      checkpoint from a different run is refused on resume.
    - ``callbacks``: callables ``cb(record, model)`` after each epoch.
    Raises :class:`TrainingError` when the loss becomes NaN/Inf; the best (or last good)
    weights are restored into ``model`` first.

    Under torchrun (or inside an initialised process group) training is data-parallel
    with DistributedDataParallel: ``batch_size`` is the global batch, split over ranks;
    only rank 0 writes checkpoints (see :mod:`aekit.training.distributed`).

    Convolutional models train in channels-last memory format on CPU (oneDNN's fast
    layout); the parameters are back in the standard layout when ``train`` returns.
    """
    trainer = Trainer(model, objective, config, callbacks=callbacks)
    return trainer.fit(X, X_val=X_val, checkpoint_dir=checkpoint_dir, resume=resume,
                       signature=signature)


@contextlib.contextmanager
def flush_denormals():
    """Treat subnormal floats as zero on the CPU while training, then restore the mode.

    Why: Adam's moment estimates for weights whose gradient is always zero (Fashion-MNIST's
    always-black border pixels feed the first layer nothing) decay geometrically into the
    subnormal range, where x86 arithmetic is up to ~100x slower. Measured on the lecture's
    dense AE at batch 32: the fused Adam kernel 0.44 -> 0.11 ms per step, the epoch 2.1 ->
    1.3 s. Only magnitudes below 1.2e-38 are affected (they become 0); the test MSE is the
    same to 5 digits. torch has no getter for the mode, so the current state is probed.
    """
    before = threads.flushing_denormals()
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        if supported and not before:
            torch.set_flush_denormal(False)


def _use_channels_last(model, config) -> bool:
    """Channels-last for 2-D convolutions on CPU: measured ~25% faster per step for the
    lecture's conv AE (benchmarks/speed.py); nothing changes for dense models."""
    return (config is None or torch.device(config.device).type == "cpu") and any(
        isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for m in model.modules())


class Trainer:
    """One model, one objective, one config: the optimizer, scheduler, RNG and best-weight
    tracking live here across :meth:`fit` calls, so training can continue where it stopped
    (warm start: N one-epoch calls equal one N-epoch call; ``partial_fit`` uses this).

    The loop only runs a step (:mod:`aekit.training.steps`: autograd, closed-form dense, DDP)
    over shuffled batches, clips, steps the optimizer and averages the loss terms; warm-up,
    validation, the divergence guard, best weights, early stopping, the schedule,
    checkpoints, the progress bar and logging are callbacks
    (:mod:`aekit.training.callbacks`), plus any the caller adds.
    """

    def __init__(self, model, objective, config: TrainConfig | None = None, *,
                 callbacks=(), step=None):
        self.model, self.objective = model, objective
        self.config = config = config or TrainConfig()
        distributed.maybe_init_distributed(config.device)
        self.ddp = distributed.is_distributed()
        self.device = distributed.local_device(config.device)
        model.to(self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        with no_dynamo_import():
            self.optimizer = make_optimizer(model.parameters(), config)
        self.scheduler = make_scheduler(self.optimizer, config)
        self.params = [p for p in model.parameters() if p.requires_grad]
        # the caller's step (a linear solve), else the one for this model and objective
        self.step = step if step is not None else steps.choose_step(
            model, objective, config, self.device, ddp=self.ddp)
        self.best = cb.BestWeights(config.restore_best)
        self.extra_callbacks = [c if isinstance(c, cb.Callback) else cb.EpochFunction(c)
                                for c in callbacks]
        self.epoch = 0  # epochs done, over every fit() call
        self.result = TrainResult()
        self.stop = False
        self.callbacks = []  # the last fit()'s, in event order
        self.threads_used = None  # the thread count of the last fit() (history: "threads")
        self.shards_used = 1  # the slices of each step in the last fit() (history: "shards")
        self._flops = None  # one training step's FLOPs (the thread policy), once counted

    def _callbacks(self, source, val_source, checkpoint_dir, signature) -> list:
        c = self.config
        # A per-step finite check syncs a GPU, and under DDP a rank that stopped alone would
        # leave the others waiting in the all-reduce: there only the (all-reduced) epoch
        # loss is checked, which every rank sees alike.
        check_every = None if self.ddp else (1 if self.device.type == "cpu" else 50)
        out = [cb.WarmUp(c.warmup_epochs)] if c.warmup_epochs > 0 else []
        out.append(cb.DivergenceGuard(self.best, check_every))
        if val_source is not None:
            out.append(cb.Validation(val_source))
        out.append(self.best)
        if c.early_stopping is not None:
            out.append(cb.EarlyStopping(c.early_stopping, self.best))
        out.append(cb.LRSchedule())
        if c.progress:
            out.append(cb.ProgressBar())
        out.append(cb.LogEpochs())
        if c.log_dir is not None:  # the grid shows held-out rows when there are some
            out.append(tensorboard.TensorBoard(
                c.log_dir, val_source if val_source is not None else source))
        out += self.extra_callbacks
        if checkpoint_dir is not None:  # last: it saves every callback's state of the epoch
            out.append(cb.Checkpoint(checkpoint_dir, signature))
        return out

    def fit(self, X, *, X_val=None, until: int | None = None, checkpoint_dir=None,
            resume: bool = False, signature: dict | None = None) -> TrainResult:
        """Train on rows of X until ``until`` epochs are done in all (default
        ``config.epochs``); see :func:`train` for the other arguments. Returns the
        result so far (its history covers every call)."""
        channels_last = _use_channels_last(self.model, self.config)
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        try:
            # The shards and the thread count come from one step's work, never the load
            # (aekit.training.threads): a seed gives the same weights on a busy machine.
            flops = self._step_flops(X)
            shards = threads.shards_for(flops, self._step_rows(X)) \
                if steps.shardable(self.step, self.objective) else 1
            with flush_denormals(), no_dynamo_import(), \
                    threads.training_threads(self.config.threads, flops, shards) as n_threads, \
                    steps.sharded(self.step, shards, n_threads) as step:
                self.threads_used, self.shards_used = n_threads, shards
                unsharded, self.step = self.step, step
                try:
                    return self._fit(X, X_val, until, checkpoint_dir, resume, signature)
                finally:
                    self.step = unsharded
        finally:
            if channels_last:
                self.model.to(memory_format=torch.contiguous_format)

    def _step_flops(self, X) -> float:
        """One training step's FLOPs for the thread policy (0 off the CPU); counted on the
        first fit() only, since the model and batch size stay (partial_fit calls fit() once
        an epoch)."""
        if self.device.type != "cpu":
            return 0.0
        if hasattr(self.step, "flops"):  # a step that knows its own work
            return self.step.flops()
        if self._flops is None:
            n_features = getattr(getattr(self.model, "config", None), "n_features", None)
            if not isinstance(n_features, int):
                n_features = int(X.shape[1]) if getattr(X, "ndim", 0) == 2 else None
            self._flops = 0.0 if n_features is None else threads.training_flops(
                self.model, n_features, self._step_rows(X))
        return self._flops

    def _step_rows(self, X) -> int:
        """Rows of a full training step: the batch size, or all the rows when there are
        fewer (a 20-row table gains nothing from slices of 10)."""
        try:
            n = int(X.n) if hasattr(X, "n") else len(X)
        except TypeError:
            return self.config.batch_size
        return max(1, min(self.config.batch_size, n))

    def _fit(self, X, X_val, until, checkpoint_dir, resume, signature) -> TrainResult:
        config = self.config
        until = config.epochs if until is None else until
        checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        source = make_source(X, device=self.device)
        val_source = make_source(X_val, device=self.device) if X_val is not None else None
        if val_source is None and config.validation_fraction > 0:
            source, val_source = _split(source, config.validation_fraction, config.seed)
        self.steps_per_epoch = math.ceil(source.n / config.batch_size)
        if checkpoint_dir is not None and signature is not None:
            # What a checkpoint must match to be this run: the caller's description, every
            # option that shapes the result, and the rows themselves.
            signature = {**signature, "training": _result_options(config),
                         "data": fingerprint(source),
                         "validation": None if val_source is None else fingerprint(val_source)}
        if signature is not None:  # compare in JSON form: tuples and lists must match
            signature = json.loads(json.dumps(signature))
        callbacks = self.callbacks = self._callbacks(source, val_source, checkpoint_dir,
                                                     signature)
        if resume and checkpoint_dir is not None and \
                (checkpoint_dir / CHECKPOINT_NAME).exists():
            self._resume(checkpoint_dir, signature)
        if self.stop:  # a resumed run that had ended stays ended
            until = self.epoch
        self.start_epoch = self.epoch
        # Per-step events reach only the callbacks that define them (the step is hot).
        step_begin = [c for c in callbacks if hasattr(c, "on_step_begin")]
        step_end = [c for c in callbacks if hasattr(c, "on_step_end")]
        for c in callbacks:
            c.on_train_begin(self)
        self.model.train()
        step_optimizer = _FusedAdamStep(self.optimizer)
        pause = step_pause_hook()  # None outside crash tests
        while self.epoch < until and not self.stop:
            epoch, t0 = self.epoch, time.perf_counter()
            for c in callbacks:
                c.on_epoch_begin(self, epoch)
            keys, sums = self._epoch_steps(source, epoch, step_begin, step_end,
                                           step_optimizer, pause)
            for c in callbacks:  # warm-up gives the schedule's lr back here
                c.on_steps_done(self, epoch)
            record = {"epoch": epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
            if keys is not None:
                record.update({k: v / source.n for k, v in zip(keys, sums)})
            for c in callbacks:
                c.on_epoch_end(self, record)
            record["seconds"] = time.perf_counter() - t0
            record["threads"] = self.threads_used
            record["shards"] = self.shards_used
            self.result.history.append(record)
            self.epoch = epoch + 1
            for c in callbacks:
                c.on_epoch_recorded(self, record)
        self.result.stopped_early = self.stop
        self.result.best_epoch = self.best.epoch
        for c in callbacks:
            c.on_train_end(self)
        return self.result

    def _epoch_steps(self, source, epoch, step_begin, step_end, step_optimizer, pause):
        """One pass over shuffled batches: step, clip, update. Returns the loss terms'
        names and their row-weighted sums (None, None for no rows)."""
        config, host = self.config, self.step.host
        perm = torch.randperm(source.n, generator=self.generator, device=self.device)
        # One process: one generator for shuffling and noise (exact resume). DDP: the
        # shared generator only shuffles (the same permutation on every rank); noise and
        # sampling use a per-rank generator re-derived from (seed, rank, epoch).
        g_step = self.generator if not self.ddp else torch.Generator(
            device=self.device).manual_seed(
            (config.seed * 1_000_003 + distributed.rank()) * 10_007 + epoch)
        keys, acc = None, None
        for step, start in enumerate(range(0, source.n, config.batch_size)):
            for c in step_begin:
                c.on_step_begin(self, epoch, step)
            keys, values, b = self.step(source, perm[start:start + config.batch_size],
                                        g_step, epoch)
            if acc is None:
                loss_at = keys.index("loss")
                acc = [0.0] * len(keys) if host else torch.zeros(
                    len(keys), dtype=torch.float64, device=self.device)
            for c in step_end:
                c.on_step_end(self, epoch, step, values[loss_at])
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(self.params, config.grad_clip)
            step_optimizer()
            if pause is not None:
                pause()
            if host:
                for i, v in enumerate(values):
                    acc[i] += v * b
            else:
                with torch.no_grad():
                    acc.add_(torch.stack(values).double(), alpha=b)
        if self.ddp:
            distributed.all_reduce_sum(acc)
        return keys, (None if acc is None else acc if host else acc.tolist())

    def _resume(self, checkpoint_dir: Path, signature) -> None:
        ckpt = load_checkpoint(checkpoint_dir)
        saved = ckpt["extra"].get("signature")
        if signature is not None and saved is not None and saved != signature:
            raise ConfigError(f"{checkpoint_dir}: the checkpoint belongs to a different run ("
                              + "; ".join(differences(saved, signature)) + "); resume with "
                              "the original settings and data, or start a new run")
        scheduler = self.scheduler
        if scheduler is not None and ckpt["scheduler"] is not None:
            planned = ckpt["scheduler"].get("T_max")
            if isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR) and \
                    planned is not None and planned != scheduler.T_max:
                # The cosine curve of the first epochs was planned for ``planned`` epochs:
                # no continuation with another length is the run it claims to be.
                raise ConfigError(
                    f"{checkpoint_dir}: the checkpoint's cosine learning-rate schedule runs "
                    f"over {planned} epochs, not {self.config.epochs}; resume with epochs="
                    f"{planned}, or train the saved model further with its partial_fit "
                    "method")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        # Checkpoints hold contiguous tensors, but a conv model trains channels-last: lay
        # each optimizer state tensor out like its parameter again (the fused Adam kernel
        # pairs them element by element in memory order; a resumed conv run diverged).
        for p, state in self.optimizer.state.items():
            for k, v in state.items():
                if isinstance(v, torch.Tensor) and v.shape == p.shape and \
                        v.stride() != p.stride():
                    state[k] = torch.empty_like(p).copy_(v)
        if scheduler is not None and ckpt["scheduler"] is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        self.generator.set_state(ckpt["rng"])
        self.result.history = ckpt["history"]
        self.best.state = ckpt["best"]
        self.best.load_state_dict({**ckpt["extra"], "best_score": ckpt["best_score"]})
        # every callback's own state (checkpoints before it was carried hold none)
        cb.load_callback_states(self.callbacks, ckpt["extra"].get("callbacks") or {})
        self.epoch = ckpt["epoch"]
        self.stop = bool(ckpt["extra"].get("stopped_early"))
        log.info("resumed from %s after epoch %d", checkpoint_dir, self.epoch)


# Options that do not change what training computes (``threads`` changes only the float
# rounding of reductions; ``epochs`` is checked on its own: a cosine schedule is planned
# over it; otherwise a run may be continued to more epochs; ``log_dir`` only says where
# the TensorBoard events go).
_NEUTRAL_OPTIONS = ("progress", "epochs", "threads", "log_dir")


def _result_options(config: TrainConfig) -> dict:
    return {k: v for k, v in config.to_dict().items() if k not in _NEUTRAL_OPTIONS}


def differences(old, new, where: str = "") -> list[str]:
    """``"key: old -> new"`` for every leaf where two JSON-like values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            out += differences(old.get(k), new.get(k), f"{where}.{k}" if where else str(k))
        return out
    if old == new:
        return []
    if where.endswith(("data", "validation")) and isinstance(old, str):
        return [f"{where}: other rows than the checkpoint was trained on"]
    return [f"{where}: {old!r} -> {new!r}"]


def copy_model(model):
    """A deep copy that keeps tied weights tied (shared tensors are copied once)."""
    return copy.deepcopy(model)
