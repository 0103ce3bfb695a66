"""Deep (stacked) dense autoencoders, with every regularising option of the objective."""

from __future__ import annotations

from aekit.errors import ConfigError
from aekit.estimators.base import BaseAutoencoder, store_params
from aekit.models import ModelConfig

DENSE_DOC_TEMPLATE = """
    n_components : int, default=30
        Size of the code (as in PCA).
    hidden_layer_sizes : tuple of int, default=(100,)
        Encoder widths before the code; the decoder mirrors them.
    activation : {'relu', 'selu', 'elu', 'tanh', 'sigmoid', 'linear'}, default='relu'
    code_activation : str or None, default=None
        Activation of the code layer; None means ``activation``.{code_note}
    output_activation : {'sigmoid', 'linear'}, default='sigmoid'
        'sigmoid' requires X in [0, 1] (checked in ``fit``).
"""

OBJECTIVE_DOC = """
    loss : {'mse', 'bce'}, default='mse'
        Reconstruction loss, mean per element ('bce' needs X in [0, 1]).
    noise : {None, 'gaussian', 'mask', 'salt_pepper'}, default=None
        Corrupt inputs while training (denoising autoencoder).
    noise_level : float, default=0.0
        Gaussian sigma, or the corruption probability.
    sparsity : {None, 'l1', 'kl'}, default=None
        Penalty on the codes: L1, or KL to ``sparsity_target`` (suits sigmoid codes).
    sparsity_weight : float, default=0.0
    sparsity_target : float, default=0.05
    contractive : float, default=0.0
        Weight of the contractive penalty ||J_encoder||_F^2.
"""

def training_doc(batch_size=256, learning_rate="1e-3", lr_schedule=None, warmup_epochs=0.0,
                 note=""):
    """The training options' docs with one estimator's defaults."""
    schedule = repr(lr_schedule) if lr_schedule else "None"
    return f"""
    epochs : int, default=20
    batch_size : int, default={batch_size}
    optimizer : {{'adam', 'adamw', 'sgd'}}, default='adam'
    learning_rate : float, default={learning_rate}{note}
    weight_decay : float, default=0.0
    lr_schedule : {{None, 'cosine', 'plateau'}}, default={schedule}
        'cosine' decays the learning rate to 0 over ``epochs``; 'plateau' halves it when the
        loss stops improving.
    warmup_epochs : float, default={warmup_epochs}
        Linear learning-rate warm-up over this many epochs (per step).
""" + TRAINING_TAIL_DOC


# Validation, early stopping and clipping: documented alike by every estimator.
MONITOR_DOC = """    validation_fraction : float, default=0.0
        Fraction of X held out to monitor (and early-stop on) the validation loss.
    early_stopping : int or None, default=None
        Patience in epochs.
    grad_clip : float or None, default=None
        Maximum global gradient norm.
"""

TRAINING_TAIL_DOC = MONITOR_DOC + """    sampler : {'gmm', 'gaussian', 'uniform'}, default='gmm'
        Density fitted on the training codes, used by :meth:`sample`.
    sampler_components : int, default=10
    device : str, default='cpu'
    random_state : int, RandomState or None, default=None
        Seeds initial weights, shuffling, noise and the sampler fit.
    verbose : bool, default=False
        Show a progress bar.
"""

DENSE_DOC = DENSE_DOC_TEMPLATE.replace("{code_note}", "")
# A relu code of a few units loses units for good ("dead" units: measured 3-5 of 8 on
# digits); a linear code, like PCA's, keeps every unit and reconstructs better.
STACKED_DENSE_DOC = DENSE_DOC_TEMPLATE.replace("default=None\n        Activation of the code",
                                               "default='linear'\n        Activation of the code"
                                               ).replace("{code_note}", """
        'linear' by default: relu codes of a few units tend to lose units for good.""")

# Why the dense defaults differ from the conv/VAE ones (benchmarks/speed.py, time to quality).
RECIPE_NOTE = """
        The defaults (batch 128, lr 5e-3, one warm-up epoch, cosine decay) reach the test
        MSE of the lecture's recipe (batch 32, lr 1e-3, 20 epochs) on Fashion-MNIST in about
        half the epochs, each epoch several times faster."""

ATTRIBUTES_DOC = """
    Attributes
    ----------
    fitted_ : :class:`aekit.fitted.FittedAutoencoder`, the trained model every entry point
        uses (module, objective, input layout, code density)
    module_ : the trained PyTorch module (``fitted_.module``)
    n_components_ : int, the code size
    n_features_in_, feature_names_in_
    history_ : list of dict, one per epoch (loss terms, val_ terms, lr, seconds)
    n_iter_ : int, epochs trained
    sampler_ : the code density used by ``sample``
    seed_ : int, the seed drawn from ``random_state``
"""


class StackedAutoencoder(BaseAutoencoder):
    __doc__ = ("""Deep dense autoencoder: x -> hidden layers -> code -> mirrored layers -> x_hat.

    Options compose: ``tied`` decoder weights (W_dec = W_enc^T per layer), denoising
    (``noise``), sparse codes (``sparsity``), contractive penalty, and greedy layer-wise
    pretraining (``pretraining='greedy'``: one shallow autoencoder per layer, then the
    whole stack fine-tuned for ``epochs``).

    Parameters
    ----------""" + STACKED_DENSE_DOC + """    tied : bool, default=False
""" + OBJECTIVE_DOC + """    pretraining : {None, 'greedy'}, default=None
    pretrain_epochs : int or None, default=None
        Epochs per layer of greedy pretraining; None means ``epochs``.
""" + training_doc(batch_size=128, learning_rate="5e-3", lr_schedule="cosine",
                    warmup_epochs=1.0, note=RECIPE_NOTE) + ATTRIBUTES_DOC)

    def __init__(self, n_components=30, *, hidden_layer_sizes=(100,), activation="relu",
                 code_activation="linear", output_activation="sigmoid", tied=False, noise=None,
                 noise_level=0.0, sparsity=None, sparsity_weight=0.0, sparsity_target=0.05,
                 contractive=0.0, loss="mse", pretraining=None, pretrain_epochs=None,
                 epochs=20, batch_size=128, optimizer="adam", learning_rate=5e-3,
                 weight_decay=0.0, lr_schedule="cosine", warmup_epochs=1.0,
                 validation_fraction=0.0, early_stopping=None, grad_clip=None,
                 sampler="gmm", sampler_components=10, device="cpu", random_state=None,
                 verbose=False):
        store_params(self, locals())

    def _check_params(self):
        super()._check_params()
        if self.pretraining not in (None, "greedy"):
            raise ConfigError(f"pretraining must be None or 'greedy', got {self.pretraining!r}")
        if self.pretrain_epochs is not None and (
                isinstance(self.pretrain_epochs, bool) or not isinstance(self.pretrain_epochs, int)
                or self.pretrain_epochs < 1):
            raise ConfigError(f"pretrain_epochs must be None or an integer >= 1, "
                              f"got {self.pretrain_epochs!r}")

    def _model_config(self, layout):
        return ModelConfig(n_features=layout.module_features, hidden=tuple(self.hidden_layer_sizes),
                           code_size=self.n_components, activation=self.activation,
                           code_activation=self.code_activation,
                           output_activation=self.output_activation, tied=bool(self.tied))
