"""Interruptions and redirected writes: SIGINT and SIGTERM end a run with one `interrupted` line, exit
130 / 143 and no partial output, so that a rerun works; a link planted at an output's name while
`predict --out` writes is neither followed nor replaced."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from PIL import Image
from support.stage_runs import run_main
from test_bad_export import predict_onnx, write_export

from ferpipe import __main__ as ferpipe_command
from ferpipe.core.cli import run_stage
from ferpipe.core.outputs import staged_outputs
from ferpipe.faces import detector


def interrupted_stage(signum: int, outputs: list[Path]):
    def main(argv) -> None:
        with staged_outputs(*outputs) as temps:
            for temp in temps:
                temp.write_text("half")
            os.kill(os.getpid(), signum)
    return main


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_a_stage_with_one_line_and_no_outputs(tmp_path, signum, code):
    outputs = [tmp_path / "metrics.json", tmp_path / "out" / "data.npz"]
    # Python's own SIGINT handler, as in a terminal: a test run started as a shell's background job ignores it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        done = run_main(lambda argv: run_stage(interrupted_stage(signum, outputs), argv), [], tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert done.returncode == code and done.stderr.splitlines() == ["interrupted"], done.stderr
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or signum == signal.SIGINT


def _saving(monkeypatch, before_write):
    """PIL's save, with `before_write(path)` run first for a drawing: as a signal or another process would act
    mid-write."""
    save = Image.Image.save

    def patched(self, fp, *args, **kwargs):
        if Path(fp).parent.name == "drawn":
            before_write(Path(fp))
        return save(self, fp, *args, **kwargs)
    monkeypatch.setattr(Image.Image, "save", patched)


def test_predict_interrupted_while_drawing_leaves_nothing_and_reruns(tmp_path, monkeypatch):
    export = write_export(tmp_path / "export")

    def half_then_ctrl_c(path: Path) -> None:
        path.write_bytes(b"\x89PNG" + b"\0" * 29)
        raise KeyboardInterrupt
    _saving(monkeypatch, half_then_ctrl_c)
    code, lines = predict_onnx(tmp_path, export)
    assert code == 130 and lines[-1] == "interrupted" and not any("Traceback" in line for line in lines), lines
    assert list((tmp_path / "drawn").iterdir()) == []
    monkeypatch.undo()
    code, lines = predict_onnx(tmp_path, export)
    assert code == 0, lines
    assert [p.name for p in (tmp_path / "drawn").iterdir()] == ["photo_faces.png"]


def test_predict_never_writes_through_a_link_planted_during_the_run(tmp_path, monkeypatch):
    export = write_export(tmp_path / "export")
    precious = tmp_path / "precious.txt"
    precious.write_text("the user's file")

    def plant(path: Path) -> None:
        (tmp_path / "drawn" / "photo_faces.png").symlink_to(precious)
    _saving(monkeypatch, plant)
    code, lines = predict_onnx(tmp_path, export)
    assert code == 1 and lines[-1].startswith("error: ") and "photo_faces.png: appeared while this run wrote it" in lines[-1]
    assert precious.read_text() == "the user's file"
    assert sorted(p.name for p in (tmp_path / "drawn").iterdir()) == ["photo_faces.png"]  # the planted link only


def test_a_command_interrupted_while_it_imports_says_so_in_one_line(tmp_path, monkeypatch):
    def slow_import(name):
        raise KeyboardInterrupt
    monkeypatch.setattr(ferpipe_command.importlib, "import_module", slow_import)
    done = run_main(ferpipe_command.main, ["predict", "photo.jpg"], tmp_path)
    assert done.returncode == 130 and done.stderr.splitlines() == ["interrupted"], done.stderr


def test_face_workers_leave_ctrl_c_to_the_stage(monkeypatch):
    """Ctrl-C reaches every process of the group; a MTCNN worker ignores it, so that only the stage's one
    `interrupted` line is printed (the pool is ended as the stage unwinds)."""
    monkeypatch.setattr(detector, "FaceDetector", lambda settings, runtime: None)
    previous = signal.getsignal(signal.SIGINT)
    try:
        detector._start_worker(None, None)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
