"""The command line starts at once: building the parser (``--help``, ``--version``, every
subcommand's ``--help``) imports no torch, scikit-learn, scipy or matplotlib. The train
flags come from a plain-data snapshot of the parameter table, checked equal to it here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aekit.cli import SUBCOMMANDS, flag_table

HEAVY = ("torch", "sklearn", "scipy", "matplotlib")
PROBE = """
import json, sys
from aekit.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


@pytest.mark.parametrize("argv", [["--version"], ["--help"]] +
                         [[name, "--help"] for name in SUBCOMMANDS])
def test_parser_imports_nothing_heavy(argv):
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [], \
        f"aekit {' '.join(argv)} imported heavy modules"


def test_flag_snapshot_equals_the_parameter_table():
    """After an edit of aekit.estimators.params: python -m aekit.cli.flag_table."""
    assert flag_table.load() == json.loads(json.dumps(flag_table.generate())), \
        "src/aekit/cli/flags.json is stale: run python -m aekit.cli.flag_table"


def test_tour_data_sets_named_once_in_effect():
    from aekit.cli.tour_cmd import TOUR_DATASETS as named
    from aekit.tour import TOUR_DATASETS

    assert named == TOUR_DATASETS


def test_model_names_agree_with_the_snapshot():
    from aekit.cli import options

    assert flag_table.load()["models"] == options.MODEL_CLASSES


# --- never silent ---------------------------------------------------------------------------
class _Terminal:
    """A stderr that says it is a terminal and keeps what is written."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_a_phase_shows_one_status_line_on_a_terminal(monkeypatch):
    from aekit.cli import outputs

    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    with outputs.phase("train", "writing the report"):
        pass
    assert term.text.startswith("aekit train: writing the report ...")
    assert term.text.endswith(" s\n") and term.text.count("\n") == 1


def test_a_phase_stopped_by_an_error_says_so(monkeypatch):
    from aekit.cli import outputs

    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    with pytest.raises(KeyboardInterrupt), outputs.phase("report", "figures"):
        raise KeyboardInterrupt
    assert term.text == "aekit report: figures ... stopped\n"


def test_train_with_v_logs_each_phase_after_training(tmp_path, caplog):
    import logging

    from aekit.cli import main

    with caplog.at_level(logging.INFO, logger="aekit.cli"):
        assert main(["train", "--model", "linear", "--data", "digits", "--out",
                     str(tmp_path / "run"), "-v"]) == 0
    phases = [r.getMessage() for r in caplog.records if r.name == "aekit.cli.train"]
    assert any(m.startswith("saving the model: ") for m in phases), phases
    assert any(m.startswith("metrics and report on 355 rows: ") for m in phases), phases
