"""`python -m ferpipe predict`: real photos (scikit-image's astronaut), one face and two, drawn
boxes, all class probabilities, the folder CSV, the SVM head, and each kind of bad input. The command's
`main` runs in the test process; one test runs `python -m ferpipe predict` as a child process."""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from support.model_fixtures import astronaut_photos, write_svm
from PIL import Image
from support.stage_runs import python_child, run_main

from ferpipe.probabilities.names import SVM_DECISION_SOFTMAX, SVM_PLATT
from ferpipe.probabilities.svm import svm_probabilities
from ferpipe import __main__ as ferpipe_command
from ferpipe.apply.output import BOX_COLOUR
from ferpipe.data.sources.demo_faces import DEMO_CLASSES


@pytest.fixture(scope="module")
def work(demo_lenet, tmp_path_factory) -> Path:
    """A folder holding params.yaml, a trained 7-class model, an SVM and the two astronaut photos."""
    folder = tmp_path_factory.mktemp("predict")
    shutil.copy(demo_lenet / "params.yaml", folder)
    (folder / "model").symlink_to(demo_lenet / "model")
    write_svm(folder / "svm_plain.skops", probability=False)
    write_svm(folder / "svm_platt.skops", probability=True)
    astronaut_photos(folder / "photos")
    return folder


def run(work: Path, *args, in_child: bool = False):
    """`python -m ferpipe predict args` in `work`: in this process, or in a child process."""
    if in_child:
        return python_child(["-m", "ferpipe", "predict", *args], work)
    return run_main(ferpipe_command.main, ["predict", *args], work)


def predict(work: Path, *args, in_child: bool = False) -> tuple[int, str, str]:
    done = run(work, "--model", "model", *args, in_child=in_child)
    return done.returncode, done.stdout, done.stderr


def predict_json(work: Path, *args) -> dict:
    code, out, err = predict(work, "--json", *args)
    assert code == 0, err[-3000:]
    return json.loads(out)


def only_face(result: dict) -> np.ndarray:
    (photo,) = result["photos"]
    (face,) = photo["faces"]
    return np.array(face["box"])


@pytest.mark.slow
def test_16_bit_photo_finds_the_face_of_its_8_bit_copy(work, tmp_path):
    """Clipped to 8 bits, a 16-bit PNG was 99.6% white and had no face; scaled, it is its 8-bit copy."""
    grey = np.asarray(Image.open(work / "photos" / "astronaut.jpg").convert("L"))
    Image.fromarray(grey).save(tmp_path / "grey8.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode.startswith("I")
    box8, box16 = (only_face(predict_json(work, tmp_path / name)) for name in ("grey8.png", "grey16.png"))
    np.testing.assert_allclose(box16, box8, atol=0.5)


@pytest.mark.slow
def test_a_large_photo_is_detected_downscaled_and_boxed_in_full_size(work, tmp_path):
    photo = np.asarray(Image.open(work / "photos" / "astronaut.jpg"))
    scale = 8  # 4096 x 4096 px: over MAX_DETECT_SIDE
    Image.fromarray(cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)).save(tmp_path / "big.jpg")
    small, big = (only_face(predict_json(work, path)) for path in ("photos/astronaut.jpg", tmp_path / "big.jpg"))
    face_side = small[2] - small[0]
    assert np.abs(big / scale - small).max() < 0.15 * face_side  # the same face, in full-size px


@pytest.mark.slow
def test_one_face_in_a_real_photo_drawn_with_seven_probabilities(work, tmp_path):
    result = predict_json(work, "photos/astronaut.jpg", "--out", tmp_path)
    assert result["classes"] == DEMO_CLASSES and result["probabilities"] == "softmax"
    (photo,) = result["photos"]
    (face,) = photo["faces"]
    probabilities = face["probabilities"]
    assert list(probabilities) == DEMO_CLASSES and sum(probabilities.values()) == pytest.approx(1, abs=1e-5)
    assert face["predicted"] == max(probabilities, key=probabilities.get) and face["detection_confidence"] > 0.9
    x1, y1, x2, y2 = face["box"]
    assert 150 < x1 < x2 < 300 and 30 < y1 < y2 < 200  # her face, not the flag or the helmet
    drawn = np.asarray(Image.open(tmp_path / "astronaut_faces.png"))
    original = np.asarray(Image.open(work / "photos" / "astronaut.jpg"))
    changed = np.any(drawn != original, axis=2)
    box_rows = changed[round(y1):round(y2), round(x1) - 1:round(x1) + 2]
    assert box_rows.mean() > 0.9 and not changed[300:, :].any()  # the box's left side is drawn, nothing below the face
    assert np.all(drawn[round((y1 + y2) / 2), round(x1)] == BOX_COLOUR)


@pytest.mark.slow
def test_two_faces_side_by_side(work):
    (photo,) = predict_json(work, "photos/two_faces.png")["photos"]
    assert len(photo["faces"]) == 2
    left, right = (face["box"] for face in photo["faces"])
    assert left[2] < right[0]  # reported left to right, not overlapping


@pytest.mark.slow
def test_text_output_names_every_class(work):
    code, out, err = predict(work, "photos/astronaut.jpg", "--verbose")
    assert code == 0, err[-3000:]
    assert "photos/astronaut.jpg: 1 face" in out and all(f"{c} 0." in out or f"{c} 1." in out for c in DEMO_CLASSES)
    assert "start-up:" in err and "detect" in err and "classify" in err


@pytest.mark.slow
def test_folder_reports_a_non_image_and_processes_the_rest(work, tmp_path):
    folder = tmp_path / "album"
    folder.mkdir()
    for photo in (work / "photos").iterdir():
        shutil.copy(photo, folder)
    (folder / "notes.txt").write_text("not a photo")
    code, out, err = predict(work, folder, in_child=True)  # the exit status the shell sees
    assert code == 1
    assert "error:" in err and "notes.txt: not an image" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(Path(r["photo"]).name for r in rows) == ["astronaut.jpg", "two_faces.png", "two_faces.png"]
    for row in rows:
        assert sum(float(row[f"p_{c}"]) for c in DEMO_CLASSES) == pytest.approx(1, abs=1e-4)


@pytest.mark.slow
def test_truncated_jpeg_is_reported(work, tmp_path):
    data = (work / "photos" / "astronaut.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) // 2])
    code, out, err = predict(work, tmp_path / "cut.jpg", "photos/two_faces.png")
    assert code == 1 and "cut.jpg: corrupt or unreadable image" in err and "truncated" in err
    assert "two_faces.png: 2 faces" in out


@pytest.mark.slow
def test_photo_without_a_face_is_an_empty_result(work, tmp_path):
    Image.fromarray(np.full((240, 320, 3), 120, np.uint8)).save(tmp_path / "wall.png")
    code, out, err = predict(work, tmp_path / "wall.png")
    assert code == 0, err[-3000:]
    assert "wall.png: no face found" in out
    assert predict_json(work, tmp_path / "wall.png")["photos"][0]["faces"] == []


@pytest.mark.slow
@pytest.mark.parametrize("svm, source", [("svm_plain.skops", SVM_DECISION_SOFTMAX), ("svm_platt.skops", SVM_PLATT)])
def test_svm_head_says_how_its_probabilities_come(work, svm, source):
    result = predict_json(work, "photos/astronaut.jpg", "--head", "svm", "--svm", svm)
    assert result["probabilities"] == source and "SVM" in result["probabilities_note"]
    (face,) = result["photos"][0]["faces"]
    assert sum(face["probabilities"].values()) == pytest.approx(1, abs=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("setup, message", [
    (lambda w, t: None, "no model.keras/model.json; run the train stage"),
    (lambda w, t: (shutil.copytree(w / "model", t), (t / "model.keras").write_bytes(b"not a keras file")),
     "model.keras: not a Keras model file"),
])
def test_missing_or_broken_model_folder(work, tmp_path, setup, message):
    setup(work, tmp_path / "m")
    done = run(work, "--model", tmp_path / "m", "photos/astronaut.jpg")
    assert done.returncode == 1 and message in done.stderr
    assert done.stderr.count("error:") == 1 and "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.slow
def test_svm_head_without_an_svm(work):
    code, _, err = predict(work, "photos/astronaut.jpg", "--head", "svm", "--svm", "none.skops")
    assert code == 1 and "none.skops: SVM model not found" in err


def test_svm_probabilities_of_two_classes_sum_to_one():
    class TwoClassSvm:  # decision_function of a two-class SVC: one signed value per row
        def decision_function(self, x):
            return x[:, 0]

    p = svm_probabilities(TwoClassSvm(), np.array([[-2.0], [0.0], [3.0]]))
    assert np.allclose(p.sum(axis=1), 1) and np.array_equal(p.argmax(axis=1), [0, 0, 1]) and p[1, 0] == 0.5
