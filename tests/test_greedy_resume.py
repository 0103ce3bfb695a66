"""Greedy layer-wise training through ``aekit train``: checkpointed per phase, resumable after
a kill mid-schedule, and an early-stopped run stays stopped on ``--resume``.

The kill lands at a known point through the checkpoint handshake
(``aekit.training.checkpoint.pause_point_for_tests``): the child writes ``FLAG.reached`` after its
N-th checkpoint and waits; the test kills it then. No guessed delays.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

import aekit
from aekit.cli import main

GREEDY = ["--model", "stacked", "--data", "digits", "--max-rows", "300", "--pretraining",
          "greedy", "--pretrain-epochs", "2", "--epochs", "2", "--batch-size", "32",
          "--hidden-layer-sizes", "16", "--n-components", "4", "--random-state", "0",
          "--no-report"]


def _weights(run: Path) -> dict:
    return load_file(str(run / "model" / "model.safetensors"))


def test_greedy_trains_through_the_cli(tmp_path):
    """It used to fail always: the CLI checkpoints and greedy training could not."""
    assert main(["train", *GREEDY, "--out", str(tmp_path / "g")]) == 0
    phases = sorted(p.name for p in (tmp_path / "g" / "checkpoints").iterdir())
    assert phases == ["fine-tune", "layer-1", "layer-2"]
    est = aekit.load(tmp_path / "g")
    assert est.n_iter_ == 2  # the fine-tuning epochs
    assert len(json.loads((tmp_path / "g" / "history.json").read_text())) == 2


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [1, 3, 5])  # in layer-1, in layer-2, in fine-tune
def test_greedy_resume_after_sigkill_is_bit_identical(tmp_path, kill_after, train_killed_at):
    ref, run = tmp_path / "ref", tmp_path / "run"
    assert main(["train", *GREEDY, "--out", str(ref)]) == 0
    train_killed_at(GREEDY, run, kill_after, tmp_path / "flag")
    assert not (run / "model").exists()  # killed mid-schedule: no model yet
    assert main(["train", *GREEDY, "--out", str(run), "--resume"]) == 0
    a, b = _weights(ref), _weights(run)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k].numpy(), b[k].numpy()), k
    h_ref = json.loads((ref / "history.json").read_text())
    h_run = json.loads((run / "history.json").read_text())
    assert [r["loss"] for r in h_ref] == [r["loss"] for r in h_run]


def test_an_early_stopped_run_stays_stopped_on_resume(tmp_path):
    """Resuming a run that early stopping had ended used to train on to ``epochs``."""
    args = ["--model", "stacked", "--data", "digits", "--max-rows", "200", "--epochs", "40",
            "--early-stopping", "1", "--validation-fraction", "0.3", "--learning-rate", "0.05",
            "--batch-size", "16", "--random-state", "0", "--no-report",
            "--out", str(tmp_path / "r")]
    assert main(["train", *args]) == 0
    first = json.loads((tmp_path / "r" / "history.json").read_text())
    assert len(first) < 40  # it did stop early
    before = _weights(tmp_path / "r")
    assert main(["train", *args, "--resume"]) == 0
    again = json.loads((tmp_path / "r" / "history.json").read_text())
    assert len(again) == len(first)
    after = _weights(tmp_path / "r")
    assert all(np.array_equal(before[k].numpy(), after[k].numpy()) for k in before)
