"""Resume is exact in every ending, and refuses what it cannot honour (named, one line)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aekit.cli import main
from aekit.errors import ConfigError

BASE = ["--model", "stacked", "--data", "digits", "--max-rows", "200", "--epochs", "3",
        "--n-components", "3", "--hidden-layer-sizes", "8", "--batch-size", "32",
        "--random-state", "0", "--no-report"]


@pytest.fixture()
def run(tmp_path):
    out = tmp_path / "run"
    assert main(["train", *BASE, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("change, named", [
    (["--learning-rate", "0.5"], "learning_rate: 0.005 -> 0.5"),
    (["--batch-size", "64"], "batch_size: 32 -> 64"),
    (["--max-rows", "150"], "max_rows: 200 -> 150"),
    (["--random-state", "1"], "random_state: 0 -> 1"),
    (["--noise", "gaussian", "--noise-level", "0.1"], "noise: None -> 'gaussian'"),
])
def test_resume_with_another_option_is_refused_naming_it(run, capsys, change, named):
    before = (run / "config.resolved.json").read_text()
    argv = [*BASE, *change]
    assert main(["train", *argv, "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0], err
    assert (run / "config.resolved.json").read_text() == before  # still what ran


def test_resume_with_the_same_options_keeps_the_finished_run(run):
    weights = (run / "model" / "model.safetensors").read_bytes()
    assert main(["train", *BASE, "--out", str(run), "--resume"]) == 0
    assert (run / "model" / "model.safetensors").read_bytes() == weights
    history = json.loads((run / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2, 3]


def test_the_library_refuses_a_checkpoint_of_other_data_or_options(tmp_path):
    from aekit.estimators import StackedAutoencoder

    X = np.random.default_rng(0).random((64, 12)).astype(np.float32)
    make = lambda **kw: StackedAutoencoder(3, hidden_layer_sizes=(6,), epochs=2,  # noqa: E731
                                           random_state=0, **kw)
    make().fit(X, checkpoint_dir=tmp_path / "c")
    with pytest.raises(ConfigError, match="other rows than the checkpoint"):
        make().fit(X[::-1].copy(), checkpoint_dir=tmp_path / "c", resume=True)
    with pytest.raises(ConfigError, match=r"training.weight_decay: [0-9.e-]+ -> 0.1"):
        make(weight_decay=0.1).fit(X, checkpoint_dir=tmp_path / "c", resume=True)
    make().fit(X, checkpoint_dir=tmp_path / "c", resume=True)  # the same run: fine
