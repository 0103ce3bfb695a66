"""How many optimiser steps the VQ-VAE's PixelCNN prior needs on small data (its
prior_epochs='auto' budget; issue 31's follow-up): validation bits per grid after 250, 500,
1000 and 2000 steps, on validation rows of three small data sets. The autoencoder is fitted
once per data set (defaults); each budget then trains the prior afresh from the same start.

    .venv/bin/python benchmarks/vq_prior_budget.py   # writes benchmarks/results/vq_prior_budget.md
"""

from __future__ import annotations

import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

import aekit
from aekit.datasets import load as load_dataset

RESULTS = Path(__file__).parent / "results"
BUDGETS = (250, 500, 1000, 2000)


def data_sets():
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.preprocessing import MinMaxScaler

    rng = np.random.default_rng(0)
    d = load_digits().data.astype(np.float32) / 16
    d = d[rng.permutation(len(d))]
    yield "digits", d[:1437], d[1437:]
    f = load_dataset("fashion-mnist", "train", progress=False).X[:3000].astype(np.float32)
    yield "fashion-mnist (2000 rows)", f[:2000], f[2000:3000]
    b = MinMaxScaler().fit_transform(load_breast_cancer().data).astype(np.float32)
    b = b[rng.permutation(len(b))]
    yield "breast-cancer", b[:455], b[455:]


def main() -> int:
    torch.set_num_threads(1)
    rows = []
    for name, train, val in data_sets():
        base = aekit.VQVAE(prior_epochs=1, random_state=0).fit(train)
        steps_per_epoch = math.ceil(len(train) / base.batch_size)
        row = {"data": name, "rows": len(train)}
        for steps in BUDGETS:
            model = copy.deepcopy(base)
            model.prior_epochs = math.ceil(steps / steps_per_epoch)
            del model.prior_epochs_
            start = time.perf_counter()
            model._fit_prior(train)
            row[f"bits@{steps}"] = float(np.mean(model.fitted_.prior_bits(val)))
            row[f"s@{steps}"] = time.perf_counter() - start
            print(name, steps, round(row[f"bits@{steps}"], 2), round(row[f"s@{steps}"], 1),
                  flush=True)
        rows.append(row)
    lines = ["# VQ-VAE prior budget on small data (validation bits per index grid)", "",
             "Each column: the prior trained afresh for that many optimiser steps (batch 128) on "
             "the training rows' index grids; mean bits per grid on validation rows. Seconds "
             "on one thread in brackets.", "",
             "| data | rows | " + " | ".join(f"{s} steps" for s in BUDGETS) + " |",
             "|---|---|" + "---|" * len(BUDGETS)]
    for r in rows:
        lines.append(f"| {r['data']} | {r['rows']} | " + " | ".join(
            f"{r[f'bits@{s}']:.2f} ({r[f's@{s}']:.0f} s)" for s in BUDGETS) + " |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "vq_prior_budget.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "vq_prior_budget.json").write_text(json.dumps(rows, indent=2))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
