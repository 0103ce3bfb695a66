"""JSON for the values aekit writes: ``json.dumps(obj, default=json_default)``.

Duck-typed (``tolist`` / ``item``), so it needs neither numpy nor torch nor any aekit
module: model folders, checkpoints and CLI results can all share it without importing
the models.
"""

from __future__ import annotations


def json_default(obj):
    """``json.dumps(default=...)`` for what model files and checkpoints hold: tuples, numpy
    arrays and scalars, tensors. Anything else is an error, not a silent ``str``."""
    if isinstance(obj, tuple):
        return list(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")
