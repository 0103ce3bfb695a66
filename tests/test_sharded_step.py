"""Sharded steps (aekit.training.steps.ShardedStep): a step big enough to gain from more
than one core runs as fixed slices of its batch, one thread each. The shard count comes
from the work and the cores, never the load or the thread count; the summed gradient is
the whole batch's; the weights are the same for any number of worker threads; warm starts
and resumes stay exact; objectives with a whole-batch statistic are never sharded."""

import threading

import numpy as np
import pytest
import torch

from aekit.losses import CrossEntropy, Objective
from aekit.models import ModelConfig, build_model
from aekit.training import TrainConfig, Trainer, steps, threads
from aekit.io.rows import make_source


@pytest.fixture
def shard_everything(monkeypatch):
    """Every step counts as large work on a 2-core machine: two shards."""
    monkeypatch.delenv(threads.ENV, raising=False)
    monkeypatch.setattr(threads, "TEAM_MIN_FLOPS", 1.0)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)


@pytest.mark.parametrize("flops, batch, cores, expected", [
    (threads.TEAM_MIN_FLOPS * 0.99, 256, 8, 1),  # small work: one slice
    (threads.TEAM_MIN_FLOPS, 256, 2, 2),          # one slice per core
    (threads.TEAM_MIN_FLOPS, 256, 8, 8),
    (1e12, 8, 8, 2),                              # each slice keeps >= SHARD_MIN_ROWS rows
    (1e12, 7, 8, 1),
])
def test_shards_come_from_the_work_the_batch_and_the_cores(flops, batch, cores, expected):
    assert threads.shards_for(flops, batch, cores) == expected


def _conv(seed=0):
    return build_model(ModelConfig(64, architecture="conv", hidden=(4, 8), code_size=3,
                                   image_shape=(1, 8, 8)), seed=seed)


def _dense(seed=0):
    return build_model(ModelConfig(12, hidden=(8,), code_size=3), seed=seed)


def _grads(step, source, idx):
    step(source, idx, torch.Generator().manual_seed(0), 0)
    return [p.grad.clone() for p in step.params]


OBJECTIVES = {
    "mse": (_conv, Objective()),
    "bce": (_conv, Objective(reconstruction="bce")),
    "l1 sparsity": (_dense, Objective(sparsity="l1", sparsity_weight=0.1)),
}


@pytest.mark.parametrize("name", OBJECTIVES)
@pytest.mark.parametrize("rows", [37, 64])  # uneven and even slices
def test_sharded_gradient_is_the_whole_batch_gradient(name, rows):
    make, objective = OBJECTIVES[name]
    model = make()
    X = torch.rand(rows, model.config.n_features)
    source, idx = make_source(X), torch.arange(rows)
    whole = steps.AutogradStep(model, objective, host=True)
    expected = _grads(whole, source, idx)
    keys, values, n = whole(source, idx, torch.Generator().manual_seed(0), 0)
    for shards in (2, 3):
        with steps.sharded(steps.AutogradStep(model, objective, host=True), shards, 2) as step:
            got = _grads(step, source, idx)
            keys2, values2, n2 = step(source, idx, torch.Generator().manual_seed(0), 0)
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        assert keys2 == keys and n2 == n
        np.testing.assert_allclose(values2, values, rtol=1e-5)


@pytest.mark.parametrize("weighted", [False, True])
def test_class_weighted_cross_entropy_shards_add_up_to_the_batch(weighted):
    """A segmenter's median-frequency weights: sum_i w_yi l_i / sum_i w_yi over the whole
    batch, not the mean of the slices' weighted means."""
    from aekit.io.rows import LabelledSource

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 8, 8)),
                              torch.nn.Conv2d(1, 3, 3, padding=1))
    objective = CrossEntropy([0.2, 1.0, 5.0] if weighted else None)
    X = torch.rand(30, 64)
    masks = torch.zeros(30, 8, 8, dtype=torch.long)
    masks[:5] = 2  # the rare class sits in the first slice only
    masks[5:12, :4] = 1
    source, idx = LabelledSource(make_source(X), masks), torch.arange(30)
    expected = _grads(steps.AutogradStep(net, objective, host=True), source, idx)
    with steps.sharded(steps.AutogradStep(net, objective, host=True), 2, 2) as step:
        got = _grads(step, source, idx)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def _fit(threads_=None, epochs=2, trainer=None, objective=None, model=None, until=None):
    model = model or _conv()
    X = np.random.RandomState(0).rand(96, 64).astype(np.float32)
    trainer = trainer or Trainer(model, objective or Objective(noise="mask", noise_level=0.2),
                                 TrainConfig(epochs=epochs, batch_size=32, seed=3,
                                             threads=threads_))
    trainer.fit(X, until=until)
    return trainer


def _weights(trainer):
    return [p.detach().clone() for p in trainer.model.parameters()]


def test_weights_are_the_same_for_any_number_of_worker_threads(shard_everything):
    """Noise included: each slice draws from its own generator, seeded by the loop's."""
    one, two = _fit(threads_=1), _fit(threads_=2)
    assert [r["shards"] for r in one.result.history] == [2, 2]
    assert [r["threads"] for r in one.result.history] == [1, 1]
    assert [r["threads"] for r in two.result.history] == [2, 2]
    for a, b in zip(_weights(one), _weights(two)):
        assert torch.equal(a, b)
    default = _fit()
    for a, b in zip(_weights(default), _weights(two)):
        assert torch.equal(a, b)


def test_warm_start_equals_one_fit(shard_everything):
    whole = _fit(epochs=3)
    trainer = Trainer(_conv(), Objective(noise="mask", noise_level=0.2),
                      TrainConfig(epochs=3, batch_size=32, seed=3))
    for until in (1, 2, 3):
        _fit(trainer=trainer, until=until)
    for a, b in zip(_weights(whole), _weights(trainer)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("objective", [
    Objective(sparsity="kl", sparsity_weight=0.1),  # the batch's mean activation
    Objective(rate_weight=0.01),                     # a Gaussian fitted to the batch's codes
    Objective(noise="gaussian", noise_level=0.1),    # clipped when the batch lies in [0, 1]
], ids=["kl-sparsity", "rate", "gaussian-noise"])
def test_whole_batch_statistics_are_never_sharded(shard_everything, objective):
    trainer = _fit(objective=objective, epochs=1)
    assert trainer.result.history[0]["shards"] == 1


def test_small_work_is_not_sharded(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    trainer = _fit(epochs=1)
    assert trainer.result.history[0]["shards"] == 1 and trainer.threads_used == 1


def test_workers_flush_denormals_and_are_gone_after_the_fit(shard_everything):
    seen = []

    class Spy(Objective):
        def __call__(self, model, x, **kw):
            seen.append((threading.get_ident(), threads.flushing_denormals(),
                         torch.get_num_threads()))
            return super().__call__(model, x, **kw)

    before = threading.active_count()
    _fit(objective=Spy(), epochs=1, threads_=2)
    assert threading.active_count() == before  # the pool was shut down
    assert len(seen) == 6 and all(flush and n == 1 for _, flush, n in seen)
    assert len({ident for ident, _, _ in seen}) == 2  # two workers really ran


def test_torchs_count_caps_the_workers_not_the_shards(shard_everything):
    """OMP_NUM_THREADS=1 (or torch.set_num_threads(1)) before a fit: the same two shards,
    run one after the other on one thread, so the same weights."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        capped = _fit()
    finally:
        torch.set_num_threads(before)
    assert capped.result.history[-1]["shards"] == 2 and capped.threads_used == 1
    for a, b in zip(_weights(capped), _weights(_fit(threads_=2))):
        assert torch.equal(a, b)
