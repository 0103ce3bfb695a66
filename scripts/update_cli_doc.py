"""Paste the estimator options of `aekit train --help` (COLUMNS=80) into docs/cli.md.

The parameter table generates both; tests/test_parameter_table.py checks they agree.
Run after changing a parameter: ``python scripts/update_cli_doc.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def main() -> int:
    env = {**os.environ, "COLUMNS": "80"}
    text = subprocess.run([sys.executable, "-m", "aekit", "train", "--help"], env=env,
                          capture_output=True, text=True, check=True).stdout
    section = text[text.index("estimator options:"):].rstrip()
    doc = DOC.read_text()
    start = doc.index("```\nestimator options:") + 4
    end = doc.index("```", start)
    DOC.write_text(doc[:start] + section + "\n" + doc[end:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
