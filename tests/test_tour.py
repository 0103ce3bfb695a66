"""The lecture tour and the information helpers it uses (entropy, KL divergence)."""

from __future__ import annotations

import html
import json
import math
import re

import numpy as np
import pytest

from aekit.errors import DataError
from aekit.evaluation import cross_entropy, entropy, kl_divergence

PNG = b"\x89PNG\r\n\x1a\n"


# --- entropy and KL ------------------------------------------------------------------------
def test_entropy_known_values():
    assert entropy([1] * 8) == pytest.approx(3.0)  # uniform over 8: 3 bits
    assert entropy([0.5, 0.5], base=math.e) == pytest.approx(math.log(2))
    assert entropy([1, 0, 0]) == 0.0  # 0 log 0 = 0
    assert entropy([2, 6]) == pytest.approx(entropy([0.25, 0.75]))  # counts are normalised


def test_kl_properties():
    rng = np.random.default_rng(0)
    p, q = rng.random(11), rng.random(11)
    assert kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert kl_divergence(p, q) > 0
    assert kl_divergence(p, q) != pytest.approx(kl_divergence(q, p))  # not symmetric
    # bits vs nats differ by a factor ln 2
    assert kl_divergence(p, q, 2) * math.log(2) == pytest.approx(kl_divergence(p, q, math.e))
    assert cross_entropy(p, q) == pytest.approx(entropy(p) + kl_divergence(p, q))
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(1.0)  # 1 bit


def test_kl_matches_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    p, q = [0.1, 0.2, 0.7], [0.3, 0.3, 0.4]
    assert kl_divergence(p, q, base=2) == pytest.approx(scipy_stats.entropy(p, q, base=2))
    assert entropy(p, base=10) == pytest.approx(scipy_stats.entropy(p, base=10))


@pytest.mark.parametrize("p, q", [([], []), ([0.5, -0.1], [0.5, 0.5]), ([0, 0], [1, 1]),
                                  ([0.5, 0.5], [0.2, 0.3, 0.5]), ([np.nan, 1], [1, 1])])
def test_kl_rejects_bad_distributions(p, q):
    with pytest.raises(DataError):
        kl_divergence(p, q)


def test_information_base_must_be_valid():
    with pytest.raises(DataError, match="base"):
        entropy([0.5, 0.5], base=1)


# --- tour pieces -------------------------------------------------------------------------
def test_generate_3d_data_is_reproducible_and_near_a_plane():
    from aekit.evaluation import fit_pca
    from aekit.tour.linear import generate_3d_data

    X = generate_3d_data(500, random_state=1)
    assert X.shape == (500, 3) and X.dtype == np.float32
    np.testing.assert_array_equal(X, generate_3d_data(500, random_state=1))
    ratio = fit_pca(X - X.mean(0), 3).explained_variance_ratio_
    assert ratio[:2].sum() > 0.9  # mostly 2-D: what makes the PCA/linear-AE demo work


def test_every_experiment_of_the_brief_is_in_the_tour():
    from aekit.tour import experiments

    titles = " | ".join(t for t, _ in experiments()).lower()
    for topic in ("pca vs a linear autoencoder on 3-d", "non-linearity", "stacked",
                  "t-sne", "vae", "latent grid", "interpolation", "tied", "greedy",
                  "convolutional", "denoising", "sparse", "beta-vae", "few labels",
                  "anomaly", "kl divergence"):
        assert topic in titles, topic


def test_kl_section_reports_the_uniform_model_as_closer(tmp_path):
    from aekit.report import Report
    from aekit.tour import TourContext
    from aekit.tour.information import kl_section

    ctx = TourContext("none", *(np.zeros((1, 1)),) * 4, image_shape=(1, 1, 1), budget=None)
    report = Report("t")
    section = kl_section(report, ctx)
    assert "uniform model loses less" in section.measured
    r = ctx.results["kl"]
    assert r["uniform"]["kl_obs_q_bits"] < r["binomial (n=10, p=0.544)"]["kl_obs_q_bits"]


# --- the whole tour, quick -------------------------------------------------------------------
@pytest.fixture(scope="module")
def quick_tour(tmp_path_factory):
    from aekit.cli import main

    out = tmp_path_factory.mktemp("tour") / "digits"
    assert main(["tour", "--data", "digits", "--quick", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_quick_tour_report_has_every_section_and_image(quick_tour, capsys):
    from aekit.tour import experiments

    page = (quick_tour / "index.html").read_text(encoding="utf-8")
    headings = [html.unescape(h) for h in re.findall(r"<h2>(.*?)</h2>", page)]
    for title, _ in experiments():
        assert title in headings, title
    # every experiment says what the lecture claims, what was measured, whether the claim
    # held on this run, and its time (the 2-D VAE's interactive map is part of its section)
    blocks = [b for b in page.split("<section")[2:-1]  # not "About this run", "Timings"
              if "(interactive)</h2>" not in b]
    assert len(blocks) == len(experiments())
    for block in blocks:
        assert "What the lecture claims." in block and "What this run measured." in block
        assert "Section time:" in block
        assert "Verdict: on this run the claim " in block
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) >= len(experiments())
    for src in sources:
        assert (quick_tour / src).read_bytes()[:8] == PNG, src
    results = json.loads((quick_tour / "results.json").read_text())
    assert set(results["timings"]) == {t for t, _ in experiments()} | {"total"}
    assert results["kl"]["observed_entropy_bits"] > 0
    assert set(results["verdicts"]) == {t for t, _ in experiments()}


# Claims the quick tour on digits may not bear out, and why (the full tour on digits showed
# the same): on 8x8 images JPEG's own header outweighs aekit's stream, so aekit wins there;
# a short SegNet training leaves boundary F1 near 0 for every decoder.
NOT_ROBUST_ON_DIGITS = {"Compression: real bitstreams against JPEG",
                        "Segmentation: SegNet's unpooling decoder"}


@pytest.mark.slow
def test_quick_tour_bears_out_the_lectures_robust_claims(quick_tour):
    """Issue 28: a quick digits tour once gave a verdict in 4 of 17 sections and, unflagged,
    a linear AE 25 degrees off PCA's plane, anomaly AUROC 0.39, denoisers worse than their
    noisy inputs. Every check of every robust claim holds now."""
    verdicts = json.loads((quick_tour / "results.json").read_text())["verdicts"]
    failed = {title: [k for k, ok in v["checks"].items() if not ok]
              for title, v in verdicts.items()
              if not v["holds"] and title not in NOT_ROBUST_ON_DIGITS}
    assert not failed, failed
    page = (quick_tour / "index.html").read_text(encoding="utf-8")
    for title, v in verdicts.items():  # the page says the same as results.json
        word = "holds" if v["holds"] else "does not hold"
        block = page[page.index(f"<h2>{html.escape(title)}</h2>"):]
        block = block[:block.index("</section>")]
        assert f"on this run the claim {word}." in block, title


@pytest.mark.slow
def test_quick_tour_opens_in_chromium(browser, open_page, quick_tour):
    # browser (conftest.py) skips where selenium, chromium or chromedriver is missing
    images, errors = open_page(browser, quick_tour / "index.html")
    assert images and all(complete and w > 0 and h > 0 for _, complete, w, h in images)
    assert errors == []
