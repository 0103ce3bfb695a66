"""Semi-supervised classification with autoencoders (few labels), three methods: the
ladder network and M2, trained on the labelled and unlabelled rows together
(:mod:`aekit.models.semisupervised`), and the lecture's recipe, autoencoder pretraining on
every row, then a softmax head trained (encoder frozen) and fine-tuned on the labelled rows
and the unlabelled ones with pseudo-labels."""

from __future__ import annotations

import copy
import dataclasses
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from aekit.errors import ConfigError, DataError, ModelFileError
from aekit.estimators.base import AutoencoderMixin, on_own_threads, store_params
from aekit.estimators.params import documented
from aekit.fitted import FittedClassifier
from aekit.io.rows import LabelledSource, SemiSupervisedSource, make_source
from aekit.losses import CrossEntropy, SemiSupervisedObjective
from aekit.models import CodeHead, ModelConfig
from aekit.models.semisupervised import FEW_LABEL_METHODS, LadderConfig, M2Config
from aekit.training.trainer import Trainer


def unlabelled_mask(y: np.ndarray) -> np.ndarray:
    """Rows marked -1 (scikit-learn's semi-supervised convention), for any label dtype."""
    if y.dtype.kind in "iuf":
        return y == -1
    if y.dtype.kind == "O":
        return np.fromiter((isinstance(v, (int, float, np.number)) and v == -1 for v in y),
                           dtype=bool, count=len(y))
    return np.zeros(len(y), dtype=bool)


def class_mass_normalised(scores: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Scores (n, classes) rescaled per class so each class's total over the rows is its
    share (Zhu, Ghahramani & Lafferty 2003, class mass normalisation), then per row to sum
    to 1. A class with no mass keeps its zeros; a row with none (spreading never reached
    it: a graph component without a labelled row) becomes uniform, no evidence either
    way, so a product with another expert leaves that expert's choice."""
    scores = np.asarray(scores, dtype=np.float64)
    mass = scores.sum(axis=0)
    scores = scores / np.where(mass > 0, mass, 1.0) * shares
    total = scores.sum(axis=1, keepdims=True)
    return np.where(total > 0, scores / np.where(total > 0, total, 1.0), 1.0 / scores.shape[1])


class EncoderHead(torch.nn.Module):
    """Encoder and head as one module for fine-tuning: x (B, D) -> logits (B, classes)."""

    def __init__(self, autoencoder, head):
        super().__init__()
        self.autoencoder, self.head = autoencoder, head

    def forward(self, x, generator=None):
        return self.head(self.autoencoder.encode(x))


CLASSIFIER_ATTRIBUTES_DOC = """
Attributes
----------
classes_ : ndarray
    Labels seen in y (without -1).
fitted_ : aekit.fitted.FittedClassifier or aekit.fitted.FittedAutoencoder
    The trained network (module_) with the class labels: a FittedClassifier for 'ladder'
    and 'm2'; for 'pretrain' the autoencoder, which owns the head.
head_ : aekit.models.CodeHead or None
    Standardisation + linear layer on the codes (method='pretrain'; else None).
method_ : str
    The method fit used ('ladder', 'm2' or 'pretrain'; method='auto' chooses by rows).
hidden_layer_sizes_ : tuple of int
    The hidden widths the network was built with (hidden_layer_sizes, or the method's
    own for None).
history_ : list of dict
    One record per autoencoder epoch.
supervised_history_ : list of dict
    One record per supervised epoch.
n_labelled_ : int
    Labelled rows in fit.
n_pseudo_labelled_ : int
    Unlabelled rows that got a pseudo-label (method='pretrain', pseudo_labels='spread').
n_components_, n_features_in_, feature_names_in_, n_iter_, seed_
    As in StackedAutoencoder.
"""


@documented(CLASSIFIER_ATTRIBUTES_DOC)
class AutoencoderClassifier(ClassifierMixin, AutoencoderMixin, BaseEstimator):
    """Classifier that learns from few labels and many unlabelled rows (y == -1 marks an
    unlabelled row), by one of three methods (method; 'auto', the default, takes the
    ladder on 1000 training rows or more, else M2, and records the choice as method_):

    - 'ladder': a ladder network (Rasmus et al. 2015), a denoising
      autoencoder with a lateral connection from every encoder layer to the decoder and a
      denoising cost at each layer, trained for joint_epochs on every row with the
      labelled rows' cross-entropy; its encoder's top layer is the classifier.
    - 'm2': the semi-supervised VAE M2 (Kingma et al. 2014): q(y|x), q(z|x,y) and
      p(x|y,z), an unlabelled row's bound summed over the classes weighted by q(y|x). It
      generates by class: sample(n, y=...).
    - 'pretrain': the lecture's recipe.

      1. Pretrain a dense autoencoder on all rows of X, labelled or not (pretrain_epochs).
      2. With pseudo_labels='spread' (the default), give each unlabelled row a
         pseudo-label: label spreading over the rows' nearest-neighbour graph times a
         logistic regression on the labelled rows (see _spread_labels).
      3. Put a linear softmax head on the code; train the head alone with the encoder
         frozen (head_epochs), on the labelled rows and the pseudo-labelled ones.
      4. Fine-tune encoder + head on the same rows (finetune_epochs,
         finetune_learning_rate; finetune_epochs=0 keeps the pretrained encoder).

      With standardize_codes=True the head sees standardised codes (z - mean) / std, the
      statistics taken over the codes of every row of X after pretraining and then kept
      fixed (the same preprocessing a LogisticRegression on codes gets from a
      StandardScaler). With pretrain_epochs=0 and pseudo_labels=None the same network is
      trained from scratch on the labels alone (the baseline pretraining must beat).
      fit(X, y, pretrained=ae) starts from a copy of an already fitted
      StackedAutoencoder instead of pretraining (one autoencoder serves many
      classifiers; ae is left unchanged).

    The keywords of one method are not used by the others (pretrain_epochs, head_epochs,
    finetune_epochs, pseudo_labels, loss, noise for 'pretrain'; joint_epochs for 'ladder'
    and 'm2'; ladder_noise for 'ladder'; labelled_weight for 'm2'). On the defaults'
    accuracy against logistic regressions on the same labels, measured on digits and
    Fashion-MNIST: benchmarks/results/few_labels.md.
    """

    def __init__(self, n_components="auto", *, method="auto", hidden_layer_sizes=None,
                 activation="relu",
                 code_activation=None, output_activation="auto", loss="mse", noise=None,
                 noise_level=0.0, pretrain_epochs="auto", head_epochs="auto",
                 finetune_epochs="auto",
                 batch_size=None, supervised_batch_size=32, standardize_codes=True,
                 pseudo_labels="spread", joint_epochs="auto", ladder_noise=0.3,
                 labelled_weight="auto", optimizer="adam",
                 learning_rate=1e-3, finetune_learning_rate=None, weight_decay=0.0,
                 validation_fraction=0.0, early_stopping=None, grad_clip=None,
                 engine="auto", device="cpu", n_threads=None, random_state=None, verbose=False,
                 log_dir=None):
        store_params(self, locals())

    @property
    def epochs(self):  # the autoencoder phase, for the shared option plumbing
        return self.pretrain_epochs

    def _epochs(self, name="pretrain_epochs", n_rows=None, batch_size=None):
        return super()._epochs("pretrain_epochs" if name == "epochs" else name, n_rows,
                               batch_size)

    # method='auto': the ladder on this many training rows or more, else M2. On validation
    # splits of the training rows the ladder was the most accurate on digits (1149 rows,
    # 0.955 vs M2's 0.917) and Fashion-MNIST (50000), M2 on the standardised tables
    # breast-cancer (298 rows: 0.953 vs 0.897; a logistic regression 0.950) and wine (93:
    # 0.925 vs 0.785; 0.914): the ladder's wide network and its input-denoising cost want
    # many rows.
    LADDER_ROWS = 1000

    def _method(self, n_rows: int | None = None) -> str:
        """The method fit uses: ``method``, or for 'auto' the choice for ``n_rows`` training
        rows (fitted: ``method_``)."""
        if self.method != "auto":
            return self.method
        if n_rows is not None:
            return "ladder" if n_rows >= self.LADDER_ROWS else "m2"
        return getattr(self, "method_", "ladder")  # before fit: either takes 100 rows a step

    # batch_size=None: the method's own (the papers' 100 for the ladder and M2)
    BATCH = {"pretrain": 256, "ladder": 100, "m2": 100}

    def _batch_size(self) -> int:
        return self.BATCH[self._method()] if self.batch_size is None else int(self.batch_size)

    # folders saved before method existed hold the pretraining classifier
    _PARAMS_BEFORE = {"method": "pretrain"}

    # The methods' own hidden layers (hidden_layer_sizes=None): the pretrained encoder's;
    # the ladder of Rasmus et al. (2015, MNIST); each of M2's three networks (Kingma et al.
    # 2014 used 500).
    HIDDEN = {"pretrain": (100,), "ladder": (1000, 500, 250, 250, 250), "m2": (500,)}

    # On fewer rows than this the ladder's and M2's own widths shrink in proportion (at
    # least SMALLEST_WIDTH): the paper's widths were made for 60000 rows, and a 1000-unit
    # layer made a 30-row fit take 30 s (a step of the full ladder takes ~27 ms whatever
    # the rows). On digits (1149 training rows) the full widths stay: there they beat
    # widths scaled to the 64 features by 1 to 5 points on validation splits.
    FULL_WIDTH_ROWS = 1000
    SMALLEST_WIDTH = 8

    def _hidden(self, n_rows: int | None = None) -> tuple:
        """The hidden widths for a fit on ``n_rows`` rows (None: as fitted, or before fit
        the method's own)."""
        if self.hidden_layer_sizes is not None:
            return tuple(self.hidden_layer_sizes)
        if n_rows is None:
            return tuple(getattr(self, "hidden_layer_sizes_", self.HIDDEN[self._method()]))
        own = self.HIDDEN[self._method()]
        if self._method() == "pretrain" or n_rows >= self.FULL_WIDTH_ROWS:
            return own
        share = n_rows / self.FULL_WIDTH_ROWS
        return tuple(max(self.SMALLEST_WIDTH, round(w * share)) for w in own)

    def _model_config(self, layout):
        if self._method() == "ladder":
            return LadderConfig(n_features=layout.module_features,
                                n_classes=len(self.classes_), hidden=self._hidden(),
                                activation=self.activation, noise_std=float(self.ladder_noise))
        if self._method() == "m2":
            bernoulli = self._resolved("output_activation") == "sigmoid"
            return M2Config(n_features=layout.module_features, n_classes=len(self.classes_),
                            hidden=self._hidden(), code_size=self._code_size(),
                            activation=self.activation,
                            likelihood="bernoulli" if bernoulli else "gaussian")
        return ModelConfig(n_features=layout.module_features, hidden=self._hidden(),
                           code_size=self._code_size(), activation=self.activation,
                           code_activation=self.code_activation,
                           output_activation=self._resolved("output_activation"))

    def _check_combinations(self) -> None:
        super()._check_combinations()
        if self.method == "ladder" and self.n_components != "auto":
            raise ConfigError("n_components: the ladder's code is its last hidden layer; "
                              "leave n_components='auto' and set hidden_layer_sizes")
        if self.method in ("ladder", "auto") and self.hidden_layer_sizes is not None \
                and len(self.hidden_layer_sizes) == 0:
            raise ConfigError("hidden_layer_sizes: the ladder needs at least one hidden "
                              "layer (its code)")

    # --- fitting -------------------------------------------------------------------------
    @on_own_threads
    def fit(self, X, y, *, pretrained=None, checkpoint_dir=None, resume=False):
        """Train on X with labels y (``-1``: an unlabelled row): the ladder or M2 on every
        row at once, or (method='pretrain') pretrain on all of X, then train the head on
        rows with ``y != -1``.

        ``pretrained`` (method='pretrain' only): a fitted ``StackedAutoencoder`` with this
        classifier's network options (``n_components``, ``hidden_layer_sizes``,
        activations) and X's columns; a copy of its network replaces the pretraining phase (``pretrain_epochs`` is then
        not used). ``checkpoint_dir``/``resume`` checkpoint the training (the joint phase,
        or the autoencoder phase and the supervised ones; as in
        :meth:`BaseAutoencoder.fit`)."""
        self.validate_params()
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64])
        X = np.asarray(X, dtype=np.float32)
        unlabelled = unlabelled_mask(y)
        if unlabelled.all():
            raise DataError("y marks every row as unlabelled (-1): at least one labelled row "
                            "is needed to train the classifier head")
        check_classification_targets(y[~unlabelled])
        self.classes_, targets = np.unique(y[~unlabelled], return_inverse=True)
        self.n_labelled_ = int((~unlabelled).sum())
        self.method_ = self._method(len(X))
        if self.method_ == "ladder" and self.n_components != "auto":
            raise ConfigError(f"n_components: method={self.method!r} trains the ladder here "
                              f"({len(X)} rows), whose code is its last hidden layer; leave "
                              "n_components='auto' and set hidden_layer_sizes")
        if self._method() != "pretrain" and len(self.classes_) < 2:
            raise DataError(f"y: the labelled rows are all of one class "
                            f"({self.classes_[0]!r}); method {self._method()!r} learns to tell "
                            "classes apart and needs labelled rows of at least 2 classes")
        self._resolve_auto(X)
        self._check_range(X)
        if not np.isfinite(X).all():
            raise DataError("X has values beyond float32's range (about 3.4e38); aekit "
                            "computes in float32: rescale X")
        layout = self._layout(X.shape[1], None)
        self.hidden_layer_sizes_ = self._hidden(len(X))
        if self._method() != "pretrain":
            if pretrained is not None:
                raise ConfigError(f"pretrained: method {self._method()!r} trains its own "
                                  "network on every row; pretrained= is for "
                                  "method='pretrain'")
            if self.method_ == "m2":  # a Bernoulli likelihood needs rows in [0, 1]
                self._check_range(X)
            return self._fit_joint(X, unlabelled, targets, layout, checkpoint_dir, resume)
        module = self._build_module(layout)
        self.epochs_ = self._epochs("pretrain_epochs", len(X))
        if pretrained is not None:
            module = self._copy_pretrained(pretrained, module)
        elif self.epochs_ > 0:
            self._train(module, layout, X, self.epochs_, self.seed_,
                        checkpoint_dir=checkpoint_dir, resume=resume,
                        callbacks=[self._collapse_check(module, layout, X)])
        self.fitted_ = self._fitted(module, layout)
        Z = self.fitted_.encode(X)  # (n, k): once, for the statistics and the head
        labelled, targets, batch = ~unlabelled, targets, self.supervised_batch_size
        if self.pseudo_labels == "spread" and unlabelled.any():
            targets = self._spread_labels(X, unlabelled, targets)
            labelled, batch = np.ones(len(X), dtype=bool), self._batch_size()
        self.n_pseudo_labelled_ = int(labelled.sum()) - self.n_labelled_
        self._fit_head(X, Z, labelled, targets, checkpoint_dir, resume, batch)
        return self

    def _fit_joint(self, X, unlabelled, targets, layout, checkpoint_dir, resume):
        """Methods 'ladder' and 'm2': one run of the training loop on every row of X
        (unlabelled) with the labelled ones paired into each batch
        (:class:`aekit.io.rows.SemiSupervisedSource`), under the network's loss
        (:class:`aekit.losses.SemiSupervisedObjective`)."""
        module = self._build_module(layout)
        labelled = ~unlabelled
        self.n_pseudo_labelled_ = 0
        self.epochs_ = self._epochs("joint_epochs", len(X))
        device = torch.device(self.device)
        rows = layout.to_module(X).to(device)  # every row, as the network takes them
        source = SemiSupervisedSource(
            make_source(rows, device),
            make_source(layout.to_module(X[labelled]), device),
            torch.as_tensor(targets, dtype=torch.long, device=device))
        options = {}
        if self._method() == "m2":
            options["alpha"] = self._labelled_weight(len(X))
        # the learning rate decays to 0 over the run (Rasmus et al. decay it linearly over
        # the last third; on Fashion-MNIST validation rows cosine decay ended 0.3 points
        # above a constant rate)
        config = dataclasses.replace(self._train_config(self.epochs_, self.seed_),
                                     engine="autograd", lr_schedule="cosine")
        signature = {"model": module.config.to_dict(), "method": self._method(), **options}
        result = Trainer(module, SemiSupervisedObjective(**options), config).fit(
            source, checkpoint_dir=checkpoint_dir, resume=resume, signature=signature)
        if self._method() == "ladder":  # inference normalises with population statistics
            module.set_population_statistics(rows)
        module.eval()
        self.history_ = list(result.history)
        self.n_iter_ = len(self.history_)
        self.supervised_history_ = []
        self.fitted_ = FittedClassifier(module, layout=layout, seed=self.seed_,
                                        classes=self.classes_.tolist())
        return self

    def _labelled_weight(self, n_rows: int) -> float:
        """M2's alpha: labelled_weight, or for 'auto' 0.1 x the rows (Kingma et al. 2014,
        section 3.1.2)."""
        if self.labelled_weight == "auto":
            return 0.1 * n_rows
        return float(self.labelled_weight)

    # Label spreading's kNN graph and clamping (alpha: how far spread labels may move away
    # from the given ones). The graph's space (the input rows, not the codes), its size and
    # alpha, class mass normalisation and the product with a logistic regression were chosen
    # on validation splits of the training rows of digits (50 labels), Fashion-MNIST (100),
    # breast-cancer (20) and wine (15), never on test rows.
    SPREAD_NEIGHBOURS = 10
    SPREAD_ALPHA = 0.8
    # Wider rows are projected onto their top principal components before the neighbour
    # search: as accurate on those splits (Fashion-MNIST 0.732 vs 0.727 with all 784
    # pixels), 8x faster (the search is O(n^2 D)).
    SPREAD_DIMENSIONS = 50

    def _spread_labels(self, X: np.ndarray, unlabelled: np.ndarray,
                       targets: np.ndarray) -> np.ndarray:
        """Class indices for every row of ``X`` (n, D): the given ones, and for each
        unlabelled row the most probable class under two experts multiplied (a product of
        experts, Hinton 2002):

        - label spreading (Zhou et al. 2004, "Learning with local and global consistency":
          F <- alpha S F + (1 - alpha) Y over the symmetrically normalised kNN graph S,
          iterated to convergence; scikit-learn's LabelSpreading) over the input rows in
          the Euclidean metric the reconstruction loss uses (within their top
          SPREAD_DIMENSIONS principal components), each class's scores rescaled so
          its total mass matches its share of the labelled rows (class mass normalisation,
          Zhu, Ghahramani & Lafferty 2003: without it a class whose few labels sit in a
          dense region claims its neighbours' rows);
        - a logistic regression fitted to the labelled rows (the linear evidence a graph
          misses where classes overlap).

        On those validation splits the final classifier scored 1 to 5 accuracy points
        above spreading over the standardised codes alone (earlier versions): neighbours in
        the input space shared labels more often than neighbours in code space."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        from sklearn.semi_supervised import LabelSpreading

        n_classes = len(self.classes_)
        if n_classes == 1:
            return np.zeros(len(X), dtype=np.int64)
        y = np.full(len(X), -1, dtype=np.int64)
        y[~unlabelled] = targets
        k = min(self.SPREAD_NEIGHBOURS, len(X) - 1)
        with warnings.catch_warnings():  # an expert's iteration cap is not the user's issue
            warnings.simplefilter("ignore", ConvergenceWarning)
            spread = LabelSpreading(kernel="knn", n_neighbors=k, alpha=self.SPREAD_ALPHA,
                                    max_iter=100).fit(self._spread_space(X), y)
            linear = LogisticRegression(max_iter=1000).fit(X[~unlabelled], targets)
        share = np.bincount(targets, minlength=n_classes) / len(targets)
        scores = class_mass_normalised(spread.label_distributions_, share)  # (n, classes)
        scores = scores * linear.predict_proba(X)  # columns: classes 0..n_classes-1
        out = np.argmax(scores, axis=1).astype(np.int64)
        out[~unlabelled] = targets  # the given labels stay
        return out

    def _spread_space(self, X: np.ndarray) -> np.ndarray:
        """X (n, D) as float64, projected onto its top SPREAD_DIMENSIONS principal
        components when D is larger (fewer rows than that: onto all of theirs, which keeps
        every distance). The projection runs in X's float32: a float64 copy of a wide X
        first would cost 2x its memory (about 380 MB more for Fashion-MNIST's 60000 rows)
        for no measurable gain (the defaults benchmark's Fashion-MNIST accuracy: 0.7449
        with the copy, 0.7451 without); only the (n, k) result is widened."""
        from sklearn.decomposition import PCA

        k = min(self.SPREAD_DIMENSIONS, len(X))
        if X.shape[1] <= k:
            return X.astype(np.float64)
        return PCA(k, random_state=0).fit_transform(X).astype(np.float64)

    def _copy_pretrained(self, pretrained, module):
        """A copy of a fitted autoencoder's network, to be the (pretrained) encoder."""
        check_is_fitted(pretrained, "fitted_")
        mine, theirs = module.config, pretrained.module_.config
        if mine != theirs:
            raise ConfigError("pretrained autoencoder's network does not match this "
                              f"classifier's options: it has {theirs.to_dict()}, the classifier "
                              f"builds {mine.to_dict()}")
        self.history_ = list(getattr(pretrained, "history_", []))
        self.n_iter_ = len(self.history_)
        return copy.deepcopy(pretrained.module_).eval()  # tied weights stay tied

    def _fit_head(self, X: np.ndarray, codes: np.ndarray, labelled: np.ndarray,
                  targets: np.ndarray, checkpoint_dir=None, resume: bool = False,
                  batch_size: int = 32) -> None:
        """Supervised phases on ``X[labelled]``: head alone (encoder frozen), then
        everything, cross-entropy. ``codes``: the pretrained encoder's codes of X (n, k);
        code statistics come from all of them. Both phases
        are ordinary runs of the training loop (clipping, validation, early stopping,
        best weights, checkpoints in ``checkpoint_dir/head`` and ``/finetune``)."""
        device = torch.device(self.device)
        with torch.random.fork_rng(devices=[]):  # seeded head init, global RNG untouched
            torch.manual_seed(self.seed_ + 1)
            self.head_ = CodeHead(self.n_components_, len(self.classes_))
        self.fitted_.classes = self.classes_.tolist()
        if self.standardize_codes:
            self.head_.set_statistics(torch.from_numpy(codes))  # (n, k)
        yt = torch.as_tensor(targets, dtype=torch.long, device=device)
        # frozen encoder: the labelled rows' codes (a row's code does not depend on the
        # call's other rows: FittedAutoencoder.run), (n_labelled, k)
        Zt = torch.from_numpy(np.ascontiguousarray(codes[labelled])).to(device)
        Xt = self.fitted_.layout.to_module(X[labelled]).to(device)
        self.supervised_history_ = []
        ft_lr = self.finetune_learning_rate or self.learning_rate / 10
        phases = (("head", "head_epochs", self.head_, Zt, self.learning_rate, 2),
                  ("finetune", "finetune_epochs", EncoderHead(self.module_, self.head_),
                   Xt, ft_lr, 3))
        for phase, epochs, model, inputs, lr, seed_offset in phases:
            epochs = self._epochs(epochs, len(inputs), batch_size)
            if epochs == 0:
                continue
            config = dataclasses.replace(self._train_config(epochs, self.seed_ + seed_offset),
                                         lr=float(lr),
                                         batch_size=int(batch_size),
                                         engine="autograd")
            if config.log_dir is not None:  # one TensorBoard run per phase: log_dir/<phase>
                config = dataclasses.replace(config, log_dir=str(Path(config.log_dir) / phase))
            where = None if checkpoint_dir is None else Path(checkpoint_dir) / phase
            result = Trainer(model, CrossEntropy(), config).fit(
                LabelledSource(make_source(inputs, device), yt), checkpoint_dir=where,
                resume=resume, signature={"phase": phase, "classes": len(self.classes_)})
            self.supervised_history_ += [{"phase": phase, **r} for r in result.history]
        self.module_.eval()

    # --- predicting ----------------------------------------------------------------------
    @on_own_threads
    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), columns ordered as ``classes_``."""
        check_is_fitted(self)
        X = np.asarray(validate_data(self, X, reset=False, dtype=[np.float32, np.float64]),
                       dtype=np.float32)
        return self.fitted_.classify(X)

    @on_own_threads
    def predict(self, X):
        """Most probable class of each row."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @on_own_threads
    def encode(self, X):
        """Codes of the (fine-tuned) encoder, (n_samples, n_components_), float32. (Not
        named ``transform``: the classifier is not a scikit-learn transformer.)"""
        check_is_fitted(self)
        X = np.asarray(validate_data(self, X, reset=False, dtype=[np.float32, np.float64]),
                       dtype=np.float32)
        return self.fitted_.encode(X)

    @on_own_threads
    def sample(self, n: int = 1, y=None, random_state=None):
        """n generated rows (n, n_features) float32 of class ``y`` (method='m2', a model of
        x given its class): z ~ N(0, I) decoded under y. ``y``: one label of ``classes_``,
        one per row, or None (classes drawn uniformly). A label the model was not trained
        on is a DataError naming it."""
        check_is_fitted(self)
        if self._method() != "m2":
            raise ConfigError(f"sample: method {self._method()!r} is not a model of x given "
                              "its class; AutoencoderClassifier(method='m2') generates by "
                              "class")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ConfigError(f"sample: n must be an integer >= 0, got {n!r}")
        return self.fitted_.sample(int(n), y=y, random_state=random_state)

    # --- saving --------------------------------------------------------------------------
    def _json_state(self):
        state = super()._json_state()
        state["classes_"] = self.classes_.tolist()
        state["n_labelled_"] = self.n_labelled_
        state["n_pseudo_labelled_"] = self.n_pseudo_labelled_
        state["hidden_layer_sizes_"] = list(self.hidden_layer_sizes_)
        state["method_"] = self.method_
        return state

    def _restore_auto(self, fitted, state: dict) -> None:
        if self._method() == "pretrain":
            return super()._restore_auto(fitted, state)
        # the ladder and M2 have no output activation to compare with: the saved choice
        # (M2's likelihood follows from it, and the caller compares the networks)
        value = state.get("output_activation_")
        if value not in self._AUTO["output_activation"]:
            raise ModelFileError(f"estimator state: output_activation_ must be one of "
                                 f"{list(self._AUTO['output_activation'])}, got {value!r}")
        self.output_activation_ = value

    @property
    def head_(self):
        """The head on the codes (method='pretrain'): the fitted model's own
        (``fitted_.head``); None for the other methods, whose network classifies itself."""
        return self.fitted_.head if self._method() == "pretrain" else None

    @head_.setter
    def head_(self, head):
        self.fitted_.head = head

    def _restore(self, fitted, state, extra):
        method = state.get("method_", self.method)  # older files: the method they name
        if method not in FEW_LABEL_METHODS:
            raise ModelFileError(f"estimator state: method_ must be one of "
                                 f"{list(FEW_LABEL_METHODS)}, got {method!r}")
        self.method_ = method
        super()._restore(fitted, state, extra)
        classes = state.get("classes_")
        if not isinstance(classes, list) or not classes:
            raise ModelFileError("estimator state: classes_ must be a non-empty list")
        self.classes_ = np.asarray(classes)
        self.n_labelled_ = int(state["n_labelled_"])
        self.n_pseudo_labelled_ = int(state.get("n_pseudo_labelled_", 0))  # older files: 0
        self.supervised_history_ = []
        sizes = state.get("hidden_layer_sizes_", self._hidden())  # older files: as given
        if not (isinstance(sizes, (list, tuple)) and all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in sizes)):
            raise ModelFileError("estimator state: hidden_layer_sizes_ must be a list of "
                                 f"positive integers, got {sizes!r}")
        self.hidden_layer_sizes_ = tuple(sizes)
        if self._method() != "pretrain":
            if not isinstance(fitted, FittedClassifier):
                raise ModelFileError(f"the folder holds no {self._method()} network")
            fitted.classes = self.classes_.tolist()
            return
        head = fitted.head
        if head is None or head.linear.weight.shape != (len(classes), self.n_components_):
            raise ModelFileError(f"classifier head tensors do not match {len(classes)} classes "
                                 f"and a {self.n_components_}-d code")
        fitted.classes = self.classes_.tolist()
