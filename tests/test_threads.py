"""The training thread policy (aekit.training.threads): as many threads as idle cores,
re-chosen every epoch, a fixed count by TrainConfig.threads or $AEKIT_NUM_THREADS, torch's
count restored afterwards."""

import numpy as np
import pytest
import torch

from aekit.errors import ConfigError
from aekit.estimators import StackedAutoencoder
from aekit.losses import Objective
from aekit.models import ModelConfig, build_model
from aekit.training import TrainConfig, Trainer, threads
from aekit.training.trainer import _result_options


@pytest.fixture
def two_threads():
    """torch at 2 threads for the test (the bound the policy starts from), restored."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def machine(monkeypatch):
    """A scripted machine: runnable others before the first epoch, and the CPU seconds
    the machine and this process add during each epoch (per second of wall time)."""
    state = {"runnable": 0.0, "others_per_s": [], "busy": 0.0, "own": 0.0, "clock": 0.0}

    def busy():
        return state["busy"]

    def tick():  # one "epoch" of 1 s: others use the next scripted share of the machine
        share = state["others_per_s"].pop(0) if state["others_per_s"] else 0.0
        state["clock"] += 1.0
        state["own"] += 1.0
        state["busy"] += 1.0 + share

    monkeypatch.setattr(threads, "_runnable_others", lambda: state["runnable"])
    monkeypatch.setattr(threads, "_machine_busy_seconds", busy)
    monkeypatch.setattr(threads, "_own_seconds", lambda: state["own"])
    monkeypatch.setattr(threads.time, "monotonic", lambda: state["clock"])
    state["tick"] = tick
    return state


class Recorder(threads.Callback):
    """torch's thread count during each epoch, then one scripted second passes."""

    def __init__(self, machine=None):
        self.seen, self.machine = [], machine

    def on_epoch_end(self, trainer, record):
        self.seen.append(torch.get_num_threads())
        if self.machine is not None:
            self.machine["tick"]()


def _fit(config, callbacks=(), rows=64):
    model = build_model(ModelConfig(16, hidden=(8,), code_size=4), seed=0)
    X = np.random.RandomState(0).rand(rows, 16).astype(np.float32)
    trainer = Trainer(model, Objective(), config, callbacks=callbacks)
    trainer.fit(X)
    return trainer


def test_idle_cores_decide_each_epoch_and_count_is_restored(two_threads, machine,
                                                           monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    machine["runnable"] = 1.0  # a busy competitor when training starts
    # during epochs 1..4 others use: 0.7 cores (it shares our cores), 0.1, 0.0, 1.2
    machine["others_per_s"] = [0.7, 0.1, 0.0, 1.2]
    rec = Recorder(machine)
    _fit(TrainConfig(epochs=5, batch_size=16), callbacks=[rec])
    assert rec.seen == [1, 1, 2, 2, 1]
    assert torch.get_num_threads() == 2


def test_quiet_machine_keeps_torchs_count(two_threads, machine, monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    rec = Recorder(machine)
    _fit(TrainConfig(epochs=3, batch_size=16), callbacks=[rec])
    assert rec.seen == [2, 2, 2]


def test_bound_is_torchs_count_when_training_starts(machine, monkeypatch):
    """torch.set_num_threads(1) (or OMP_NUM_THREADS=1) before fit is respected."""
    monkeypatch.delenv(threads.ENV, raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rec = Recorder(machine)
        _fit(TrainConfig(epochs=2, batch_size=16), callbacks=[rec])
        assert rec.seen == [1, 1] and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_fixed_count_from_config_and_environment(two_threads, machine, monkeypatch):
    machine["runnable"] = 3.0  # would give 1 thread; a fixed count ignores the load
    rec = Recorder(machine)
    _fit(TrainConfig(epochs=2, batch_size=16, threads=2), callbacks=[rec])
    assert rec.seen == [2, 2]
    monkeypatch.setenv(threads.ENV, "1")
    machine["runnable"] = 0.0
    rec = Recorder(machine)
    _fit(TrainConfig(epochs=2, batch_size=16), callbacks=[rec])
    assert rec.seen == [1, 1] and torch.get_num_threads() == 2
    # the config's count wins over the environment's
    rec = Recorder(machine)
    _fit(TrainConfig(epochs=1, batch_size=16, threads=2), callbacks=[rec])
    assert rec.seen == [2]


def test_estimator_fit_follows_the_environment(two_threads, monkeypatch):
    monkeypatch.setenv(threads.ENV, "1")
    seen = []
    monkeypatch.setattr(threads.AdaptiveThreads, "on_epoch_begin",
                        lambda self, t, e: pytest.fail("a fixed count never adapts"))
    X = np.random.RandomState(0).rand(40, 12).astype(np.float32)
    est = StackedAutoencoder(epochs=2, hidden_layer_sizes=(6,), n_components=3,
                             random_state=0)
    original = threads.training_threads

    def spy(n, adaptive=True):
        cm = original(n, adaptive)

        class Wrapped:
            def __enter__(self):
                out = cm.__enter__()
                seen.append(torch.get_num_threads())
                return out

            def __exit__(self, *exc):
                return cm.__exit__(*exc)
        return Wrapped()

    monkeypatch.setattr(threads, "training_threads", spy)
    est.fit(X)
    assert seen == [1] and torch.get_num_threads() == 2


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_bad_environment_value_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv(threads.ENV, value)
    with pytest.raises(ConfigError, match=f"{threads.ENV}={value!r}"):
        _fit(TrainConfig(epochs=1, batch_size=16))


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_bad_config_value_is_refused(value):
    with pytest.raises(ConfigError, match="threads must be an integer >= 1"):
        TrainConfig(threads=value)


def test_threads_do_not_enter_the_resume_signature():
    assert _result_options(TrainConfig(threads=1)) == _result_options(TrainConfig())


def test_real_proc_readers_answer_on_linux():
    """The readers parse this machine's /proc (None only where it is unreadable)."""
    others = threads._runnable_others()
    busy = threads._machine_busy_seconds()
    assert others is None or others >= 0
    assert busy is None or busy > 0
    assert threads._own_seconds() > 0


def _conv_model():
    return build_model(ModelConfig(64, architecture="conv", hidden=(4, 8), code_size=None,
                                   image_shape=(1, 8, 8)), seed=0)


def test_autograd_steps_keep_torchs_count_for_the_run(two_threads, machine, monkeypatch):
    """A conv model's weights depend on the thread count: the load must not pick it."""
    monkeypatch.delenv(threads.ENV, raising=False)
    machine["runnable"] = 1.0
    rec = Recorder(machine)
    X = np.random.RandomState(0).rand(32, 64).astype(np.float32)
    trainer = Trainer(_conv_model(), Objective(), TrainConfig(epochs=2, batch_size=16),
                      callbacks=[rec])
    assert not getattr(trainer.step, "thread_invariant", False)
    trainer.fit(X)
    assert rec.seen == [2, 2]


@pytest.mark.parametrize("options", [{}, {"noise": "gaussian", "noise_level": 0.1}])
def test_closed_form_step_gives_the_same_weights_with_1_and_2_threads(options):
    """Why the closed-form step may change its thread count every epoch."""
    X = np.random.RandomState(0).rand(512, 784).astype(np.float32)
    weights = []
    for n in (1, 2):
        model = build_model(ModelConfig(784, hidden=(100,), code_size=30), seed=0)
        trainer = Trainer(model, Objective(**options),
                          TrainConfig(epochs=1, batch_size=128, threads=n))
        assert trainer.step.thread_invariant
        trainer.fit(X)
        weights.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*weights))


def test_inference_follows_idle_cores_with_the_same_outputs(two_threads, monkeypatch):
    from aekit.fitted import FittedAutoencoder

    monkeypatch.delenv(threads.ENV, raising=False)
    chosen = []
    original = threads.inference_threads

    def spy(rows):
        cm = original(rows)

        class Wrapped:
            def __enter__(self):
                chosen.append(cm.__enter__())
                return chosen[-1]

            def __exit__(self, *exc):
                return cm.__exit__(*exc)
        return Wrapped()

    monkeypatch.setattr(threads, "inference_threads", spy)
    X = np.random.RandomState(0).rand(600, 64).astype(np.float32)
    for module in (build_model(ModelConfig(64, hidden=(32,), code_size=4), seed=0),
                   _conv_model()):
        fitted = FittedAutoencoder(module)
        monkeypatch.setattr(threads, "_runnable_others", lambda samples=5: 0.0)
        quiet = fitted.reconstruct(X)
        monkeypatch.setattr(threads, "_runnable_others", lambda samples=5: 1.0)
        busy = fitted.reconstruct(X)
        assert chosen[-2:] == [2, 1] and torch.get_num_threads() == 2
        np.testing.assert_array_equal(quiet, busy)
        fitted.reconstruct(X[:10])  # few rows: torch's count, no reading
        assert chosen[-1] == 2
