"""A fit never imports torch._dynamo (1-4 s of its start on a 2-core CPU): torch's
optimizer wrappers import it only to mark functions that nothing traces while it is not
loaded (aekit.training.lazy_dynamo). The weights are those of torch.optim.Adam's own
steps (tests/test_training.py); here: the import stays out and the patch is undone."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import torch

from aekit.training import lazy_dynamo


def test_fit_checkpoint_resume_and_counting_leave_torch_dynamo_unimported(tmp_path):
    code = textwrap.dedent(f"""
        import sys, warnings
        warnings.simplefilter("error")  # no LR-scheduler order warning either
        import numpy as np
        from aekit import StackedAutoencoder
        X = np.random.default_rng(0).random((200, 12)).astype(np.float32)
        make = lambda e: StackedAutoencoder(3, hidden_layer_sizes=(8,), epochs=e, random_state=0)
        make(2).fit(X, checkpoint_dir={str(tmp_path)!r})
        make(2).fit(X, checkpoint_dir={str(tmp_path)!r}, resume=True)  # loads the state
        from aekit import LinearAutoencoder
        LinearAutoencoder(3).fit(X)  # the solve: a loop step that leaves no gradient
        from aekit.models import ModelConfig  # parameter counts: modules on meta
        ModelConfig(8, hidden=(4,), code_size=2, variational=True, prior="vamp",
                    n_pseudo_inputs=3).parameter_count()
        print("torch._dynamo" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_the_patch_is_undone_after_the_block():
    functions = lazy_dynamo._wrapped_functions()
    assert functions  # this torch has the wrappers (else the module changes nothing)
    if "torch._dynamo" in sys.modules:  # another test imported it: the block is a no-op
        with lazy_dynamo.no_dynamo_import():
            assert lazy_dynamo._wrapped_functions() == functions
        return
    with lazy_dynamo.no_dynamo_import():
        assert lazy_dynamo._wrapped_functions() == []
        torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))])
        assert "torch._dynamo" not in sys.modules
    assert lazy_dynamo._wrapped_functions() == functions
