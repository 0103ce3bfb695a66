"""Semantic segmentation with SegNet (Badrinarayanan, Kendall & Cipolla, arXiv:1511.00561):
a convolutional encoder-decoder that predicts a class for every pixel.

The network is aekit's conv encoder with one of its three decoders - 'unpool' is SegNet's,
max-unpooling with the encoder's pooling indices - ending in a per-pixel class head
(:class:`aekit.models.SegmentationNetwork`). Training is the one training loop
(:class:`aekit.training.trainer.Trainer`: checkpoints, resume, DDP, progress) with the
supervised objective the classifier uses, :class:`aekit.losses.CrossEntropy`, over
``(image, mask)`` batches; the fitted network is a :class:`aekit.fitted.FittedSegmenter`
(``fitted_``), saved and loaded like every aekit model.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from aekit.errors import DataError, ModelFileError
from aekit.estimators.base import AutoencoderMixin, on_own_threads, store_params
from aekit.estimators.params import documented
from aekit.fitted import FittedSegmenter
from aekit.io.rows import LabelledSource, make_source
from aekit.losses import CrossEntropy
from aekit.models.segmentation import MAX_CLASSES, SegmentationConfig
from aekit.training.trainer import Trainer

EVAL_IMAGES = 64  # images per validation batch (a 64x64 image's activations are large)


def check_masks(masks, n: int, shape: tuple[int, int], n_classes: int | None = None,
                name: str = "masks") -> np.ndarray:
    """``masks`` -> int64 (n, H, W): one mask per image, of the images' (H, W), whole
    numbers >= 0 (and < n_classes when given). Flat masks (n, H*W) are accepted. Any other
    input is a DataError naming the first offending row."""
    M = np.asarray(masks)
    if M.dtype.kind not in "biuf":
        raise DataError(f"{name} must hold integer class labels, got dtype {M.dtype}")
    if M.ndim == 2 and M.shape[1:] == (shape[0] * shape[1],):
        M = M.reshape(len(M), *shape)
    if M.ndim != 3 or len(M) != n or M.shape[1:] != tuple(shape):
        raise DataError(f"{name} must have shape ({n}, {shape[0]}, {shape[1]}) (one mask per "
                        f"image, of the images' height and width), got {M.shape}")
    flat = M.reshape(n, -1)
    if M.dtype.kind == "f":
        bad = ~np.isfinite(flat) | (flat != np.floor(flat))
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise DataError(f"{name}: row {row} (0-based) holds a value that is not a whole "
                            f"number ({flat[row][bad[row]][0]!r}); masks are class indices")
    for what, bad in (("below 0", flat < 0),
                      (f"not below n_classes={n_classes}",
                       flat >= n_classes if n_classes is not None else None),
                      (f"above the most classes a segmenter has ({MAX_CLASSES})",
                       flat >= MAX_CLASSES)):
        if bad is not None and bad.any():
            row = int(np.argwhere(bad)[0][0])
            label = flat[row][bad[row]][0]
            void = (" (255 marks 'void' pixels in many data sets; aekit has no ignore label: "
                    "give them a class, e.g. 0)" if label == 255 else "")
            raise DataError(f"{name}: row {row} (0-based) holds label {int(label)}, {what}; "
                            f"labels are 0 .. n_classes - 1 (0: background, at most "
                            f"{MAX_CLASSES - 1}){void}")
    return M.astype(np.int64)


def median_frequency_weights(masks: np.ndarray, n_classes: int) -> np.ndarray:
    """SegNet's class balancing (Badrinarayanan et al., sec. 3.1, after Eigen & Fergus):
    weight_c = median_freq / freq_c, freq_c = (pixels of class c) / (pixels of the images
    in which c appears); the median is over the classes that appear. A class absent from
    every mask gets weight 1 (it has no pixels to weigh). Returns (n_classes,) float64."""
    n = len(masks)
    flat = masks.reshape(n, -1)
    counts = np.stack([np.bincount(m, minlength=n_classes)[:n_classes] for m in flat])
    pixels = counts.sum(axis=0).astype(np.float64)  # (K,)
    present = counts > 0  # (n, K): class c appears in image i
    image_pixels = (present * flat.shape[1]).sum(axis=0).astype(np.float64)
    seen = pixels > 0
    freq = np.where(seen, pixels / np.maximum(image_pixels, 1), np.nan)
    median = np.median(freq[seen])
    return np.where(seen, median / np.where(seen, freq, 1.0), 1.0)


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64 pixel counts, row = true class, column = predicted."""
    idx = true.reshape(-1).astype(np.int64) * n_classes + pred.reshape(-1).astype(np.int64)
    return np.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def iou_per_class(conf: np.ndarray) -> np.ndarray:
    """IoU_c = TP / (TP + FP + FN) from a confusion matrix; NaN for a class that is in
    neither the truth nor the prediction (0 / 0)."""
    tp = np.diag(conf).astype(np.float64)
    union = conf.sum(axis=0) + conf.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


SEGMENTER_ATTRIBUTES_DOC = """
Attributes
----------
classes_ : ndarray
    The class labels, 0 .. n_classes_ - 1 (0: background).
n_classes_ : int
    Classes the network predicts.
class_weight_ : ndarray of shape (n_classes_,)
    Weight of each class's pixels in the loss (ones unless class_weight is set).
fitted_ : aekit.fitted.FittedSegmenter
    The network (module_ is it), with its input layout.
image_shape_ : tuple of int
    (C, H, W) of the images.
history_ : list of dict
    One record per epoch (loss, pixel accuracy, and their validation values).
n_components_ : int
    Size of the encoder's last feature map (channels[-1] * H' * W').
n_features_in_, feature_names_in_, n_iter_, seed_
    As in StackedAutoencoder.
"""


# Two 3x3 convs per decoder block (SegNet's decoders densify the sparse unpooled maps with
# several) and a 3x3 class head. On validation scenes (4000 scenes, 10 epochs) this raised
# unpool's boundary F1 from 0.45 to 0.55 and mIoU 0.49 -> 0.50, where one conv and a 1x1
# head left it below upsample's (0.55; 0.51 with the same blocks). benchmarks/segmentation.py
SEGNET_DECODER_CONVS, SEGNET_HEAD_KERNEL = 2, 3


@documented(SEGMENTER_ATTRIBUTES_DOC)
class ConvSegmenter(AutoencoderMixin, BaseEstimator):
    """Semantic segmentation with SegNet: a class for every pixel of an image.

    fit(X, masks): X holds images (n, C, H, W) or (n, H, W) (or flat rows with
    image_shape), any size and channel count; masks (n, H, W) holds a class index per
    pixel, 0 for the background. The network is aekit's convolutional encoder (conv +
    2x2 max-pool per entry of channels) and the decoder named by decoder (two 3x3 convs
    per block: SegNet's decoders densify the unpooled maps), ending in a 3x3 per-pixel
    softmax head over n_classes; decoder='unpool' is SegNet (max-unpooling with the
    encoder's pooling indices). The loss is the per-pixel cross-entropy, optionally with
    SegNet's median-frequency class balancing (class_weight='median_frequency').
    predict(X) gives masks (n, H, W), predict_proba(X) (n, n_classes, H, W), and
    score(X, masks) the mean IoU (aekit.evaluation.segmentation_metrics has the rest).
    """

    _image_input = True

    def __init__(self, image_shape=None, *, channels=(16, 32, 64), decoder="unpool",
                 activation="relu", n_classes=None, class_weight=None, epochs=8,
                 batch_size=16, optimizer="adam", learning_rate=3e-3, weight_decay=0.0,
                 lr_schedule="cosine", warmup_epochs=0.0, validation_fraction=0.0,
                 early_stopping=None, grad_clip=None, engine="auto", device="cpu",
                 n_threads=None, random_state=None, verbose=False):
        store_params(self, locals())

    def _model_config(self, layout):
        return SegmentationConfig(n_features=layout.module_features,
                                  n_classes=int(self.n_classes_),
                                  image_shape=layout.image_shape, hidden=tuple(self.channels),
                                  activation=self.activation, decoder=self.decoder,
                                  decoder_convs=SEGNET_DECODER_CONVS,
                                  head_kernel=SEGNET_HEAD_KERNEL)

    def _fitted(self, module, layout):
        return FittedSegmenter(module, layout=layout, seed=self.seed_)

    # --- fitting -------------------------------------------------------------------------
    @on_own_threads
    def fit(self, X, masks, *, checkpoint_dir=None, resume=False):
        """Train on images X and their masks for ``epochs`` epochs; returns self.

        ``checkpoint_dir``/``resume``: a checkpoint after every epoch, and continuing from
        it (as in :meth:`BaseAutoencoder.fit`; ``aekit train --resume``)."""
        self.validate_params()
        X, seen = self._validate_X(X, reset=True)
        layout = self._layout(X.shape[1], seen)
        if layout.pad:
            raise DataError(f"X rows have {X.shape[1]} values and no image shape: pass images "
                            "(n, C, H, W) / (n, H, W) or image_shape=(C, H, W), so the masks' "
                            "pixels line up with the images'")
        M = check_masks(masks, len(X), layout.image_shape[1:], self.n_classes)
        self.n_classes_ = int(self.n_classes) if self.n_classes is not None else \
            max(2, int(M.max()) + 1)
        self.classes_ = np.arange(self.n_classes_)
        self.class_weight_ = (median_frequency_weights(M, self.n_classes_)
                              if self.class_weight == "median_frequency"
                              else np.ones(self.n_classes_))
        module = self._build_module(layout)
        # (engine: a segmentation network has no closed-form step; 'auto' is autograd)
        config = dataclasses.replace(self._train_config(self.epochs, self.seed_),
                                     eval_batch_size=EVAL_IMAGES)
        device = torch.device(self.device)
        data = LabelledSource(make_source(layout.to_module(X), device),
                              torch.as_tensor(M, device=device))
        signature = {"model": module.config.to_dict(),
                     "class_weight": [float(w) for w in self.class_weight_]}
        try:
            result = Trainer(module, CrossEntropy(self.class_weight_), config).fit(
                data, checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir),
                resume=resume, signature=signature)
        finally:
            module.eval()
            self.fitted_ = self._fitted(module, layout)  # the best weights so far, on error
        self.history_ = list(result.history)
        self.n_iter_ = len(self.history_)
        return self

    # --- predicting ----------------------------------------------------------------------
    @on_own_threads
    def predict_proba(self, X):
        """Per-pixel class probabilities (n_samples, n_classes_, H, W), float32."""
        check_is_fitted(self)
        return self.fitted_.segment(self._validate_X(X, reset=False), proba=True)

    @on_own_threads
    def predict(self, X):
        """Per-pixel classes (n_samples, H, W), int64: the most probable class."""
        check_is_fitted(self)
        return self.fitted_.segment(self._validate_X(X, reset=False))

    @on_own_threads
    def score(self, X, y):
        """Mean IoU of ``predict(X)`` against the masks ``y`` (n, H, W): the mean over
        classes of TP / (TP + FP + FN), counting the classes that occur in the masks or
        the prediction (as ``aekit.evaluation.segmentation_metrics``)."""
        pred = self.predict(X)
        true = check_masks(y, len(pred), pred.shape[1:], self.n_classes_, name="y")
        iou = iou_per_class(confusion_matrix(true, pred, self.n_classes_))
        return float(np.nanmean(iou))

    # --- saving --------------------------------------------------------------------------
    def _train_epochs(self):
        return self.epochs

    def _json_state(self):
        state = super()._json_state()
        state["n_classes_"] = int(self.n_classes_)
        state["class_weight_"] = [float(w) for w in self.class_weight_]
        return state

    def _restore(self, fitted, state, extra):
        super()._restore(fitted, state, extra)
        k, w = state.get("n_classes_"), state.get("class_weight_")
        if isinstance(k, bool) or not isinstance(k, int) or k < 2 or \
                k != fitted.module.config.n_classes:
            raise ModelFileError("estimator state: n_classes_ must be the network's number of "
                                 "classes")
        if not isinstance(w, list) or len(w) != k or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                and v > 0 for v in w):
            raise ModelFileError(f"estimator state: class_weight_ must be {k} numbers > 0")
        self.n_classes_ = k
        self.classes_ = np.arange(k)
        self.class_weight_ = np.asarray(w, dtype=np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
