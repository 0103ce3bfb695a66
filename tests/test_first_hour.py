"""What a new user meets in the first hour (issue 13, part 7): a progress bar when someone
watches, -v that means one thing, one "test MSE", examples measured against PCA, readable
decode grids, figures with class names and nothing clipped, report tables without None,
and subsamples labelled as such."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from aekit.cli import build_parser, is_verbose, main

ROOT = Path(__file__).resolve().parent.parent


def _run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


QUICK = ("--model", "linear", "--n-components", "4", "--epochs", "1", "--random-state", "0",
         "--no-report")


# --- progress bar and -v ----------------------------------------------------------------
@pytest.mark.parametrize(("tty", "flags", "expected"), [
    (True, [], True),                      # someone watches: a bar by default
    (False, [], False),                    # a log file or a pipe: no bar
    (True, ["--no-progress"], False),
    (False, ["--progress"], True),
    (False, ["-v"], True),                 # -v after the subcommand ...
    (True, ["--no-verbose"], False),       # the estimator keyword says the same
])
def test_progress_bar_by_default_only_on_a_terminal(tmp_path, capsys, monkeypatch, tty, flags,
                                                    expected, one_thread):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty, raising=False)
    code, out, err = _run(capsys, "train", *QUICK, "--data", "digits", "--max-rows", "60",
                          *flags, "--out", tmp_path / "run")
    assert code == 0, err
    resolved = json.loads((tmp_path / "run" / "config.resolved.json").read_text())
    assert resolved["params"]["verbose"] is expected
    assert ("training:" in err and "epoch" in err) is expected  # the tqdm bar, on stderr


def test_dash_v_means_the_same_before_and_after_the_subcommand():
    parser = build_parser()
    base = ["train", "--data", "digits", "--out", "x"]
    before = parser.parse_args(["-v", *base])
    after = parser.parse_args([*base, "-v"])
    neither = parser.parse_args(base)
    assert is_verbose(before) and is_verbose(after) and not is_verbose(neither)
    # every subcommand takes it after its name
    for name in ("evaluate", "encode", "datasets", "report"):
        assert "-v" in parser._subparsers._group_actions[0].choices[name].format_help()


def test_a_resumed_run_may_change_only_the_progress_bar(tmp_path, capsys, monkeypatch,
                                                        one_thread):
    out = tmp_path / "run"
    assert _run(capsys, "train", *QUICK, "--data", "digits", "--max-rows", "60",
                "--out", out)[0] == 0
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    code, _, err = _run(capsys, "train", *QUICK, "--data", "digits", "--max-rows", "60",
                        "--out", out, "--resume")
    assert code == 0, err


# --- one meaning of "test MSE" -------------------------------------------------------------
def _csv(path: Path) -> Path:
    from sklearn.datasets import load_wine

    w = load_wine()
    path.write_text("\n".join([",".join([*w.feature_names, "y"])] + [
        ",".join([*(f"{v:.6g}" for v in r), str(c)]) for r, c in zip(w.data, w.target)]))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("data", ["digits", "wine.csv"])
def test_train_summary_and_evaluate_report_the_same_test_mse(tmp_path, capsys, data,
                                                             one_thread):
    """The same definition (mean squared error per value over every test row) and the same
    number, for the same run and data: train's summary, its metrics.json, evaluate."""
    extra = []
    if data.endswith(".csv"):
        data = _csv(tmp_path / data)
        extra = ["--label-column", "y", "--scale", "minmax"]
    run = tmp_path / "run"
    code, out, err = _run(capsys, "train", "--model", "stacked", "--data", data, *extra,
                          "--epochs", "3", "--random-state", "0", "--no-report", "--out", run)
    assert code == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    summary = float(re.search(r"^test MSE\s+(\S+)", out, re.M).group(1))
    code, ev_out, err = _run(capsys, "evaluate", run, "--data", data, "--json")
    assert code == 0, err
    evaluated = json.loads(ev_out)
    assert evaluated["model"]["mse"] == metrics["model"]["mse"]
    assert evaluated["pca"]["mse"] == metrics["pca"]["mse"]
    assert evaluated["rows"] == metrics["eval_rows"] == metrics["eval_rows_available"]
    assert summary == pytest.approx(metrics["model"]["mse"], rel=1e-3)  # printed to 4 digits
    assert f"all {metrics['eval_rows']} rows" in out
    code, ev_table, _ = _run(capsys, "evaluate", run, "--data", data)
    assert float(re.search(r"^test MSE .*?lower is better\s+(\S+)", ev_table, re.M).group(1)) \
        == summary


# --- the shipped examples against PCA --------------------------------------------------------
def _likelihood_examples() -> dict:
    import importlib.util

    spec = importlib.util.spec_from_file_location("variational_bench",
                                                  ROOT / "benchmarks" / "variational.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.EXAMPLES


def test_every_shipped_example_is_measured_against_pca():
    """benchmarks/examples.py ran every example as shipped; each beats PCA on its headline
    metric or the results say why not, and each example file quotes its measurement. The
    likelihood examples are benchmarks/variational.py's models (a test in test_cli holds
    them equal), measured there: their files quote its test NLL; the VQ-VAE's is
    benchmarks/vq.py's, and quotes its test MSE."""
    results = json.loads((ROOT / "benchmarks" / "results" / "examples.json").read_text())
    assert not results["quick"]
    rows = {r["example"]: r for r in results["rows"]}
    likelihood = _likelihood_examples()
    vq = json.loads((ROOT / "benchmarks" / "results" / "vq.json").read_text())
    shipped = sorted(p.name for p in (ROOT / "examples").iterdir() if p.suffix in
                     (".toml", ".yaml", ".yml") and p.name not in likelihood
                     and p.name != "vqvae.toml")
    # the VQ-VAE example is benchmarks/vq.py's model, measured there against conv AEs
    vq_row = next(r for r in vq["rows"] if r["model"] == "VQVAE")
    assert f"{vq_row['test_mse']:.4f}" in (ROOT / "examples" / "vqvae.toml").read_text()
    assert sorted(rows) == shipped
    variational = json.loads((ROOT / "benchmarks" / "results" / "variational.json").read_text())
    assert not variational["quick"]
    measured = {r["model"]: r for r in variational["rows"]}
    for name, row in likelihood.items():
        text = (ROOT / "examples" / name).read_text()
        assert f"test NLL {measured[row]['test_nll']:.2f} nats" in text, name
    for name, r in rows.items():
        assert r["beats_pca"] == (r["ours"] < r["pca"]), name
        assert r["beats_pca"] or (r["why_not"] and "not explained" not in r["why_not"]), name
        text = (ROOT / "examples" / name).read_text()
        assert f"{r['ours']:.4f}" in text and f"{r['pca']:.4f}" in text, name


# --- decode --png of many codes ----------------------------------------------------------------
@pytest.mark.slow
def test_decode_png_of_ten_thousand_codes_draws_a_readable_grid(tmp_path, capsys, one_thread):
    from PIL import Image

    from aekit.cli.decode_cmd import GRID_MAX

    run = tmp_path / "run"
    assert _run(capsys, "train", *QUICK, "--data", "digits", "--out", run)[0] == 0
    np.save(tmp_path / "z.npy", np.random.default_rng(0).normal(size=(10_000, 4)))
    code, out, err = _run(capsys, "decode", run, "--codes", tmp_path / "z.npy", "--out",
                          tmp_path / "x.npy", "--png", tmp_path / "grid.png")
    assert code == 0, err
    assert f"shows the first {GRID_MAX} of 10000" in out
    with Image.open(tmp_path / "grid.png") as img:
        width, height = img.size
    # 10 tiles a line, 10 lines: each 8x8 digit drawn at least 40 pixels tall
    assert height / (GRID_MAX // 10) >= 40 and width / 10 >= 40
    assert np.load(tmp_path / "x.npy").shape == (10_000, 64)  # every row still decoded


# --- figures: class names, nothing clipped, no overlapping ticks -----------------------------
def _texts_inside_and_apart(fig):
    """Everything drawn lies inside the figure (its tight bounding box, which covers every
    drawn artist, titles and legends included); tick labels of one axis do not overlap."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    drawn, box = fig.get_tightbbox(renderer), fig.bbox_inches
    assert drawn.x0 >= box.x0 - 0.01 and drawn.x1 <= box.x1 + 0.01, (drawn, box)
    assert drawn.y0 >= box.y0 - 0.01 and drawn.y1 <= box.y1 + 0.01, (drawn, box)
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            shown = [t.get_window_extent(renderer) for t, loc in
                     zip(axis.get_ticklabels(), axis.get_ticklocs())
                     if lo <= loc <= hi and t.get_visible() and t.get_text()]
            for a, b in zip(shown, shown[1:]):
                assert not a.overlaps(b), [t.get_text() for t in axis.get_ticklabels()]


def test_code_map_names_the_classes_and_says_it_is_a_subsample(digits_data):
    from aekit.datasets import registry
    from aekit.evaluation import subsample
    from aekit.plotting import code_map_caption, plot_code_map

    names = list(registry.FASHION_MNIST.classes)
    Y = np.random.default_rng(0).normal(size=(300, 2))
    y = np.arange(1000) % 10
    index = subsample(1000, 300, 0)
    embedding = (Y, "t-SNE", index)
    fig = plot_code_map(embedding=embedding, y=y, class_names=names, n_total=1000)
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == names  # T-shirt/top, Trouser, ...
    assert "t-SNE of 300 of 1,000 test rows" in fig.axes[0].get_title()
    _texts_inside_and_apart(fig)
    assert code_map_caption((Y, "codes", np.arange(300)), 300) == "2-D codes of all 300 test rows"


def test_training_curves_and_anomaly_histograms_keep_their_labels_inside(one_thread):
    from aekit.plotting import plot_anomaly_histogram, plot_training_curves

    history = [{"epoch": e, "loss": 1 / e, "recon": 1 / e, "kl": 0.1, "val_loss": 1.1 / e}
               for e in range(1, 4)]
    fig = plot_training_curves(history)
    ticks = [float(t) for t in fig.axes[0].get_xticks() if 1 <= t <= 3]
    assert all(t == int(t) for t in ticks)  # whole epochs only
    _texts_inside_and_apart(fig)
    rng = np.random.default_rng(0)
    fig = plot_anomaly_histogram({"train": rng.gamma(2, size=500), "test": rng.gamma(2, size=500),
                                  "test + gaussian noise 0.3": rng.gamma(5, size=500)},
                                 threshold=4.0, log_x=True)
    _texts_inside_and_apart(fig)


# --- the report: class names, no raw None, subsamples labelled ------------------------------
@pytest.mark.slow
def test_report_names_classes_labels_its_subsample_and_shows_no_none(tmp_path, digits_data,
                                                                     one_thread):
    from aekit import StackedAutoencoder
    from aekit.report import build_report

    train, test = digits_data
    est = StackedAutoencoder(hidden_layer_sizes=(16,), n_components=4, epochs=2,
                             random_state=0).fit(train.X)
    config = {"model": "stacked", "data": "digits", "max_rows": None, "label_column": None,
              "params": {"noise": None, "hidden_layer_sizes": (16,), "epochs": 2}}
    report = build_report(est, train.X[:300], test.X, y_train=train.y[:300], y_test=test.y,
                          config=config, max_map_points=100, class_names=test.classes,
                          history=est.history_)
    page = report.save(tmp_path / "report")
    html = Path(page).read_text()
    assert f"t-SNE of 100 of {len(test.X)} test rows (a random subsample)" in html
    assert not re.search(r">\s*None\s*<", html) and "null" not in html
    assert "estimator parameters" in html
