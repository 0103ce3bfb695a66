"""The pretrained models shipped in the package: they load with today's code as ordinary
fitted estimators, reproduce the test MSE their provenance records, and the records say
truthfully how they were made (the retrain script's commands, the files' hashes)."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

import aekit
import aekit.pretrained as pretrained
from aekit.cli import main
from aekit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {"fashion-mnist-stacked-30", "fashion-mnist-conv", "fashion-mnist-vae-2",
            "fashion-mnist-vae-16"}  # and at least one digits model
MAX_BYTES = 8 * 2**20
NAMES = pretrained.list()


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("retrain_pretrained")


def _data_available(name: str) -> bool:
    from aekit.datasets import available

    return next(r for r in available() if r.name == name).local


def _by_data(names):
    """Fashion-MNIST models as slow params (10 000 test rows each)."""
    return [pytest.param(n, marks=pytest.mark.slow) if n.startswith("fashion") else n
            for n in names]


def test_the_issue_s_models_are_shipped_within_the_size_limit():
    assert REQUIRED <= set(NAMES)
    assert any(n.startswith("digits") for n in NAMES)
    total = sum(p.stat().st_size for p in pretrained.models_dir().rglob("*") if p.is_file())
    assert total <= MAX_BYTES, f"{total / 2**20:.2f} MiB"
    for name in NAMES:
        files = {p.name for p in pretrained.path(name).iterdir()}
        assert {"config.json", "model.safetensors", "provenance.json"} <= files, name
        assert not any(f.endswith((".pt", ".pth", ".pkl", ".bin")) for f in files)


@pytest.mark.parametrize("name", NAMES)
def test_provenance_names_the_command_commit_and_metrics(name, script):
    record = pretrained.info(name)
    assert record["name"] == name
    assert re.fullmatch(r"[0-9a-f]{40}", record["commit"])
    argv = shlex.split(record["command"])
    assert argv[:2] == ["aekit", "train"] and argv[-2:] == ["--out", "RUN"]
    # The command is what the retrain script runs today.
    assert record["command"] == "aekit " + shlex.join(script.command_of(name))
    # ... and today's CLI still accepts every flag of it, with the values it records.
    from aekit.cli import build_parser

    args = build_parser().parse_args(argv[1:])
    assert args.data == record["data"]["name"]
    metrics = record["test_metrics"]
    assert metrics["mse"] < record["pca_test_metrics"]["mse"]  # below PCA at the code size
    assert record["evaluated_on"] == "test split"
    # The files are the ones the record was written for.
    folder = pretrained.path(name)
    for fname, digest in record["files"].items():
        assert hashlib.sha256((folder / fname).read_bytes()).hexdigest() == digest, fname


@pytest.mark.parametrize("name", NAMES)
def test_loads_as_an_ordinary_fitted_estimator(name):
    from aekit.cli.options import estimator_class

    est = pretrained.load(name)
    record = pretrained.info(name)
    argv = shlex.split(record["command"])
    assert type(est) is estimator_class(argv[argv.index("--model") + 1])
    assert est.fitted_.code_size == record["test_metrics"]["code_size"]
    # the same object as loading the folder by hand
    by_path = aekit.load(pretrained.path(name))
    X = np.random.default_rng(0).random((3, est.n_features_in_)).astype(np.float32)
    np.testing.assert_array_equal(est.transform(X), by_path.transform(X))
    assert est.inverse_transform(est.transform(X)).shape == X.shape
    assert np.isfinite(est.score_samples(X)).all()


@pytest.mark.parametrize("name", _by_data(NAMES))
def test_reproduces_the_recorded_test_mse(name):
    from aekit.datasets import load
    from aekit.evaluation import evaluate_reconstruction

    record = pretrained.info(name)
    data = record["data"]["name"]
    if not _data_available(data):
        pytest.skip(f"{data} is not on this machine (its files are not bundled and this test "
                    "does not download); digits models are checked everywhere")
    X = load(data, split="test").X[:record["eval_rows"]]
    assert len(X) == record["eval_rows"]
    mse = evaluate_reconstruction(pretrained.load(name), X)["mse"]
    assert abs(mse - record["test_metrics"]["mse"]) <= 1e-6, (mse, record["test_metrics"]["mse"])


def test_unknown_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="no pretrained model 'nope'.*digits"):
        pretrained.load("nope")
    with pytest.raises(ConfigError, match="no pretrained model"):
        pretrained.info("../cli")


# --- CLI -------------------------------------------------------------------------------------
def test_cli_lists_every_model(capsys):
    assert main(["pretrained"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        line = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert f"{pretrained.info(name)['test_metrics']['mse']:.4g}" in line
    assert main(["pretrained", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == NAMES


def test_cli_shows_one_model_s_provenance(capsys):
    name = NAMES[0]
    assert main(["pretrained", name]) == 0
    out = capsys.readouterr().out
    assert pretrained.info(name)["command"] in out and pretrained.info(name)["commit"] in out


def test_cli_copies_a_model_out_for_the_other_subcommands(tmp_path, capsys):
    name = "digits-stacked-8"
    out = tmp_path / "model"
    assert main(["pretrained", name, "--out", str(out)]) == 0
    from aekit.datasets import load

    X = load("digits", split="test").X[:20]
    codes = tmp_path / "codes.npy"
    assert main(["encode", str(out), "--data", "digits", "--split", "test", "--max-rows", "20",
                 "--out", str(codes)]) == 0
    np.testing.assert_array_equal(np.load(codes), pretrained.load(name).transform(X))
    capsys.readouterr()
    # never over an existing folder; unknown names and a stray --out are one-line errors
    assert main(["pretrained", name, "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["pretrained", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no pretrained model 'nope'" in err
    assert main(["pretrained", "--out", str(tmp_path / "x")]) == 2
    assert "needs a NAME" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# --- the retrain script ----------------------------------------------------------------------
def test_retrain_script_prints_the_recorded_commands(capsys, script):
    assert script.main(["--print-commands"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert f"{name}: {pretrained.info(name)['command']}" in out


@pytest.mark.slow
def test_retrain_script_writes_a_loadable_model_with_provenance(tmp_path, script):
    """Retrain the smallest model into a scratch folder: a folder like the shipped one."""
    name = "digits-stacked-8"
    assert script.main(["--only", name, "--dest", str(tmp_path)]) == 0
    record = json.loads((tmp_path / name / "provenance.json").read_text())
    assert record["command"] == pretrained.info(name)["command"]
    est = aekit.load(tmp_path / name)
    from aekit.datasets import load
    from aekit.evaluation import evaluate_reconstruction

    X = load("digits", split="test").X
    assert abs(evaluate_reconstruction(est, X)["mse"] - record["test_metrics"]["mse"]) <= 1e-6
