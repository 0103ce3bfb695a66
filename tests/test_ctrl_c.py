"""Ctrl-C at any point of ``aekit train`` exits at once, cleanly (issue 27), under the
suite's workers too: a real child process is paused at a handshake point
(``AEKIT_TEST_PAUSE_AT``, ``aekit.training.checkpoint.pause_point_for_tests``), gets SIGINT,
and must exit 130 with one line on stderr, no traceback and nothing half-written: mid-epoch
before any checkpoint (a fresh run leaves no folder), right after a checkpoint (the message
names its epoch, and --resume finishes the run), and while the outputs are written (the
staging folder is removed, the checkpoint kept)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest


def ctrl_c_default():
    """Popen's preexec_fn: the child's SIGINT back to its default. A suite started as a
    background job (nohup, a CI runner without job control) leaves SIGINT ignored, every
    child inherits that, and Python then installs no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

ARGS = ["--model", "stacked", "--data", "digits", "--epochs", "3", "--batch-size", "64",
        "--n-components", "4", "--hidden-layer-sizes", "16", "--random-state", "0",
        "--no-report", "--eval-rows", "50", "--n-threads", "1"]
POINTS = {
    "step:3": "before the first checkpoint was written",  # the 3rd of 23 steps, epoch 1
    "checkpoint:2": "interrupted after epoch 2",
    "outputs:1": "while writing outputs; training finished",
}
EXIT_WITHIN_S = 60  # bounds a hang only: a clean exit takes well under a second


@pytest.mark.slow
@pytest.mark.parametrize("point", list(POINTS))
def test_ctrl_c_at_each_handshake_point_exits_cleanly(point, tmp_path, wait_for_handshake):
    out, flag = tmp_path / "run", tmp_path / "flag"
    env = {**os.environ, "AEKIT_TEST_PAUSE_AT": point, "AEKIT_TEST_PAUSE_FILE": str(flag)}
    proc = subprocess.Popen([sys.executable, "-m", "aekit", "train", *ARGS, "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_default)
    try:
        wait_for_handshake(proc, flag)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=EXIT_WITHIN_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == 1 and POINTS[point] in lines[0], lines
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("run", "flag.reached")]
    assert leftovers == []  # no staging folder or temporary file beside the run
    if point.startswith("step"):
        assert not out.exists()  # a fresh run interrupted before its first checkpoint
        return
    assert (out / "checkpoints").is_dir() and not (out / "model").exists()
    resumed = subprocess.run([sys.executable, "-m", "aekit", "train", *ARGS, "--out",
                              str(out), "--resume"], capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert len(json.loads((out / "history.json").read_text())) == 3
