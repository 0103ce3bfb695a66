"""Crash and resume through the real CLI process.

``aekit train`` runs in a subprocess and is killed (SIGKILL: no chance to clean up) or
interrupted (SIGINT, Ctrl-C) at a known point: the checkpoint handshake
(``AEKIT_TEST_PAUSE_AT=k``, see ``aekit.training.checkpoint.pause_point_for_tests``) makes the child
write ``FLAG.reached`` once the checkpoint of epoch k is on disk and wait there, before epoch
k + 1 begins; the test signals it then. No guessed delays, so a busy CI machine cannot make the
run finish before the signal lands (the timing version failed that way twice). Then ``--resume``
finishes the run. Checked: the checkpoint left behind is loadable, nothing after it was kept,
SIGINT exits 130 with one line, and the resumed run's final weights are bit-identical to an
uninterrupted run's (CPU, same seed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from aekit.cli import build_parser
from aekit.training import load_checkpoint


def ctrl_c_default():
    """Popen's preexec_fn: the child's SIGINT back to its default. A suite started as a
    background job (nohup, a CI runner without job control) leaves SIGINT ignored, every
    child inherits that, and Python then installs no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

EPOCHS = 6
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif("train" not in build_parser()._subparsers._group_actions[0].choices,
                       reason="aekit train not built yet"),
]


def _cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "aekit", "train", "--model", "stacked", "--data", "digits",
            "--epochs", str(EPOCHS), "--batch-size", "64",
            "--hidden-layer-sizes", "32",
            "--n-components", "4", "--random-state", "0", "--no-report", "--out", str(out),
            *extra]


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _start(out: Path, *extra: str, pause_at: int | None = None) -> subprocess.Popen:
    env = dict(ENV)
    if pause_at is not None:  # the handshake: wait after the checkpoint of epoch pause_at
        env.update(AEKIT_TEST_PAUSE_AT=str(pause_at),
                   AEKIT_TEST_PAUSE_FILE=str(out.with_name(out.name + ".flag")))
    return subprocess.Popen(_cmd(out, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, preexec_fn=ctrl_c_default)


def _checkpointed_epoch(out: Path) -> int:
    path = out / "checkpoints" / "checkpoint.safetensors"
    return load_checkpoint(path)["epoch"] if path.is_file() else 0


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(out / "model" / "model.safetensors")


def _assert_bit_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), f"tensor {k} differs"




def test_sigkill_and_sigint_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path,
                                                                              wait_for_handshake):
    ref_out, kill_out, int_out = tmp_path / "ref", tmp_path / "killed", tmp_path / "interrupted"
    reference = _start(ref_out)
    killed, interrupted = _start(kill_out, pause_at=1), _start(int_out, pause_at=2)
    try:
        # SIGKILL once epoch 1's checkpoint is complete and epoch 2 is next.
        wait_for_handshake(killed, kill_out.with_name(kill_out.name + ".flag"))
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
        assert killed.returncode == -signal.SIGKILL
        assert _checkpointed_epoch(kill_out) == 1  # loadable, not half-written
        assert not (kill_out / "model").exists()

        # SIGINT (Ctrl-C) after epoch 2's checkpoint: a clean exit with one line.
        wait_for_handshake(interrupted, int_out.with_name(int_out.name + ".flag"))
        interrupted.send_signal(signal.SIGINT)
        _, err = interrupted.communicate(timeout=120)
        assert interrupted.returncode == 130, err
        assert "Traceback" not in err
        done = _checkpointed_epoch(int_out)
        assert done == 2
        assert err.strip().splitlines()[-1] == (
            f"aekit train: interrupted after epoch {done}; the checkpoint is in "
            f"{int_out / 'checkpoints'}: rerun the same command with --resume to continue")

        _, ref_err = reference.communicate(timeout=300)
        assert reference.returncode == 0, ref_err
    finally:
        for proc in (reference, killed, interrupted):
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    expected = _weights(ref_out)
    resumes = {out: _start(out, "--resume") for out in (kill_out, int_out)}  # in parallel
    for out, proc in resumes.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        _assert_bit_identical(_weights(out), expected)
        assert load_checkpoint(out / "checkpoints")["epoch"] == EPOCHS
        # The same losses epoch by epoch (only the timings differ).
        assert _losses(out) == _losses(ref_out) and len(_losses(out)) == EPOCHS


def _losses(out: Path) -> list[dict]:
    history = json.loads((out / "history.json").read_text())
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]
