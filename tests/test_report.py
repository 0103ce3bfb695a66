"""The Report builder (escaping, both formats, atomic save) and the standard run report."""

from __future__ import annotations

import re

import numpy as np
import pytest

from aekit.applications import add_noise, reconstruct
from aekit.errors import ConfigError
from aekit.plotting import plot_anomaly_histogram
from aekit.report import MARKER, Report, build_report


def _fig():
    return plot_anomaly_histogram({"x": np.arange(10.0)})


def _report(title="run <1> & 'x'"):
    r = Report(title, subtitle="sub<b>")
    s = r.section("Metrics <table>", claim="claim <i>", measured="measured & more")
    s.table(["metric", "model"], [["mse <", 0.5]], caption="cap<")
    s.key_values({"nested": {"a": [1, 2]}, "plain": "<script>"})
    r.section("Pictures").text("para one\n\npara <two>").figure(_fig(), "a histogram")
    return r


def test_all_text_is_escaped():
    html = _report().to_html()
    for raw in ("<1>", "<b>", "<i>", "<table>\n", "<script>", "mse <<", "<two>"):
        assert raw not in html
    for escaped in ("run &lt;1&gt; &amp; &#x27;x&#x27;", "claim &lt;i&gt;", "&lt;script&gt;",
                    "para &lt;two&gt;", "{&quot;a&quot;: [1, 2]}"):
        assert escaped in html
    assert "What the lecture claims." in html and "What this run measured." in html
    assert html.count("<p>") >= 2 and '<td class="num">0.5</td>' in html


def test_folder_report_links_relative_pngs(tmp_path):
    r = _report()
    index = r.save(tmp_path / "rep")
    assert index == tmp_path / "rep" / "index.html"
    html = index.read_text()
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert srcs == ["figures/fig01-pictures.png"]
    assert (index.parent / srcs[0]).read_bytes() == r.figures()[0].png
    assert (index.parent / MARKER).exists()
    assert "data:image" not in html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # no temporaries left


def test_self_contained_report_inlines_pngs(tmp_path):
    path = _report().save(tmp_path / "rep.html", self_contained=True)
    html = path.read_text()
    assert html.count('<img src="data:image/png;base64,') == 1 and "figures/" not in html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep.html"]
    with pytest.raises(ConfigError, match="folder"):
        _report().save(tmp_path, self_contained=True)


def test_save_replaces_an_old_report_but_not_a_foreign_folder(tmp_path):
    _report("first").save(tmp_path / "rep")
    _report("second").save(tmp_path / "rep")
    assert "second" in (tmp_path / "rep" / "index.html").read_text()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(ConfigError, match="not an aekit report"):
        _report().save(foreign)
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_a_failing_save_leaves_the_previous_report_intact(tmp_path, monkeypatch):
    _report("good").save(tmp_path / "rep")
    before = sorted(p.name for p in tmp_path.iterdir())

    def boom(self, *a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Report, "to_html", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        _report("bad").save(tmp_path / "rep")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert "good" in (tmp_path / "rep" / "index.html").read_text()
    assert len(list((tmp_path / "rep" / "figures").iterdir())) == 1


def test_builder_validates_its_input():
    s = Report("t").section("s")
    with pytest.raises(ConfigError, match="row 0"):
        s.table(["a", "b"], [[1]])
    with pytest.raises(ConfigError, match="PNG"):
        s.figure(b"GIF89a...")


@pytest.fixture(scope="module")
def data(digits_data):
    train_ds, test_ds = digits_data
    return train_ds.X[:300], test_ds.X[:120], train_ds.y[:300], test_ds.y[:120]


def _titles(report):
    return [s.title for s in report.sections]


@pytest.mark.slow
def test_standard_report_for_a_sparse_2d_autoencoder(data, tmp_path, trained_model,
                                                     single_thread):
    import matplotlib.pyplot as plt

    X_tr, X_te, y_tr, y_te = data
    model, obj, history = trained_model(code_size=2, sparsity="l1", sparsity_weight=1e-3)
    with single_thread():
        r = build_report(model, X_tr, X_te, y_train=y_tr, y_test=y_te, history=history,
                         objective=obj, config={"epochs": 20}, title="sparse")
    titles = _titles(r)
    for t in ("Configuration", "Metrics on the test set", "Training curves", "Reconstructions",
              "Codes in two dimensions", "Generated samples", "Interpolation and averaging",
              "Latent grid", "Denoising", "Inpainting", "Anomaly scores", "Code activations"):
        assert t in titles
    assert "Latent traversals" not in titles
    res = r.results
    assert res["pca"]["name"] == "PCA (k=2)" and res["model"]["code_size"] == 2
    assert 0 <= res["model"]["trustworthiness"] <= 1
    noisy = add_noise(X_te, "gaussian", 0.3, random_state=0)  # the report's defaults
    assert res["denoising"]["mse"]["noisy"] == pytest.approx(np.mean((noisy - X_te) ** 2))
    assert res["denoising"]["mse"]["autoencoder"] == pytest.approx(
        np.mean((reconstruct(model, noisy) - X_te) ** 2), rel=1e-5)
    metrics = next(s for s in r.sections if s.title == "Metrics on the test set")
    assert metrics.items[0].header[3] == "PCA (k=2)"
    assert plt.get_fignums() == []
    html = r.save(tmp_path / "r").read_text()
    n_files = len(list((tmp_path / "r" / "figures").iterdir()))
    assert html.count("<img") == len(r.figures()) == n_files


@pytest.mark.slow
def test_standard_report_for_a_vae_without_labels(data, trained_model, single_thread):
    X_tr, X_te, _, _ = data
    model, obj, _ = trained_model(code_size=4, variational=True)
    with single_thread():
        r = build_report(model, X_tr, X_te, objective=obj, iw_samples=5, max_map_points=100)
    titles = _titles(r)
    assert "Latent traversals" in titles and "Latent grid" not in titles
    assert "Training curves" not in titles and "Code activations" not in titles
    assert "Codes in two dimensions" in titles  # 4-D codes: t-SNE map even without labels
    m = r.results["model"]
    assert m["log_likelihood"] >= m["elbo"] - 1.0 and "linear_probe" not in m
    assert r.results["anomaly"]["metric"] == "elbo"
    assert r.results["anomaly"]["auroc_noisy_vs_clean"] > 0.9


@pytest.mark.slow
def test_report_on_a_solved_linear_autoencoder_says_so_instead_of_a_curve(data, single_thread):
    """LinearAutoencoder's exact solve has one history record: the report says it was
    solved, with its training loss, and draws no one-point training curve; after
    partial_fit's gradient steps the curves are back."""
    from aekit.estimators import LinearAutoencoder

    X_tr, X_te, _, _ = data
    est = LinearAutoencoder(4, random_state=0).fit(X_tr)
    with single_thread():
        r = build_report(est, X_tr, X_te, history=est.history_, max_map_points=100)
    titles = _titles(r)
    assert "Training" in titles and "Training curves" not in titles
    html = r.to_html()
    assert "Solved exactly (solver &#x27;svd&#x27;: the closed-form MSE minimum)" in html
    assert f"training loss {est.history_[0]['loss']:.4g}" in html
    est.partial_fit(X_tr)
    with single_thread():
        r = build_report(est, X_tr, X_te, history=est.history_, max_map_points=100)
    assert "Training curves" in _titles(r)
