"""The report's interactive latent map: decode any point of the code map in the browser.

The map shows the test codes in two dimensions. Hovering decodes the code under the
pointer and shows the image; clicking pins it; a second click pins another and shows the
interpolation strip between the two (linear in code space). Everything runs in the page,
offline, from the report folder (or inlined in a self-contained report): no CDN, no server.

Which code a map position stands for. A 2-D code is drawn as is, so the position (a, b)
*is* the code. A larger code (k > 2) is drawn on its two leading principal axes: the map
shows (Z - m) V^T for the test codes Z (n, k), their mean m and the top two right singular
vectors V (2, k) of Z - m (unit length, signs fixed so each one's largest entry is
positive), and the position (a, b) decodes the code z = m + a V_1 + b V_2: the plane
through the mean code spanned by the two directions along which the codes vary most.
(The t-SNE map of the report's static figure has no inverse, so it cannot drive the
decoder.) Codes of the test rows lie off this plane by their other k - 2 components.

How the decoder runs. Its layers are exported as a list of operations with float32
weights (base64) and a small JavaScript forward pass (``latent_map.js``) evaluates them:
dense layers (tied decoders get their transposed encoder weights written out), and for
convolutional decoders the same forward pass in JavaScript: the dense bottleneck, 4x4
stride-2 transposed convolutions, or nearest upsampling / max-unpooling followed by 3x3
convolutions. A forward pass (rather than a precomputed grid of decoded images) decodes
exactly the code under the pointer, with no snapping, and its files stay the size of the
decoder's weights; the pretrained Fashion-MNIST conv decoder takes about 8 ms per
image (a busy 2-core machine), its dense one 2 ms.
An unpooling decoder decodes free codes with fixed top-left indices, as PyTorch does
(:attr:`aekit.fitted.FittedAutoencoder.free_code_note`). Storage is float32 like PyTorch's;
tests/test_latent_map_browser.py checks a clicked image against PyTorch within 1e-4.
"""

from __future__ import annotations

import base64
import html
import json
import math
from importlib import resources

import numpy as np
import torch
from torch import nn

from aekit import applications as app
from aekit.errors import ConfigError
from aekit.evaluation.codes import subsample
from aekit.models.conv import ConvDecoder
from aekit.models.dense import TiedDenseDecoder
from aekit.models.layers import ACTIVATIONS

SCRIPT_NAME = "latent_map.js"
FOLDER = "latent-map"  # inside the report folder
STRIP_STEPS = 8
# Decoders with more weights than this are left out of the page (their weights would
# make the report folder heavier than is reasonable to open): about 16 MB of float32.
MAX_DECODER_VALUES = 4_000_000
_ACTIVATION_NAMES = {cls: name for name, cls in ACTIVATIONS.items()}


def _b64(array) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def _act_name(module: nn.Module) -> str:
    try:
        return _ACTIVATION_NAMES[type(module)]
    except KeyError:
        raise ConfigError(f"the latent map cannot run activation {type(module).__name__} "
                          "in the page") from None


def decoder_program(fitted) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The decoder of ``fitted`` as (operations, {name: float32 array}) for the page's
    forward pass (see ``latent_map.js`` for each operation): code (k,) -> the output row
    (n_features,), after the output activation, layout padding cropped.

    Long because it mirrors the decoder's layers one by one (dense, conv bottleneck, each
    decoder block), as latent_map.js replays them: one list, in the modules' order."""
    module = fitted.module
    config = module.config
    ops: list[dict] = []
    arrays: dict[str, np.ndarray] = {}

    def put(tensor) -> str:
        name = f"a{len(arrays)}"
        arrays[name] = tensor.detach().to("cpu", torch.float32).contiguous().numpy()
        return name

    def linear(weight, bias) -> None:
        ops.append({"op": "linear", "w": put(weight), "b": put(bias)})

    def act(module_or_name) -> None:
        name = module_or_name if isinstance(module_or_name, str) else _act_name(module_or_name)
        if name != "linear":
            ops.append({"op": "act", "fn": name})

    decoder = module.decoder
    if config.architecture == "dense":
        if isinstance(decoder, TiedDenseDecoder):
            # W_dec[l] = W_enc[N-l+1]^T: the page gets the transposed weights written out.
            layers = list(reversed(module.encoder.layers))
            for i, (layer, bias) in enumerate(zip(layers, decoder.biases)):
                linear(layer.weight.t(), bias)
                if i < len(decoder.acts):
                    act(decoder.acts[i])
        else:
            for i, layer in enumerate(decoder.layers):
                linear(layer.weight, layer.bias)
                if i < len(decoder.acts):
                    act(decoder.acts[i])
    else:
        if not isinstance(decoder, ConvDecoder):
            raise ConfigError(f"the latent map cannot run a {type(decoder).__name__} in the page")
        if module.from_code is not None:  # dense bottleneck: code -> flat feature map
            lin, code_act = module.from_code
            linear(lin.weight, lin.bias)
            act(code_act)
        ops.append({"op": "reshape", "shape": [int(s) for s in module.encoder.out_shape]})
        for i, size in enumerate(decoder.targets):
            layer = decoder.layers[i]
            size = [int(size[0]), int(size[1])]
            if decoder.kind == "transpose":
                _check_conv(layer, (4, 4), (2, 2), (1, 1))
                ops.append({"op": "convT", "w": put(layer.weight), "b": put(layer.bias),
                            "size": size})
            else:
                _check_conv(layer, (3, 3), (1, 1), (1, 1))
                ops.append({"op": "upsample" if decoder.kind == "upsample" else "unpool",
                            "size": size})
                ops.append({"op": "conv3", "w": put(layer.weight), "b": put(layer.bias)})
            if i < len(decoder.acts):
                act(decoder.acts[i])
    act("sigmoid" if module.output_activation == "sigmoid" else "linear")
    ops.append({"op": "crop", "n": int(fitted.n_features)})
    return ops, arrays


def _check_conv(layer, kernel, stride, padding) -> None:
    got = (tuple(layer.kernel_size), tuple(layer.stride), tuple(layer.padding),
           tuple(layer.dilation), layer.groups)
    if got != (kernel, stride, padding, (1, 1), 1):
        raise ConfigError(f"the latent map runs {kernel} convolutions with stride {stride} "
                          f"and padding {padding} only, got {got}")


def map_plane(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(positions (n, 2), origin (k,), axes (2, k), method) of codes Z (n, k), k >= 2: the
    codes themselves for k == 2 (origin 0, axes I), else their two leading principal axes
    (see the module docstring); a position p decodes origin + p @ axes."""
    Z = np.asarray(Z, np.float64)
    k = Z.shape[1]
    if k == 2:
        return Z.copy(), np.zeros(2), np.eye(2), "codes"
    origin = Z.mean(axis=0)
    _, _, vt = np.linalg.svd(Z - origin, full_matrices=False)
    axes = np.zeros((2, k))
    axes[:len(vt[:2])] = vt[:2]
    for i in range(2):
        if not axes[i].any():  # fewer than two directions of variation (1 row, collapsed)
            axes[i, i] = 1.0
        axes[i] *= np.sign(axes[i][np.argmax(np.abs(axes[i]))])
    return (Z - origin) @ axes.T, origin, axes, "pca"


def map_data(model, X, y=None, *, image_shape=None, max_points: int = 2000,
             random_state=0, class_names=None, rows: bool = False) -> dict:
    """The JSON payload of one interactive map of the codes of X (n, D) (at most
    ``max_points`` rows, labels y (n,) optional, named by ``class_names`` in label order
    when given) for ``latent_map.js``. ``rows``: the rows are no images (a table): each
    decoded row is drawn as one bar per feature, scaled by that feature's range over the
    mapped rows (``profile``)."""
    fitted = app.as_fitted(model)
    if fitted.code_size < 2:
        raise ConfigError("the interactive map needs a code of at least 2 values, got "
                          f"{fitted.code_size}")
    X = fitted.check_input(X)
    shape = None
    if not rows:
        shape = [int(s) for s in app.image_shape_of(fitted, image_shape)]
        if math.prod(shape) < fitted.n_features:
            raise ConfigError(f"image shape {shape} holds fewer values than a row "
                              f"({fitted.n_features})")
    index = subsample(len(X), max_points, random_state)
    mapped = X[index]
    P, origin, axes, method = map_plane(fitted.encode(mapped))
    ops, arrays = decoder_program(fitted)
    lo, hi = P.min(axis=0), P.max(axis=0)
    pad = 0.06 * np.maximum(hi - lo, 1e-3)
    labels = names = None
    if y is not None:
        classes, inverse = np.unique(np.asarray(y)[index], return_inverse=True)
        labels, names = inverse.astype(int).tolist(), [_label_name(c, class_names)
                                                       for c in classes]
    axis_names = (["z0", "z1"] if method == "codes" else ["principal axis 1 of the codes",
                                                            "principal axis 2 of the codes"])
    return {
        "format": 1, "method": method, "code_size": int(fitted.code_size),
        "image_shape": shape, "n_features": int(fitted.n_features),
        "profile": None if shape else {"lo": mapped.min(axis=0).astype(float).tolist(),
                                       "hi": mapped.max(axis=0).astype(float).tolist()},
        "strip_steps": STRIP_STEPS, "n_points": int(len(P)),
        "plane": {"origin": _b64(origin), "axes": _b64(axes)},
        "view": {"x": [float(lo[0] - pad[0]), float(hi[0] + pad[0])],
                 "y": [float(lo[1] - pad[1]), float(hi[1] + pad[1])],
                 "labels": axis_names},
        "points": {"xy": _b64(P), "labels": labels, "label_names": names},
        "decoder": {"ops": ops, "arrays": {n: {"shape": list(a.shape), "data": _b64(a)}
                                           for n, a in arrays.items()}},
    }


def _label_name(c, class_names=None) -> str:
    """``class_names[c]`` for an integer label in range, else the label itself."""
    if class_names is not None and isinstance(c, (int, np.integer)) \
            and 0 <= int(c) < len(class_names):
        return str(class_names[int(c)])
    return str(c)


def decoder_values(fitted) -> int:
    """How many weights the page's forward pass would carry."""
    return sum(a.numel() for a in _decoder_tensors(fitted))


def _decoder_tensors(fitted):
    m = fitted.module
    parts = [m.decoder] + ([m.from_code] if m.from_code is not None else [])
    if m.config.tied:
        parts.append(m.encoder)
    return [p for part in parts for p in part.parameters()]


def script_text() -> str:
    """The forward pass and the interaction, shipped beside this module."""
    return resources.files(__package__).joinpath(SCRIPT_NAME).read_text(encoding="utf-8")


def add_latent_map(report, model, X, y=None, *, image_shape=None, max_points: int = 2000,
                   random_state=0, class_names=None, title: str = "Interactive code map",
                   rows: bool = False):
    """Append the interactive map section to ``report`` (an :class:`aekit.report.Report`)
    and return it. X (n, D): the rows to map; y (n,): their labels (colours; named by
    ``class_names`` in label order, default the labels themselves). A decoder too large to
    carry into the page (over MAX_DECODER_VALUES weights) gets a section saying so.

    Long because it is one section of the report: its figure data, the decoder it carries
    and the text around them are written in the order the page shows them."""
    fitted = app.as_fitted(model)
    k = fitted.code_size
    plane = ("each position is the 2-D code itself" if k == 2 else
             f"the map shows the {k}-D test codes on their two leading principal axes v1, v2; "
             "a position (a, b) decodes the code mean + a*v1 + b*v2, on the plane through "
             "the mean code spanned by the two directions in which the codes vary most "
             "(t-SNE has no inverse, so it cannot drive the decoder)")
    n_values = decoder_values(fitted)
    if n_values > MAX_DECODER_VALUES:
        return report.section(title).text(
            f"Left out: the decoder has {n_values:,} weights, more than the "
            f"{MAX_DECODER_VALUES:,} the page carries.")
    data = map_data(fitted, X, y, image_shape=image_shape, max_points=max_points,
                    random_state=random_state, class_names=class_names, rows=rows)
    map_id = f"map{len(report.sections) + 1}"  # unique in the page, stable across runs
    note = fitted.free_code_note
    conv = fitted.module.config.architecture == "conv"
    section = report.section(
        title,
        claim="Every point of code space decodes to an output; nearby codes decode to "
              "similar items, and walking between two codes morphs one item into another.")
    section.text(
        f"Hover over the map to decode the code under the pointer; click to pin a point, "
        f"click a second one to see the {STRIP_STEPS}-step interpolation strip between "
        f"them (linear in code space). Here {plane}."
        + (" Each decoded row is drawn as one bar per feature, its height the value within "
           "that feature's range over the mapped test rows." if rows else "")
        + " The decoder runs in this page "
        f"({'a JavaScript convolutional' if conv else 'a JavaScript dense'} forward pass "
        f"over the model's float32 weights, {n_values:,} of them), offline."
        + (f" Note: {note}." if note else ""))
    payload = json.dumps(data, separators=(",", ":"))
    data_js = (f"(window.AEKIT_LATENT_MAP_DATA = window.AEKIT_LATENT_MAP_DATA || {{}})"
               f"[{json.dumps(map_id)}] = {payload};\n")
    e = html.escape
    xlabel, ylabel = data["view"]["labels"]
    markup = (
        f'<div class="aekit-latent-map" data-map="{e(map_id)}">'
        "<style>.aekit-latent-map .lm-row{display:flex;gap:1.2em;flex-wrap:wrap;"
        "align-items:flex-start}.aekit-latent-map .lm-plot{border:1px solid #ccc;"
        "cursor:crosshair;width:420px;height:420px}.aekit-latent-map canvas.lm-preview,"
        ".aekit-latent-map canvas.lm-strip-image{image-rendering:pixelated;"
        "border:1px solid #ddd}.aekit-latent-map canvas.lm-preview{height:168px}"
        ".aekit-latent-map canvas.lm-strip-image{height:72px;margin-right:2px}"
        ".aekit-latent-map .lm-readout{font:12px monospace;max-width:30em;"
        "word-break:break-all}.aekit-latent-map .lm-key{margin-right:.8em;font-size:.85em}"
        ".aekit-latent-map .lm-dot{display:inline-block;width:.7em;height:.7em;"
        "margin-right:.25em;border-radius:50%}</style>"
        '<div class="lm-row"><div>'
        '<canvas class="lm-plot" width="420" height="420"></canvas>'
        f'<div class="lm-axes">x: {e(xlabel)}; y: {e(ylabel)}</div>'
        '<div class="lm-legend"></div></div>'
        '<div><canvas class="lm-preview"></canvas><div class="lm-readout"></div></div></div>'
        '<div class="lm-strip"></div>'
        "<noscript>The interactive map needs JavaScript.</noscript></div>")
    section.html(markup, files={f"{FOLDER}/{map_id}.js": data_js.encode("utf-8"),
                                f"{FOLDER}/{SCRIPT_NAME}": script_text().encode("utf-8")},
                 scripts=[f"{FOLDER}/{map_id}.js", f"{FOLDER}/{SCRIPT_NAME}"])
    report.results.setdefault("latent_maps", []).append(
        {"id": map_id, "method": data["method"], "code_size": k,
         "points": data["n_points"], "decoder_values": n_values})
    return section
