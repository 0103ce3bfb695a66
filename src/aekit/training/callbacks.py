"""What happens around the training loop, as callbacks on its events (minGPT's
``on_batch_end``, skorch's callbacks): a feature is a callback, never a branch of the loop.

Events, in order: ``on_train_begin(trainer)``; per epoch ``on_epoch_begin(trainer, epoch)``,
per step ``on_step_begin(trainer, epoch, step)`` and ``on_step_end(trainer, epoch, step,
loss)``, then ``on_steps_done(trainer, epoch)`` (the epoch's updates are over, its record
not begun: warm-up hands the schedule's learning rate back here, so the record and the
schedule see it), ``on_epoch_end(trainer, record)`` (measuring: may add terms to the
record), the record joins the history, ``on_epoch_recorded(trainer, record)`` (acting on
it: best weights, early stopping, the schedule, checkpoints, progress); finally
``on_train_end(trainer)``. A callback that keeps state across epochs has ``state_dict()``
(JSON-able) / ``load_state_dict()``: the checkpoint carries every callback's, the
caller's own included, so a resumed run ends exactly as an uninterrupted one.
``trainer.stop = True`` ends training after the current epoch.
"""

from __future__ import annotations

import logging
import math

import torch
from tqdm.auto import tqdm

from aekit.errors import TrainingError
from aekit.training import distributed
from aekit.training.checkpoint import save_checkpoint
from aekit.training.evaluate import evaluate

log = logging.getLogger(__name__)


class Callback:
    """Base class: every event does nothing."""

    def on_train_begin(self, trainer) -> None: ...
    def on_epoch_begin(self, trainer, epoch: int) -> None: ...
    def on_steps_done(self, trainer, epoch: int) -> None: ...
    def on_epoch_end(self, trainer, record: dict) -> None: ...
    def on_epoch_recorded(self, trainer, record: dict) -> None: ...
    def on_train_end(self, trainer) -> None: ...
    # Per-step events are called only on callbacks that override them (the step is hot).

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def clone_state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class WarmUp(Callback):
    """Linear learning-rate warm-up over the first ``warmup_epochs`` (per step: lr / steps ..
    lr). A function of (epoch, step) only: nothing to checkpoint, resume stays exact. Keeps
    a large lr from killing relu units in the first updates (benchmarks/speed.py)."""

    def __init__(self, warmup_epochs: float):
        self.warmup_epochs = warmup_epochs

    def on_epoch_begin(self, trainer, epoch):
        self.steps = math.ceil(self.warmup_epochs * trainer.steps_per_epoch)
        self.lrs = [g["lr"] for g in trainer.optimizer.param_groups]  # the schedule's lr

    def on_step_begin(self, trainer, epoch, step):
        done = epoch * trainer.steps_per_epoch + step
        if done < self.steps:
            for group, lr in zip(trainer.optimizer.param_groups, self.lrs):
                group["lr"] = lr * (done + 1) / self.steps

    def on_steps_done(self, trainer, epoch):
        for group, lr in zip(trainer.optimizer.param_groups, self.lrs):
            group["lr"] = lr  # the scheduler's own lr back before it steps


class BestWeights(Callback):
    """Tracks the best epoch (validation loss if any, else training loss) and its weights;
    at the end the model gets them back (``restore=True``)."""

    def __init__(self, restore: bool = True):
        self.restore = restore
        self.score, self.state, self.epoch, self.bad_epochs = math.inf, None, 0, 0
        self._pairs = None

    def on_train_begin(self, trainer):
        self._pairs = None  # (saved, live) tensor pairs, gathered again for each fit

    def on_epoch_recorded(self, trainer, record):
        score = record.get("val_loss", record["loss"])
        if score < self.score:
            self.score, self.bad_epochs = score, 0
            self._snapshot(trainer.model)
            self.epoch = record["epoch"]
        else:
            self.bad_epochs += 1

    def _snapshot(self, model) -> None:
        """The model's weights into ``state``: a clone the first time, then copied into the
        same tensors (on small data an epoch is one step, and walking the module tree for
        ``state_dict`` plus a fresh allocation cost as much as the step: issue 27)."""
        if self.state is None or self._pairs is None:
            live = {k: v.detach() for k, v in model.state_dict(keep_vars=True).items()}
            if self.state is None or self.state.keys() != live.keys() or any(
                    self.state[k].shape != v.shape for k, v in live.items()):
                self.state = {k: v.clone() for k, v in live.items()}
            self._pairs = ([self.state[k] for k in live], list(live.values()))
        torch._foreach_copy_(*self._pairs)

    def on_train_end(self, trainer):
        if self.restore and self.state is not None:
            trainer.model.load_state_dict(self.state)

    def state_dict(self):
        return {"best_score": self.score if math.isfinite(self.score) else None,
                "best_epoch": self.epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state):
        score = state.get("best_score")
        self.score = math.inf if score is None else score
        self.epoch, self.bad_epochs = state.get("best_epoch", 0), state.get("bad_epochs", 0)


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without a new best (see :class:`BestWeights`)."""

    def __init__(self, patience: int, best: BestWeights):
        self.patience, self.best = patience, best

    def on_epoch_recorded(self, trainer, record):
        if self.best.bad_epochs >= self.patience:
            trainer.stop = True


class DivergenceGuard(Callback):
    """NaN/Inf loss or weights: restore the best (else the last good) weights and raise a
    :class:`TrainingError` naming the epoch, the step and the fix."""

    def __init__(self, best: BestWeights, check_every: int | None):
        self.best, self.check_every = best, check_every

    def on_epoch_begin(self, trainer, epoch):
        # Only needed while there is no best epoch to fall back on (diverged() prefers it).
        self.last_good = clone_state(trainer.model) if self.best.state is None else None

    def on_step_end(self, trainer, epoch, step, loss):
        # A float loss (one CPU process) is checked every step for free; a tensor every
        # ``check_every`` steps (a sync); under DDP (None) only the all-reduced epoch loss.
        if isinstance(loss, float):
            if not math.isfinite(loss):
                self.diverged(trainer, epoch, step, loss)
        elif self.check_every and step % self.check_every == 0 and not torch.isfinite(loss):
            self.diverged(trainer, epoch, step, loss)

    def on_epoch_end(self, trainer, record):
        epoch = record["epoch"] - 1
        if not math.isfinite(record["loss"]):
            self.diverged(trainer, epoch, None, record["loss"])
        # The last step's update is in no loss yet: check the weights themselves, so a
        # non-finite model is never kept as "best" (one sync per epoch).
        # (largest |w| per tensor: finite exactly when every weight is; one fused kernel)
        if not bool(torch.stack(torch._foreach_norm(trainer.params, math.inf)).isfinite().all()):
            self.diverged(trainer, epoch, None, float("nan"), what="weights")

    def diverged(self, trainer, epoch, step, loss, what="loss"):
        model = trainer.model
        if self.best.state is not None:
            model.load_state_dict(self.best.state)
            kept = f"the weights of epoch {self.best.epoch} (the best so far) were restored"
        else:
            model.load_state_dict(self.last_good)
            kept = "the weights from before this epoch were restored"
        where = f"epoch {epoch + 1}" + (f", step {step + 1}" if step is not None else "")
        got = "the weights became NaN/Inf" if what == "weights" else \
            f"the loss became {float(torch.as_tensor(loss).detach())}"
        err = TrainingError(
            f"training diverged: {got} in {where}; {kept}. "
            f"Lower the learning rate (lr={trainer.config.lr:g}) or set grad_clip.")
        err.epoch, err.history = epoch + 1, trainer.result.history
        raise err


class Validation(Callback):
    """Loss terms on held-out rows after every epoch, as ``val_<term>`` in the record."""

    def __init__(self, source):
        self.source = source

    def on_epoch_end(self, trainer, record):
        val = evaluate(trainer.model, trainer.objective, self.source,
                       batch_size=trainer.config.eval_batch_size, seed=trainer.config.seed,
                       epoch=record["epoch"] - 1, device=trainer.device)
        record.update({f"val_{k}": v for k, v in val.items()})


class LRSchedule(Callback):
    """Steps the trainer's scheduler once per epoch (a plateau schedule on the monitored
    loss); the scheduler itself is the trainer's, carried by checkpoints."""

    def on_epoch_recorded(self, trainer, record):
        scheduler = trainer.scheduler
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(record.get("val_loss", record["loss"]))
        elif scheduler is not None:
            scheduler.step()


class Checkpoint(Callback):
    """After every epoch, the whole training state (model, optimizer, scheduler, RNG,
    history and every callback's state) written atomically to ``directory`` (rank 0)."""

    def __init__(self, directory, signature: dict | None):
        self.directory, self.signature = directory, signature

    def on_epoch_recorded(self, trainer, record):
        if distributed.rank() == 0:
            best = trainer.best
            save_checkpoint(self.directory, model=trainer.model, optimizer=trainer.optimizer,
                            scheduler=trainer.scheduler, generator=trainer.generator,
                            epoch=record["epoch"], history=trainer.result.history,
                            best_state=best.state, best_score=best.score,
                            extra={"signature": self.signature, "best_epoch": best.epoch,
                                   "bad_epochs": best.bad_epochs,
                                   "stopped_early": trainer.stop,
                                   "callbacks": callback_states(trainer.callbacks)})
        distributed.barrier()


def callback_key(i: int, callback) -> str:
    """Which callback a saved state belongs to: its place in the list and its class."""
    return f"{i}:{type(callback).__name__}"


def callback_states(callbacks) -> dict:
    """Every callback's non-empty ``state_dict()``, keyed by :func:`callback_key`."""
    states = {callback_key(i, c): c.state_dict() for i, c in enumerate(callbacks)}
    return {k: v for k, v in states.items() if v}


def load_callback_states(callbacks, states: dict) -> None:
    """Give each callback the state saved for it (a callback with none keeps its own)."""
    for i, c in enumerate(callbacks):
        state = states.get(callback_key(i, c))
        if state:
            c.load_state_dict(state)


class ProgressBar(Callback):
    """A tqdm bar over epochs with the loss terms (rank 0 only)."""

    def on_train_begin(self, trainer):
        start, total = trainer.start_epoch, trainer.config.epochs
        self.bar = tqdm(total=total, initial=start, unit="epoch", desc="training",
                        disable=distributed.rank() != 0, leave=False)

    def on_epoch_recorded(self, trainer, record):
        self.bar.update(1)
        self.bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if "loss" in k})

    def on_train_end(self, trainer):
        self.bar.close()


class LogEpochs(Callback):
    """One ``logging`` INFO line per epoch (library code adds no handlers)."""

    def on_epoch_recorded(self, trainer, record):
        log.info("epoch %d: %s", record["epoch"],
                 ", ".join(f"{k}={v:.5g}" for k, v in record.items() if k != "epoch"))


class EpochFunction(Callback):
    """Adapts a plain ``fn(record, model)`` (the ``callbacks=`` of :func:`train`)."""

    def __init__(self, fn):
        self.fn = fn

    def on_epoch_recorded(self, trainer, record):
        self.fn(record, trainer.model)
