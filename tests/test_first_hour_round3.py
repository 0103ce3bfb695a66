"""Issue 28, the first hour (third round): what a new user tripped on, each fixed and held.

- ``aekit train --model classifier --epochs N`` works: N epochs for each of the three phases
  that is not set on its own (flag or config file), recorded as the three;
- ``aekit compress``/``decompress`` print the model's own reconstruction PSNR, the ceiling
  no quality passes (quality once stopped paying past ~40-60 with no hint);
- ``import aekit; aekit.pretrained.list()`` works (tests/test_integrity.py covers every
  subpackage).
"""

from __future__ import annotations

import json
import re

import pytest

import aekit
from aekit.cli import main

QUICK = ["--data", "digits", "--max-rows", "150", "--n-components", "4",
         "--hidden-layer-sizes", "8", "--no-report", "--eval-rows", "40"]


def _phases(out):
    params = json.loads((out / "config.resolved.json").read_text())["params"]
    return [params[k] for k in ("pretrain_epochs", "head_epochs", "finetune_epochs",
                                "joint_epochs")]


@pytest.mark.parametrize("extra,expected", [
    ([], [1, 1, 1, 1]),
    (["--head-epochs", "2"], [1, 2, 1, 1]),
    (["--pretrain-epochs", "0", "--finetune-epochs", "3"], [0, 1, 3, 1]),
])
def test_classifier_epochs_sets_every_phase_not_set_on_its_own(extra, expected, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--model", "classifier", "--method", "pretrain", "--epochs", "1",
                 *extra, *QUICK, "--out", str(out)]) == 0
    assert _phases(out) == expected
    params = aekit.load(out).get_params()  # what the saved classifier was built with
    assert [params[k] for k in ("pretrain_epochs", "head_epochs", "finetune_epochs",
                                "joint_epochs")] == expected


def test_classifier_epochs_in_a_config_file(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('model = "classifier"\nmethod = "pretrain"\nepochs = 1\n'
                      'head_epochs = 2\n')
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), *QUICK, "--out", str(out)]) == 0
    assert _phases(out) == [1, 2, 1, 1]


@pytest.fixture(scope="module")
def stacked_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("c") / "run"
    assert main(["train", "--model", "stacked", "--epochs", "3", *QUICK, "--out",
                 str(out)]) == 0
    return out


@pytest.mark.parametrize("quality", [10, 60, 100])
def test_compress_says_where_quality_stops_paying(stacked_run, quality, tmp_path, capsys):
    from aekit.datasets import load

    stream = tmp_path / "s.aekz"
    assert main(["compress", str(stacked_run), "--data", "digits", "--max-rows", "50",
                 "--quality", str(quality), "--out", str(stream)]) == 0
    line = capsys.readouterr().out
    got = float(re.search(r"PSNR ([\d.]+) dB", line).group(1))
    ceiling = float(re.search(r"reconstructs at ([\d.]+) dB", line).group(1))
    X = load("digits", split="test").X[:50]
    from aekit.applications.compression import psnr

    est = aekit.load(stacked_run)
    assert ceiling == pytest.approx(psnr(X, est.fitted_.reconstruct(X)), abs=0.006)
    assert got <= ceiling + 0.05  # quantised codes never beat the model's own output
    assert main(["decompress", str(stacked_run), str(stream), "--data", "digits",
                 "--max-rows", "50", "--out", str(tmp_path / "r.npy")]) == 0
    assert f"reconstructs at {ceiling:.2f} dB" in capsys.readouterr().out
