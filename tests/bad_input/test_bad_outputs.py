"""Output paths that would destroy what is there, and disks that cannot take an output.

An output replaces only what ferpipe wrote there before (named in its folder's manifest, or recognised
by the command: a generated header, a folder of the tables' own files); never a user's file or
non-empty folder, the working folder or one above it, a folder holding .git or .dvc, a FIFO. A full or
read-only disk is one `error:` line naming the output, with nothing half-written left.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path

import pytest
from support.stage_imports import REPO
from support.stage_runs import expect_error, result_of

from ferpipe.commands.params import main as params_main
from ferpipe.core.errors import FerpipeError
from ferpipe.core.outputs import MANIFEST, staged_outputs, written_outputs
from ferpipe.experiments.results import parse_exp_show
from ferpipe.experiments.sweeps import load_sweeps
from ferpipe.report.tables_folder import write_tables

PARAMS = REPO / "params.yaml"
EXP_SHOW = json.loads((REPO / "tests" / "data" / "exp_show_sweeps.json").read_text())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def user_folder(path: Path) -> Path:
    (path / "sub").mkdir(parents=True)
    (path / "index.md").write_text("the user's page\n")
    (path / "sub" / "notes.txt").write_text("kept\n")
    return path


def doc(tmp_path: Path, out) -> tuple[int, list[str]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        return result_of(params_main, "doc", "--params", str(PARAMS), "--out", str(out))


@pytest.mark.parametrize("make", [
    lambda t: user_folder(t / "docs"),
    lambda t: (t / "README.md").write_text("# my project\n") and t / "README.md",
    lambda t: (t / "link").symlink_to(user_folder(t / "elsewhere")) or t / "link",
], ids=["non-empty-folder", "user-file", "link-to-a-folder"])
def test_an_output_never_replaces_what_ferpipe_did_not_write(tmp_path, make):
    target = make(tmp_path)
    before = snapshot(tmp_path)
    expect_error(doc(tmp_path, target), "ferpipe did not write")
    assert snapshot(tmp_path) == before and os.path.lexists(target)


@pytest.mark.parametrize("where", [".", "..", "~", "project"], ids=["working-folder", "above-it", "home", "project"])
def test_the_working_folder_a_folder_above_it_or_a_project_is_never_an_output(tmp_path, where, monkeypatch):
    work = tmp_path / "work"
    user_folder(work)
    project = user_folder(tmp_path / "project")
    (project / ".git").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    before = snapshot(tmp_path)
    out = {".": work, "..": tmp_path, "~": tmp_path / "home", "project": project}[where]
    if where == "~":
        (out / "x").write_text("mine")
        before = snapshot(tmp_path)
    message = "holds .git" if where == "project" else "never an output"
    expect_error(doc(work, out), message)
    assert snapshot(tmp_path) == before


def test_a_fifo_is_never_replaced(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    expect_error(doc(tmp_path, tmp_path / "pipe"), "FIFO")
    assert (tmp_path / "pipe").exists()


def test_an_output_replaces_what_it_wrote_and_only_that(tmp_path):
    out = tmp_path / "docs" / "parameters.md"
    code, _ = doc(tmp_path, out)
    assert code == 0 and set(written_outputs(out.parent)) == {"parameters.md"}
    out.write_text("# Parameters\n\nedited\n")  # still named in the manifest: a rerun replaces it
    assert doc(tmp_path, out)[0] == 0 and "edited" not in out.read_text()
    committed = tmp_path / "fresh" / "parameters.md"  # a committed reference: no manifest, its own header
    committed.parent.mkdir()
    committed.write_text(out.read_text().replace("| `", "| `old_", 1))
    assert doc(tmp_path, committed)[0] == 0 and committed.read_text() == out.read_text()


def test_a_tables_folder_is_replaced_only_when_it_holds_nothing_but_tables(tmp_path):
    sweeps, show = load_sweeps(REPO / "sweeps.yaml"), parse_exp_show(EXP_SHOW)
    committed = tmp_path / "sweeps"
    committed.mkdir()
    (committed / "tables.json").write_text('{"tables": []}\n')
    write_tables(committed, show, sweeps, REPO / "paper.yaml")
    assert (committed / "TABLES.md").exists()
    docs = user_folder(tmp_path / "docs")
    before = snapshot(docs)
    with pytest.raises(FerpipeError, match="ferpipe did not write"):
        write_tables(docs, show, sweeps, REPO / "paper.yaml")
    assert snapshot(docs) == before


def test_a_bad_manifest_is_one_error_naming_it(tmp_path):
    (tmp_path / "out.json").write_text("{}")
    (tmp_path / MANIFEST).write_text('{"../x": null}')
    with pytest.raises(FerpipeError, match=MANIFEST):
        with staged_outputs(tmp_path / "out.json"):
            pass


@pytest.mark.parametrize("code, cause", [(errno.ENOSPC, "No space left on device"),
                                          (errno.EROFS, "Read-only file system"),
                                          (errno.EDQUOT, "Disk quota exceeded")])
def test_a_full_or_read_only_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, code, cause):
    def fail(self, *args, **kwargs):
        raise OSError(code, os.strerror(code))

    out = tmp_path / "docs" / "parameters.md"
    monkeypatch.setattr(Path, "write_text", fail)
    line = expect_error(doc(tmp_path, out), cause, [out])
    assert str(out) in line
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_library_error_on_a_full_disk_says_the_disk_is_full(tmp_path, monkeypatch):
    monkeypatch.setattr("ferpipe.core.outputs._nearly_full", lambda folder: True)
    out = tmp_path / "model.pt"
    with pytest.raises(FerpipeError, match="the disk is full"):
        with staged_outputs(out) as (temp,):
            temp.write_bytes(b"half")
            raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")
    assert not list(tmp_path.iterdir())


def test_a_disk_fault_outside_an_output_is_one_line(tmp_path):
    def main(argv):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "cache"))

    code, lines = result_of(main)
    assert code == 1 and lines == [f"error: {tmp_path / 'cache'}: Permission denied"]


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs, filled: a real full disk (root only; skipped where mounting is not allowed)."""
    import subprocess

    mount = tmp_path / "full"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        with open(mount / "filler", "wb") as fh, contextlib.suppress(OSError):
            fh.write(b"\0" * (1 << 20))
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.parametrize("command", ["check_params", "params doc"])
def test_a_real_full_disk_is_one_line_and_leaves_no_folder_or_file(full_disk, command):
    from support.stage_runs import stage_main

    out = full_disk / "new" / "folder" / "out.txt"
    before = sorted(p.name for p in full_disk.iterdir())
    if command == "params doc":
        result = doc(full_disk.parent, out)
    else:
        result = result_of(stage_main("check_params"), "--params", str(PARAMS), "--out", str(out))
    line = expect_error(result, "No space left on device", [out])
    assert str(out) in line
    assert sorted(p.name for p in full_disk.iterdir()) == before  # the folders it made are gone too


def test_an_output_name_too_long_for_its_temporary_copy_is_one_line(tmp_path):
    out = tmp_path / ("d" * 250 + ".md")
    expect_error(doc(tmp_path, out), "a name of 253 bytes; an output's name may have at most 241", [out])


def test_a_path_the_system_refuses_is_one_line(tmp_path):
    (tmp_path / "file").write_text("mine")

    def main(argv):
        (tmp_path / "file" / "sub").mkdir()  # below a file: NotADirectoryError

    code, lines = result_of(main)
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and "Not a directory" in lines[0]


def test_the_manifest_itself_is_never_an_output(tmp_path):
    assert doc(tmp_path, tmp_path / "first.md")[0] == 0
    before = (tmp_path / MANIFEST).read_bytes()
    expect_error(doc(tmp_path, tmp_path / MANIFEST), "the name of ferpipe's record of the outputs it wrote")
    assert (tmp_path / MANIFEST).read_bytes() == before


def test_a_folder_ferpipe_wrote_is_not_replaced_once_it_holds_a_users_file(tmp_path):
    """The manifest names the folder and what it held: a file the user put in it since is never deleted."""
    out = tmp_path / "out"
    with staged_outputs(out) as (temp,):
        temp.mkdir()
        (temp / "a.npz").write_text("ours")
    with staged_outputs(out) as (temp,):  # still just what it wrote: replaced
        temp.mkdir()
        (temp / "b.npz").write_text("ours")
    (out / "sub").mkdir()
    (out / "sub" / "notes.txt").write_text("mine")
    with pytest.raises(FerpipeError, match="its files changed since ferpipe wrote it"):
        with staged_outputs(out):
            pass
    assert (out / "sub" / "notes.txt").read_text() == "mine" and (out / "b.npz").exists()
