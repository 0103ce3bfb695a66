"""Fixtures shared by the test modules.

pytest loads this file itself; test modules ask for these fixtures by name and never import
this file or each other.

Model kinds (one small ``ModelConfig`` per kind, so every kind is covered):
  ``kind``          parametrized over every kind; a test that takes it runs once per kind.
                    A test that wants a subset parametrizes ``"kind"`` directly, which
                    overrides this fixture.
  ``model_kinds``   the {kind: ModelConfig keyword arguments} dict.
  ``make_model``    ``make_model(kind, seed=0, **overrides)`` -> a built model.
  ``model_batch``   ``model_batch(kind, n=5, seed=0)`` -> an (n, n_features) batch in [0, 1).

Threads:
  ``one_thread``    torch on one thread for the test (modules opt in with
                    ``pytestmark = pytest.mark.usefixtures("one_thread")``).
  ``single_thread`` a context-manager factory: ``with single_thread(): ...`` runs torch and
                    the OpenMP/BLAS pools on one thread, then restores them.

Headless Chromium (selenium; skipped where selenium, chromium or chromedriver is missing):
  ``browser``       a module-scoped headless Chromium driver.
  ``open_page``     ``open_page(browser, html_path)`` -> (images, console errors) once loaded.

Tiny models on digits (cached per process, so a session trains each configuration once):
  ``digits_data``     the (train, test) digits datasets.
  ``trained_model``   ``trained_model(code_size=2, variational=False, epochs=20, seed=0,
                      **objective)`` -> (module, objective, history).
  ``untrained_model`` ``untrained_model(code_size=3, variational=False, n_features=64,
                      seed=0)`` -> a freshly built dense model.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import os
import time
from pathlib import Path

import pytest
import torch

from aekit.models import ModelConfig, build_model

# --- model kinds ----------------------------------------------------------------------------
MODEL_KINDS = {
    "dense": dict(n_features=12, hidden=(8, 6), code_size=3),
    "dense-linear": dict(n_features=12, hidden=(), code_size=3, activation="linear",
                         output_activation="linear"),
    "tied": dict(n_features=12, hidden=(8,), code_size=3, tied=True),
    "conv-transpose": dict(n_features=2 * 9 * 7, architecture="conv", hidden=(4, 5),
                           code_size=3, image_shape=(2, 9, 7), decoder="transpose"),
    "conv-upsample": dict(n_features=2 * 9 * 7, architecture="conv", hidden=(4,),
                          code_size=None, image_shape=(2, 9, 7), decoder="upsample"),
    "conv-unpool": dict(n_features=2 * 9 * 7, architecture="conv", hidden=(4, 5),
                        code_size=3, image_shape=(2, 9, 7), decoder="unpool"),
    "vae-dense": dict(n_features=12, hidden=(8,), code_size=2, variational=True),
    "vae-conv": dict(n_features=2 * 9 * 7, architecture="conv", hidden=(4,), code_size=2,
                     image_shape=(2, 9, 7), decoder="upsample", variational=True),
}


def _make(kind: str, seed: int = 0, **overrides):
    return build_model(ModelConfig(**{**MODEL_KINDS[kind], **overrides}), seed=seed)


def _batch(kind: str, n: int = 5, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, MODEL_KINDS[kind]["n_features"]), generator=g)


@pytest.fixture(params=list(MODEL_KINDS))
def kind(request) -> str:
    """Every model kind in turn."""
    return request.param


@pytest.fixture(scope="session")
def model_kinds() -> dict:
    return MODEL_KINDS


@pytest.fixture(scope="session")
def make_model():
    return _make


@pytest.fixture(scope="session")
def model_batch():
    return _batch


# --- threads --------------------------------------------------------------------------------
_POOL_LIMITS = []  # threadpoolctl's limiter, kept alive for the session


def pytest_configure(config):
    """Under pytest-xdist, each worker's thread pools get its share of the cores: torch's
    count (the bound aekit's policy starts from) and the BLAS/OpenMP pools of numpy and
    scikit-learn. 2 workers x 2 threads on 2 cores is the oversubscription issue 27 is
    about: every barrier then waits for a descheduled thread."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if workers > 1 and "PYTEST_XDIST_WORKER" in os.environ:
        from threadpoolctl import threadpool_limits

        share = max(1, (os.cpu_count() or 1) // workers)
        torch.set_num_threads(share)
        _POOL_LIMITS.append(threadpool_limits(share))


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and the test machine's cores are shared:
    several threads per worker spin against each other (10x slower here)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@contextlib.contextmanager
def _single_thread():
    """Tiny models run fastest single-threaded, and a shared 2-core machine spins badly
    with more (torch intra-op and OpenMP threads); restores the previous settings."""
    from threadpoolctl import threadpool_limits

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(n)


@pytest.fixture(scope="session")
def single_thread():
    return _single_thread


# --- tiny models on digits ------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _digits():
    """(train, test) digits datasets: X (1442, 64) / (355, 64) in [0, 1], y labels."""
    from aekit.datasets import load

    return load("digits"), load("digits", split="test")


@functools.lru_cache(maxsize=None)
def _trained(code_size: int = 2, variational: bool = False, epochs: int = 20, seed: int = 0,
             **objective):
    """A small dense (V)AE trained a few epochs on digits: (module, objective, history)."""
    from aekit.losses import Objective
    from aekit.training import TrainConfig, train

    train_ds, _ = _digits()
    config = ModelConfig(64, hidden=(32,), code_size=code_size, variational=variational)
    model = build_model(config, seed=seed)
    obj = Objective(**objective)
    with _single_thread():
        result = train(model, obj, train_ds.X,
                       config=TrainConfig(epochs=epochs, batch_size=64, lr=3e-3, seed=seed,
                                          validation_fraction=0.1))
    return model, obj, result.history


def _untrained(code_size: int = 3, variational: bool = False, n_features: int = 64,
               seed: int = 0):
    return build_model(ModelConfig(n_features, hidden=(16,), code_size=code_size,
                                   variational=variational), seed=seed)


@pytest.fixture(scope="session")
def digits_data():
    return _digits()


@pytest.fixture(scope="session")
def trained_model():
    return _trained


@pytest.fixture(scope="session")
def untrained_model():
    return _untrained


# --- headless Chromium ----------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                    "(pip install 'aekit[test]')")
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("headless browser test needs the chromium and chromium-driver packages "
                    "(/usr/bin/chromium, /usr/bin/chromedriver)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def _open_page(driver, html_path: Path):
    driver.get_log("browser")  # drop messages from earlier pages
    driver.get(html_path.resolve().as_uri())
    deadline = time.time() + 30
    while time.time() < deadline:
        if driver.execute_script("return document.readyState") == "complete":
            break
        time.sleep(0.1)
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src').slice(0, 60), "
        "i.complete, i.naturalWidth, i.naturalHeight]);")
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    return images, errors


@pytest.fixture(scope="session")
def open_page():
    return _open_page


# --- crash tests: the checkpoint handshake --------------------------------------------------
def _wait_for_handshake(proc, flag, limit: float = 300.0) -> None:
    """Until a child started with ``AEKIT_TEST_PAUSE_FILE=flag`` reports the handshake
    (``flag.reached``: it is paused at a known point). Fails with the child's output if it
    ends first; ``limit`` only bounds a broken run, the handshake decides."""
    reached = Path(f"{flag}.reached")
    deadline = time.monotonic() + limit
    while not reached.exists():
        if proc.poll() is not None:
            pytest.fail(f"the child ended before the handshake: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no handshake within {limit} s")
        time.sleep(0.02)


@pytest.fixture
def wait_for_handshake():
    """``wait_for_handshake(proc, flag)``: see :func:`_wait_for_handshake`."""
    return _wait_for_handshake


def _train_killed_at(args, out, pause_at: int, flag) -> None:
    """Run ``aekit train *args --out out`` in a child, SIGKILL it once it reports the
    handshake at epoch ``pause_at`` (one thread: the kill lands mid-run, not in a wait)."""
    import signal
    import subprocess
    import sys

    env = {**os.environ, "AEKIT_TEST_PAUSE_AT": str(pause_at),
           "AEKIT_TEST_PAUSE_FILE": str(flag), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "aekit", "train", *args, "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_handshake(proc, flag)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture
def train_killed_at():
    """``train_killed_at(args, out, pause_at, flag)``: see :func:`_train_killed_at`."""
    return _train_killed_at


# --- the repository's scripts, imported by tests ----------------------------------------------
def _load_script(name: str):
    """``scripts/NAME.py`` as a module (the scripts folder is no package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_script():
    """``load_script(NAME)``: ``scripts/NAME.py`` as a module."""
    return _load_script


# Same arithmetic on the same machine class: float32 results agree to rounding.
COMPAT_TOL = dict(rtol=1e-5, atol=1e-5)


def _reproduces(model, X, ref: dict, score_rtol: float) -> None:
    """A loaded model gives the outputs recorded in ``ref`` for rows X: class
    probabilities for a classifier or segmenter; else codes, reconstructions, scores and,
    where recorded, decoded codes and samples (seed 0)."""
    import numpy as np

    if "predict_proba" in ref:
        np.testing.assert_allclose(model.predict_proba(X), ref["predict_proba"], **COMPAT_TOL)
        return
    np.testing.assert_allclose(model.transform(X), ref["transform"], **COMPAT_TOL)
    np.testing.assert_allclose(model.reconstruct(X), ref["reconstruct"], **COMPAT_TOL)
    np.testing.assert_allclose(model.score_samples(X), ref["score_samples"], rtol=score_rtol)
    if "inverse_transform" in ref:
        np.testing.assert_allclose(model.inverse_transform(model.transform(X[:5])),
                                   ref["inverse_transform"], **COMPAT_TOL)
    if "sample" in ref:
        np.testing.assert_allclose(model.sample(4, random_state=0), ref["sample"],
                                   **COMPAT_TOL)


@pytest.fixture
def reproduces():
    """``reproduces(model, X, ref, score_rtol)``: the compat tests' check of a loaded model
    against the outputs its version recorded."""
    return _reproduces


# --- the command line, in-process ------------------------------------------------------------
def _run_cli(argv) -> tuple[int, str, str]:
    """``aekit ARGV`` in this process: (exit code, stdout, stderr)."""
    import contextlib
    import io

    from aekit.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def run_cli():
    """``run_cli(argv) -> (code, stdout, stderr)``: see :func:`_run_cli`."""
    return _run_cli
