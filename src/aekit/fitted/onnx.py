"""ONNX export of a fitted autoencoder, checked against PyTorch before it is written.

One graph per part, each taking and giving the user's own rows (never the network's padded
ones), with a dynamic batch axis:

- ``autoencoder``: x (batch, D) -> reconstruction (batch, D) and score (batch,): the
  deterministic reconstruction :meth:`FittedAutoencoder.reconstruct` computes (a VAE's
  decoder mean at z = mu; an unpooling decoder uses the input's own max-pooling indices,
  which exist inside this graph) and its per-row error :meth:`reconstruction_error`
  (``score``: "sse", "mse" or "bce"), so an anomaly decision is ``score > threshold``.
- ``encoder``: x -> code (batch, k); a VAE gives mu and logvar (log sigma^2), each (batch, k).
- ``decoder``: code (batch, k) -> reconstruction (batch, D). Refused for a max-unpooling
  decoder: it needs the encoder's pooling indices (export the whole autoencoder).
- ``classifier``: x -> logits and probabilities (batch, n_classes), for an
  :class:`~aekit.estimators.AutoencoderClassifier` (the head its fitted model owns).

Padding (a flat row laid out on a larger image) happens inside the graph: the input is the
D values of a row, images flattened row-major as (C, H, W). The model's metadata (ONNX
``metadata_props``, keys ``aekit.*``) say so, with the image shape, the padding, the output
activation, the score's definition and, when one is given, the anomaly threshold; read them
back with :func:`read_metadata` (or ``onnxruntime``'s ``get_modelmeta()``).

Exporter: ``torch.onnx.export(..., dynamo=True)`` (torch.export + onnxscript). The
TorchScript exporter (``dynamo=False``) has no ONNX form of ``aten::max_unpool2d`` in torch
2.13, so it cannot export the unpooling decoder; the dynamo exporter exports every model
kind and agrees with PyTorch to about 1e-7 (tests/test_onnx_export.py). Every export is run
in onnxruntime on CHECK_ROWS rows and compared with the same module in PyTorch before the
file is written (atomically); a disagreement beyond CHECK_TOLERANCE is an error, not a file.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.metadata
import importlib.util
import io
import json
import logging
import math
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aekit.errors import AekitError, ConfigError, DataError

PARTS = ("autoencoder", "encoder", "decoder", "classifier", "segmenter")
SCORES = ("sse", "mse", "bce")  # FittedAutoencoder's ERROR_METRICS (a test keeps them equal)
FORMAT = "aekit-onnx-1"
PREFIX = "aekit."
CHECK_ROWS = 64
CHECK_TOLERANCE = 1e-4  # relative to max(1, |value|); measured differences are ~1e-7
REQUIRED = ("onnx", "onnxscript", "onnxruntime")
SCORE_TEXT = {
    "sse": "sum over the n_features values of a row of (x - reconstruction)^2 (units of x "
           "squared); FittedAutoencoder.reconstruction_error(X, 'sse'), minus the "
           "estimators' score_samples for a plain autoencoder",
    "mse": "mean over the n_features values of a row of (x - reconstruction)^2; "
           "aekit.applications.anomaly_scores(model, X, 'mse')",
    "bce": "mean binary cross-entropy per value of a row, nats (x in [0, 1]); "
           "aekit.applications.anomaly_scores(model, X, 'bce')",
}
LAYOUT_TEXT = ("input x: one row per sample holding its n_features values as float32 (an "
               "image flattened row-major as (C, H, W)); the graph appends pad zeros, lays the "
               "row out on image_shape and crops every output row back to n_features values")


def require_onnx() -> None:
    """ConfigError naming the extra when onnx, onnxscript or onnxruntime is missing."""
    missing = [m for m in REQUIRED if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"ONNX export needs the {', '.join(missing)} package"
                          f"{'s' if len(missing) > 1 else ''}: pip install 'aekit[onnx]'")


# --- the graphs: user rows in, user rows out ---------------------------------------------
class _Part(nn.Module):
    """Pads user rows (B, D) to the network's width and crops outputs back to D."""

    def __init__(self, module, layout):
        super().__init__()
        self.module, self.d, self.pad = module, int(layout.n_features), int(layout.pad)

    def rows(self, x):  # (B, D) -> (B, D + pad)
        return F.pad(x, (0, self.pad)) if self.pad else x

    def crop(self, out):  # (B, D + pad) -> (B, D)
        return out[:, :self.d] if self.pad else out



class AutoencoderGraph(_Part):
    """x -> (reconstruction, score): FittedAutoencoder.reconstruct and
    reconstruction_error(score) in one pass (z = the code, mu for a VAE; an unpooling
    decoder gets the encoder's indices of this very input)."""

    def __init__(self, module, layout, score: str):
        super().__init__(module, layout)
        self.score = score

    def forward(self, x):
        z, context = self.module.encode_with_context(self.rows(x))
        logits = self.crop(self.module.decode_logits(z, context))  # (B, D)
        recon = self.module.output(logits)
        if self.score == "bce":
            if self.module.output_activation == "sigmoid":  # stable, from the logits
                err = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
            else:
                p = logits.clamp(1e-7, 1 - 1e-7)
                err = -(x * torch.log(p) + (1 - x) * torch.log1p(-p))
            return recon, _saturate(err.mean(1))
        sq = (recon - x).pow(2)
        return recon, _saturate(sq.sum(1) if self.score == "sse" else sq.mean(1))


def _saturate(score):
    """A NaN score (a huge input overflowing float32 inside the graph, e.g. inf - inf) is
    +inf: such a row is as anomalous as can be, so ``score > threshold`` flags it (aekit's
    own paths refuse such rows; docs/reliability.md)."""
    return torch.where(torch.isnan(score), torch.full_like(score, float("inf")), score)


class EncoderGraph(_Part):
    """x -> code (B, k); a VAE: (mu, logvar)."""

    def forward(self, x):
        if self.module.variational:
            return self.module.encode_distribution(self.rows(x))
        return self.module.encode_with_context(self.rows(x))[0]


class DecoderGraph(_Part):
    """code (B, k) -> reconstruction (B, D) after the output activation."""

    def forward(self, z):
        return self.crop(self.module.decode(z))


class ClassifierGraph(_Part):
    """x -> (logits, probabilities) of the classifier's head on the encoder's codes."""

    def __init__(self, module, layout, head):
        super().__init__(module, layout)
        self.head = head

    def forward(self, x):
        x = self.rows(x)
        # a few-label network classifies itself (its own top layer); else the head on codes
        logits = self.module.classify(x) if self.head is None else \
            self.head(self.module.encode(x))
        return logits, torch.softmax(logits, dim=1)


class SegmenterGraph(_Part):
    """x -> (probabilities (B, K, H, W), classes (B, H, W)) of a segmentation network:
    FittedAutoencoder.segment with and without ``proba``."""

    def forward(self, x):
        probabilities = torch.softmax(self.module.class_logits(self.rows(x)), dim=1)
        return probabilities, probabilities.argmax(dim=1)


def _graph(fitted, part: str, score: str):
    """(wrapper module, input name, output names, output descriptions) of ``part``."""
    c = fitted.module.config
    # a ladder or M2 network (a FittedClassifier: its own part is its classifier)
    if fitted.onnx_part == "classifier":
        if part != "classifier":
            raise ConfigError(
                f"part={part!r}: a {c.name} network exports its classifier only (part="
                "'classifier'); its encoder runs with the class it infers and M2's decoder "
                "takes a class as well as a code, which these graphs' one input cannot carry")
        return (ClassifierGraph(_cpu_float_copy(fitted.module), fitted.layout, None), "x",
                ("logits", "probabilities"),
                ("logits (batch, n_classes)", "probabilities (batch, n_classes): softmax of "
                 "the logits, columns in the order of aekit.classes"))
    segmenter = getattr(c, "n_classes", None) is not None
    if segmenter != (part == "segmenter"):
        raise ConfigError("part='segmenter' is the one part of a segmentation network (per-"
                          "pixel classes)" if segmenter else
                          "part='segmenter' needs a segmentation network (ConvSegmenter)")
    module, layout = _cpu_float_copy(fitted.module), fitted.layout
    if segmenter:
        k, (h, w) = c.n_classes, layout.image_shape[1:]
        return (SegmenterGraph(module, layout), "x", ("probabilities", "classes"),
                (f"probabilities (batch, {k}, {h}, {w}): softmax over the classes per pixel",
                 f"classes (batch, {h}, {w}) int64: the most probable class per pixel "
                 "(0: background)"))
    d, k = fitted.n_features, fitted.code_size
    if part == "autoencoder":
        what = (f"reconstruction (batch, {d}) after the output activation",
                f"score (batch,): {score}, per row, from the reconstruction")
        return AutoencoderGraph(module, layout, score), "x", ("reconstruction", "score"), what
    if part == "encoder":
        if fitted.variational:
            return (EncoderGraph(module, layout), "x", ("mu", "logvar"),
                    (f"mu (batch, {k}): posterior mean", f"logvar (batch, {k}): log sigma^2 "
                     "of the posterior q(z|x) = N(mu, diag(exp(logvar)))"))
        return EncoderGraph(module, layout), "x", ("code",), (f"code (batch, {k})",)
    if part == "decoder":
        if c.architecture == "conv" and c.decoder == "unpool":
            raise ConfigError(
                "part='decoder': this model's max-unpooling decoder needs the pooling indices "
                "of the encoder, which a code alone does not have; export part='autoencoder' "
                "(the decoder runs inside it with the input's own indices)")
        return (DecoderGraph(module, layout), "code", ("reconstruction",),
                (f"reconstruction (batch, {d}) after the output activation",))
    head = _cpu_float_copy(fitted.head)  # part == "classifier": _check_options saw a head
    return (ClassifierGraph(module, layout, head), "x", ("logits", "probabilities"),
            ("logits (batch, n_classes)", "probabilities (batch, n_classes): softmax of the "
             "logits, columns in the order of aekit.classes"))


def _cpu_float_copy(module):
    """A float32 CPU copy in eval mode (tied weights stay tied: one deepcopy); the user's
    module keeps its device, dtype and mode."""
    return copy.deepcopy(module).float().cpu().eval()


# --- export ------------------------------------------------------------------------------
def _check_options(fitted, path, part, threshold, score, force) -> tuple[Path, float]:
    if part not in PARTS:
        raise ConfigError(f"part {part!r} is not one of {list(PARTS)}")
    if score not in SCORES:
        raise ConfigError(f"score {score!r} is not one of {list(SCORES)}")
    if threshold is not None:
        if part != "autoencoder":
            raise ConfigError("threshold applies to part='autoencoder' (the graph with the "
                              f"anomaly score), not part={part!r}")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) \
                or not math.isfinite(float(threshold)):
            raise ConfigError(f"threshold must be a finite number, got {threshold!r}")
        threshold = float(threshold)
    if part == "classifier" and not fitted.classifies:
        raise ConfigError("part='classifier' needs a classifier: export it from a fitted "
                          "AutoencoderClassifier (or its saved folder)")
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a file name (model.onnx)")
    if path.exists() and not force:
        raise ConfigError(f"{path}: exists; pass force=True (--force) to replace it")
    if not path.parent.is_dir():
        raise ConfigError(f"{path}: folder {path.parent} does not exist")
    return path, threshold


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter's chatter (torchvision not installed, deprecations inside torch) is
    not the user's business: silenced for the export only, levels restored after."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "onnxscript",
                                               "onnx_ir", "torch._dynamo")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _example(n: int, width: int, seed: int = 0) -> torch.Tensor:
    """n rows uniform in [0, 1), seeded: the trace input and the parity probe."""
    return torch.rand((n, width), generator=torch.Generator().manual_seed(seed))


def export_onnx(fitted, path, part: str | None = None, *, threshold=None,
                score: str = "sse", force: bool = False) -> Path:
    """Write ``part`` of ``fitted`` (a :class:`FittedAutoencoder` or
    :class:`FittedSegmenter`) to the ONNX file ``path``.

    part: 'autoencoder' (x -> reconstruction, score), 'encoder' (x -> code; a VAE: mu,
        logvar), 'decoder' (code -> reconstruction; not for a max-unpooling decoder),
        'classifier' (x -> logits, probabilities; a fitted classifier's, whose model owns
        its head and class labels) or 'segmenter' (a segmentation network's one part);
        None: the model's whole network ('segmenter' or 'autoencoder').
    threshold: an anomaly threshold on ``score`` (part='autoencoder'), stored in the
        metadata: a row is an anomaly when score > threshold.
    score: the per-row error the autoencoder graph outputs: 'sse' (default, minus the
        estimators' ``score_samples`` for a plain autoencoder), 'mse' or 'bce'.
    force: replace an existing file (never done otherwise).

    Returns the path. The file is written only after onnxruntime reproduced PyTorch on
    CHECK_ROWS rows (see the module docstring); its metadata is :func:`read_metadata`'s.
    """
    require_onnx()
    part = fitted.onnx_part if part is None else part
    path, threshold = _check_options(fitted, path, part, threshold, score, force)
    graph, in_name, out_names, out_text = _graph(fitted, part, score)
    width = fitted.code_size if part == "decoder" else fitted.n_features
    with _quiet_exporter():
        program = torch.onnx.export(
            graph, (_example(3, width),), dynamo=True, input_names=[in_name],
            output_names=list(out_names), dynamic_shapes=({0: torch.export.Dim("batch")},),
            verbose=False)
    proto = program.model_proto
    meta = _metadata(fitted, part, in_name, out_names, out_text, score, threshold,
                     getattr(fitted, "classes", None), proto)
    diff = _check_parity(graph, proto, in_name, out_names, width)
    meta["check"] = {"rows": CHECK_ROWS, "max_abs_diff": diff,
                     "what": "onnxruntime against PyTorch on rows uniform in [0, 1)"}
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = PREFIX + key, value if isinstance(value, str) else \
            json.dumps(value)
    from aekit.io.atomic import write_bytes_atomic

    write_bytes_atomic(path, proto.SerializeToString())
    return path


def _metadata(fitted, part, in_name, out_names, out_text, score, threshold, classes,
              proto) -> dict:
    c = fitted.module.config
    layout = fitted.layout
    d, k = fitted.n_features, fitted.code_size
    few_labels = fitted.onnx_part == "classifier"
    model = {"kind": "segmentation network" if part == "segmenter" else
             f"{c.name} network (few labels)" if few_labels else
             "variational autoencoder" if fitted.variational else "autoencoder",
             "architecture": c.architecture, "n_features": d, "code_size": k}
    if part == "segmenter":
        model["n_classes"] = int(c.n_classes)
    if c.architecture == "conv":
        model["decoder"] = c.decoder
    if c.tied:
        model["tied"] = True
    in_shape = ["batch", k if part == "decoder" else d]
    meta = {
        "format": FORMAT,
        "aekit_version": importlib.metadata.version("aekit"),
        "part": part,
        "model": model,
        "inputs": [{"name": in_name, "shape": in_shape, "dtype": "float32"}],
        "outputs": [{"name": n, "what": t} for n, t in zip(out_names, out_text)],
        "n_features": d,
        "image_shape": list(layout.image_shape) if layout.image_shape else None,
        "pad": int(layout.pad),
        "layout": LAYOUT_TEXT if part != "decoder" else
        "input code: one row per sample; outputs are rows of n_features values (an image "
        "flattened row-major as (C, H, W))",
        "output_activation": None if few_labels else fitted.module.output_activation,
        "code_size": k,
        "exporter": f"torch.onnx.export(dynamo=True), torch {torch.__version__}, opset "
                    f"{max(o.version for o in proto.opset_import if o.domain in ('', 'ai.onnx'))}",
    }
    if part == "autoencoder":
        meta["score"] = score
        meta["score_definition"] = SCORE_TEXT[score] + "; higher = more anomalous" + (
            "; computed at z = mu (the decoder mean), not the ELBO"
            if fitted.variational else "")
        if threshold is not None:
            meta["threshold"] = threshold
            meta["decision"] = "anomaly when score > threshold"
    if part == "classifier" and classes is not None:
        meta["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
    return meta


def _check_parity(graph, proto, in_name, out_names, width) -> float:
    """Max abs difference between onnxruntime and PyTorch on CHECK_ROWS rows; an error
    beyond CHECK_TOLERANCE * max(1, |value|)."""
    import onnxruntime as ort

    x = _example(CHECK_ROWS, width, seed=1)
    with torch.no_grad():
        ref = graph(x)
    ref = [r.numpy() for r in (ref if isinstance(ref, tuple) else (ref,))]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # tiny graphs: threads only spin (and CPUs are shared)
    opts.log_severity_level = 3
    session = ort.InferenceSession(proto.SerializeToString(), opts,
                                   providers=["CPUExecutionProvider"])
    got = session.run(list(out_names), {in_name: x.numpy()})
    worst = 0.0
    for name, a, b in zip(out_names, got, ref):
        if b.dtype.kind in "iu":  # classes: equal, except where two classes tie to ~1e-6
            probs = ref[0]
            top = np.sort(probs, axis=1)
            tie = (top[:, -1] - top[:, -2]) <= CHECK_TOLERANCE
            if a.shape != b.shape or not np.all((a == b) | tie):
                raise AekitError(f"ONNX export: output {name!r} of the exported graph "
                                 "differs from PyTorch; nothing was written")
            continue
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        if a.shape != b.shape or not np.all(diff <= CHECK_TOLERANCE * np.maximum(1, np.abs(b))):
            raise AekitError(f"ONNX export: output {name!r} of the exported graph differs "
                             f"from PyTorch (max abs difference {float(diff.max()):.3g}); "
                             "nothing was written")
        worst = max(worst, float(diff.max()))
    return worst


def read_metadata(path) -> dict:
    """The ``aekit.*`` metadata of an exported ONNX file, decoded (JSON values parsed;
    the prefix dropped): part, inputs, outputs, n_features, image_shape, pad,
    output_activation, score, threshold, ..."""
    require_onnx()
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise DataError(f"{path}: not a readable ONNX file ({exc})") from None
    out = {}
    for prop in model.metadata_props:
        if prop.key.startswith(PREFIX):
            out[prop.key[len(PREFIX):]] = _decode(prop.value)
    return out


def _decode(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value
