"""Rewrite the outputs of every ``$ command`` session in docs/cli.md from a real run.

    python scripts/docs_outputs.py            # runs every session at its documented budget
    python scripts/docs_outputs.py --check    # exit 1 if a block would change (no rewrite)

Each fenced block of the page is run in order in one scratch folder (holding a copy of
``examples/`` and ``vae.yaml``, as the page tells a reader to make), each ``$ `` line through
a shell, and its stdout and stderr replace the lines under it; a failing command gets an
``(exit code N)`` line. ``# comment`` lines and blank lines between sessions are kept. An
output longer than ``MAX_LINES`` keeps its first ``HEAD`` and last ``TAIL`` lines around a
``...`` line. ``tests/test_docs_run.py`` runs the same sessions (with small budgets) and
checks that each documented output has the shape of the one it gets (numbers aside).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cli.md"
MAX_LINES, HEAD, TAIL = 24, 4, 3
# Where the installed package lives is the reader's own: shown as ".../aekit/..."
INSTALL_PATH = re.compile(r"(?<![\w.])/\S*?/(aekit/pretrained/)")
BLOCK = re.compile(r"(```[a-z]*\n)(.*?)(```)", re.S)


def elide(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return lines
    return [*lines[:HEAD], "...", *lines[-TAIL:]]


def run(cmd: str, cwd: Path) -> tuple[int, list[str]]:
    env = {**os.environ, "COLUMNS": "100", "AEKIT_NUM_THREADS": os.environ.get(
        "AEKIT_NUM_THREADS", "1")}
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    proc = subprocess.run(cmd, shell=True, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env)  # in the order shown
    text = INSTALL_PATH.sub(r".../\1", proc.stdout)
    return proc.returncode, [line.rstrip() for line in text.splitlines()]


def rewrite_block(body: str, cwd: Path) -> str:
    """The block's text with each session's output replaced by a real one."""
    out, lines, i = [], body.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            out.append(line)
            i += 1
            continue
        cmd = re.sub(r"\s+# .*$", "", line[2:]).strip()
        i += 1
        # the old output: up to the next command, or a blank line before a comment or
        # the block's end (an output may hold blank lines and '#' lines itself)
        while i < len(lines) and not lines[i].startswith("$ ") and not (
                not lines[i].strip() and (i + 1 == len(lines) or lines[i + 1].startswith(
                    ("$ ", "# ")))):
            i += 1
        code, got = run(cmd, cwd)
        out += [line, *elide(got)] + ([f"(exit code {code})"] if code else [])
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="report a change, do not rewrite")
    args = ap.parse_args()
    text = DOC.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        shutil.copytree(ROOT / "examples", cwd / "examples")
        shutil.copy(ROOT / "examples" / "vae.yaml", cwd / "vae.yaml")
        new = BLOCK.sub(lambda m: m.group(1) + (rewrite_block(m.group(2), cwd)
                                                if "\n$ " in "\n" + m.group(2)
                                                else m.group(2)) + m.group(3), text)
    if args.check:
        print("docs/cli.md is up to date" if new == text else "docs/cli.md would change")
        return int(new != text)
    DOC.write_text(new)
    print(f"rewrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
