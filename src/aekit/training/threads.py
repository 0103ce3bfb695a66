"""How many CPU threads training uses: as many as there are idle cores.

Why: torch runs each operator's loop on an OpenMP team of ``torch.get_num_threads()``
threads that meet at a barrier when the loop ends. When another process keeps one of the
cores busy, the thread that shares its core gets a time slice only every few
milliseconds, and every barrier waits for it: with 2 threads on 2 cores and one busy
competitor, the lecture's dense AE took 2.5-20 s per epoch against 0.8 s with one thread
(issue 18; benchmarks/results/speed.md, "threads under load"). A team no larger than the
number of idle cores never waits for a descheduled member.

The policy (``threads=None``, the default), for training steps whose results do not depend
on the thread count (``step.thread_invariant``: the closed-form dense step, whose products
split over output blocks; tests/test_threads.py trains with 1 and 2 threads and compares
the weights bit for bit):

- the upper bound is torch's thread count when training starts (its default is the
  number of cores; ``OMP_NUM_THREADS`` or ``torch.set_num_threads`` lower it);
- before the first epoch, the cores other processes keep busy are read from the
  kernel's count of runnable tasks (``/proc/loadavg``, the lowest of a few samples);
- after every epoch, from the CPU time the whole machine spent during it
  (``/proc/stat``) minus this process's own (``getrusage``): the cores others used;
- each epoch then runs with ``bound - round(others)`` threads, at least 1.

Other steps (autograd: convolutions, VAEs) keep torch's count for the whole run: oneDNN's
weight-gradient reductions round differently with another thread count, and the same seed
must give the same weights whatever the load (tests/test_hardening_determinism.py). On a
busy machine set a count for them (below). Inference (``FittedAutoencoder.run``: encode,
decode, reconstruct) chooses once per call by the same load reading; its forward passes
give the same values with any thread count (tests/test_threads.py).

torch's thread count is restored when training ends. OpenMP's spin-wait policy is left
alone: ``OMP_WAIT_POLICY`` is read once, when torch's OpenMP library loads, so a library
cannot change it; with no more threads than idle cores, spinning costs nothing.

Override: ``n_threads=N`` on an estimator (``TrainConfig.threads``), or the environment
variable ``AEKIT_NUM_THREADS=N``: a fixed count for the whole run. Where ``/proc`` is not
readable (not Linux) the policy keeps torch's count.
"""

from __future__ import annotations

import contextlib
import os
import resource
import time

import torch

from aekit.errors import ConfigError
from aekit.training.callbacks import Callback

ENV = "AEKIT_NUM_THREADS"
_SAMPLES = 5  # /proc/loadavg reads before the first epoch, 1 ms apart (the lowest counts)
_INFER_MIN_ROWS = 512  # inference on fewer rows keeps torch's count (nothing to gain)


def requested(threads: int | None) -> int | None:
    """The fixed thread count asked for: ``threads`` if given, else ``$AEKIT_NUM_THREADS``,
    else None (choose by load)."""
    if threads is not None:
        return int(threads)
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"environment variable {ENV}={value!r} must be an integer >= 1 "
                          "(the CPU threads training uses), or unset (as many threads as "
                          "idle cores)")
    return n


def _runnable_others(samples: int = _SAMPLES) -> float | None:
    """Runnable tasks other than this reader (``/proc/loadavg``'s 4th field counts the
    reader itself), the lowest of a few samples: a task that only runs now and then is not
    a busy core (nor is one of our own OpenMP threads still spinning after an operator)."""
    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg") as f:
                running = int(f.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return None
        counts.append(running - 1)
        if i + 1 < samples:
            time.sleep(0.001)
    return float(max(min(counts), 0))


def _machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy (all but idle and iowait) since boot."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return r.ru_utime + r.ru_stime


class AdaptiveThreads(Callback):
    """Sets torch's thread count before every epoch: the bound minus the cores other
    processes kept busy (see the module docstring). ``history`` holds (epoch, threads)."""

    def __init__(self, bound: int):
        self.bound = max(int(bound), 1)
        self.history: list[tuple[int, int]] = []
        self._mark = None

    def _threads_for(self, others: float | None) -> int:
        return _idle_threads(self.bound, others)

    def on_epoch_begin(self, trainer, epoch):
        if self._mark is None:  # first epoch: who is runnable right now
            n = self._threads_for(_runnable_others())
        else:  # later epochs: what others used during the last one
            busy, own, wall = self._mark
            now_busy, now_own, now = _machine_busy_seconds(), _own_seconds(), time.monotonic()
            others = None
            if busy is not None and now_busy is not None and now > wall:
                others = max(((now_busy - busy) - (now_own - own)) / (now - wall), 0.0)
            n = self._threads_for(others)
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
        self.history.append((epoch, n))
        self._mark = (_machine_busy_seconds(), _own_seconds(), time.monotonic())


def _idle_threads(bound: int, others: float | None) -> int:
    if others is None:
        return bound
    return max(1, min(bound, bound - int(round(others))))


@contextlib.contextmanager
def training_threads(threads: int | None, adaptive: bool = True):
    """Run training under the thread policy and restore torch's thread count afterwards.
    Yields the :class:`AdaptiveThreads` callback to add to the loop, or None when the count
    is fixed for the run (asked for, or ``adaptive`` False: a step whose results depend on
    the thread count)."""
    before = torch.get_num_threads()
    fixed = requested(threads)
    try:
        if fixed is not None:
            if fixed != before:
                torch.set_num_threads(fixed)
            yield None
        else:
            yield AdaptiveThreads(before) if adaptive else None
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


@contextlib.contextmanager
def inference_threads(rows: int):
    """Threads for one inference call over ``rows`` rows: a fixed count if one was asked
    for ($AEKIT_NUM_THREADS), else as many as idle cores now; torch's count restored."""
    before = torch.get_num_threads()
    fixed = requested(None)
    if fixed is not None:
        n = fixed
    elif before > 1 and rows >= _INFER_MIN_ROWS:
        n = _idle_threads(before, _runnable_others(samples=3))
    else:
        n = before
    try:
        if n != before:
            torch.set_num_threads(n)
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
