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
    name: str  # the CLI's --model
    estimator: str  # the estimator class (exported as aekit.<estimator>)
    module: str  # the module defining it


# In the order the docs and the command line list them.
KINDS = (
    Kind("linear", "LinearAutoencoder", "aekit.estimators.linear"),
    Kind("stacked", "StackedAutoencoder", "aekit.estimators.stacked"),
    Kind("conv", "ConvAutoencoder", "aekit.estimators.conv"),
    Kind("vae", "VariationalAutoencoder", "aekit.estimators.variational"),
    Kind("classifier", "AutoencoderClassifier", "aekit.estimators.classifier"),
    Kind("segmenter", "ConvSegmenter", "aekit.estimators.segmenter"),
)
MODELS = {k.name: k.estimator for k in KINDS}  # --model name -> estimator class name
ESTIMATOR_NAMES = tuple(k.estimator for k in KINDS)
