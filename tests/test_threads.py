"""The thread policy (aekit.training.threads): a count chosen from one step's work, never
from the machine's load; a fixed count by TrainConfig.threads or $AEKIT_NUM_THREADS; torch's
count restored afterwards; the count recorded in every epoch's history record."""

import os

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

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


def _seen_threads():
    from aekit.training.callbacks import Callback

    class Seen(Callback):
        def __init__(self):
            self.seen = []

        def on_epoch_end(self, trainer, record):
            self.seen.append(torch.get_num_threads())
    return Seen()


def _fit(config, callbacks=(), rows=64, model=None):
    model = model or build_model(ModelConfig(16, hidden=(8,), code_size=4), seed=0)
    X = np.random.RandomState(0).rand(rows, model.config.n_features).astype(np.float32)
    trainer = Trainer(model, Objective(), config, callbacks=callbacks)
    trainer.fit(X)
    return trainer


@pytest.mark.parametrize("flops, bound, cores, expected", [
    (0.0, 2, 2, 1), (threads.TEAM_MIN_FLOPS * 0.99, 16, 16, 1),
    (threads.TEAM_MIN_FLOPS, 2, 2, 1),    # 2 cores: half is one thread, whatever the work
    (threads.TEAM_MIN_FLOPS, 8, 8, 4),    # half the cores for large work
    (1e12, 3, 8, 3),                      # torch's count (OMP_NUM_THREADS) caps it
    (1e12, 16, 3, 1), (1e12, 16, 5, 2),
])
def test_count_comes_from_the_work_and_the_cores(flops, bound, cores, expected):
    assert threads.for_work(flops, bound, cores) == expected


def test_the_policy_never_reads_the_load(monkeypatch):
    """No /proc reading is left to change a count: the module has no load readers."""
    for name in ("_runnable_others", "_machine_busy_seconds", "AdaptiveThreads"):
        assert not hasattr(threads, name)


def test_dense_flops_are_the_layers_multiply_adds():
    model = build_model(ModelConfig(16, hidden=(8,), code_size=4), seed=0)
    # 16->8->4->8->16: 128 + 32 + 32 + 128 multiply-adds, 2 FLOPs each
    assert threads.forward_flops_per_row(model, 16) == 2 * 320
    assert threads.training_flops(model, 16, 32) == 3 * 2 * 320 * 32


@pytest.mark.parametrize("decoder", ["transpose", "upsample", "unpool"])
def test_conv_flops_match_torchs_counter(decoder):
    model = build_model(ModelConfig(1 * 12 * 12, architecture="conv", hidden=(4, 8),
                                    code_size=6, image_shape=(1, 12, 12), decoder=decoder),
                        seed=0).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 144))
    ours = threads.forward_flops_per_row(model, 144)
    assert ours == pytest.approx(counter.get_total_flops(), rel=0.01)
    assert model.training is False


def test_counting_leaves_the_rng_and_mode_alone():
    model = build_model(ModelConfig(12, hidden=(8,), code_size=2, variational=True), seed=0)
    model.train()
    state = torch.get_rng_state()
    assert threads.forward_flops_per_row(model, 12) > 0
    assert torch.equal(torch.get_rng_state(), state) and model.training


def test_small_work_trains_on_one_thread_and_records_it(two_threads, monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    seen = _seen_threads()
    trainer = _fit(TrainConfig(epochs=2, batch_size=16), callbacks=[seen])
    assert seen.seen == [1, 1] and torch.get_num_threads() == 2
    assert [r["threads"] for r in trainer.result.history] == [1, 1]


def test_large_work_gets_half_the_cores(two_threads, monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setattr(threads, "TEAM_MIN_FLOPS", 1.0)
    seen = _seen_threads()
    _fit(TrainConfig(epochs=1, batch_size=16), callbacks=[seen])
    assert seen.seen == [2] and torch.get_num_threads() == 2


def test_fixed_count_from_config_and_environment(two_threads, monkeypatch):
    seen = _seen_threads()
    _fit(TrainConfig(epochs=2, batch_size=16, threads=2), callbacks=[seen])
    assert seen.seen == [2, 2]
    monkeypatch.setenv(threads.ENV, "2")
    seen = _seen_threads()
    trainer = _fit(TrainConfig(epochs=1, batch_size=16), callbacks=[seen])
    assert seen.seen == [2] and trainer.result.history[0]["threads"] == 2
    # the config's count wins over the environment's
    seen = _seen_threads()
    _fit(TrainConfig(epochs=1, batch_size=16, threads=1), callbacks=[seen])
    assert seen.seen == [1] and torch.get_num_threads() == 2


def test_estimator_history_records_the_count(two_threads, monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    X = np.random.RandomState(0).rand(40, 12).astype(np.float32)
    est = StackedAutoencoder(epochs=2, hidden_layer_sizes=(6,), n_components=3,
                             random_state=0).fit(X)
    assert [r["threads"] for r in est.history_] == [1, 1]
    assert torch.get_num_threads() == 2


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


def _conv_model():
    return build_model(ModelConfig(64, architecture="conv", hidden=(4, 8), code_size=None,
                                   image_shape=(1, 8, 8)), seed=0)


def test_inference_count_comes_from_one_chunks_work(two_threads, monkeypatch):
    from aekit.fitted import FittedAutoencoder

    monkeypatch.delenv(threads.ENV, raising=False)
    chosen = []
    original = threads.inference_threads

    def spy(flops):
        cm = original(flops)

        class Wrapped:
            def __enter__(self):
                chosen.append((flops, cm.__enter__()))
                return chosen[-1][1]

            def __exit__(self, *exc):
                return cm.__exit__(*exc)
        return Wrapped()

    monkeypatch.setattr(threads, "inference_threads", spy)
    X = np.random.RandomState(0).rand(600, 64).astype(np.float32)
    for module in (build_model(ModelConfig(64, hidden=(32,), code_size=4), seed=0),
                   _conv_model()):
        fitted = FittedAutoencoder(module)
        small = fitted.reconstruct(X)
        flops, n = chosen[-1]
        assert flops == 64 * threads.forward_flops_per_row(module, 64) and n == 1
        assert torch.get_num_threads() == 2
        monkeypatch.setattr(threads, "available_cores", lambda: 4)
        monkeypatch.setattr(threads, "TEAM_MIN_FLOPS", 1.0)
        pools, make_pool = [], threads.worker_pool
        monkeypatch.setattr(threads, "worker_pool",
                            lambda n: pools.append(n) or make_pool(n))
        before = len(chosen)
        big = fitted.reconstruct(X)
        # Above the bar the chunks are the shards: 4 cores, capped by torch's count of 2
        # workers, each on one intra-op thread, so the numbers are one thread's exactly.
        assert pools == [2] and len(chosen) == before
        np.testing.assert_array_equal(small, big)
        assert torch.get_num_threads() == 2
        monkeypatch.setenv(threads.ENV, "1")  # a fixed count caps the workers too
        pools.clear()
        fitted.reconstruct(X)
        assert pools == [] and chosen[-1][1] == 1
        monkeypatch.undo()
        monkeypatch.setattr(threads, "inference_threads", spy)
        monkeypatch.delenv(threads.ENV, raising=False)


@pytest.mark.parametrize("kind", ["stacked", "conv", "vae", "classifier", "segmenter"])
def test_n_threads_governs_fit_and_every_later_call(two_threads, monkeypatch, kind):
    """The estimator keyword: fit's count (recorded in history_) and the count of the
    inference its methods run; torch's count is back after each call."""
    import aekit

    monkeypatch.delenv(threads.ENV, raising=False)
    seen = []
    original = threads.training_threads

    def spy(fixed, flops, shards=1):
        seen.append(threads.requested(fixed))
        return original(fixed, flops, shards)

    monkeypatch.setattr(threads, "training_threads", spy)
    rng = np.random.RandomState(0)
    X = rng.rand(24, 64).astype(np.float32)
    small = dict(epochs=1, n_threads=2, random_state=0)
    if kind == "segmenter":
        est = aekit.ConvSegmenter(channels=(2,), **small)
        est.fit(X.reshape(-1, 8, 8), (X.reshape(-1, 8, 8) > 0.5).astype(np.int64))
        calls = [lambda: est.predict(X.reshape(-1, 8, 8))]
    else:
        cls = {"stacked": aekit.StackedAutoencoder, "conv": aekit.ConvAutoencoder,
               "vae": aekit.VariationalAutoencoder, "classifier": aekit.AutoencoderClassifier}
        extra = {"conv": {"channels": (2,), "image_shape": (8, 8)},
                 "classifier": {"pretrain_epochs": 1, "head_epochs": 1,
                                "finetune_epochs": 1}}.get(kind, {"hidden_layer_sizes": (4,)})
        if kind == "classifier":
            small.pop("epochs")
        est = cls[kind](**small, **extra)
        est.fit(X, np.arange(24) % 2) if kind == "classifier" else est.fit(X)
        calls = [lambda: est.predict(X)] if kind == "classifier" else \
            [lambda: est.transform(X), lambda: est.score_samples(X)]
    assert est.history_[-1]["threads"] == 2
    for call in calls:
        seen.clear()
        call()
        assert seen and set(seen) == {2}, seen
        assert torch.get_num_threads() == 2
    est.set_params(n_threads=None)
    seen.clear()
    calls[0]()
    assert seen and set(seen) == {None}  # the policy again: the keyword is read per call


def test_n_threads_is_validated_before_any_work():
    from aekit import StackedAutoencoder

    with pytest.raises(ConfigError, match="n_threads"):
        StackedAutoencoder(n_threads=0).fit(np.zeros((4, 3)))


def test_cli_n_threads_governs_every_call_of_the_run(two_threads, monkeypatch, tmp_path):
    """``aekit train --n-threads 2``: training, the metrics and the report after it all
    run at 2 (one context, threads.for_calls, as the estimators' keyword), without
    touching $AEKIT_NUM_THREADS; the policy is back after the run."""
    from sklearn.datasets import load_digits

    from aekit.cli import main

    monkeypatch.delenv(threads.ENV, raising=False)
    seen = []
    original = threads.training_threads

    def spy(fixed, flops, shards=1):
        assert threads.ENV not in os.environ  # a context, not the process's environment
        seen.append(threads.requested(fixed))
        return original(fixed, flops, shards)

    monkeypatch.setattr(threads, "training_threads", spy)
    data = tmp_path / "digits.csv"
    np.savetxt(data, load_digits().data[:60], delimiter=",", fmt="%d")
    assert main(["train", "--data", str(data), "--model", "stacked", "--epochs", "1",
                 "--hidden-layer-sizes", "8", "--n-threads", "2", "--eval-rows", "30",
                 "--out", str(tmp_path / "run")]) == 0
    assert len(seen) > 2 and set(seen) == {2}, seen  # training and every later call
    assert threads.requested(None) is None
