"""Never delete what aekit did not write, inside its own folders too (issue 28, class 1):
rewriting a report folder (``Report.save``, ``aekit report``, ``aekit tour``) or a run's
``model/`` and ``report/`` (``aekit train --resume``) replaces only the files aekit wrote
there (the report's marker lists them); whatever else someone put there survives, as it was,
symlinks as links (never followed)."""

from __future__ import annotations

import os

import pytest

from aekit.cli import main
from aekit.io.atomic import carry_over, read_manifest, write_manifest
from aekit.report import MARKER, Report

# Where a user puts things: beside the page, among the figures, in a folder of their own,
# hidden, and a symlink pointing outside.
USER_FILES = ["notes.md", "figures/mine.png", "extra/deep/data.csv", ".hidden",
              "figures/sub/x.txt"]


def _add_user_files(folder, outside):
    for i, rel in enumerate(USER_FILES):
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"user {i}\n")
    os.chmod(folder / "notes.md", 0o640)
    (folder / "link").symlink_to(outside)


def _check_user_files(folder, outside):
    for i, rel in enumerate(USER_FILES):
        assert (folder / rel).read_text() == f"user {i}\n", rel
    assert (os.stat(folder / "notes.md").st_mode & 0o777) == 0o640
    assert (folder / "link").is_symlink() and os.readlink(folder / "link") == str(outside)
    assert outside.read_text() == "outside\n"  # the link's target untouched


@pytest.fixture
def outside(tmp_path):
    target = tmp_path / "outside.txt"
    target.write_text("outside\n")
    return target


def _report(title):
    rep = Report(title)
    rep.section("s").text(title)
    return rep


def test_report_rewrite_keeps_what_the_user_added(tmp_path, outside):
    folder = tmp_path / "rep"
    _report("one").save(folder)
    ours = read_manifest(folder / MARKER)
    assert {"index.html", MARKER} <= ours and not any(r in ours for r in USER_FILES)
    _add_user_files(folder, outside)
    _report("two").save(folder)
    _check_user_files(folder, outside)
    assert "two" in (folder / "index.html").read_text()
    assert not any(r in read_manifest(folder / MARKER) for r in USER_FILES)


@pytest.mark.parametrize("rel", ["a.txt", "d/e/f.bin", "figures/stale.png"])
def test_carry_over_skips_what_the_manifest_lists(tmp_path, rel):
    old, new = tmp_path / "old", tmp_path / "new"
    (old / rel).parent.mkdir(parents=True)
    (old / rel).write_text("aekit's, obsolete\n")
    (old / "user.txt").write_text("user\n")
    write_manifest(old / MARKER, old, "written by aekit.report")
    new.mkdir()
    (new / "user.txt").write_text("new version\n")  # a path the new folder writes wins
    kept = carry_over(old, new, read_manifest(old / MARKER))
    assert kept == [] and not (new / rel).exists()
    assert (new / "user.txt").read_text() == "new version\n"


def test_aekit_report_rerun_keeps_user_files(tmp_path, outside, capsys):
    run, rep = tmp_path / "run", tmp_path / "rep"
    assert main(["train", "--model", "linear", "--data", "digits", "--no-report",
                 "--out", str(run)]) == 0
    for i in range(2):
        assert main(["report", str(run), "--data", "digits", "--eval-rows", "100",
                     "--out", str(rep)]) == 0
        if i == 0:
            _add_user_files(rep, outside)
    _check_user_files(rep, outside)


def test_train_resume_keeps_user_files_in_model_and_report(tmp_path, outside, capsys):
    run = tmp_path / "run"
    args = ["train", "--model", "stacked", "--data", "digits", "--epochs", "2",
            "--hidden-layer-sizes", "8", "--n-components", "2", "--eval-rows", "100",
            "--random-state", "0", "--out", str(run)]
    assert main(args) == 0
    _add_user_files(run / "model", outside)
    (run / "report" / "mine.txt").write_text("user\n")
    assert main(args + ["--resume"]) == 0
    _check_user_files(run / "model", outside)
    assert (run / "report" / "mine.txt").read_text() == "user\n"
