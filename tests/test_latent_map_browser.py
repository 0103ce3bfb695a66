"""The report's interactive latent map: the decoder's export, and the page in headless
Chromium (click, hover, the interpolation strip) against PyTorch's decode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aekit.fitted import FittedAutoencoder
from aekit.report import Report
from aekit.report.latent_map import add_latent_map, decoder_program, map_data, map_plane

# Dense kinds have 12 features: shown as 3x4 images. Conv kinds: (2, 9, 7) images, whose odd
# sizes exercise the transposed convolution's output size and nearest upsampling's indices.
DENSE_SHAPE = (1, 3, 4)
TOL = 1e-4  # per pixel, what the issue asks of the page


def _fitted(make_model, kind):
    return FittedAutoencoder(make_model(kind, seed=3))


def _shape(model_kinds, kind):
    return model_kinds[kind].get("image_shape") or DENSE_SHAPE


def _rows(n_features, n=60, seed=0):
    return np.random.default_rng(seed).random((n, n_features)).astype(np.float32)


# --- the export, checked in numpy (no browser) ----------------------------------------------
def _run_program(ops, arrays, z):
    """A numpy reading of latent_map.js's operations (the same definitions)."""
    x, t = np.asarray(z, np.float64), None
    for op in ops:
        kind = op["op"]
        if kind == "linear":
            x = arrays[op["w"]].astype(np.float64) @ x + arrays[op["b"]]
        elif kind == "act":
            f = {"relu": lambda v: np.maximum(v, 0), "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
                 "tanh": np.tanh, "elu": lambda v: np.where(v > 0, v, np.expm1(v)),
                 "selu": lambda v: 1.0507009873554805 * np.where(v > 0, v, 1.6732632423543772
                                                                  * np.expm1(v))}[op["fn"]]
            if t is None:
                x = f(x)
            else:
                t = f(t)
        elif kind == "reshape":
            t = x.reshape(op["shape"])
        elif kind == "upsample":
            h, w = op["size"]
            t = torch.nn.functional.interpolate(torch.from_numpy(t[None]), size=(h, w),
                                                mode="nearest")[0].numpy()
        elif kind == "unpool":
            out = np.zeros((t.shape[0], *op["size"]))
            out[:, 0:2 * t.shape[1]:2, 0:2 * t.shape[2]:2] = t
            t = out
        elif kind == "conv3":
            t = torch.nn.functional.conv2d(torch.from_numpy(t[None]),
                                           torch.from_numpy(arrays[op["w"]]).double(),
                                           torch.from_numpy(arrays[op["b"]]).double(),
                                           padding=1)[0].numpy()
        elif kind == "convT":
            layer = torch.nn.functional.conv_transpose2d
            full = layer(torch.from_numpy(t[None]), torch.from_numpy(arrays[op["w"]]).double(),
                         torch.from_numpy(arrays[op["b"]]).double(), stride=2, padding=1,
                         output_padding=(op["size"][0] - 2 * t.shape[1],
                                         op["size"][1] - 2 * t.shape[2]))
            t = full[0].numpy()
        elif kind == "crop":
            x, t = (x if t is None else t.ravel())[:op["n"]], None
        else:
            raise AssertionError(kind)
    return x


def test_exported_decoder_equals_pytorch_for_every_kind(kind, make_model):
    fitted = _fitted(make_model, kind)
    ops, arrays = decoder_program(fitted)
    Z = np.random.default_rng(1).normal(size=(5, fitted.code_size)).astype(np.float32)
    want = fitted.decode(Z)
    got = np.stack([_run_program(ops, arrays, z) for z in Z])
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_tied_decoder_exports_the_transposed_encoder_weights(make_model):
    fitted = _fitted(make_model, "tied")
    ops, arrays = decoder_program(fitted)
    last = fitted.module.encoder.layers[0].weight  # decoder's last layer = W_enc[0]^T
    np.testing.assert_array_equal(arrays[ops[-3]["w"]], last.detach().t().numpy())


def test_map_plane_is_the_codes_for_2d_and_pca_otherwise():
    rng = np.random.default_rng(0)
    Z2 = rng.normal(size=(30, 2))
    P, origin, axes, method = map_plane(Z2)
    assert method == "codes" and np.array_equal(P, Z2) and not origin.any()
    Z = rng.normal(size=(200, 5)) * [5, 3, 1, 0.1, 0.1]
    P, origin, axes, method = map_plane(Z)
    assert method == "pca"
    np.testing.assert_allclose(axes @ axes.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(origin, Z.mean(0))
    # The leading axes are the directions of largest variance (here the first two).
    assert abs(axes[0, 0]) > 0.99 and abs(axes[1, 1]) > 0.99
    # A position decodes the code on the plane: codes on the plane map back exactly.
    on_plane = origin + P @ axes
    np.testing.assert_allclose((on_plane - origin) @ axes.T, P, atol=1e-9)


def test_map_data_names_the_classes_and_subsamples(make_model):
    fitted = _fitted(make_model, "dense")
    X, y = _rows(12, n=50), np.arange(50) % 3
    data = map_data(fitted, X, y, image_shape=DENSE_SHAPE, max_points=20,
                    class_names=["shoe", "bag", "coat"])
    assert data["points"]["label_names"] == ["shoe", "bag", "coat"]
    assert data["n_points"] == 20 and len(data["points"]["labels"]) == 20
    assert map_data(fitted, X, y, image_shape=DENSE_SHAPE)["points"]["label_names"] == \
        ["0", "1", "2"]


def test_map_data_refuses_a_one_value_code(make_model, model_kinds):
    from aekit.errors import ConfigError

    fitted = FittedAutoencoder(make_model("dense", code_size=1))
    with pytest.raises(ConfigError, match="at least 2"):
        map_data(fitted, _rows(12), image_shape=DENSE_SHAPE)


# --- the page --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def page(make_model, model_kinds):
    """One report with a map of every model kind: (report, {kind: (fitted, map id)})."""
    report = Report("latent maps")
    maps = {}
    for kind in model_kinds:
        fitted = _fitted(make_model, kind)
        X = _rows(fitted.n_features)
        add_latent_map(report, fitted, X, np.arange(len(X)) % 4,
                       image_shape=_shape(model_kinds, kind), title=f"map of {kind}")
        maps[kind] = (fitted, report.results["latent_maps"][-1]["id"])
    return report, maps


def _state(browser, map_id, what):
    return browser.execute_script(
        f"var s = window.aekitLatentMap.maps[arguments[0]]; var v = s.{what};"
        "function a(x) { return Array.from(x); }"
        "if (Array.isArray(v)) return v.map(function (p) { return {code: a(p.code), "
        "values: a(p.values), xy: p.xy ? a(p.xy) : null, t: p.t}; });"
        "return {code: a(v.code), values: a(v.values), source: v.source};", map_id)


def _click(browser, canvas, dx, dy):
    from selenium.webdriver.common.action_chains import ActionChains

    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", canvas)
    ActionChains(browser).move_to_element_with_offset(canvas, dx, dy).click().perform()


def _check_decoded(fitted, state):
    code = np.asarray(state["code"], np.float32)
    want = fitted.decode(code[None])[0]
    got = np.asarray(state["values"])
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= TOL, np.max(np.abs(got - want))


def _check_on_plane(browser, map_id, state, xy):
    data = browser.execute_script(
        "var d = window.aekitLatentMap.maps[arguments[0]].data; return [d.plane.origin, "
        "d.plane.axes, d.code_size];", map_id)
    import base64

    origin = np.frombuffer(base64.b64decode(data[0]), "<f4").astype(np.float64)
    axes = np.frombuffer(base64.b64decode(data[1]), "<f4").astype(np.float64).reshape(2, -1)
    np.testing.assert_allclose(state["code"], origin + np.asarray(xy) @ axes, rtol=1e-5,
                               atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("self_contained", [False, True], ids=["folder", "single-file"])
def test_clicks_decode_like_pytorch_in_every_kind(browser, open_page, page, tmp_path,
                                                 self_contained):
    report, maps = page
    html_path = report.save(tmp_path / ("r.html" if self_contained else "r"),
                            self_contained=self_contained)
    if not self_contained:  # nothing outside the folder: the scripts are files in it
        assert (html_path.parent / "latent-map" / "latent_map.js").is_file()
    _, errors = open_page(browser, html_path)
    assert errors == [], f"console errors: {errors}"
    for kind, (fitted, map_id) in maps.items():
        root = browser.find_element("css selector", f'.aekit-latent-map[data-map="{map_id}"]')
        assert root.get_attribute("data-ready") == "1", kind
        canvas = root.find_element("css selector", ".lm-plot")
        _click(browser, canvas, -60, 45)
        first = _state(browser, map_id, "shown")
        assert first["source"] == "click", kind
        _check_decoded(fitted, first)
        picks = _state(browser, map_id, "picks")
        assert len(picks) == 1 and picks[0]["code"] == first["code"]
        _check_on_plane(browser, map_id, first, picks[0]["xy"])
        # The position is where the pointer clicked (within a pixel of the map's scale).
        view = browser.execute_script(
            "return window.aekitLatentMap.maps[arguments[0]].data.view;", map_id)
        span = np.array([view["x"][1] - view["x"][0], view["y"][1] - view["y"][0]])
        expect = np.array([view["x"][0] + (210 - 60) / 420 * span[0],
                           view["y"][1] - (210 + 45) / 420 * span[1]])
        assert np.all(np.abs(np.asarray(picks[0]["xy"]) - expect) <= 1.5 * span / 420), kind
        # The preview canvas shows those values (8-bit, padding black).
        pixels = browser.execute_script(
            "var c = arguments[0]; return Array.from(c.getContext('2d').getImageData(0, 0, "
            "c.width, c.height).data);", root.find_element("css selector", ".lm-preview"))
        c, h, w = browser.execute_script(
            "return window.aekitLatentMap.maps[arguments[0]].data.image_shape;", map_id)
        shown = np.asarray(pixels, np.int64).reshape(h, -1, 4)[..., 0]  # red channel
        vals = np.zeros(c * h * w)
        vals[:fitted.n_features] = first["values"]
        tiles = vals.reshape(c, h, w)[:3 if c == 3 else c]
        expect_px = np.round(255 * np.clip(tiles, 0, 1))
        expect_px = expect_px[0] if c == 3 else np.concatenate(list(expect_px), axis=1)
        assert np.abs(shown - expect_px).max() <= 1, kind
        # A second click: the interpolation strip between the two codes.
        _click(browser, canvas, 70, -80)
        strip = _state(browser, map_id, "strip")
        picks = _state(browser, map_id, "picks")
        assert len(picks) == 2 and len(strip) == 8
        a, b = (np.asarray(p["code"], np.float64) for p in picks)
        for step in strip:
            np.testing.assert_allclose(step["code"], (1 - step["t"]) * a + step["t"] * b,
                                       rtol=1e-6, atol=1e-6)
            _check_decoded(fitted, step)
        assert len(root.find_elements("css selector", ".lm-strip canvas")) == 8
        # A third click starts a new pair.
        _click(browser, canvas, 10, 10)
        assert len(_state(browser, map_id, "picks")) == 1
        assert _state(browser, map_id, "strip") == []
    errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert errors == [], f"console errors: {errors}"


@pytest.mark.slow
def test_hover_decodes_the_code_under_the_pointer(browser, open_page, page, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    report, maps = page
    fitted, map_id = maps["conv-transpose"]
    _, errors = open_page(browser, report.save(tmp_path / "r"))
    assert errors == []
    canvas = browser.find_element("css selector", f'[data-map="{map_id}"] .lm-plot')
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", canvas)
    before = _state(browser, map_id, "shown")
    ActionChains(browser).move_to_element_with_offset(canvas, 33, -71).perform()
    # The hover decode runs on the next animation frame: wait for it (a handshake on the
    # page's own state, not a delay).
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(lambda d: d.execute_script(
        "return window.aekitLatentMap.maps[arguments[0]].shown.source", map_id) == "hover")
    shown = _state(browser, map_id, "shown")
    assert shown["code"] != before["code"]
    _check_decoded(fitted, shown)


@pytest.mark.slow
def test_standard_report_has_a_working_map(browser, open_page, trained_model, digits_data,
                                           single_thread, tmp_path):
    """build_report puts the interactive map into the report, here for a 2-D code, whose
    positions are the codes themselves."""
    from aekit.report import build_report

    train_ds, test_ds = digits_data
    model, obj, history = trained_model(code_size=2)
    with single_thread():
        report = build_report(model, train_ds.X[:300], test_ds.X[:120], y_train=train_ds.y[:300],
                              y_test=test_ds.y[:120], history=history, objective=obj,
                              iw_samples=5, max_map_points=120)
    (entry,) = report.results["latent_maps"]
    assert entry["method"] == "codes" and entry["points"] == 120
    _, errors = open_page(browser, report.save(tmp_path / "report"))
    assert errors == [], f"console errors: {errors}"
    canvas = browser.find_element("css selector", f'[data-map="{entry["id"]}"] .lm-plot')
    _click(browser, canvas, 25, 30)
    state = _state(browser, entry["id"], "shown")
    picks = _state(browser, entry["id"], "picks")
    np.testing.assert_allclose(state["code"], picks[0]["xy"], rtol=1e-6, atol=1e-6)
    _check_decoded(FittedAutoencoder(model), state)


@pytest.mark.slow
def test_a_tables_rows_are_drawn_as_feature_bars(browser, open_page, tmp_path):
    """Issue 28, first hour: reports on CSV data had no map. A table's report (build_report
    with no image shape) carries one; a click decodes like PyTorch and the preview draws each
    feature as a bar whose height is its value within that feature's range."""
    from sklearn.datasets import load_wine

    from aekit.estimators import StackedAutoencoder
    from aekit.report import build_report

    X = load_wine().data.astype(np.float32)
    X = (X - X.mean(0)) / X.std(0)
    est = StackedAutoencoder(n_components=3, hidden_layer_sizes=(16,), epochs=30,
                             random_state=0).fit(X[:140])
    report = build_report(est, X[:140], X[140:], title="wine")
    (entry,) = report.results["latent_maps"]
    html_path = report.save(tmp_path / "r")
    _, errors = open_page(browser, html_path)
    assert errors == [], f"console errors: {errors}"
    map_id = entry["id"]
    root = browser.find_element("css selector", f'.aekit-latent-map[data-map="{map_id}"]')
    assert root.get_attribute("data-ready") == "1"
    _click(browser, root.find_element("css selector", ".lm-plot"), 30, -20)
    shown = _state(browser, map_id, "shown")
    _check_decoded(est.fitted_, shown)
    profile = browser.execute_script(
        "return window.aekitLatentMap.maps[arguments[0]].data.profile;", map_id)
    preview = root.find_element("css selector", ".lm-preview")
    w, h, pixels = browser.execute_script(
        "var c = arguments[0]; return [c.width, c.height, Array.from(c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data)];", preview)
    d = X.shape[1]
    bar = w // d
    dark = np.asarray(pixels, np.int64).reshape(h, w, 4)[..., 0] < 128
    lo, hi = np.asarray(profile["lo"]), np.asarray(profile["hi"])
    expect = np.round(h * np.clip((np.asarray(shown["values"]) - lo) / (hi - lo), 0, 1))
    heights = dark[:, np.arange(d) * bar].sum(axis=0)
    assert np.abs(heights - expect).max() <= 1, (heights, expect)
