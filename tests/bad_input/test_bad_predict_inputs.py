"""Bad inputs to `predict` (in-process, the tiny model of conftest.py): photos that cannot be read, `--out`
that would overwrite a file, a model.json that does not fit its network, a params file in UTF-16.
Each gives one `error:` line naming the file and exit 1, and no drawing is written."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image
from support.stage_runs import expect_error, result_of
from test_bad_models import predict, predict_params

from ferpipe.commands import predict as predict_command
from ferpipe.nn.saved import INFO_FILE


def image(array: np.ndarray) -> Callable[[Path], None]:
    return lambda path: Image.fromarray(array).save(path)


def cut(path: Path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 80, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:300])


PHOTO_CASES = [
    ("zero-byte jpg", "me.jpg", lambda p: p.write_bytes(b""), "me.jpg: corrupt or unreadable image"),
    ("truncated png", "me.png", cut, "me.png: corrupt or unreadable image (image file is truncated)"),
    ("1x1 px", "dot.png", image(np.zeros((1, 1, 3), np.uint8)), "dot.png: image is 1x1 px, smaller than the 20 px minimum"),
    ("120 megapixels", "big.png", lambda p: Image.new("1", (12000, 10000)).save(p),
     "big.png: image is 12000x10000 px, more than the 100 megapixel limit"),
    ("a text file", "notes.txt", lambda p: p.write_text("hello"), "notes.txt: not an image (cannot identify image file"),
    ("float beyond 0..255", "f.tif", image(np.full((40, 40), -3.0, np.float32)), "f.tif: corrupt or unreadable image (float"),
]


@pytest.mark.parametrize("name, make, message", [c[1:] for c in PHOTO_CASES], ids=[c[0] for c in PHOTO_CASES])
def test_unreadable_photo(tiny, tmp_path, name, make, message):
    make(tmp_path / name)
    code, lines = predict(tmp_path, tmp_path / name, "--model", tiny / "model", "--out", tmp_path / "drawn")
    errors = [line for line in lines if line.startswith("error:")]
    assert code == 1 and len(errors) == 1 and message in errors[0], lines[-10:]
    assert not list((tmp_path / "drawn").glob("*"))


def test_missing_photo(tiny, tmp_path):
    code, lines = predict(tmp_path, tmp_path / "gone.jpg", "--model", tiny / "model")
    assert code == 1 and [line for line in lines if line.startswith("error:")] == [
        f"error: {tmp_path / 'gone.jpg'}: no such file or folder"]


def test_empty_folder(tiny, tmp_path):
    (tmp_path / "photos").mkdir()
    expect_error(predict(tmp_path, tmp_path / "photos", "--model", tiny / "model"), ": no files found")


def test_out_is_an_existing_file(tiny, tmp_path):
    image(np.zeros((40, 40, 3), np.uint8))(tmp_path / "me.png")
    (tmp_path / "drawn.png").write_bytes(b"mine")
    expect_error(predict(tmp_path, tmp_path / "me.png", "--model", tiny / "model", "--out", tmp_path / "drawn.png"),
                 "drawn.png: --out must be a folder, and this is a file")
    assert (tmp_path / "drawn.png").read_bytes() == b"mine"


def test_out_below_a_file_is_one_error_line(tiny, tmp_path):
    image(np.zeros((40, 40, 3), np.uint8))(tmp_path / "me.png")
    (tmp_path / "notes.txt").write_text("mine")
    expect_error(predict(tmp_path, tmp_path / "me.png", "--model", tiny / "model", "--out", tmp_path / "notes.txt" / "sub"),
                 "notes.txt/sub: cannot create this --out folder")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_photo_named_twice_is_run_and_drawn_once(tiny, tmp_path):
    image(np.zeros((40, 40, 3), np.uint8))(tmp_path / "me.png")
    code, _ = predict(tmp_path, tmp_path / "me.png", tmp_path / "me.png", "--model", tiny / "model",
                      "--out", tmp_path / "drawn")
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "drawn").iterdir()) == ["me_faces.png"]


def test_out_never_overwrites_the_users_photo(tiny, tmp_path):
    """The issue's case: `predict FOLDER --out FOLDER` drew me.jpg over the user's own me_faces.png."""
    photos = tmp_path / "photos"
    photos.mkdir()
    image(np.zeros((40, 40, 3), np.uint8))(photos / "me.jpg")
    (photos / "me_faces.png").write_bytes(b"the user's own picture")
    expect_error(predict(tmp_path, photos, "--model", tiny / "model", "--out", photos),
                 "me_faces.png: exists, and predict --out never overwrites a file")
    assert (photos / "me_faces.png").read_bytes() == b"the user's own picture"
    assert sorted(p.name for p in photos.iterdir()) == ["me.jpg", "me_faces.png"]


def test_out_never_overwrites_an_earlier_drawing(tiny, tmp_path):
    image(np.zeros((40, 40, 3), np.uint8))(tmp_path / "me.png")
    (tmp_path / "drawn").mkdir()
    (tmp_path / "drawn" / "me_faces.png").write_bytes(b"earlier")
    expect_error(predict(tmp_path, tmp_path / "me.png", "--model", tiny / "model", "--out", tmp_path / "drawn"),
                 "drawn/me_faces.png: exists, and predict --out never overwrites a file")
    assert (tmp_path / "drawn" / "me_faces.png").read_bytes() == b"earlier"


def test_model_json_with_fewer_classes_than_outputs(tiny, model_copy, tmp_path):
    """The issue's case: 2 class names on a network of more outputs printed two probabilities summing to 0.30."""
    info = json.loads((model_copy / INFO_FILE).read_text())
    (model_copy / INFO_FILE).write_text(json.dumps({**info, "classes": info["classes"][:2]}))
    image(np.zeros((40, 40, 3), np.uint8))(tmp_path / "me.png")
    expect_error(predict(tmp_path, tmp_path / "me.png", "--model", model_copy, "--out", tmp_path / "drawn"),
                 "model.json: lists 2 classes", [tmp_path / "drawn"])


def test_params_file_in_utf16(tiny, tmp_path):
    path = predict_params(tmp_path)
    path.write_bytes(path.read_text().encode("utf-16"))
    image(np.zeros((40, 40, 3), np.uint8))(tmp_path / "me.png")
    expect_error(result_of(predict_command._main, "--params", path, tmp_path / "me.png", "--model", tiny / "model"),
                 "params.yaml: the file is UTF-16-encoded")


@pytest.mark.parametrize("name, message", [("me.jpg", "me.jpg: is a FIFO (named pipe), expected an image"),
                                           ("clip.mp4", "clip.mp4: is a FIFO (named pipe), expected a video")])
def test_a_fifo_is_reported_at_once_not_waited_on(tiny, tmp_path, name, message):
    os.mkfifo(tmp_path / name)
    code, lines = predict(tmp_path, tmp_path / name, "--model", tiny / "model")
    errors = [line for line in lines if line.startswith("error:")]
    assert code == 1 and len(errors) == 1 and message in errors[0], lines[-10:]


def test_a_fifo_in_a_folder_is_reported_and_the_photos_still_run(tiny, tmp_path):
    (tmp_path / "photos").mkdir()
    os.mkfifo(tmp_path / "photos" / "pipe.png")
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(tmp_path / "photos" / "grey.png")
    code, lines = predict(tmp_path, tmp_path / "photos", "--model", tiny / "model", "--out", tmp_path / "drawn")
    assert code == 1 and [line for line in lines if line.startswith("error:")] == [
        f"error: {tmp_path / 'photos' / 'pipe.png'}: is a FIFO (named pipe), expected an image"], lines[-10:]
    assert [p.name for p in (tmp_path / "drawn").iterdir()] == ["grey_faces.png"]


@pytest.mark.parametrize("fps", ["inf", "nan", "-1", "0"])
def test_fps_must_be_finite_and_positive(tiny, tmp_path, fps):
    (tmp_path / "clip.mp4").write_bytes(b"")
    expect_error(predict(tmp_path, tmp_path / "clip.mp4", "--model", tiny / "model", f"--fps={fps}"),
                 f"--fps must be a finite number > 0, got {fps}")


def frames(kind: str) -> Callable[[Path], None]:
    pictures = [Image.fromarray(np.full((40, 40, 3), v, np.uint8)) for v in (0, 120, 240)]
    return lambda path: pictures[0].save(path, format=kind, save_all=True, append_images=pictures[1:])


@pytest.mark.parametrize("name, make", [("anim.gif", frames("GIF")), ("pages.tif", frames("TIFF")),
                                        ("anim.webp", frames("WEBP"))], ids=["animated gif", "multi-page tiff", "webp"])
def test_a_photo_of_several_frames_is_named_not_read_at_its_first(tiny, tmp_path, name, make):
    make(tmp_path / name)
    code, lines = predict(tmp_path, tmp_path / name, "--model", tiny / "model")
    errors = [line for line in lines if line.startswith("error:")]
    assert code == 1 and len(errors) == 1 and f"{name}: holds 3 frames or pages" in errors[0], lines[-10:]


def run_predict(tmp: Path, *args) -> "subprocess.CompletedProcess":
    from support.stage_runs import run_main

    from ferpipe.core.cli import run_stage

    return run_main(lambda argv: run_stage(predict_command._main, argv), ["--params", predict_params(tmp), *args], tmp)


@pytest.mark.parametrize("name", ["=1+2.png", "@SUM(A1).png", "+cmd.png", "-2+3.png"])
def test_a_photo_name_never_becomes_a_spreadsheet_formula(tiny, tmp_path, name):
    import csv
    import io

    from skimage.data import astronaut  # a real portrait: a face to report

    (tmp_path / "photos").mkdir()
    image(astronaut())(tmp_path / "photos" / name)
    from support.stage_runs import run_main

    from ferpipe.core.cli import run_stage

    done = run_main(lambda argv: run_stage(predict_command._main, argv),  # `predict .`: the bare names in the CSV
                    ["--params", predict_params(tmp_path), ".", "--model", tiny / "model"], tmp_path / "photos")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0][0] == "photo" and len(rows) >= 2 and {row[0] for row in rows[1:]} == {"'" + name}


def test_escapes_in_a_photo_name_never_reach_the_terminal(tiny, tmp_path):
    name = "a\x1b[2J\x1b]0;owned\x07b.png"
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / name).write_text("not an image")
    (tmp_path / "photos" / "x\u202egnp.exe.png").write_text("not an image")
    done = run_predict(tmp_path, tmp_path / "photos", "--model", tiny / "model")
    assert done.returncode == 1
    for text in (done.stdout, done.stderr):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "a\\x1b[2J" in done.stderr and "x\\u202egnp" in done.stderr


def test_a_long_photo_name_gets_its_drawing_and_the_photos_after_it_run(tiny, tmp_path):
    (tmp_path / "photos").mkdir()
    long_name = "p" * 246 + ".png"
    for name in (long_name, "q" * 246 + ".png", "zz.png"):
        image(np.full((64, 64, 3), 90, np.uint8))(tmp_path / "photos" / name)
    done = run_predict(tmp_path, tmp_path / "photos", "--model", tiny / "model", "--out", tmp_path / "drawn")
    assert done.returncode == 0, done.stderr[-2000:]
    drawn = sorted(p.name for p in (tmp_path / "drawn").iterdir())
    assert len(drawn) == 3 and all(len(n.encode()) <= 255 and n.endswith("_faces.png") for n in drawn)
    assert drawn[0].startswith("p" * 200) and drawn[1].startswith("q" * 200) and drawn[2] == "zz_faces.png"
