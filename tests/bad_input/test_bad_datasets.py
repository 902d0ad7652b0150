"""Bad dataset files in each layout (FER-2013 csv and folders, CK+48, GENKI-4K), bad images and text
encodings, given to the `fetch` stage: one `error:` line naming the file (and line), exit 1, no output."""
from __future__ import annotations

import copy
import csv
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml
from support.builders import write_ckplus, write_fer_csv, write_fer_folders, write_genki
from PIL import Image
from support.stage_runs import expect_error, stage_result

REPO = Path(__file__).resolve().parents[2]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
FER_ROWS = {"Training": 2, "PublicTest": 1, "PrivateTest": 1}


def fetch_outputs(tmp: Path) -> list[Path]:
    return [tmp / "out" / "dataset", tmp / "out" / "data.json"]


def run_fetch(tmp: Path, dataset: str, source: Path | str, params_text: str | bytes | None = None,
              ) -> tuple[int, list[str]]:
    params = copy.deepcopy({k: PARAMS[k] for k in ("dataset", "sources", "fetch")})
    params["dataset"] = dataset
    params["sources"][dataset] = str(source)
    params["fetch"]["drop_train_copies"] = False
    path = tmp / "params.yaml"
    text = yaml.safe_dump(params) if params_text is None else params_text
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    out, metrics = fetch_outputs(tmp)
    return stage_result("fetch", "--params", path, "--out", out, "--metrics", metrics)


# --- FER-2013 csv ---------------------------------------------------------------------------------

def fer_csv(tmp: Path, edit: Callable[[list[str]], list[str]] | None = None, encoding: str = "utf-8") -> Path:
    """A valid fer2013.csv, its lines passed through `edit`, written in `encoding`."""
    path = tmp / "fer2013.csv"
    write_fer_csv(path, FER_ROWS)
    lines = path.read_text().splitlines()
    lines = edit(lines) if edit else lines
    path.write_bytes("\n".join(lines).encode(encoding) + b"\n")
    return path


def replace_row(n: int, fields: Callable[[list[str]], list[str]]) -> Callable[[list[str]], list[str]]:
    """An edit that rewrites the fields of csv line `n` (1 = header)."""
    def edit(lines: list[str]) -> list[str]:
        row = next(csv.reader([lines[n - 1]]))
        out = []
        csv.writer(_Collect(out), lineterminator="").writerow(fields(row))
        lines[n - 1] = out[0]
        return lines
    return edit


class _Collect:
    def __init__(self, into: list[str]):
        self.into = into

    def write(self, text: str) -> None:
        self.into.append(text)


def cut_last_line(lines: list[str]) -> list[str]:
    lines[-1] = lines[-1][:len(lines[-1]) // 2]  # a download cut short: the pixels end mid-row, no Usage
    return lines


FER_CSV_CASES = [
    ("last line cut", cut_last_line, "fer2013.csv:29: 2 fields, expected 3"),
    ("extra field", replace_row(5, lambda r: r + ["x"]), "fer2013.csv:5: 4 fields, expected 3"),
    ("stray quote", lambda lines: lines[:3] + ['0,"1 2 3' + lines[3][1:]] + lines[4:], "fer2013.csv:"),
    ("wrong header", lambda lines: ["label,pixels,Usage"] + lines[1:],
     "fer2013.csv: expected columns ['Usage', 'emotion', 'pixels'], found ['label', 'pixels', 'Usage']"),
    ("header only", lambda lines: lines[:1], "fer2013.csv: no rows"),
    ("empty file", lambda lines: [""], "fer2013.csv: expected columns ['Usage', 'emotion', 'pixels'], found []"),
    ("a pixel too many", replace_row(3, lambda r: [r[0], r[1] + " 7", r[2]]), "fer2013.csv:3: 'pixels' has 2305 values"),
    ("pixel value 256", replace_row(3, lambda r: [r[0], "256" + r[1][r[1].index(" "):], r[2]]),
     "fer2013.csv:3: 'pixels' values must lie in 0..255"),
    ("pixel not a number", replace_row(3, lambda r: [r[0], "x" + r[1][r[1].index(" "):], r[2]]),
     "fer2013.csv:3: 'pixels' holds a value that is not an integer"),
    ("pixel value beyond int64", replace_row(3, lambda r: [r[0], "9" * 23 + r[1][r[1].index(" "):], r[2]]),
     "fer2013.csv:3: 'pixels' holds a value that is not an integer in 0..255"),
    ("only Training rows", lambda lines: [ln for ln in lines if not ln.endswith("Test")],
     "the val split is empty with 14 images; FER-2013 keeps its own split (Usage Training -> train, PublicTest -> val"),
    ("emotion out of range", replace_row(4, lambda r: ["7", *r[1:]]), "fer2013.csv:4: emotion 7 is out of range 0..6"),
    ("emotion not a number", replace_row(4, lambda r: ["happy", *r[1:]]), "fer2013.csv:4: emotion 'happy' is not an integer"),
    ("unknown Usage", replace_row(4, lambda r: [*r[:2], "Train"]), "fer2013.csv:4: Usage 'Train' is not one of"),
    ("NUL byte", lambda lines: lines[:6] + ["\0" + lines[6]] + lines[7:], "fer2013.csv:7"),
    ("class absent from train", lambda lines: [lines[0]] + [ln for ln in lines[1:] if not (
        ln.startswith("1,") and ln.endswith("Training"))], "class 'disgust' has no image in the train split"),
]


@pytest.mark.parametrize("edit, message", [c[1:] for c in FER_CSV_CASES], ids=[c[0] for c in FER_CSV_CASES])
def test_fer_csv(tmp_path, edit, message):
    source = fer_csv(tmp_path, edit)
    expect_error(run_fetch(tmp_path, "fer2013", source), message, fetch_outputs(tmp_path))


@pytest.mark.parametrize("encoding, message", [
    ("utf-16", "fer2013.csv: the file is UTF-16-encoded; save it as UTF-8"),
    ("latin-1", "fer2013.csv: not UTF-8 text (byte 0xe9 at offset"),
])
def test_fer_csv_in_another_encoding(tmp_path, encoding, message):
    source = fer_csv(tmp_path, lambda lines: lines[:-1] + [lines[-1] + "é"], encoding=encoding)
    expect_error(run_fetch(tmp_path, "fer2013", source), message, fetch_outputs(tmp_path))


# --- image files, through the FER-2013 folder layout -------------------------------------------------

def fer_folders_with(tmp: Path, name: str, content: Callable[[Path], None]) -> Path:
    """The Kaggle folder layout with train/happy/<name> written by `content`."""
    root = write_fer_folders(tmp / "fer", train=2, public=1, private=1)
    content(root / "train" / "happy" / name)
    return root


def png_of(array: np.ndarray, mode: str | None = None) -> Callable[[Path], None]:
    return lambda path: Image.fromarray(array, mode).save(path)


def truncated(fmt: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)).save(path, format=fmt)
        path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    return write


def huge_png(path: Path) -> None:
    """A 12000 x 10000 1-bit PNG: a few kB on disk, 120 megapixels decoded."""
    Image.new("1", (12000, 10000)).save(path)


IMAGE_CASES = [
    ("zero-byte jpg", "z.jpg", lambda p: p.write_bytes(b""), "train/happy/z.jpg: corrupt or unreadable image"),
    ("truncated jpg", "t.jpg", truncated("JPEG"), "train/happy/t.jpg: corrupt or unreadable image"),
    ("truncated png", "t.png", truncated("PNG"), "train/happy/t.png: corrupt or unreadable image"),
    ("text named png", "notes.png", lambda p: p.write_text("not an image"), "train/happy/notes.png: corrupt or unreadable"),
    ("1x1 px", "dot.png", png_of(np.zeros((1, 1), np.uint8)), "train/happy/dot.png: image is 1x1 px, smaller than"),
    ("5x400 px", "strip.png", png_of(np.zeros((5, 400), np.uint8)), "train/happy/strip.png: image is 400x5 px"),
    ("120 megapixels", "bomb.png", huge_png, "train/happy/bomb.png: image is 12000x10000 px, more than the 100"),
    ("a JPEG named .heic", "x.heic", lambda p: Image.new("L", (48, 48)).save(p, format="JPEG"),
     "train/happy/x.heic: a .heic image, which ferpipe does not read (1 such file(s) in this folder)"),
    ("a FIFO named .png", "pipe.png", os.mkfifo, "train/happy/pipe.png: is a FIFO (named pipe), expected an image"),
    ("float beyond 0..255", "f.tif", png_of(np.full((30, 30), 1000.0, np.float32)),
     "train/happy/f.tif: corrupt or unreadable image (float pixel values 1000.0..1000.0 lie outside"),
]


@pytest.mark.parametrize("name, content, message", [c[1:] for c in IMAGE_CASES], ids=[c[0] for c in IMAGE_CASES])
def test_bad_image_file(tmp_path, name, content, message):
    root = fer_folders_with(tmp_path, name, content)
    expect_error(run_fetch(tmp_path, "fer2013", root), message, fetch_outputs(tmp_path))


FOLDER_CASES = [
    ("class folder missing", lambda r: shutil.rmtree(r / "test" / "fear"), "test: class folder(s) missing: ['fear']"),
    ("unknown class folder", lambda r: (r / "train" / "happy").rename(r / "train" / "joy"),
     "train: unknown class folder(s) ['joy']"),
    ("empty class folder", lambda r: [f.unlink() for f in (r / "train" / "sad").iterdir()],
     "train/sad: class folder holds no images"),
    ("test image without usage prefix",
     lambda r: next((r / "test" / "sad").iterdir()).rename(r / "test" / "sad" / "img.jpg"),
     "test/sad/img.jpg: test image names must start with PublicTest_ (val) or PrivateTest_ (test)"),
    ("folders where the images belong", lambda r: [(f.unlink(), f.mkdir()) for f in (r / "train" / "fear").iterdir()],
     "train/fear: class folder holds no images"),
]


@pytest.mark.parametrize("damage, message", [c[1:] for c in FOLDER_CASES], ids=[c[0] for c in FOLDER_CASES])
def test_fer_folders(tmp_path, damage, message):
    root = write_fer_folders(tmp_path / "fer", train=2, public=1, private=1)
    damage(root)
    expect_error(run_fetch(tmp_path, "fer2013", root), message, fetch_outputs(tmp_path))


# --- CK+48 ----------------------------------------------------------------------------------------

CKPLUS = {c: 12 for c in ("anger", "happy", "sadness")}
CKPLUS_CASES = [
    ("name without subject", lambda r: next((r / "happy").iterdir()).rename(r / "happy" / "face1.png"),
     "happy/face1.png: name does not follow S<subject>_<sequence>_<frame>"),
    ("unknown class folder", lambda r: (r / "joy").mkdir(), "unknown class folder(s) ['joy']"),
    ("empty class folder", lambda r: [f.unlink() for f in (r / "anger").iterdir()], "anger: class folder holds no images"),
    ("zero-byte frame", lambda r: (r / "happy" / "S001_005_00000009.png").write_bytes(b""),
     "happy/S001_005_00000009.png: corrupt or unreadable image"),
]


@pytest.mark.parametrize("damage, message", [c[1:] for c in CKPLUS_CASES], ids=[c[0] for c in CKPLUS_CASES])
def test_ckplus(tmp_path, damage, message):
    root = write_ckplus(tmp_path / "ck", CKPLUS, subjects=6)
    damage(root)
    expect_error(run_fetch(tmp_path, "ckplus", root), message, fetch_outputs(tmp_path))


# --- GENKI-4K -------------------------------------------------------------------------------------

def labels_edit(edit: Callable[[list[str]], list[str]], encoding: str = "utf-8") -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / "labels.txt"
        path.write_bytes("\n".join(edit(path.read_text().splitlines())).encode(encoding))
    return damage


GENKI_CASES = [
    ("labels in UTF-16", labels_edit(lambda lines: lines, "utf-16"), "labels.txt: the file is UTF-16-encoded"),
    ("labels in Latin-1", labels_edit(lambda lines: lines[:-1] + [lines[-1] + " # café"], "latin-1"),
     "labels.txt: not UTF-8 text"),
    ("three columns", labels_edit(lambda lines: lines[:2] + ["1 0.0 0.0"] + lines[3:]),
     "labels.txt:3: expected 4 columns 'smile yaw pitch roll', found 3"),
    ("smile label 2", labels_edit(lambda lines: ["2 0 0 0"] + lines[1:]), "labels.txt:1: smile label 2 is out of range 0..1"),
    ("not numeric", labels_edit(lambda lines: ["yes 0 0 0"] + lines[1:]), "labels.txt:1: not numeric"),
    ("more labels than images", labels_edit(lambda lines: lines + ["1 0 0 0"]), "labels.txt: 13 label lines but 12 images"),
    ("file name off the pattern", lambda r: (r / "files" / "file0003.jpg").rename(r / "files" / "photo3.jpg"),
     "files/photo3.jpg: expected a name file0001 .. file0012"),
    ("two images of one number", lambda r: (r / "files" / "file0012.jpg").rename(r / "files" / "file0001.png"),
     "files/file0001.png: number 1 also names file0001.jpg; each label line belongs to one image"),
    ("labels.txt a folder", lambda r: ((r / "labels.txt").unlink(), (r / "labels.txt").mkdir()),
     "does not contain files/ and labels.txt (GENKI-4K)"),
]


@pytest.mark.parametrize("damage, message", [c[1:] for c in GENKI_CASES], ids=[c[0] for c in GENKI_CASES])
def test_genki4k(tmp_path, damage, message):
    root = write_genki(tmp_path / "GENKI-4K", n=12)
    damage(root)
    expect_error(run_fetch(tmp_path, "genki4k", root), message, fetch_outputs(tmp_path))


# --- where the source points, and the params file itself -----------------------------------------

def test_source_that_does_not_exist(tmp_path):
    expect_error(run_fetch(tmp_path, "fer2013", tmp_path / "nowhere"), "sources.fer2013: ", fetch_outputs(tmp_path))


def test_source_folder_without_the_dataset(tmp_path):
    (tmp_path / "empty").mkdir()
    expect_error(run_fetch(tmp_path, "fer2013", tmp_path / "empty"),
                 "empty: does not contain fer2013.csv or train/ and test/ class folders", fetch_outputs(tmp_path))


@pytest.mark.parametrize("encoding, message", [
    ("utf-16", "params.yaml: the file is UTF-16-encoded; save it as UTF-8"),
    ("latin-1", "params.yaml: not UTF-8 text (byte 0xe9"),
])
def test_params_file_in_another_encoding(tmp_path, encoding, message):
    text = "# réglages\n" + (REPO / "params.yaml").read_text()
    expect_error(run_fetch(tmp_path, "demo", "", params_text=text.encode(encoding)), message, fetch_outputs(tmp_path))



def test_params_file_that_is_a_folder(tmp_path):
    (tmp_path / "settings").mkdir()
    out, metrics = fetch_outputs(tmp_path)
    expect_error(stage_result("fetch", "--params", tmp_path / "settings", "--out", out, "--metrics", metrics),
                 "settings: is a folder, expected a text file", fetch_outputs(tmp_path))


@pytest.mark.parametrize("holders, folds", [(1, 5), (3, 5), (4, 5)])
def test_kfold_needs_a_subject_of_every_class_per_fold(tmp_path, holders, folds):
    """CK+ with a class that few subjects show: k folds that cannot all test (and train on) it are refused by
    fetch and by the sweep's pre-check (which runs the same `apply_folds`), not found out in fold 0."""
    from support.builders import write_ckplus

    from ferpipe.core.errors import FerpipeError
    from ferpipe.data.fetch import apply_folds, load_records
    from ferpipe.data.settings import FetchSettings
    from ferpipe.data.sources import ckplus

    counts = {c: 24 for c in ckplus.CLASSES}
    counts["contempt"] = holders  # one frame each of the first `holders` subjects
    source = write_ckplus(tmp_path / "ck", counts, subjects=12)
    params = {k: PARAMS[k] for k in ("dataset", "sources", "fetch")}
    params = {**params, "dataset": "ckplus", "sources": {**params["sources"], "ckplus": str(source)},
              "fetch": {**params["fetch"], "folds": folds, "fold": 1, "ckplus_protocol": "subject"}}
    settings = FetchSettings.from_params(params)
    classes, records = load_records(settings)
    with pytest.raises(FerpipeError, match=f"fetch.folds = {folds} is more than the {holders} subject\\(s\\) with "
                                           "images of class 'contempt'"):
        apply_folds(settings, records, classes)


def test_kfold_with_a_subject_of_every_class_per_fold_tests_every_class_in_every_fold(tmp_path):
    from support.builders import write_ckplus

    from ferpipe.data.fetch import apply_folds, load_records
    from ferpipe.data.settings import FetchSettings
    from ferpipe.data.sources import ckplus

    counts = {c: 24 for c in ckplus.CLASSES}
    counts["contempt"] = 5
    source = write_ckplus(tmp_path / "ck", counts, subjects=12)
    for fold in range(5):
        params = {k: PARAMS[k] for k in ("dataset", "sources", "fetch")}
        params = {**params, "dataset": "ckplus", "sources": {**params["sources"], "ckplus": str(source)},
                  "fetch": {**params["fetch"], "folds": 5, "fold": fold, "ckplus_protocol": "subject"}}
        settings = FetchSettings.from_params(params)
        classes, records = load_records(settings)
        apply_folds(settings, records, classes)
        for split in ("train", "test"):
            assert {r.label for r in records if r.split == split} == set(range(len(classes))), (fold, split)
