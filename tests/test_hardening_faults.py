"""Faults from outside: a second writer, a full disk, SIGTERM/SIGINT at known points, umasks.

Three guarantees (docs/reliability.md):
- one writer per output folder: every command that writes a folder (``train``, ``--resume``
  too, ``tour``, ``report``) holds an ``fcntl.flock`` lock on ``.NAME.aekit-lock`` beside it
  for the whole run; a second run exits 2 with one line, and a SIGKILLed run leaves no
  stale lock;
- a write fault (``OSError`` such as ENOSPC, or safetensors' own ``SafetensorError``) in any
  write path is one line and exit 2, with nothing half-written left; SIGTERM is handled like
  Ctrl-C (exit 143, staging folders removed), and Ctrl-C before the first checkpoint does
  not point to a checkpoint that does not exist;
- everything aekit writes has the modes a plain ``open()``/``mkdir()`` gives under the umask.

Signals land at known points, never after a guessed delay: the checkpoint handshake
(``AEKIT_TEST_PAUSE_AT``/``AEKIT_TEST_PAUSE_FILE``, see
``aekit.training.checkpoint.pause_point_for_tests``), or, for points that are not a checkpoint,
``DRIVER``: it runs ``aekit.cli.main`` with one function wrapped by the same handshake
(write ``FLAG.reached``, wait for ``FLAG``) before its first call. A full disk is a real small
tmpfs where the machine lets the test mount one (root), and a monkeypatched fault everywhere.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import SafetensorError

import aekit
from aekit.cli import EXIT_TERMINATED, Terminated, main, outputs
from aekit.fitted import files as model_files
from aekit.io import atomic
from aekit.models import ModelConfig, build_model
from aekit.training import checkpoint as ckpt_mod
from aekit.training import load_checkpoint

EPOCHS = 3
TRAIN = ["train", "--model", "stacked", "--data", "digits", "--max-rows", "200", "--epochs",
         str(EPOCHS), "--batch-size", "32", "--hidden-layer-sizes", "16", "--n-components",
         "4", "--random-state", "0", "--no-report"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
LOCKED = "another aekit run is writing this folder"
ENOSPC_TEXT = "No space left on device"

# Runs aekit.cli.main with HOOK=module:function wrapped: before its first call, write
# HOOK_FLAG.reached and wait (at most 120 s) until HOOK_FLAG exists.
DRIVER = r"""
import importlib, os, sys, time
from pathlib import Path

mod_name, attr = os.environ["HOOK"].split(":")
flag = os.environ["HOOK_FLAG"]
mod = importlib.import_module(mod_name)
real = getattr(mod, attr)
calls = []

def hooked(*args, **kwargs):
    calls.append(1)
    if len(calls) == 1:
        Path(flag + ".reached").write_text(str(os.getpid()))
        deadline = time.monotonic() + 120
        while not Path(flag).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    return real(*args, **kwargs)

setattr(mod, attr, hooked)
from aekit.cli import main
sys.exit(main(sys.argv[1:]))
"""


# --- helpers -----------------------------------------------------------------------------
def _start(argv: list[str], *, flag: Path, pause_at: int | None = None,
           hook: str | None = None) -> subprocess.Popen:
    """``aekit ARGV`` in a child process that stops at the handshake ``flag``: after its
    ``pause_at``-th checkpoint, or before the first call of ``hook`` (module:function)."""
    env = dict(ENV)
    if hook is None:
        env.update(AEKIT_TEST_PAUSE_AT=str(pause_at), AEKIT_TEST_PAUSE_FILE=str(flag))
        cmd = [sys.executable, "-m", "aekit", *argv]
    else:
        env.update(HOOK=hook, HOOK_FLAG=str(flag))
        cmd = [sys.executable, "-c", DRIVER, *argv]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)


def _default_sigint():
    """Ctrl-C's default in the child, even where this test runs with SIGINT ignored (a
    background job): Python then installs its KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _finish(proc: subprocess.Popen, limit: float = 300) -> tuple[int, list[str]]:
    try:
        _, err = proc.communicate(timeout=limit)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err.strip().splitlines()


def _hidden(folder: Path) -> list[str]:
    """Staging folders, temporary files and lock files aekit may have left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def _model(seed: int = 0, hidden: int = 16):
    return build_model(ModelConfig(64, hidden=(hidden,), code_size=4), seed=seed)


def _save_ckpt(folder: Path, model, epoch: int = 1) -> Path:
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    return ckpt_mod.save_checkpoint(
        folder, model=model, optimizer=opt, scheduler=None,
        generator=torch.Generator().manual_seed(epoch), epoch=epoch,
        history=[{"loss": 1.0}] * epoch, best_state=None, best_score=float("inf"))


@pytest.fixture
def small_disk(tmp_path):
    """Mount a real tmpfs; ``small_disk(size)`` returns its folder. Skipped (with the reason)
    where mounting is not permitted (not root, no mount(8), a container without
    CAP_SYS_ADMIN)."""
    mounted = []

    def mount(size: str) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        if not sys.platform.startswith("linux") or os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root on Linux")
        try:
            proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                                   str(where)], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"cannot run mount(8): {exc}")
        if proc.returncode != 0:
            pytest.skip(f"mounting a tmpfs is not permitted here: {proc.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=60)


def _fill(disk: Path) -> Path:
    """Fill the file system of ``disk`` to the last byte."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


# --- 3. one writer per output folder -----------------------------------------------------
def _folder_writers(out: Path, model_dir: Path) -> dict[str, list[str]]:
    return {
        "train": [*TRAIN, "--out", str(out)],
        "train-resume": [*TRAIN, "--out", str(out), "--resume"],
        "tour": ["tour", "--data", "digits", "--quick", "--only", "KL", "--out", str(out)],
        "report": ["report", str(model_dir), "--data", "digits", "--out", str(out)],
    }


@pytest.mark.parametrize("command", ["train", "train-resume", "tour", "report"])
def test_every_folder_writer_refuses_a_folder_another_run_holds(tmp_path, capsys, command):
    out = tmp_path / "run"
    argv = _folder_writers(out, tmp_path / "model")[command]
    with outputs.output_folder_lock(out):  # another run (flock: another open file) holds it
        assert main(argv) == 2
        err = _one_line(capsys)
        assert LOCKED in err and str(out) in err, err
    assert not out.exists()  # nothing was written
    assert _hidden(tmp_path) == []  # the holder removed its lock file on release


def test_every_command_that_writes_a_folder_takes_the_lock():
    """A new folder-writing subcommand must take the lock too: a module that checks, stages
    or saves into a folder calls ``output_folder_lock``."""
    import aekit.cli as cli

    cli_dir = Path(cli.__file__).parent
    writers = {p.stem: p.read_text(encoding="utf-8") for p in cli_dir.glob("*_cmd.py")}
    writers = {name: text for name, text in writers.items()
               if any(s in text for s in ("check_output_dir(", "staging_dir(", ".save(",
                                          ".mkdir("))}
    assert {"train_cmd", "tour_cmd", "report_cmd"} <= set(writers)
    unlocked = sorted(n for n, text in writers.items() if "output_folder_lock(" not in text)
    assert unlocked == []


def test_the_lock_is_released_on_any_exit_and_a_leftover_file_is_no_lock(tmp_path):
    out = tmp_path / "a" / "b" / "run"
    lock = outputs.lock_file_of(out)
    with pytest.raises(RuntimeError), outputs.output_folder_lock(out):
        assert lock.is_file()
        raise RuntimeError
    assert not (tmp_path / "a").exists()  # folders made for the lock file are gone again
    out.parent.mkdir(parents=True)
    lock.write_text("12345\n")  # what a SIGKILLed run leaves: a file, but no lock
    with outputs.output_folder_lock(out):
        with pytest.raises(aekit.ConfigError, match=LOCKED), outputs.output_folder_lock(out):
            pass
    assert not lock.exists()


@pytest.mark.parametrize("route", ["symlink to the folder", "symlink to its parent",
                                   "relative with ..", "trailing slash"])
def test_the_same_folder_by_another_path_takes_the_same_lock(tmp_path, monkeypatch, route):
    """Issue 28, class 5: a path that reaches the same folder locks the same file."""
    real = tmp_path / "runs" / "real"
    real.mkdir(parents=True)
    if route == "symlink to the folder":
        (tmp_path / "link").symlink_to(real)
        other = tmp_path / "link"
    elif route == "symlink to its parent":
        (tmp_path / "parent-link").symlink_to(tmp_path / "runs")
        other = tmp_path / "parent-link" / "real"
    elif route == "relative with ..":
        monkeypatch.chdir(real)
        other = Path("..") / ".." / "runs" / "real"
    else:
        other = Path(str(real) + "/")
    assert outputs.lock_file_of(other) == outputs.lock_file_of(real)
    with outputs.output_folder_lock(real):
        with pytest.raises(aekit.ConfigError, match=LOCKED), outputs.output_folder_lock(other):
            pass


def test_a_lock_file_that_is_a_symlink_is_refused_and_its_target_untouched(tmp_path):
    """Issue 28, class 1: the lock never follows a link aekit did not make."""
    out = tmp_path / "run"
    user = tmp_path / "precious.txt"
    user.write_text("the user's data\n")
    outputs.lock_file_of(out).symlink_to(user)
    with pytest.raises(aekit.ConfigError, match="is a symbolic link"), \
            outputs.output_folder_lock(out):
        pass
    assert user.read_text() == "the user's data\n"
    assert outputs.lock_file_of(out).is_symlink()  # left as it was, for the user to remove


@pytest.mark.slow  # one child process: about 20 s on a loaded 2-core machine
def test_a_second_run_is_refused_while_the_first_writes_and_a_killed_run_leaves_no_lock(
        tmp_path, capsys, wait_for_handshake):
    out, flag = tmp_path / "run", tmp_path / "flag"
    first = _start([*TRAIN, "--out", str(out)], flag=flag, pause_at=1)
    try:
        wait_for_handshake(first, flag)  # the first run has written its first checkpoint
        for name, argv in _folder_writers(out, out).items():
            assert main(argv) == 2, name
            err = _one_line(capsys)
            assert LOCKED in err and str(out) in err, (name, err)
        assert load_checkpoint(out / "checkpoints")["epoch"] == 1  # the others wrote nothing
        first.send_signal(signal.SIGKILL)  # no cleanup at all
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert outputs.lock_file_of(out).exists()  # the killed run's lock file is still there...
    assert main([*TRAIN, "--out", str(out), "--resume"]) == 0  # ...but it holds no lock
    assert aekit.load(out).n_iter_ == EPOCHS
    assert _hidden(tmp_path) == []


# --- 5a. write faults: a full disk, safetensors' own error ---------------------------------
def _fault(kind: str):
    """A save_file that puts half a file on disk, then fails like a full disk."""
    def save_file(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\0" * 100)
        if kind == "safetensors":
            raise SafetensorError("Error while serializing: I/O error: No space left on "
                                  "device (os error 28)")
        raise OSError(errno.ENOSPC, ENOSPC_TEXT)
    return save_file


@pytest.mark.parametrize("kind", ["safetensors", "oserror"])
@pytest.mark.parametrize("where", ["model", "checkpoint"])
def test_a_write_fault_in_the_library_is_an_oserror_naming_the_file(tmp_path, monkeypatch,
                                                                      kind, where):
    module = model_files if where == "model" else ckpt_mod
    monkeypatch.setattr(module, "save_file", _fault(kind))
    with pytest.raises(OSError) as info:
        if where == "model":
            model_files.save(tmp_path / "model", _model())
        else:
            _save_ckpt(tmp_path / "ckpt", _model())
    assert info.value.errno == errno.ENOSPC
    named = tmp_path / ("model" if where == "model" else "ckpt/checkpoint.safetensors")
    assert str(info.value) == f"[Errno 28] cannot write {named}: {ENOSPC_TEXT}"
    assert _hidden(tmp_path) == [] and not (tmp_path / "model").exists()
    if where == "checkpoint":
        assert list((tmp_path / "ckpt").iterdir()) == []


@pytest.mark.parametrize("kind", ["safetensors", "oserror"])
@pytest.mark.parametrize("where", ["model", "checkpoint"])
def test_a_write_fault_in_aekit_train_is_one_line_and_leaves_nothing_half_written(
        tmp_path, capsys, monkeypatch, kind, where):
    out = tmp_path / "run"
    module = model_files if where == "model" else ckpt_mod
    monkeypatch.setattr(module, "save_file", _fault(kind))
    assert main([*TRAIN, "--out", str(out)]) == 2
    err = _one_line(capsys)
    assert err.startswith("aekit train: error: [Errno 28] cannot write ") and ENOSPC_TEXT in err
    assert ".tmp" not in err, "the message names the file asked for, not a temporary one"
    assert _hidden(tmp_path) == []
    if where == "checkpoint":  # a fresh run that failed leaves no folder
        assert not out.exists()
    else:  # training finished: the checkpoint stays for --resume, no half-written outputs
        assert f"cannot write {out}: " in err and "rerun with --resume" in err
        assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "config.resolved.json"]
        assert load_checkpoint(out / "checkpoints")["epoch"] == EPOCHS
        assert _hidden(out) == []


def test_an_unconverted_safetensors_error_still_is_one_line(capsys, monkeypatch):
    import aekit.cli.train_cmd as train_cmd

    def run(args):
        raise SafetensorError("Error while serializing: I/O error: No space left on device "
                              "(os error 28)")
    monkeypatch.setattr(train_cmd, "run", run)
    assert main([*TRAIN, "--out", "unused"]) == 2
    assert _one_line(capsys).startswith(f"aekit train: error: [Errno 28] {ENOSPC_TEXT}")


def test_a_real_full_disk_in_the_library(small_disk):
    disk = small_disk("16k")  # far less than the weights of a 64-128-4 model
    with pytest.raises(OSError) as info:
        model_files.save(disk / "model", _model(hidden=128))
    assert info.value.errno == errno.ENOSPC and str(disk / "model") in str(info.value)
    with pytest.raises(OSError) as info:
        _save_ckpt(disk / "ckpt", _model(hidden=128))
    assert info.value.errno == errno.ENOSPC
    assert str(disk / "ckpt" / "checkpoint.safetensors") in str(info.value)
    assert [p.name for p in disk.iterdir()] == ["ckpt"]  # the folder asked for, empty
    assert list((disk / "ckpt").iterdir()) == []


def test_a_real_full_disk_at_the_first_checkpoint_of_aekit_train(small_disk, capsys):
    disk = small_disk("16k")  # the run config fits; the first checkpoint does not
    out = disk / "run"
    argv = [*TRAIN, "--hidden-layer-sizes", "128", "--out", str(out)]
    assert main(argv) == 2
    err = _one_line(capsys)
    assert err == (f"aekit train: error: [Errno 28] cannot write "
                   f"{out / 'checkpoints' / 'checkpoint.safetensors'}: {ENOSPC_TEXT}")
    assert list(disk.iterdir()) == []  # a failed fresh run leaves nothing, the lock file too


@pytest.mark.slow  # one child process
def test_a_real_full_disk_while_aekit_train_writes_its_outputs(small_disk, tmp_path, capsys,
                                                               wait_for_handshake):
    disk = small_disk("2m")
    out, flag = disk / "run", tmp_path / "flag"
    proc = _start([*TRAIN, "--out", str(out)], flag=flag, pause_at=EPOCHS)
    try:
        wait_for_handshake(proc, flag)  # the last checkpoint is written; outputs come next
        filler = _fill(disk)
        flag.touch()
        code, err = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 2 and err == [
        f"aekit train: error: [Errno 28] cannot write {out}: {ENOSPC_TEXT}; training "
        f"finished and the checkpoint is in {out / 'checkpoints'}: rerun with --resume to "
        "write the outputs"], err
    assert sorted(p.name for p in disk.iterdir()) == ["filler", "run"]  # no staging, no lock
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "config.resolved.json"]
    assert load_checkpoint(out / "checkpoints")["epoch"] == EPOCHS
    filler.unlink()
    assert main([*TRAIN, "--out", str(out), "--resume"]) == 0
    assert aekit.load(out).n_iter_ == EPOCHS
    capsys.readouterr()


# --- 5b/c. SIGTERM and SIGINT ---------------------------------------------------------------
def test_sigterm_in_any_command_removes_its_staging_folder_and_lock(tmp_path, capsys,
                                                                    monkeypatch):
    """``main`` raises SIGTERM as ``Terminated`` in whatever command runs: the staging
    folder and the lock go, the exit status is 143, and the old handler comes back."""
    import aekit.cli.tour_cmd as tour_cmd

    out = tmp_path / "tour"
    seen = {}

    def run(args):
        with outputs.staging_dir(out) as tmp:
            (tmp / "index.html").write_text("half")
            seen["staging"] = tmp
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)  # the handler raises here
        pytest.fail("SIGTERM did not stop the command")

    monkeypatch.setattr(tour_cmd, "_run", run)
    before = signal.getsignal(signal.SIGTERM)
    assert main(["tour", "--data", "digits", "--out", str(out)]) == EXIT_TERMINATED == 143
    assert _one_line(capsys) == "aekit tour: terminated"
    assert signal.getsignal(signal.SIGTERM) is before
    assert not seen["staging"].exists() and _hidden(tmp_path) == [] and not out.exists()
    assert issubclass(Terminated, BaseException) and not issubclass(Terminated, Exception)


@pytest.mark.slow  # one child process
def test_sigterm_during_training_says_where_the_checkpoint_is(tmp_path, wait_for_handshake):
    out, flag = tmp_path / "run", tmp_path / "flag"
    proc = _start([*TRAIN, "--out", str(out)], flag=flag, pause_at=1)
    wait_for_handshake(proc, flag)
    proc.send_signal(signal.SIGTERM)
    code, err = _finish(proc)
    assert code == 143 and err == [
        f"aekit train: terminated after epoch 1; the checkpoint is in {out / 'checkpoints'}: "
        "rerun the same command with --resume to continue"], err
    assert load_checkpoint(out / "checkpoints")["epoch"] == 1
    assert _hidden(tmp_path) == [] and _hidden(out) == []


@pytest.mark.slow  # one child process
def test_sigterm_while_writing_outputs_leaves_no_staging_folder(tmp_path, wait_for_handshake):
    out, flag = tmp_path / "run", tmp_path / "flag"
    proc = _start([*TRAIN, "--out", str(out)], flag=flag, hook="aekit.cli.outputs:move_into")
    wait_for_handshake(proc, flag)  # the outputs are complete in the staging folder
    staging = [p for p in tmp_path.iterdir() if p.name.startswith(".run.tmp-")]
    assert len(staging) == 1 and (staging[0] / "model").is_dir()
    proc.send_signal(signal.SIGTERM)
    code, err = _finish(proc)
    assert code == 143 and err == [
        f"aekit train: terminated while writing outputs; training finished and the "
        f"checkpoint is in {out / 'checkpoints'}: rerun with --resume to write them"], err
    assert _hidden(tmp_path) == []  # no staging folder, no lock file
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "config.resolved.json"]


@pytest.mark.slow  # one child process
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_before_the_first_checkpoint_points_to_no_checkpoint(tmp_path, sig,
                                                                      wait_for_handshake):
    out, flag = tmp_path / "run", tmp_path / "flag"
    proc = _start([*TRAIN, "--out", str(out)], flag=flag,
                  hook="aekit.training.callbacks:save_checkpoint")
    wait_for_handshake(proc, flag)  # epoch 1 is trained, its checkpoint not yet written
    proc.send_signal(sig)
    code, err = _finish(proc)
    what = "interrupted" if sig == signal.SIGINT else "terminated"
    assert code == 128 + sig and err == [
        f"aekit train: {what} before the first checkpoint was written, so there is nothing "
        "to resume: rerun the same command to start again"], err
    assert not out.exists()  # a fresh run: nothing to keep, so the same command works again
    assert _hidden(tmp_path) == []


# --- 7. modes follow the umask -----------------------------------------------------------
def _modes_wrong(root: Path, mask: int) -> list[str]:
    """Paths under ``root`` (itself too) whose mode differs from a plain mkdir/open's."""
    wrong = []
    for p in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(p.lstat().st_mode)
        want = (0o777 if p.is_dir() else 0o666) & ~mask
        if mode != want:
            wrong.append(f"{p.relative_to(root.parent)}: {mode:o}, expected {want:o}")
    return wrong


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_library_writes_follow_the_umask(tmp_path, umask):
    model_files.save(tmp_path / "model", _model(), history=[{"loss": 1.0}])
    _save_ckpt(tmp_path / "ckpt" / "phase", _model())
    outputs.write_array(tmp_path / "codes.npy", np.zeros((2, 2), np.float32))
    outputs.write_array(tmp_path / "codes.csv", np.zeros((2, 2), np.float32))
    atomic.write_text_atomic(tmp_path / "metrics.json", "{}")
    staged = tmp_path / "staged"
    with outputs.staging_dir(staged) as tmp:
        inner = Path(atomic.make_temp_dir(tmp, prefix="lib-"))  # a library's own modes
        os.chmod(inner, 0o755)
        (inner / "f.txt").write_text("x")
        os.chmod(inner / "f.txt", 0o600)
        outputs.move_into(tmp, staged)
    for name in ("model", "ckpt", "codes.npy", "codes.csv", "metrics.json", "staged"):
        assert _modes_wrong(tmp_path / name, umask) == []
    assert _hidden(tmp_path) == []


def test_replacing_a_file_keeps_its_mode_like_open_does(tmp_path, umask):
    path = tmp_path / "metrics.json"
    path.write_text("{}")
    os.chmod(path, 0o640)
    atomic.write_text_atomic(path, '{"new": 1}')
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.slow  # trains a model and builds its report in-process: about 15 s
def test_a_train_run_folder_follows_the_umask(tmp_path, umask, capsys):
    out = tmp_path / "run"
    argv = [a for a in TRAIN if a != "--no-report"]  # the report folder too
    assert main([*argv, "--epochs", "1", "--eval-rows", "100", "--out", str(out)]) == 0
    assert (out / "report" / "index.html").is_file() and (out / "checkpoints").is_dir()
    assert _modes_wrong(out, umask) == []
    assert _hidden(tmp_path) == []
    capsys.readouterr()


def test_a_tour_folder_follows_the_umask(tmp_path, umask, capsys):
    out = tmp_path / "tour"
    assert main(["tour", "--data", "digits", "--quick", "--only", "KL", "--out",
                 str(out)]) == 0
    assert any((out / "figures").iterdir())
    assert _modes_wrong(out, umask) == []
    assert _hidden(tmp_path) == []
    capsys.readouterr()
