"""The model kinds, declared once: the name the command line takes (``--model``), the
estimator class and the module that defines it. Everything that lists the kinds derives
from :data:`KINDS` (the package's names, the estimators' allow-list for ``aekit.load``, the
parameter table, the command line), so adding a kind is one entry here plus its module.

Plain data, no imports: the command line reads it to build its parser without torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One model kind. ``target``: what ``fit(X, y)`` learns to predict: None (an
    autoencoder: X alone), "classes" (a class per row; -1 marks an unlabelled row) or
    "masks" (a class per pixel). ``convolutional``: "always", "never", or "architecture"
    (its ``architecture`` parameter says). ``phases``: the epoch parameters of its training
    phases, when it trains in several (``epochs`` then sets each one not set itself)."""

    name: str  # the CLI's --model
    estimator: str  # the estimator class (exported as aekit.<estimator>)
    module: str  # the module defining it
    target: str | None = None
    convolutional: str = "never"
    phases: tuple = ()

    def is_convolutional(self, params: dict) -> bool:
        return self.convolutional == "always" or (
            self.convolutional == "architecture" and params.get("architecture") == "conv")


# In the order the docs and the command line list them.
KINDS = (
    Kind("linear", "LinearAutoencoder", "aekit.estimators.linear"),
    Kind("stacked", "StackedAutoencoder", "aekit.estimators.stacked"),
    Kind("conv", "ConvAutoencoder", "aekit.estimators.conv", convolutional="always"),
    Kind("vae", "VariationalAutoencoder", "aekit.estimators.variational",
         convolutional="architecture"),
    Kind("classifier", "AutoencoderClassifier", "aekit.estimators.classifier",
         target="classes", phases=("pretrain_epochs", "head_epochs", "finetune_epochs")),
    Kind("segmenter", "ConvSegmenter", "aekit.estimators.segmenter", target="masks",
         convolutional="always"),
)
BY_NAME = {k.name: k for k in KINDS}
MODELS = {k.name: k.estimator for k in KINDS}  # --model name -> estimator class name
ESTIMATOR_NAMES = tuple(k.estimator for k in KINDS)
