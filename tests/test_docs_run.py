"""The docs run: every command session of docs/cli.md, the README's command-line block and its
Python snippets are executed in order, so a walkthrough cannot break unnoticed.

Each document runs in a fresh folder holding a copy of ``examples/`` (and ``vae.yaml``, which
docs/cli.md ``cat``s). Only the budget is shrunk, the commands are the documents' own:
``--epochs N`` becomes ``--epochs max(1, N // 20)`` (so 40 and 60 stay different, as a
resume with a changed schedule must), a ``--config`` run without ``--epochs`` gets 5 epochs,
``epochs=N`` in Python becomes 1, ``aekit tour`` gets ``--quick``, and ``train``, ``report``
and ``evaluate`` compute their metrics and maps on 300 test rows (``--eval-rows`` /
``--max-rows``, unless the command sets them). Commands documented
with "(exit code 2)" must exit 2 with the documented line (numbers aside); every other
command must exit 0.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _shell_command(cmd: str) -> str:
    """The command with the budget shrunk, run by this interpreter in a shell."""
    cmd = _shrunk(cmd)
    cmd = re.sub(r"^aekit ", f"{shlex.quote(sys.executable)} -m aekit ", cmd)
    return re.sub(r"^python ", f"{shlex.quote(sys.executable)} ", cmd)


def _shrunk(cmd: str) -> str:
    cmd = re.sub(r"--epochs (\d+)", lambda m: f"--epochs {max(1, int(m.group(1)) // 20)}", cmd)
    if "--config" in cmd and "--epochs" not in cmd and " train " in f" {cmd} ":
        cmd += " --epochs 5"
    if re.match(r"aekit tour\b", cmd):
        cmd += " --quick"
    # metrics and the report on 300 test rows instead of up to 10000 (t-SNE, probes, PCA)
    if re.match(r"aekit (train|report)\b", cmd) and "--eval-rows" not in cmd:
        cmd += " --eval-rows 300"
    if re.match(r"aekit evaluate\b", cmd) and "--max-rows" not in cmd and "--data" in cmd:
        cmd += " --max-rows 300"
    return cmd


def _sessions(text: str):
    """(command, expected output lines) for every ``$ `` line in the fenced blocks."""
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        lines = block.splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("$ "):
                continue
            out = []
            for nxt in lines[i + 1:]:
                if nxt.startswith("$ "):
                    break
                out.append(nxt)
            yield re.sub(r"\s+# .*$", "", line[2:]).strip(), out


def _readme_commands(text: str):
    """The commands of the README's command-line block (continuation lines joined)."""
    section = text[text.index("## The command line"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    joined = block.replace("\\\n", " ")
    for line in joined.splitlines():
        line = re.sub(r"\s+# .*$", "", line).strip()
        # the venv is already this interpreter, with every extra (checked below)
        if line and not line.startswith(("source ", "pip install ")):
            yield line


# What a command of the README's block needs beyond `make demo`'s install, by a sign of it.
EXTRA_NEEDED = {"yaml": re.compile(r"--config \S+\.ya?ml"), "onnx": re.compile(r"^aekit export"),
                "tensorboard": re.compile(r"--log-dir")}


def test_readme_block_installs_the_extras_it_uses():
    """The docs tests run with the test extras, so they cannot see a missing one: a newcomer
    after `make demo` has none. The block's own `pip install` line must name each extra its
    commands use."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The command line"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    install = next(line for line in block.splitlines() if line.startswith("pip install"))
    named = set(re.search(r"\[([^\]]*)\]", install).group(1).split(","))
    needed = {extra for extra, sign in EXTRA_NEEDED.items()
              for cmd in _readme_commands(text) if sign.search(cmd)}
    assert needed and needed <= named, (needed, named)
    makefile = (ROOT / "Makefile").read_text()
    demo_install = makefile[makefile.index("$(VENV)/.installed:"):].split("\n\n")[0]
    assert not any(f"[{e}" in demo_install for e in needed)  # so the line is needed


def _workdir(tmp_path) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copy(ROOT / "examples" / "vae.yaml", tmp_path / "vae.yaml")
    return tmp_path


_SHELL_SYNTAX = re.compile(r"[|;&<>$`\\]|^\w+=")


def _run(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    """An ``aekit`` command without shell syntax runs in this process through the CLI's own
    entry point (``aekit.cli.main``: argv in, exit code, stdout and stderr out, as a user
    sees them): starting a process costs ~4 s of imports here, most of this module's time
    when every command had one. Anything else runs in a shell."""
    shrunk = _shrunk(cmd)
    if shrunk.startswith("aekit ") and not _SHELL_SYNTAX.search(shrunk):
        return _in_process(shlex.split(shrunk)[1:], cwd)
    return subprocess.run(_shell_command(cmd), shell=True, cwd=cwd, capture_output=True, text=True,
                          timeout=900)


def _in_process(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``aekit ARGV`` in ``cwd`` through ``aekit.cli.main``; the working folder, the
    environment and torch's thread count are restored afterwards."""
    import contextlib
    import io
    import os

    import torch

    from aekit.cli import main

    out, err = io.StringIO(), io.StringIO()
    here, env, threads = os.getcwd(), dict(os.environ), torch.get_num_threads()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: --help, usage errors
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(env)
        torch.set_num_threads(threads)
    return subprocess.CompletedProcess(["aekit", *argv], code, out.getvalue(), err.getvalue())


def _numbers_aside(line: str) -> str:
    return re.sub(r"\d+", "N", line.strip())


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _shape(line: str) -> str:
    """A line with its numbers as N and its spacing collapsed (table columns move with
    the numbers' widths); the row count the small budget's --eval-rows changes is one
    shape ("all N rows" / "N of N rows")."""
    line = " ".join(_NUMBER.sub("N", line).split())
    return line.replace("(all N rows)", "(N of N rows)")


def test_docs_cli_sessions_run_as_documented(tmp_path, load_script):
    """Each session of docs/cli.md runs (with small budgets) to the documented exit code,
    and its output has the documented shape: the same lines, numbers aside (the page's
    outputs are written by scripts/docs_outputs.py at the documented budgets). A long
    output kept only its first and last lines in the page: those must be among the run's."""
    from collections import Counter

    docs = load_script("docs_outputs")  # what wrote the page's outputs (elision, paths)
    cwd = _workdir(tmp_path)
    sessions = list(_sessions((ROOT / "docs" / "cli.md").read_text()))
    assert len(sessions) > 15
    for cmd, expected in sessions:
        proc = _run(cmd, cwd)
        if "(exit code 2)" in expected:
            assert proc.returncode == 2, (cmd, proc.stdout, proc.stderr)
            documented = [e for e in expected if e.startswith("aekit ")]
            err = proc.stderr.strip().splitlines()
            assert len(err) == 1, (cmd, err)
            assert _numbers_aside(err[0]) == _numbers_aside(documented[0]), (cmd, err[0])
            continue
        assert proc.returncode == 0, (cmd, proc.stdout, proc.stderr)
        cut = next((i for i in range(len(expected) - 1) if not expected[i].strip()
                    and expected[i + 1].startswith("# ")), len(expected))
        expected = expected[:cut]  # a comment after a blank line is the page's, not output
        got = docs.INSTALL_PATH.sub(r".../\1", proc.stdout + proc.stderr).splitlines()
        want = Counter(_shape(e) for e in expected if e.strip() and e != "...")
        have = Counter(_shape(g) for g in got if g.strip())
        if "..." in expected:  # elided: the kept lines are among the run's
            assert not want - have, (cmd, want - have)
        else:
            assert want == have, (cmd, want - have, have - want)


def test_readme_command_line_block_runs_in_order(tmp_path):
    cwd = _workdir(tmp_path)
    commands = list(_readme_commands((ROOT / "README.md").read_text()))
    assert len(commands) >= 10
    for cmd in commands:
        proc = _run(cmd, cwd)
        assert proc.returncode == 0, (cmd, proc.stdout, proc.stderr)


def test_readme_python_snippets_run(tmp_path):
    text = (ROOT / "README.md").read_text()
    snippets = re.findall(r"```python\n(.*?)```", text, re.S)
    assert snippets
    for code in snippets:
        code = re.sub(r"\bepochs=\d+", "epochs=1", code)
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                              text=True, timeout=900)
        assert proc.returncode == 0, (code, proc.stderr)
