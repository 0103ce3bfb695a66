"""The model kinds, declared once: the name the command line takes (``--model``), the
estimator class, the module that defines it, and what it can do. Everything that lists the
kinds derives from :data:`KINDS` (the package's names, the estimators' allow-list for
``aekit.load``, the parameter table and which kinds get each keyword, the command line), so
adding a kind is one entry here plus its estimator (README: Layout).

Plain data, no imports: the command line reads it to build its parser without torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# What a kind can declare it does; the parameter table gives each keyword to the kinds
# with the capability it belongs to (aekit.estimators.params), and tests check each
# declaration against the estimator's behaviour (tests/test_kinds.py).
CAPABILITIES = {
    "hidden_layers": "has hidden layers (activation, learning rate of a deep network)",
    "epochs": "fit(X) trains the autoencoder for `epochs` (with validation, early stopping)",
    "code_density": "fits a density over its codes for sample() (the `sampler` keywords)",
    "penalties": "sparsity, contractive and rate penalties on its codes",
    "likelihood": "score_samples is a likelihood bound (the ELBO), sampling from its prior",
    "closed_form": "a plain dense network whose gradients aekit computes in closed form",
}


@dataclass(frozen=True)
class Kind:
    """One model kind. ``target``: what ``fit(X, y)`` learns to predict: None (an
    autoencoder: X alone), "classes" (a class per row; -1 marks an unlabelled row) or
    "masks" (a class per pixel). ``convolutional``: "always", "never", or "architecture"
    (its ``architecture`` parameter says). ``phases``: the epoch parameters of its training
    phases, when it trains in several (``epochs`` then sets each one not set itself).
    ``capabilities``: names from :data:`CAPABILITIES`. ``like``: a kind whose keywords and
    defaults in the parameter table this one takes, except ``defaults`` (keyword -> value)
    and the keywords named in ``without`` (the like-kind's, which this one lacks): how a
    new kind gets its table column without an edit to every entry."""

    name: str  # the CLI's --model
    estimator: str  # the estimator class (exported as aekit.<estimator>)
    module: str  # the module defining it
    target: str | None = None
    convolutional: str = "never"
    phases: tuple = ()
    capabilities: frozenset = frozenset()
    like: str | None = None
    defaults: dict = field(default_factory=dict, hash=False)
    without: frozenset = frozenset()

    def __post_init__(self):
        unknown = set(self.capabilities) - set(CAPABILITIES)
        if unknown:
            raise ValueError(f"kind {self.name!r}: unknown capabilities {sorted(unknown)}")

    def is_convolutional(self, params: dict) -> bool:
        return self.convolutional == "always" or (
            self.convolutional == "architecture" and params.get("architecture") == "conv")

    def can(self, capability: str) -> bool:
        if capability not in CAPABILITIES:
            raise KeyError(capability)
        return capability in self.capabilities


# In the order the docs and the command line list them.
KINDS = (
    Kind("linear", "LinearAutoencoder", "aekit.estimators.linear",
         capabilities=frozenset({"epochs", "code_density", "closed_form"})),
    Kind("stacked", "StackedAutoencoder", "aekit.estimators.stacked",
         capabilities=frozenset({"hidden_layers", "epochs", "code_density", "penalties",
                                 "closed_form"})),
    Kind("conv", "ConvAutoencoder", "aekit.estimators.conv", convolutional="always",
         capabilities=frozenset({"hidden_layers", "epochs", "code_density", "penalties"})),
    Kind("vae", "VariationalAutoencoder", "aekit.estimators.variational",
         convolutional="architecture",
         capabilities=frozenset({"hidden_layers", "epochs", "likelihood"})),
    # the conv autoencoder's keywords less its continuous code's (size, activation, density,
    # penalties, input noise), plus its own (codebook, prior) in the table
    Kind("vqvae", "VQVAE", "aekit.estimators.vq", convolutional="always",
         capabilities=frozenset({"hidden_layers", "epochs"}), like="conv",
         defaults={"channels": (32, 64), "batch_size": 128},
         without=frozenset({"n_components", "code_activation", "noise", "noise_level",
                            "sparsity", "sparsity_weight", "sparsity_target", "contractive",
                            "rate_weight", "sampler", "sampler_components"})),
    Kind("classifier", "AutoencoderClassifier", "aekit.estimators.classifier",
         target="classes",
         phases=("pretrain_epochs", "head_epochs", "finetune_epochs", "joint_epochs"),
         capabilities=frozenset({"hidden_layers"})),
    Kind("segmenter", "ConvSegmenter", "aekit.estimators.segmenter", target="masks",
         convolutional="always"),
)


def having(capability: str) -> tuple:
    """The names of the kinds that declare ``capability``, in :data:`KINDS` order."""
    return tuple(k.name for k in KINDS if k.can(capability))


BY_NAME = {k.name: k for k in KINDS}
MODELS = {k.name: k.estimator for k in KINDS}  # --model name -> estimator class name
ESTIMATOR_NAMES = tuple(k.estimator for k in KINDS)
