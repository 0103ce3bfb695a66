"""The `aekit` command line, in-process through `aekit.cli.main` on tiny digits runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aekit.cli import build_parser, main
from aekit.cli.options import resolve_train_config

SUBCOMMANDS = ["train", "evaluate", "encode", "decode", "generate", "interpolate", "report",
               "tour", "datasets"]
TINY = ["--data", "digits", "--max-rows", "200", "--epochs", "2", "--batch-size", "64",
        "--random-state", "0", "--n-components", "4", "--hidden-layer-sizes", "16"]


def one_line_error(capsys, word: str = "error") -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert word in err[0]
    return err[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One tiny stacked-AE run shared by the read-only tests."""
    out = tmp_path_factory.mktemp("runs") / "stacked"
    assert main(["train", "--model", "stacked", *TINY, "--out", str(out), "--no-report"]) == 0
    return out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: aekit " + command in capsys.readouterr().out


def test_train_help_lists_every_estimator_option_with_defaults(capsys):
    from aekit.estimators import ESTIMATORS

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for cls in ESTIMATORS.values():
        for name in cls._get_param_names():
            assert "--" + name.replace("_", "-") in text, name
    flat = " ".join(text.split())  # undo argparse's line wrapping
    # epochs per model, as the table gives them (every kind that has the keyword)
    from aekit.estimators.params import TABLE, cli_default_text

    epochs = TABLE["epochs"].defaults
    assert "defaults: " + ", ".join(f"{m}={cli_default_text(v)}"
                                    for m, v in epochs.items()) in flat
    assert {"linear", "stacked", "segmenter"} <= set(epochs) and epochs["segmenter"] == 8


def test_train_writes_the_run_folder(run_dir):
    for name in ("config.resolved.json", "history.json", "metrics.json",
                 "model/config.json", "model/model.safetensors", "checkpoints"):
        assert (run_dir / name).exists(), name
    resolved = json.loads((run_dir / "config.resolved.json").read_text())
    assert resolved["model"] == "stacked" and resolved["params"]["n_components"] == 4
    assert resolved["params"]["hidden_layer_sizes"] == [16]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["model"]["code_size"] == metrics["pca"]["code_size"] == 4
    assert len(json.loads((run_dir / "history.json").read_text())) == 2
    assert not [p for p in run_dir.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_evaluate_encode_decode_generate_interpolate(run_dir, tmp_path, capsys):
    assert main(["evaluate", str(run_dir), "--data", "digits", "--max-rows", "50",
                 "--fit-rows", "200", "--out", str(tmp_path / "m.json")]) == 0
    assert "PCA (k=4)" in capsys.readouterr().out
    assert json.loads((tmp_path / "m.json").read_text())["rows"] == 50

    codes = tmp_path / "codes.npy"
    assert main(["encode", str(run_dir), "--data", "digits", "--max-rows", "30",
                 "--out", str(codes)]) == 0
    Z = np.load(codes)
    assert Z.shape == (30, 4)
    np.savetxt(tmp_path / "rows.csv", np.load(codes).astype(np.float64) * 0, delimiter=",")
    assert main(["encode", str(run_dir / "model"), "--input", str(tmp_path / "rows.csv"),
                 "--out", str(tmp_path / "bad.npy")]) == 2  # 4 values per row, model wants 64
    assert "64" in one_line_error(capsys)

    rows = tmp_path / "rows.npy"
    assert main(["decode", str(run_dir), "--codes", str(codes), "--out", str(rows),
                 "--png", str(tmp_path / "dec.png")]) == 0
    assert np.load(rows).shape == (30, 64)
    assert (tmp_path / "dec.png").read_bytes()[:4] == b"\x89PNG"

    assert main(["generate", str(run_dir), "-n", "7", "--out", str(tmp_path / "s.csv"),
                 "--png", str(tmp_path / "gen.png")]) == 0
    assert np.loadtxt(tmp_path / "s.csv", delimiter=",").shape == (7, 64)

    assert main(["interpolate", str(run_dir), "--data", "digits", "--pair", "0", "5",
                 "--steps", "6", "--out", str(tmp_path / "strip.png")]) == 0
    assert (tmp_path / "strip.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_report_subcommand_writes_a_report(run_dir, tmp_path):
    out = tmp_path / "rep"
    assert main(["report", str(run_dir), "--data", "digits", "--eval-rows", "100",
                 "--fit-rows", "200", "--out", str(out)]) == 0
    html = (out / "index.html").read_text()
    assert "Metrics on the test set" in html and "Configuration" in html
    assert list((out / "figures").glob("*.png"))


@pytest.mark.parametrize("argv, expected", [
    (["train", "--model", "bogus", "--data", "digits"], "valid models: linear, stacked"),
    (["train", "--model", "stacked", "--data", "no-such-set"], "digits, fashion-mnist"),
    (["train", "--model", "linear", "--data", "digits", "--beta", "2"],
     "it is an option of vae, not of linear"),
    (["train", "--model", "stacked", "--data", "digits", "--epochs", "-1"], "epochs"),
    (["train", "--model", "stacked", "--data", "digits", "--hidden-layer-sizes", "a,b"],
     "comma-separated integers"),
    (["evaluate", "MISSING", "--data", "digits"], "no such model folder"),
    (["tour", "--data", "cifar"], "the tour runs on digits, fashion-mnist, mnist"),
])
def test_user_mistakes_give_one_line_errors(argv, expected, tmp_path, capsys):
    argv = [a.replace("MISSING", str(tmp_path / "nope")) for a in argv]
    out = ["--out", str(tmp_path / ("out.json" if argv[0] == "evaluate" else "out"))]
    assert main(argv + out) == 2
    assert expected in one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_bad_config_key_names_it_and_the_valid_keys(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('model = "stacked"\ndata = "digits"\nlearnin_rate = 0.1\n')
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = one_line_error(capsys)
    assert "'learnin_rate'" in err and "learning_rate" in err and "max_rows" in err


def test_output_path_that_is_a_file_is_refused(run_dir, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main(["train", "--model", "stacked", *TINY, "--out", str(taken)]) == 2
    assert "not a folder" in one_line_error(capsys)
    assert main(["encode", str(run_dir), "--data", "digits", "--out", str(tmp_path)]) == 2
    assert "folder" in one_line_error(capsys)
    assert main(["tour", "--data", "digits", "--quick", "--out", str(taken)]) == 2
    assert "not a folder" in one_line_error(capsys)
    assert taken.read_text() == "x"


def test_bad_pair_indices(run_dir, tmp_path, capsys):
    assert main(["interpolate", str(run_dir), "--data", "digits", "--pair", "0", "100000",
                 "--out", str(tmp_path / "s.png")]) == 2
    assert "out of range" in one_line_error(capsys)
    assert not (tmp_path / "s.png").exists()


def test_unwritable_output_folder(run_dir, tmp_path, capsys):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        assert main(["generate", str(run_dir), "--out", str(locked / "s.npy")]) == 2
        assert "not writable" in one_line_error(capsys)
    finally:
        locked.chmod(0o700)


def _resolve(argv):
    return resolve_train_config(build_parser().parse_args(["train", *argv, "--out", "x"]))


def test_config_file_equals_flags_and_flags_override_it(tmp_path):
    flags = ["--model", "vae", "--data", "digits", "--n-components", "3", "--beta", "4",
             "--hidden-layer-sizes", "64,32", "--early-stopping", "none", "--verbose"]
    toml = tmp_path / "vae.toml"
    toml.write_text('model = "vae"\ndata = "digits"\nn_components = 3\nbeta = 4\n'
                    'hidden_layer_sizes = [64, 32]\nverbose = true\n')
    yaml_file = tmp_path / "vae.yaml"
    yaml_file.write_text("model: vae\ndata: digits\nn-components: 3\nbeta: 4\n"
                         "hidden_layer_sizes: [64, 32]\nearly_stopping: null\nverbose: true\n")
    from_flags = _resolve(flags)
    assert from_flags == _resolve(["--config", str(toml)])
    assert from_flags == _resolve(["--config", str(yaml_file)])
    assert from_flags["params"]["beta"] == 4.0 and isinstance(from_flags["params"]["beta"], float)
    assert from_flags["params"]["hidden_layer_sizes"] == (64, 32)
    over = _resolve(["--config", str(toml), "--beta", "2", "--no-verbose"])
    assert over["params"]["beta"] == 2.0 and over["params"]["verbose"] is False


def test_example_config_files_resolve():
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "examples"
    files = sorted(examples.glob("*.toml")) + sorted(examples.glob("*.yaml"))
    assert files
    for f in files:
        resolved = _resolve(["--config", str(f)])
        assert resolved["model"] in ("linear", "stacked", "conv", "vae", "vqvae", "classifier")


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path, capsys):
    full, part = tmp_path / "full", tmp_path / "part"
    flat = [*TINY, "--lr-schedule", "none"]  # a constant lr: more epochs extend the same run
    assert main(["train", "--model", "stacked", *flat, "--epochs", "4", "--out", str(full),
                 "--no-report"]) == 0
    assert main(["train", "--model", "stacked", *flat, "--out", str(part), "--no-report"]) == 0
    # A second plain train into the same folder is refused: --resume is the way on.
    assert main(["train", "--model", "stacked", *flat, "--out", str(part)]) == 2
    assert "--out" in one_line_error(capsys)
    assert main(["train", "--model", "stacked", *flat, "--epochs", "4", "--out", str(part),
                 "--no-report", "--resume"]) == 0
    h_full = json.loads((full / "history.json").read_text())
    h_part = json.loads((part / "history.json").read_text())
    assert [r["epoch"] for r in h_part] == [1, 2, 3, 4]
    np.testing.assert_allclose([r["loss"] for r in h_part], [r["loss"] for r in h_full],
                               rtol=1e-6)


def test_resuming_a_cosine_run_with_other_epochs_is_refused(tmp_path, capsys):
    out = tmp_path / "run"  # the stacked default schedule is cosine over --epochs
    assert main(["train", "--model", "stacked", *TINY, "--out", str(out), "--no-report"]) == 0
    assert main(["train", "--model", "stacked", *TINY, "--epochs", "4", "--out", str(out),
                 "--no-report", "--resume"]) == 2
    message = one_line_error(capsys)
    assert "cosine" in message and "2 epochs, not 4" in message


def test_interrupted_train_keeps_its_checkpoint_and_resumes(tmp_path, capsys, monkeypatch):
    import aekit.training.callbacks as trainer  # where checkpoints are written

    out = tmp_path / "run"
    real = trainer.save_checkpoint

    def interrupt_after_epoch_2(*args, **kwargs):
        real(*args, **kwargs)
        if kwargs["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "save_checkpoint", interrupt_after_epoch_2)
    assert main(["train", "--model", "stacked", *TINY, "--epochs", "3", "--out", str(out),
                 "--no-report"]) == 130
    err = one_line_error(capsys, "interrupted")
    assert "after epoch 2" in err and "--resume" in err
    assert (out / "checkpoints").is_dir() and not (out / "model").exists()
    monkeypatch.setattr(trainer, "save_checkpoint", real)
    assert main(["train", "--model", "stacked", *TINY, "--epochs", "3", "--out", str(out),
                 "--no-report", "--resume"]) == 0
    assert [r["epoch"] for r in json.loads((out / "history.json").read_text())] == [1, 2, 3]


def test_failed_fresh_train_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    from aekit.errors import TrainingError
    from aekit.estimators import StackedAutoencoder

    def diverge(self, *args, **kwargs):
        raise TrainingError("loss became NaN")

    monkeypatch.setattr(StackedAutoencoder, "fit", diverge)
    out = tmp_path / "run"
    assert main(["train", "--model", "stacked", *TINY, "--out", str(out)]) == 2
    assert "NaN" in one_line_error(capsys)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_classifier_with_few_labels(tmp_path, capsys):
    out = tmp_path / "clf"
    assert main(["train", "--model", "classifier", "--method", "pretrain", "--data", "digits",
                 "--max-rows", "300",
                 "--n-labelled", "60", "--pretrain-epochs", "2", "--head-epochs", "2",
                 "--finetune-epochs", "1", "--n-components", "8", "--random-state", "0",
                 "--out", str(out), "--no-report"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert "classification accuracy" in capsys.readouterr().out
    # aekit evaluate gives the estimator's own accuracy (the head its fitted model owns)
    import aekit
    from aekit.datasets import load

    test = load("digits", split="test")
    assert main(["evaluate", str(out), "--data", "digits", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["accuracy"]
    assert got == float(np.mean(aekit.load(out).predict(test.X) == test.y))


@pytest.mark.slow
def test_train_with_report(tmp_path):
    out = tmp_path / "vae"
    assert main(["train", "--model", "vae", "--data", "digits", "--max-rows", "300",
                 "--epochs", "2", "--n-components", "2", "--eval-rows", "100",
                 "--random-state", "0", "--out", str(out)]) == 0
    html = (out / "report" / "index.html").read_text()
    assert "Latent grid" in html and "ELBO" in html
    metrics = json.loads((out / "metrics.json").read_text())
    assert "elbo" in metrics["model"]


@pytest.mark.slow
def test_train_under_torchrun_writes_once(tmp_path):
    """`torchrun --nproc_per_node=2 -m aekit train ...`: data parallel, rank 0 writes."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    if not Path(torchrun).exists():
        pytest.skip("torchrun not installed")
    out = tmp_path / "ddp"
    proc = subprocess.run([torchrun, "--nproc_per_node=2", "-m", "aekit", "train",
                           "--model", "stacked", *TINY, "--out", str(out), "--no-report"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("wrote ") == 1  # only rank 0 reports and writes
    assert len(json.loads((out / "history.json").read_text())) == 2
    assert (out / "model" / "model.safetensors").is_file()


@pytest.mark.parametrize("example, kind", [("vae_binarized.toml", "vae"),
                                           ("iwae_binarized.toml", "iwae")])
def test_likelihood_examples_are_the_benchmarks_models(example, kind):
    """examples/{vae,iwae}_binarized.toml train the very models whose numbers
    benchmarks/variational.py commits (so results/variational.md measures them)."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("variational_bench",
                                                  root / "benchmarks" / "variational.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    resolved = _resolve(["--config", str(root / "examples" / example)])
    assert resolved["model"] == "vae" and resolved["data"] == "fashion-mnist"
    options = {k: (50 if v is None else v) for k, v in bench.MODELS[kind].items()}
    expected = bench.model(options, epochs=bench.EPOCHS, seed=0).get_params()
    defaults = bench.model({}, epochs=1, seed=0).__class__().get_params()
    for key, value in expected.items():
        got = resolved["params"].get(key, defaults[key])
        assert (list(got) if isinstance(got, tuple) else got) == \
            (list(value) if isinstance(value, tuple) else value), key
