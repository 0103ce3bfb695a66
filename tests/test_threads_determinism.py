"""The same seed gives bit-identical weights on a quiet and on a busy machine, for every
model kind, with aekit's default thread policy (aekit.training.threads: the count comes
from the work, never the load). Real processes, no mocks: a child trains every kind and
prints a hash of each one's weights, once alone and once beside spinning processes the
test starts and stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

CHILD = r"""
import hashlib, json, sys
import numpy as np
import torch
import aekit
from aekit.datasets import load
from aekit.datasets.scenes import make_scenes

digits = load("digits")
X, y = digits.X[:256], digits.y[:256]
y_few = np.where(np.arange(len(y)) % 8 == 0, y, -1)
S, M = make_scenes(digits.X.reshape(-1, 8, 8), digits.y, 16, canvas=(20, 20),
                   random_state=0)
W = np.random.RandomState(0).rand(512, 784).astype(np.float32)  # MKL splits these GEMMs
fits = {
    "stacked-784": lambda: aekit.StackedAutoencoder(30, hidden_layer_sizes=(100,), epochs=1,
                                                    batch_size=128, random_state=0).fit(W),
    "linear-svd": lambda: aekit.LinearAutoencoder(4).fit(X),
    "linear-gradient": lambda: aekit.LinearAutoencoder(4, epochs=2, random_state=0).fit(X),
    "stacked": lambda: aekit.StackedAutoencoder(4, hidden_layer_sizes=(32,), epochs=2,
                                                noise="gaussian", random_state=0).fit(X),
    "stacked-greedy": lambda: aekit.StackedAutoencoder(
        4, hidden_layer_sizes=(32,), epochs=2, pretraining="greedy", random_state=0).fit(X),
    "conv": lambda: aekit.ConvAutoencoder(n_components=4, channels=(8, 16), image_shape=(8, 8),
                                          epochs=2, random_state=0).fit(X),
    # large enough work to run as one shard per core (aekit.training.steps.ShardedStep)
    "conv-sharded": lambda: aekit.ConvAutoencoder(epochs=1, random_state=0).fit(X),
    "segmenter-sharded": lambda: aekit.ConvSegmenter(channels=(16, 32), epochs=1,
                                                     batch_size=32, random_state=0).fit(S, M),
    "vae": lambda: aekit.VariationalAutoencoder(2, hidden_layer_sizes=(32,), epochs=2,
                                                random_state=0).fit(X),
    "classifier": lambda: aekit.AutoencoderClassifier(
        4, method="pretrain", hidden_layer_sizes=(32,), pretrain_epochs=2, head_epochs=2,
        finetune_epochs=2, random_state=0).fit(X, y_few),
    "classifier-ladder": lambda: aekit.AutoencoderClassifier(
        method="ladder", hidden_layer_sizes=(32, 16), joint_epochs=2,
        random_state=0).fit(X, y_few),
    "classifier-m2": lambda: aekit.AutoencoderClassifier(
        method="m2", hidden_layer_sizes=(32,), joint_epochs=2, random_state=0).fit(X, y_few),
    "segmenter": lambda: aekit.ConvSegmenter(channels=(4, 8), epochs=2, batch_size=8,
                                             random_state=0).fit(S, M),
}
out = {"torch_threads": torch.get_num_threads(), "shards": {}}
for name, fit in fits.items():
    est = fit()
    out["shards"][name] = est.history_[-1].get("shards")
    h = hashlib.sha256()
    for k, v in sorted(est.module_.state_dict().items()):
        h.update(k.encode()); h.update(v.detach().contiguous().numpy().tobytes())
    for k, v in sorted((getattr(est, "head_", None) or torch.nn.Identity()).state_dict().items()):
        h.update(k.encode()); h.update(v.detach().contiguous().numpy().tobytes())
    out[name] = h.hexdigest()
print(json.dumps(out))
"""


def _child_hashes() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "AEKIT_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_kind_gives_the_same_weights_quiet_and_beside_busy_processes():
    quiet = _child_hashes()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(2)]
    try:
        busy = _child_hashes()
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    assert quiet["torch_threads"] == busy["torch_threads"]
    if os.cpu_count() > 1:  # the sharded fits really ran on slices
        assert quiet["shards"]["conv-sharded"] > 1 and quiet["shards"]["segmenter-sharded"] > 1
    assert quiet["shards"]["conv"] == 1
    differ = [k for k in quiet if quiet[k] != busy[k]]
    assert not differ, f"weights differ beside busy processes: {differ}"
