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
from tqdm.auto import tqdm

from aekit.errors import ConfigError, TrainingError
from aekit.io.rows import make_source
from aekit.training import dense_step, distributed
from aekit.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint

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
    dense AE at batch 32 (measured, one thread). Once the optimizer's state exists (after
    its first real step), this calls the same two kernels ``torch.optim.Adam`` calls
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
        if self.lists is None or any(g is None for g in grads):
            if any(g is None for g in grads) or any(p not in opt.state for p in params):
                self.lists = None
                return opt.step()  # creates the state; later steps take the fast path
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


def clone_state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@torch.inference_mode()
def evaluate(model, objective, X, *, batch_size: int = 1024, seed: int = 0, epoch: int = 0,
             device=None) -> dict:
    """Mean loss terms over X without corruption or gradients (``eval()`` mode).

    VAE sampling uses its own generator seeded with ``seed``, so evaluation never advances
    the training RNG and gives the same number every time.
    """
    p = next(model.parameters())
    source = make_source(X, device=device or p.device)
    g = torch.Generator(device=p.device).manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        sums: dict = {}
        for start in range(0, source.n, batch_size):
            idx = torch.arange(start, min(start + batch_size, source.n), device=p.device)
            xb = source.batch(idx)
            terms = objective(model, xb, generator=g, epoch=epoch, train=False)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
        return {k: v / source.n for k, v in sums.items()}
    finally:
        model.train(was_training)


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
    channels_last = _use_channels_last(model, config)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    try:
        with flush_denormals():
            return _train(model, objective, X, X_val=X_val, config=config,
                          checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks,
                          signature=signature)
    finally:
        if channels_last:
            model.to(memory_format=torch.contiguous_format)


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
    before = _flushing_denormals()
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        if supported and not before:
            torch.set_flush_denormal(False)


def _flushing_denormals() -> bool:
    tiny = torch.tensor([1e-30], dtype=torch.float32)
    return bool((tiny * 1e-10).item() == 0.0)  # 1e-40 is subnormal in float32


def _use_channels_last(model, config) -> bool:
    """Channels-last for 2-D convolutions on CPU: measured ~25% faster per step for the
    lecture's conv AE (benchmarks/speed.py); nothing changes for dense models."""
    return (config is None or torch.device(config.device).type == "cpu") and any(
        isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for m in model.modules())


def _train(model, objective, X, *, X_val, config, checkpoint_dir, resume, callbacks,
           signature) -> TrainResult:
    config = config or TrainConfig()
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if signature is not None:  # compare in JSON form: tuples and lists must match
        signature = json.loads(json.dumps(signature))
    distributed.maybe_init_distributed(config.device)
    ddp = distributed.is_distributed()
    rank, world = distributed.rank(), distributed.world_size()
    device = distributed.local_device(config.device)
    model.to(device)
    source = make_source(X, device=device)
    val_source = make_source(X_val, device=device) if X_val is not None else None
    if val_source is None and config.validation_fraction > 0:
        source, val_source = _split(source, config.validation_fraction, config.seed)

    g = torch.Generator(device=device).manual_seed(config.seed)
    optimizer = make_optimizer(model.parameters(), config)
    scheduler = make_scheduler(optimizer, config)
    result = TrainResult()
    best_score, best_state = math.inf, None
    start_epoch, bad_epochs = 0, 0

    if resume and checkpoint_dir is not None and (checkpoint_dir / CHECKPOINT_NAME).exists():
        ckpt = load_checkpoint(checkpoint_dir)
        if signature is not None and ckpt["extra"].get("signature") not in (None, signature):
            raise ConfigError(f"{checkpoint_dir}: the checkpoint belongs to a different run "
                              "(model or objective settings differ); remove it or drop --resume")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt["scheduler"] is not None:
            planned = ckpt["scheduler"].get("T_max")
            if isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR) and \
                    planned is not None and planned != scheduler.T_max:
                # The cosine curve of the first epochs was planned for ``planned`` epochs:
                # no continuation with another length is the run it claims to be.
                raise ConfigError(
                    f"{checkpoint_dir}: the checkpoint's cosine learning-rate schedule runs "
                    f"over {planned} epochs, not {config.epochs}; resume with epochs="
                    f"{planned}, or train the saved model further with its partial_fit method")
            scheduler.load_state_dict(ckpt["scheduler"])
        g.set_state(ckpt["rng"])
        result.history = ckpt["history"]
        best_score, best_state = ckpt["best_score"], ckpt["best"]
        result.best_epoch = ckpt["extra"].get("best_epoch", 0)
        bad_epochs = ckpt["extra"].get("bad_epochs", 0)
        start_epoch = ckpt["epoch"]
        if ckpt["extra"].get("stopped_early"):  # the run had ended: it stays ended
            result.stopped_early = True
            start_epoch = config.epochs
        log.info("resumed from %s after epoch %d", checkpoint_dir, start_epoch)

    # A per-step finite check syncs a GPU, and under DDP a rank that stopped alone would
    # leave the others waiting in the all-reduce: there the (all-reduced) epoch loss is
    # checked instead, which every rank sees alike.
    check_every = None if ddp else (1 if device.type == "cpu" else 50)
    # On one CPU process a scalar read costs no sync: the per-epoch sums of the loss terms
    # are kept as Python floats (float64, as the tensor sums are) from one .item() per term.
    host_sums = device.type == "cpu" and not ddp
    fwd = distributed.wrap(model, device) if ddp else model
    params = [p for p in model.parameters() if p.requires_grad]
    step_optimizer = _FusedAdamStep(optimizer)
    # Plain dense autoencoders: closed-form gradients, no autograd graph (dense_step).
    closed_form = dense_step.for_training(model, objective, config, distributed=ddp) \
        if host_sums else None
    steps_per_epoch = math.ceil(source.n / config.batch_size)
    warmup_steps = math.ceil(config.warmup_epochs * steps_per_epoch)
    model.train()
    bar = tqdm(range(start_epoch, config.epochs), unit="epoch", desc="training",
               disable=not config.progress or rank != 0,
               initial=start_epoch, total=config.epochs, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        last_good = clone_state(model)
        perm = torch.randperm(source.n, generator=g, device=device)
        # Single process: one generator for shuffling and noise (exact resume). DDP: the
        # shared ``g`` only shuffles (same permutation on every rank); noise and sampling
        # use a per-rank generator re-derived from (seed, rank, epoch) every epoch.
        g_step = g if not ddp else torch.Generator(device=device).manual_seed(
            (config.seed * 1_000_003 + rank) * 10_007 + epoch)
        keys, acc = None, None  # running sum of sample-weighted terms, one tensor
        epoch_lrs = [grp["lr"] for grp in optimizer.param_groups]  # the schedule's lr
        if closed_form is not None:
            keys, loss_at = closed_form.keys, closed_form.keys.index("loss")
            acc = [0.0] * len(keys)
        for step, start in enumerate(range(0, source.n, config.batch_size)):
            idx = perm[start:start + config.batch_size]
            b, scale = len(idx), 1.0
            if warmup_steps and epoch * steps_per_epoch + step < warmup_steps:
                # A function of (epoch, step) only: nothing to checkpoint, resume is exact.
                factor = (epoch * steps_per_epoch + step + 1) / warmup_steps
                for grp, lr in zip(optimizer.param_groups, epoch_lrs):
                    grp["lr"] = lr * factor
            if closed_form is not None:  # gradients land in p.grad; terms come as floats
                terms = None
                values = closed_form.step(source.batch(idx, out=closed_form.input_buffer(b)),
                                          generator=g_step)
                loss = values[loss_at]
            else:
                if ddp:  # this rank's slice of the global batch
                    lo, hi = distributed.rank_slice(len(idx), rank, world)
                    b = hi - lo
                    # DDP averages gradients over ranks; weighting by the slice size makes
                    # the update the global batch mean even when slices differ in size.
                    scale = world * b / len(idx)
                    idx = idx[lo:hi] if b > 0 else idx[:1]  # an empty slice still joins in
                xb = source.batch(idx)
                terms = objective(fwd, xb, generator=g_step, epoch=epoch)
                loss = terms["loss"]
                if keys is None:
                    keys = list(terms)
                    loss_at = keys.index("loss")
                    acc = [0.0] * len(keys) if host_sums else torch.zeros(
                        len(keys), dtype=torch.float64, device=device)
                if host_sums:  # one scalar read per term; it doubles as the finite check
                    values = [v.item() for v in terms.values()]
            if host_sums:
                if not math.isfinite(values[loss_at]):
                    _diverged(model, epoch, step, loss, best_state, last_good, result, config)
            elif check_every and step % check_every == 0 and not torch.isfinite(loss):
                _diverged(model, epoch, step, loss, best_state, last_good, result, config)
            if terms is not None:
                for p in params:  # zero_grad(set_to_none=True) without the bookkeeping
                    p.grad = None
                (loss if scale == 1.0 else loss * scale).backward()
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            step_optimizer()
            if host_sums:
                for i, v in enumerate(values):
                    acc[i] += v * b
            else:
                with torch.no_grad():
                    acc.add_(torch.stack([terms[k].detach() for k in keys]).double(), alpha=b)
        if ddp:
            distributed.all_reduce_sum(acc)
        for grp, lr in zip(optimizer.param_groups, epoch_lrs):  # the scheduler's own lr back
            grp["lr"] = lr
        record = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"]}
        if keys is not None:
            sums = acc if host_sums else acc.tolist()
            record.update({k: v / source.n for k, v in zip(keys, sums)})
        if not math.isfinite(record["loss"]):
            _diverged(model, epoch, None, record["loss"], best_state, last_good, result, config)
        # The last step's update is not in any loss yet: check the weights themselves, so a
        # non-finite model is never kept as "best" (one sync per epoch).
        if not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):
            _diverged(model, epoch, None, float("nan"), best_state, last_good, result, config,
                      what="weights")
        if val_source is not None:
            val = evaluate(model, objective, val_source, batch_size=config.eval_batch_size,
                           seed=config.seed, epoch=epoch, device=device)
            record.update({f"val_{k}": v for k, v in val.items()})
        record["seconds"] = time.perf_counter() - t0
        result.history.append(record)

        score = record.get("val_loss", record["loss"])
        if score < best_score:
            best_score, best_state, bad_epochs = score, clone_state(model), 0
            result.best_epoch = epoch + 1
        else:
            bad_epochs += 1
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(score)
        elif scheduler is not None:
            scheduler.step()
        stop = config.early_stopping is not None and bad_epochs >= config.early_stopping
        if checkpoint_dir is not None:
            if rank == 0:
                save_checkpoint(checkpoint_dir, model=model, optimizer=optimizer,
                                scheduler=scheduler, generator=g, epoch=epoch + 1,
                                history=result.history, best_state=best_state,
                                best_score=best_score,
                                extra={"signature": signature, "best_epoch": result.best_epoch,
                                       "bad_epochs": bad_epochs, "stopped_early": stop})
            distributed.barrier()
        bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if "loss" in k})
        log.info("epoch %d: %s", epoch + 1,
                 ", ".join(f"{k}={v:.5g}" for k, v in record.items() if k != "epoch"))
        for cb in callbacks:
            cb(record, model)
        if stop:
            result.stopped_early = True
            break
    bar.close()
    if config.restore_best and best_state is not None:
        model.load_state_dict(best_state)
    return result


def _diverged(model, epoch, step, loss, best_state, last_good, result, config, what="loss"):
    """Restore the best (else the last good) weights and raise a TrainingError."""
    if best_state is not None:
        model.load_state_dict(best_state)
        kept = f"the weights of epoch {result.best_epoch} (the best so far) were restored"
    else:
        model.load_state_dict(last_good)
        kept = "the weights from before this epoch were restored"
    where = f"epoch {epoch + 1}" + (f", step {step + 1}" if step is not None else "")
    got = "the weights became NaN/Inf" if what == "weights" else \
        f"the loss became {float(torch.as_tensor(loss).detach())}"
    err = TrainingError(
        f"training diverged: {got} in {where}; {kept}. "
        f"Lower the learning rate (lr={config.lr:g}) or set grad_clip.")
    err.epoch, err.history = epoch + 1, result.history
    raise err


def copy_model(model):
    """A deep copy that keeps tied weights tied (shared tensors are copied once)."""
    return copy.deepcopy(model)
