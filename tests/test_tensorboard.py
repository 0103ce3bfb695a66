"""TensorBoard logs (aekit.training.tensorboard): the event file read back with
TensorBoard's own EventAccumulator holds every loss term, the learning rate and the
validation terms (equal to history_) and one reconstruction grid per epoch with the
model's reconstructions of that epoch; logging changes nothing about training; every
entry point (estimator, Trainer, CLI) and the missing-extra error."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from aekit.cli import main
from aekit.errors import ConfigError
from aekit.losses import Objective
from aekit.training import TrainConfig, Trainer
from aekit.training import tensorboard as tb

pytest.importorskip("tensorboard", reason="needs pip install 'aekit[tensorboard]'")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = dict(n_components=4, hidden_layer_sizes=(16,), epochs=2, batch_size=64, random_state=0)


def events(log_dir) -> EventAccumulator:
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def scalars(acc, tag) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def png(event) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))


@pytest.fixture(scope="module")
def digits():
    from aekit.datasets import load

    return load("digits").X[:300]


def without_seconds(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


@pytest.mark.slow
def test_estimator_logs_every_term_equal_to_history(digits, tmp_path):
    from aekit.estimators import VariationalAutoencoder

    est = VariationalAutoencoder(2, hidden_layer_sizes=(16,), epochs=2, batch_size=64,
                                 random_state=0, validation_fraction=0.2,
                                 log_dir=tmp_path / "logs").fit(digits)
    acc = events(tmp_path / "logs")
    terms = [k for k in est.history_[0] if k not in ("epoch", "lr", "seconds", "threads", "shards")]
    assert {"loss", "kl", "val_loss", "val_kl"} <= set(terms)
    # every key but the epoch and the run's fixed thread count is a scalar
    expected_tags = {tb.tag_of(k) for k in est.history_[0] if k not in ("epoch", "threads", "shards")}
    assert set(acc.Tags()["scalars"]) == expected_tags
    for key in [*terms, "lr"]:
        tag = tb.tag_of(key)
        want = [(h["epoch"], float(np.float32(h[key]))) for h in est.history_]
        assert scalars(acc, tag) == want, key  # float32: TensorBoard's scalar type
    assert tb.tag_of("val_loss") == "validation/loss" and tb.tag_of("kl") == "train/kl"
    assert tb.tag_of("lr") == "learning_rate"
    images = acc.Images("reconstructions")
    assert [e.step for e in images] == [1, 2]
    assert (images[0].height, images[0].width) == (2 * 8 + 1, 8 * 8 + 7)  # 8 digits, 2 rows
    # the Path given as log_dir is saved as text in the model folder
    est.save(tmp_path / "model")
    params = json.loads((tmp_path / "model" / "config.json").read_text())["estimator"]["params"]
    assert params["log_dir"] == str(tmp_path / "logs")


def test_logging_changes_nothing_about_training(digits, tmp_path):
    from aekit.estimators import ConvAutoencoder, StackedAutoencoder

    for make in (lambda **kw: StackedAutoencoder(**TINY, validation_fraction=0.2, **kw),
                 lambda **kw: ConvAutoencoder((8, 8), channels=(4,), n_components=3,
                                              decoder="unpool", epochs=2, batch_size=64,
                                              random_state=0, **kw)):
        plain = make().fit(digits)
        logged = make(log_dir=str(tmp_path / "logs" / type(plain).__name__)).fit(digits)
        assert without_seconds(logged.history_) == without_seconds(plain.history_)
        for a, b in zip(plain.module_.state_dict().values(),
                        logged.module_.state_dict().values()):
            assert torch.equal(a, b)
        assert events(tmp_path / "logs" / type(plain).__name__).Tags()["images"]


def test_each_epochs_grid_shows_that_epochs_reconstructions(make_model, tmp_path):
    """No validation rows: the grid shows the first 8 training rows over the model's
    reconstructions of them, as the weights were at the end of each epoch."""
    model = make_model("dense", n_features=16, hidden=(8,), code_size=3)
    X = torch.rand((40, 16), generator=torch.Generator().manual_seed(0))
    seen = []

    def capture(record, module):
        module.eval()
        with torch.no_grad():
            seen.append(module(X[:8])["recon"].numpy().copy())
        module.train()

    Trainer(model, Objective(), TrainConfig(epochs=2, batch_size=8, lr=0.05,
                                            log_dir=str(tmp_path)),
            callbacks=[capture]).fit(X)
    images = events(tmp_path).Images("reconstructions")
    assert [e.step for e in images] == [1, 2]
    assert not np.allclose(seen[0], seen[1])  # training moved the reconstructions
    for event, recon in zip(images, seen):
        got = png(event).astype(np.float64)
        got = got[..., 0] if got.ndim == 3 else got  # grey PNG
        assert got.shape == (4 + 1 + 4, 8 * 4 + 7)  # 4x4 tiles, 2 rows x 8 columns
        for i in range(8):
            for row, values in ((0, X[i].numpy()), (1, recon[i])):
                tile = got[row * 5:row * 5 + 4, i * 5:i * 5 + 4]
                assert np.abs(tile - values.reshape(4, 4) * 255).max() <= 1.0, (i, row)
        assert np.all(got[4, :] == 255) and np.all(got[:, 4] == 255)  # white gaps


def test_image_grid_layouts():
    rng = np.random.default_rng(0)
    strips = tb.image_grid(rng.random((3, 30)), rng.random((3, 30)))  # no image shape
    assert strips.shape == (1, 3 * tb.STRIP_HEIGHT + 2, 2 * 30 + 1)  # rows x (in | out)
    two_channels = tb.image_grid(rng.random((2, 2 * 9 * 7)), rng.random((2, 2 * 9 * 7)),
                                 (2, 9, 7))
    assert two_channels.shape == (1, 2 * 18 + 1, 2 * 7 + 1)  # channels stacked as grey
    rgb = tb.image_grid(rng.random((2, 3 * 4 * 4)), rng.random((2, 3 * 4 * 4)), (3, 4, 4))
    assert rgb.shape == (3, 9, 9)
    x = np.array([[-1.0, 3.0, 1.0, 0.0]])  # outside [0, 1]: one shared affine map
    grid = tb.image_grid(x, x, (1, 2, 2))
    assert grid.min() == 0.0 and grid.max() == 1.0
    assert np.allclose(grid[0, :2, :2], (x.reshape(2, 2) + 1) / 4)


def test_greedy_and_classifier_phases_log_to_their_own_folders(digits, tmp_path):
    from aekit.datasets import load
    from aekit.estimators import AutoencoderClassifier, StackedAutoencoder

    StackedAutoencoder(**{**TINY, "epochs": 1}, pretraining="greedy", pretrain_epochs=1,
                       log_dir=str(tmp_path / "greedy")).fit(digits)
    for phase in ("layer-1", "layer-2", "fine-tune"):
        assert scalars(events(tmp_path / "greedy" / phase), "train/loss")[0][0] == 1, phase
    ds = load("digits")
    AutoencoderClassifier(4, method="pretrain", hidden_layer_sizes=(16,), pretrain_epochs=1, head_epochs=1,
                          finetune_epochs=1, random_state=0,
                          log_dir=str(tmp_path / "clf")).fit(ds.X[:300], ds.y[:300])
    assert events(tmp_path / "clf").Tags()["images"] == ["reconstructions"]
    for phase in ("head", "finetune"):
        acc = events(tmp_path / "clf" / phase)
        assert "train/loss" in acc.Tags()["scalars"] and not acc.Tags()["images"]


def test_resumed_run_continues_the_same_log(make_model, tmp_path):
    X = torch.rand((32, 12), generator=torch.Generator().manual_seed(0))
    logs, ckpt = tmp_path / "logs", tmp_path / "ckpt"
    config = dict(batch_size=8, log_dir=str(logs))
    Trainer(make_model("dense"), Objective(), TrainConfig(epochs=1, **config)).fit(
        X, checkpoint_dir=ckpt)
    result = Trainer(make_model("dense"), Objective(), TrainConfig(epochs=3, **config)).fit(
        X, checkpoint_dir=ckpt, resume=True)
    # Two event files, the resumed run's from epoch 2 on. (Each file is read on its own:
    # TensorBoard orders the files of a folder by name, whose time stamp is in seconds and
    # whose tie-break is a per-process counter, so two runs within one second can sort
    # either way; a real resume comes seconds later, in a new process.)
    files = sorted(logs.glob("events.out.tfevents.*"), key=lambda f: f.stat().st_mtime_ns)
    assert len(files) == 2
    got = scalars(events(files[0]), "train/loss") + scalars(events(files[1]), "train/loss")
    assert got == [(h["epoch"], float(np.float32(h["loss"]))) for h in result.history]


@pytest.mark.slow
def test_cli_train_log_dir(tmp_path, capsys):
    out, logs = tmp_path / "run", tmp_path / "logs"
    assert main(["train", "--model", "stacked", "--data", "digits", "--max-rows", "200",
                 "--epochs", "2", "--batch-size", "64", "--n-components", "4",
                 "--hidden-layer-sizes", "16", "--random-state", "0", "--no-report",
                 "--log-dir", str(logs), "--out", str(out)]) == 0
    history = json.loads((out / "history.json").read_text())
    assert scalars(events(logs), "train/loss") == [
        (h["epoch"], float(np.float32(h["loss"]))) for h in history]
    resolved = json.loads((out / "config.resolved.json").read_text())
    assert resolved["params"]["log_dir"] == str(logs)
    # where the events go is no setting of the run: a resume may log elsewhere
    assert main(["train", "--resume", "--model", "stacked", "--data", "digits", "--max-rows",
                 "200", "--epochs", "2", "--batch-size", "64", "--n-components", "4",
                 "--hidden-layer-sizes", "16", "--random-state", "0", "--no-report",
                 "--log-dir", str(tmp_path / "elsewhere"), "--out", str(out)]) == 0
    assert json.loads((out / "history.json").read_text()) == history


def test_missing_tensorboard_is_a_clear_error_before_training(monkeypatch, digits, tmp_path,
                                                              capsys):
    from aekit.estimators import StackedAutoencoder

    real = tb.importlib.util.find_spec
    monkeypatch.setattr(tb.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real(name, *a))
    est = StackedAutoencoder(**TINY, log_dir=str(tmp_path / "logs"))
    with pytest.raises(ConfigError, match=r"pip install 'aekit\[tensorboard\]'"):
        est.fit(digits)
    assert not hasattr(est, "fitted_") and not (tmp_path / "logs").exists()
    assert main(["train", "--model", "stacked", "--data", "digits", "--epochs", "1",
                 "--log-dir", str(tmp_path / "logs"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "aekit[tensorboard]" in err[0]
    assert not (tmp_path / "run").exists()


def test_bad_log_dir_is_refused_in_its_own_name(tmp_path):
    from aekit.estimators import StackedAutoencoder

    a_file = tmp_path / "file"
    a_file.write_text("mine")
    with pytest.raises(ConfigError, match="log_dir .*exists and is not a folder"):
        StackedAutoencoder(log_dir=str(a_file))._check_params()
    with pytest.raises(ConfigError, match="^log_dir must be"):
        StackedAutoencoder(log_dir=3)._check_params()
    assert a_file.read_text() == "mine"


def test_the_linear_solve_logs_its_one_record_and_grid(digits, tmp_path):
    """LinearAutoencoder's exact solve has no epochs: it logs what one epoch would, the
    training loss at step 1 and the reconstruction grid, with the history's numbers."""
    from aekit.estimators import LinearAutoencoder

    est = LinearAutoencoder(8, log_dir=tmp_path / "tb").fit(digits)
    assert est.solver_ == "svd"
    acc = events(tmp_path / "tb")
    assert scalars(acc, "train/loss") == [(1, pytest.approx(est.history_[0]["loss"],
                                                            rel=1e-6))]
    grid = png(acc.Images("reconstructions")[0])
    assert grid.shape[0] == 2 * 8 + 1  # inputs over their reconstructions, 8x8 digits


class _DiskFills:
    """Every write to an event file from the ``after``-th on fails like a full disk (the
    record writer runs in tensorboard's own thread, as a real disk fault would)."""

    def __init__(self, monkeypatch, after: int):
        from tensorboard.summary.writer import record_writer

        self.calls, self.after = 0, after
        real = record_writer.RecordWriter.write

        def write(writer, data):
            self.calls += 1
            if self.calls > self.after:
                raise OSError(28, "No space left on device")
            return real(writer, data)

        monkeypatch.setattr(record_writer.RecordWriter, "write", write)


# The writes of a 3-epoch run: the file header, then per epoch a few scalars (and a grid);
# failing after 0, 1, 4 and 8 of them covers the first write, mid-epoch and a later epoch.
FAIL_AFTER = (0, 1, 4, 8)


@pytest.mark.parametrize("after", FAIL_AFTER)
def test_a_log_that_cannot_be_written_never_costs_the_fit(digits, tmp_path, monkeypatch,
                                                          caplog, capfd, after):
    """Issue 28, class 1: a full --log-dir disk once logged one warning; the fit finishes
    with the same weights as without a log, and no thread traceback is printed."""
    from aekit.estimators import StackedAutoencoder

    kw = dict(TINY, epochs=3)
    plain = StackedAutoencoder(**kw).fit(digits)
    fills = _DiskFills(monkeypatch, after)
    logged = StackedAutoencoder(**kw, log_dir=str(tmp_path / "logs")).fit(digits)
    assert fills.calls > after  # the fault did happen
    for a, b in zip(plain.module_.state_dict().values(), logged.module_.state_dict().values()):
        assert torch.equal(a, b)
    warnings = [r for r in caplog.records if "TensorBoard log" in r.getMessage()]
    assert len(warnings) == 1 and "No space left" in warnings[0].getMessage()
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("after", (0, 4))
def test_cli_train_with_a_full_log_disk_keeps_the_run(tmp_path, monkeypatch, capsys, after):
    """The same through aekit train: exit 0, the model, history and checkpoint are kept."""
    out = tmp_path / "run"
    _DiskFills(monkeypatch, after)
    assert main(["train", "--model", "stacked", "--data", "digits", "--max-rows", "200",
                 "--epochs", "3", "--batch-size", "64", "--n-components", "4",
                 "--hidden-layer-sizes", "16", "--random-state", "0", "--no-report",
                 "--log-dir", str(tmp_path / "logs"), "--out", str(out)]) == 0
    assert (out / "model").is_dir() and (out / "checkpoints").is_dir()
    assert len(json.loads((out / "history.json").read_text())) == 3
    assert "Traceback" not in capsys.readouterr().err
