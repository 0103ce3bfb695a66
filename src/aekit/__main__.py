"""``python -m aekit`` is the ``aekit`` command (also what torchrun launches)."""

import sys

from aekit.cli import main

if __name__ == "__main__":
    sys.exit(main())
