"""Training without importing ``torch._dynamo`` (1-4 s of a fit's start on the 2-core CPU).

torch marks a few ``Optimizer`` methods (``add_param_group``, ``state_dict``,
``load_state_dict``, ``zero_grad``) with ``torch._disable_dynamo``, whose wrapper imports
``torch._dynamo`` on its first call only to build a "don't trace this" version of the
function, and caches it on the function as ``__dynamo_disable`` (torch/_compile.py).
While ``torch._dynamo`` has not been imported nothing can be tracing, so that version and
the plain function do the same thing: :func:`no_dynamo_import` puts the plain function in
the cache for the duration of the block and takes it out afterwards. (``Optimizer.step``
imports it too: ``_FusedAdamStep`` creates Adam's state itself instead of calling it.)
Where torch's internals differ from this (another version), nothing is changed.
"""

from __future__ import annotations

import contextlib
import sys
import types

import torch

_METHODS = ("add_param_group", "state_dict", "load_state_dict", "zero_grad")
_CACHE = "__dynamo_disable"  # the attribute torch._compile._disable_dynamo caches in


def _wrapped_functions() -> list:
    out = []
    for name in _METHODS:
        fn = getattr(getattr(torch.optim.Optimizer, name, None), "__wrapped__", None)
        if isinstance(fn, types.FunctionType) and _CACHE not in vars(fn):
            out.append(fn)
    return out


@contextlib.contextmanager
def no_dynamo_import():
    """Within the block, torch's optimizer methods run without importing torch._dynamo
    (unless it is already imported: then nothing changes)."""
    if "torch._dynamo" in sys.modules:
        yield
        return
    patched = _wrapped_functions()
    for fn in patched:
        setattr(fn, _CACHE, fn)
    try:
        yield
    finally:
        for fn in patched:
            if vars(fn).get(_CACHE) is fn:
                delattr(fn, _CACHE)
