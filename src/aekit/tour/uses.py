"""What autoencoders are used for in the lectures: unsupervised pretraining for a
classifier with few labels, and anomaly detection by reconstruction error."""

from __future__ import annotations

import numpy as np

from aekit import applications as app
from aekit import evaluation as ev
from aekit.plotting import plot_anomaly_histogram


def pretraining(report, ctx):
    """The few-label claim on real data: AutoencoderClassifier() (the ladder network), the
    lecture's recipe (method='pretrain': pretraining, then a head), the same network
    trained on the labels alone, and a logistic regression on the labelled raw inputs."""
    from sklearn.linear_model import LogisticRegression

    from aekit.estimators import AutoencoderClassifier

    b = ctx.budget
    n_lab = min(b.labelled, len(ctx.y_train))
    names = ("AutoencoderClassifier() (ladder network, labelled and unlabelled rows)",
             "method='pretrain' (autoencoder pretraining on all rows, then a head)",
             "same network, labelled rows only (pretrain_epochs=0, pseudo_labels=None)",
             "LogisticRegression on the raw inputs")
    acc = {name: [] for name in names}
    for draw in range(b.label_draws):  # which rows carry labels matters at this scale
        keep = np.random.default_rng(ctx.seed + draw).permutation(len(ctx.y_train))[:n_lab]
        y = np.full(len(ctx.y_train), -1, dtype=np.int64)
        y[keep] = ctx.y_train[keep]
        # the defaults, in the quick tour too (capped epochs there lost to the raw inputs)
        seed = ctx.seed + draw
        models = (AutoencoderClassifier(random_state=seed),
                  AutoencoderClassifier(method="pretrain", random_state=seed),
                  AutoencoderClassifier(method="pretrain", random_state=seed,
                                        pretrain_epochs=0, pseudo_labels=None))
        for name, clf in zip(names, models):
            clf.fit(ctx.X_train, y)
            acc[name].append(float(np.mean(clf.predict(ctx.X_test) == ctx.y_test)))
        logreg = LogisticRegression(max_iter=5000).fit(ctx.X_train[keep], ctx.y_train[keep])
        acc[names[3]].append(float(np.mean(logreg.predict(ctx.X_test) == ctx.y_test)))
    res = {name: float(np.mean(v)) for name, v in acc.items()}
    ctx.results["pretraining"] = {"labelled_rows": n_lab, "label_draws": b.label_draws,
                                  "accuracy": acc}
    a_ladder, a_pre, a_none, a_lr = res.values()
    spread = {name: f"{np.mean(v):.3f}" + (f" ± {np.std(v):.3f}" if len(v) > 1 else "")
              for name, v in acc.items()}
    verdict = ("as claimed, pretraining beats the same network without it"
               if a_pre > a_none else
               "this run contradicts the lecture's claim: pretraining did not beat the same "
               "network trained on the labels alone")
    return report.section(
        "Pretraining with few labels",
        claim="When labels are scarce but unlabelled data is plentiful, train an autoencoder "
              "on all the data, then reuse its encoder under a small classifier trained on "
              "the few labelled examples: it beats the same network trained on the labels "
              "alone. The literature goes further: autoencoders trained on the labelled and "
              "unlabelled rows together (the ladder network, Rasmus et al. 2015; M2, Kingma "
              "et al. 2014) beat pretraining.",
        measured=f"{n_lab} labelled of {len(ctx.y_train)} training rows, mean over "
                 f"{b.label_draws} random draw(s) of the labelled rows, default estimators. "
                 f"Test accuracy: the default (ladder) {a_ladder:.3f}, pretraining then a "
                 f"head {a_pre:.3f}, the same network on the labels alone {a_none:.3f}, a "
                 f"logistic regression on the labelled rows' raw inputs {a_lr:.3f}: "
                 f"{verdict}; the ladder is {100 * (a_ladder - a_lr):+.1f} points from the "
                 f"logistic regression and {100 * (a_ladder - a_pre):+.1f} from pretraining. "
                 "(method='pretrain' also gives the unlabelled rows pseudo-labels: label "
                 "spreading over the rows' nearest-neighbour graph times a logistic "
                 "regression on the labelled rows.) benchmarks/results/few_labels.md has "
                 "the measured table on the full data sets, beside the published numbers.",
        checks={"pretraining beats the same network on the labels alone": a_pre > a_none,
                "the default (ladder) beats a logistic regression on the labelled raw "
                "inputs": a_ladder > a_lr,
                "and pretraining": a_ladder > a_pre},
    ).table(["classifier", "test accuracy"], [[k, v] for k, v in spread.items()],
            caption="AutoencoderClassifier defaults but for the method; the third row turns "
                    "pretraining and pseudo-labels off")


def anomaly(report, ctx):
    classes = np.unique(ctx.y_train)
    outlier = classes[-1]
    normal_train = ctx.X_train[ctx.y_train != outlier]
    model = ctx.model("anomaly", lambda: ctx.dense().fit(normal_train))
    s_train = app.anomaly_scores(model, normal_train, "mse")
    s_test = app.anomaly_scores(model, ctx.X_test, "mse")
    is_out = ctx.y_test == outlier
    auc = ev.auroc(s_test, is_out)
    thr = app.threshold_by_contamination(s_train, 0.05)
    recall = float((s_test[is_out] > thr).mean()) if is_out.any() else float("nan")
    false_alarm = float((s_test[~is_out] > thr).mean())
    ctx.results["anomaly"] = {"outlier_class": int(outlier), "auroc": auc, "threshold": thr,
                              "recall": recall, "false_alarm_rate": false_alarm}
    return report.section(
        "Anomaly detection",
        claim="An autoencoder reconstructs what resembles its training data and fails on "
              "what does not, so a high reconstruction error flags anomalies.",
        measured=f"Trained without class {outlier}; the test set's class-{outlier} rows are "
                 f"the anomalies. AUROC of the reconstruction error {auc:.3f}. A threshold "
                 f"at the training scores' 95th percentile ({thr:.4g}) catches "
                 f"{recall:.1%} of the anomalies with {false_alarm:.1%} false alarms.",
        checks={"the reconstruction error ranks anomalies higher (AUROC 0.6 or more)":
                auc >= 0.6},
    ).figure(plot_anomaly_histogram({"test, seen classes": s_test[~is_out],
                                     f"test, class {outlier} (never seen)": s_test[is_out]},
                                    threshold=thr, xlabel="reconstruction MSE per value",
                                    log_x=True),
             "reconstruction error of normal and anomalous test rows; line: threshold")
