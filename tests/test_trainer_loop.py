"""The training loop as a class: warm-start across calls, pluggable steps, callbacks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from aekit.estimators import StackedAutoencoder, VariationalAutoencoder
from aekit.losses import Objective
from aekit.models import ModelConfig, build_model
from aekit.training import TrainConfig
from aekit.training.callbacks import Callback
from aekit.training.steps import AutogradStep, ClosedFormStep
from aekit.training.trainer import Trainer

X = np.random.default_rng(0).random((96, 16)).astype(np.float32)


@pytest.mark.parametrize("make", [
    lambda: StackedAutoencoder(3, hidden_layer_sizes=(8,), epochs=4, batch_size=16,
                               random_state=0),  # closed-form step, cosine, warm-up
    lambda: VariationalAutoencoder(2, hidden_layer_sizes=(8,), epochs=4, batch_size=16,
                           lr_schedule="cosine", warmup_epochs=1.0, learning_rate=1e-2,
                           random_state=0),
], ids=["stacked-closed-form", "vae-autograd"])
def test_n_partial_fit_calls_equal_one_fit(make):
    full = make().fit(X)
    losses = [r["loss"] for r in full.history_]
    assert all(b < a for a, b in zip(losses, losses[1:])), "best = last, or restore differs"
    parts = make()
    for _ in range(full.epochs):
        parts.partial_fit(X)
    assert [r["loss"] for r in parts.history_] == losses
    for (name, a), b in zip(full.module_.state_dict().items(),
                            parts.module_.state_dict().values()):
        assert torch.equal(a, b), name


def test_partial_fit_continues_after_fit_and_survives_pickling():
    import pickle

    est = StackedAutoencoder(3, hidden_layer_sizes=(8,), epochs=2, random_state=0).fit(X)
    moments = [s["exp_avg"].clone() for s in est._trainer.optimizer.state.values()]
    est.partial_fit(X)
    assert est.n_iter_ == 3 and [r["epoch"] for r in est.history_] == [1, 2, 3]
    assert est._trainer.epoch == 3 and len(moments) > 0  # the same optimizer went on
    back = pickle.loads(pickle.dumps(est))
    assert not hasattr(back, "_trainer")
    back.partial_fit(X)  # a fresh optimizer, still trains
    assert back.n_iter_ == 4


def _model():
    return build_model(ModelConfig(16, hidden=(8,), code_size=3), seed=0)


def test_the_step_is_chosen_by_the_engine_and_the_callbacks_see_every_event():
    seen = []

    class Events(Callback):
        def on_train_begin(self, trainer):
            seen.append("train_begin")

        def on_epoch_begin(self, trainer, epoch):
            seen.append(f"epoch_begin {epoch}")

        def on_step_end(self, trainer, epoch, step, loss):
            seen.append("step")

        def on_epoch_recorded(self, trainer, record):
            seen.append(f"recorded {record['epoch']}")
            trainer.stop = record["epoch"] == 2  # a callback may end training

        def on_train_end(self, trainer):
            seen.append("train_end")

    config = TrainConfig(epochs=5, batch_size=48)
    trainer = Trainer(_model(), Objective(), config, callbacks=[Events()])
    assert isinstance(trainer.step, ClosedFormStep)
    result = trainer.fit(X)
    assert seen == ["train_begin", "epoch_begin 0", "step", "step", "recorded 1",
                    "epoch_begin 1", "step", "step", "recorded 2", "train_end"]
    assert len(result.history) == 2 and result.stopped_early
    auto = Trainer(_model(), Objective(), dataclasses.replace(config, engine="autograd"))
    assert isinstance(auto.step, AutogradStep)


def test_classifier_phases_run_through_the_loop_and_resume_exactly(tmp_path, monkeypatch):
    """The head and fine-tuning phases checkpoint like any run: interrupted in the
    fine-tuning phase, a resumed fit ends with the uninterrupted fit's weights."""
    import aekit.training.callbacks as callbacks
    from aekit.estimators import AutoencoderClassifier

    y = np.arange(len(X)) % 3
    make = lambda: AutoencoderClassifier(3, method="pretrain", hidden_layer_sizes=(8,), pretrain_epochs=2,  # noqa: E731
                                         head_epochs=2, finetune_epochs=3, random_state=0)
    ref = make().fit(X, y, checkpoint_dir=tmp_path / "ref")
    assert sorted(p.name for p in (tmp_path / "ref").iterdir() if p.is_dir()) == \
        ["finetune", "head"]
    assert [(r["phase"], r["epoch"]) for r in ref.supervised_history_] == [
        ("head", 1), ("head", 2), ("finetune", 1), ("finetune", 2), ("finetune", 3)]
    assert all("accuracy" in r for r in ref.supervised_history_)

    real = callbacks.save_checkpoint

    def interrupt_in_finetune(directory, **kw):
        real(directory, **kw)
        if directory.name == "finetune" and kw["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(callbacks, "save_checkpoint", interrupt_in_finetune)
    with pytest.raises(KeyboardInterrupt):
        make().fit(X, y, checkpoint_dir=tmp_path / "run")
    monkeypatch.setattr(callbacks, "save_checkpoint", real)
    back = make().fit(X, y, checkpoint_dir=tmp_path / "run", resume=True)
    np.testing.assert_array_equal(back.predict_proba(X), ref.predict_proba(X))
    for (name, a), b in zip(ref.head_.state_dict().items(), back.head_.state_dict().values()):
        assert torch.equal(a, b), name


def test_an_objective_option_without_a_declared_closed_form_falls_back_to_autograd():
    """The dense engine reads the objective's declarations; a term added later that does
    not declare a closed form must not be silently skipped by it."""
    from aekit.losses.objectives import Objective as Base
    from aekit.training import dense_step

    @dataclasses.dataclass
    class WithExtraTerm(Base):
        extra_weight: float = 0.0  # a new option: its term below has no closed form

        def __call__(self, model, x, **kw):
            terms = super().__call__(model, x, **kw)
            if self.extra_weight:
                terms["extra"] = model.encode(x).pow(4).mean()
                terms["loss"] = terms["loss"] + self.extra_weight * terms["extra"]
            return terms

    config = TrainConfig(epochs=1, batch_size=32)
    assert Base().closed_form() is not None
    assert dense_step.for_training(_model(), Base(), config) is not None
    extra = WithExtraTerm(extra_weight=0.5)
    assert extra.closed_form() is None
    assert dense_step.for_training(_model(), extra, config) is None
    trainer = Trainer(_model(), extra, config)
    assert isinstance(trainer.step, AutogradStep)
    assert "extra" in trainer.fit(X).history[0]  # the new term is trained and reported
    # a field the declaration table does not know is refused even in the base class
    assert "contractive" in Base.CLOSED_FORM_FIELDS
    assert Base(contractive=0.1).closed_form() is None


def test_classifier_phases_take_validation_early_stopping_and_clipping():
    from aekit.estimators import AutoencoderClassifier

    y = np.arange(len(X)) % 3
    clf = AutoencoderClassifier(3, method="pretrain", hidden_layer_sizes=(8,), pretrain_epochs=2, head_epochs=30,
                                finetune_epochs=30, validation_fraction=0.25,
                                early_stopping=2, grad_clip=1.0, learning_rate=0.05,
                                random_state=0).fit(X, y)
    head = [r for r in clf.supervised_history_ if r["phase"] == "head"]
    assert "val_loss" in head[0] and "val_accuracy" in head[0]
    assert len(head) < 30  # early stopping ended the phase (labels here are noise)
    assert all("val_loss" in r for r in clf.history_)  # pretraining monitored too


class _Counter(Callback):
    """A user callback with state: a running sum of epoch losses, and the lr it saw at
    epoch end (after warm-up handed the schedule's back: on_steps_done comes first)."""

    def __init__(self):
        self.total, self.epochs, self.lrs = 0.0, 0, []

    def on_epoch_end(self, trainer, record):
        self.lrs.append(trainer.optimizer.param_groups[0]["lr"])

    def on_epoch_recorded(self, trainer, record):
        self.total += record["loss"]
        self.epochs += 1

    def state_dict(self):
        return {"total": self.total, "epochs": self.epochs}

    def load_state_dict(self, state):
        self.total, self.epochs = state["total"], state["epochs"]


def test_every_callbacks_state_rides_in_the_checkpoint(tmp_path):
    """A user callback with state_dict() resumes exactly: run 2 of 4 epochs, then resume
    in a new trainer with a fresh callback; it ends where an uninterrupted one does."""
    config = TrainConfig(epochs=4, batch_size=32, warmup_epochs=1.0, lr_schedule="cosine")
    whole = _Counter()
    Trainer(_model(), Objective(), config, callbacks=[whole]).fit(X)
    first = _Counter()
    Trainer(_model(), Objective(), config, callbacks=[first]).fit(
        X, until=2, checkpoint_dir=tmp_path)
    second = _Counter()
    Trainer(_model(), Objective(), config, callbacks=[second]).fit(
        X, checkpoint_dir=tmp_path, resume=True)
    assert second.epochs == whole.epochs == 4
    assert second.total == whole.total  # the same losses summed in the same order
    assert first.lrs + second.lrs == whole.lrs  # the schedule's lr at each epoch end


def test_warm_up_hands_the_schedules_rate_back_before_the_record():
    """No isinstance in the loop: the record's lr is the schedule's, never a warm-up
    step's, whatever the callbacks' order."""
    config = TrainConfig(epochs=3, batch_size=32, warmup_epochs=2.0, lr=1e-2)
    counter = _Counter()
    result = Trainer(_model(), Objective(), config, callbacks=[counter]).fit(X)
    assert [r["lr"] for r in result.history] == [1e-2] * 3
    assert counter.lrs == [1e-2] * 3
