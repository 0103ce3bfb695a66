"""Every estimator passes scikit-learn's API conformance checks: each default constructor
(``Est()``, exactly as a user writes it: the checks feed arbitrary real-valued data, which
output_activation='auto' / likelihood='auto' accept), and tiny configurations covering the
options. The only expected failure is declared through scikit-learn's own
``expected_failed_checks``, with its reason.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import aekit
from aekit.estimators import (
    AutoencoderClassifier,
    ConvAutoencoder,
    LinearAutoencoder,
    StackedAutoencoder,
    VariationalAutoencoder,
)
from aekit.kinds import KINDS

TINY = dict(epochs=3, batch_size=16)
# Every kind's default constructor, from the kinds' declarations (a new kind is checked
# with no edit here); the segmenter's fit(X, masks) is not scikit-learn's API.
DEFAULTS = [getattr(aekit, k.estimator)() for k in KINDS if k.target != "masks"]
ESTIMATORS = [*DEFAULTS,
    LinearAutoencoder(n_components=2, **TINY),
    StackedAutoencoder(n_components=2, hidden_layer_sizes=(8,), output_activation="linear",
                       **TINY),
    StackedAutoencoder(n_components=2, hidden_layer_sizes=(8, 4), output_activation="linear",
                       tied=True, noise="gaussian", noise_level=0.1, sparsity="l1",
                       sparsity_weight=1e-3, pretraining="greedy", pretrain_epochs=1,
                       random_state=0, **TINY),  # seeded: ~1 seed in 30 trips no-progress
    ConvAutoencoder(channels=(4,), n_components=2, output_activation="linear", **TINY),
    ConvAutoencoder(channels=(4,), decoder="unpool", output_activation="linear",
                    sampler="gaussian", **TINY),
    # tanh: with relu, check_fit_idempotent's data (values near 100) makes log sigma^2 so
    # large that exp overflows at step 1 (a clean TrainingError, but the check must fit).
    VariationalAutoencoder(n_components=2, hidden_layer_sizes=(8,), activation="tanh",
                           likelihood="gaussian",
                           likelihood_scale=1.0, n_mc_samples=2, **TINY),
    VariationalAutoencoder(n_components=2, architecture="conv", channels=(4,),
                           decoder="upsample", likelihood="gaussian", likelihood_scale=1.0,
                           n_mc_samples=2, **TINY),
    # check_classifiers_train asks for > 83% training accuracy on 3 blobs.
    AutoencoderClassifier(n_components=4, hidden_layer_sizes=(16,), output_activation="linear",
                          pretrain_epochs=3, head_epochs=20, finetune_epochs=20,
                          learning_rate=1e-2, batch_size=16, supervised_batch_size=16),
]


EXPECTED_FAILURES = {
    # y == -1 marks unlabelled rows (scikit-learn's semi-supervised convention), but this
    # check's last case uses -1 as a class label; scikit-learn exempts only its own
    # semi-supervised classifiers, by name. The string/object-label cases of the check are
    # run in tests/test_estimators.py::test_classifier_string_labels.
    "AutoencoderClassifier": {"check_classifiers_classes": "-1 means unlabelled (semi-supervised)"},
}


def expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@pytest.mark.slow
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
