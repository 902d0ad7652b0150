"""The `faces` stage: MTCNN finds real faces, small inputs and mixed sizes work, the no-face policy
is counted, alignment levels the eyes, bad input fails cleanly with no outputs left."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from support.builders import array_stage_outputs, assert_failed_cleanly, plant_stale, run_array_stage
from skimage.data import astronaut

from ferpipe.core.errors import FerpipeError
from ferpipe.data.arrays import load_split
from ferpipe.data.dataset import Dataset, ImageRecord, write_dataset
from ferpipe.faces.crop import crop_dataset, face_matrix, whole_frame
from ferpipe.faces.detector import DetectorView, Face, FaceDetector, to_rgb
from ferpipe.faces.summary import detection_report
from ferpipe.faces.settings import FaceRuntime, FaceSettings

REPO = Path(__file__).resolve().parents[1]
FER = REPO.parent / "shared" / "datasets" / "fer2013"

# The params.yaml defaults; at run time one in-process worker and small batches for tiny fixtures.
FACES = {
    "min_face_size": 20, "thresholds": [0.6, 0.7, 0.7], "pyramid_factor": 0.709, "small_side": 100, "pad": 0.1,
    "pad_mode": "replicate", "upscale_to": 96, "select": "largest", "margin": 0.0, "align": False, "no_face": "keep",
    "size": 48,
}
RUNTIME = {"device": "cpu", "workers": 1, "batch_size": 8}


def settings(**overrides) -> FaceSettings:
    return FaceSettings.from_params({"faces": {**FACES, **overrides}})


def runtime(**overrides) -> FaceRuntime:
    return FaceRuntime.from_params({"runtime": {"faces": {**RUNTIME, **overrides}}})


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(settings(), runtime())


def no_face_images() -> list[np.ndarray]:
    gradient = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (64, 1))
    noise = np.random.default_rng(0).integers(0, 256, (80, 60, 3), dtype=np.uint8)
    return [gradient, noise]


def fer_images(per_class: int) -> list[np.ndarray]:
    if not FER.is_dir():
        pytest.skip(f"real FER-2013 not found at {FER}")
    paths = [p for d in sorted((FER / "train").iterdir()) for p in sorted(d.glob("*.jpg"))[:per_class]]
    return [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return w * h / (area(a) + area(b) - w * h)


@pytest.mark.slow
def test_finds_the_face_in_a_real_portrait(detector):
    photo = astronaut()
    (face,) = detector.detect([photo])
    assert face is not None and face.confidence > 0.9
    x1, y1, x2, y2 = face.box
    assert 0 <= x1 < x2 <= photo.shape[1] and 0 <= y1 < y2 <= photo.shape[0]
    (lx, ly), (rx, ry) = face.landmarks[:2]
    assert x1 < lx < rx < x2 and y1 < ly < y2 and y1 < ry < y2


@pytest.mark.slow
def test_small_input_boxes_map_back_to_the_original(detector):
    """A 48 px crop of the portrait, padded and upscaled for detection, gives the full-size box."""
    photo = astronaut()
    full = detector.detect([photo])[0].box
    left, top, side = 150, 40, 150
    small = cv2.resize(photo[top:top + side, left:left + side], (48, 48), interpolation=cv2.INTER_AREA)
    face = detector.detect([small])[0]
    assert face is not None
    expected = (full - [left, top, left, top]) * (48 / side)
    assert iou(face.box, expected) > 0.6


@pytest.mark.slow
def test_finds_faces_in_real_fer2013(detector):
    images = [to_rgb(img, "fer") for img in fer_images(per_class=4)]
    found = [face is not None for face in detector.detect(images)]
    assert np.mean(found) >= 0.75


def test_detector_view_round_trip():
    view = DetectorView.for_size(48, 40, settings())
    assert view.pad > 0 and min(view.width, view.height) == 96
    image = np.zeros((48, 40, 3), dtype=np.uint8)
    image[10, 30] = 255
    shown = view.show(image, "constant")
    y, x = np.unravel_index(np.argmax(shown[:, :, 0]), shown.shape[:2])
    assert np.allclose(view.to_original(np.array([x, y], dtype=float)), [30, 10], atol=1.5)


def test_to_rgb_accepts_grey_rgb_rgba_and_rejects_the_rest():
    grey = np.arange(30 * 20, dtype=np.uint8).reshape(30, 20) % 251
    for image in (grey, grey[:, :, None], np.dstack([grey] * 3), np.dstack([grey] * 4)):
        rgb = to_rgb(image, "x")
        assert rgb.shape == (30, 20, 3) and np.array_equal(rgb[:, :, 1], grey)
    for bad in (grey.astype(np.float32), np.dstack([grey] * 2)):
        with pytest.raises(FerpipeError, match="image 7"):
            to_rgb(bad, "image 7")
    with pytest.raises(FerpipeError, match="image 8.*smaller than"):
        to_rgb(grey[:19], "image 8")


def test_alignment_levels_the_eyes():
    eyes = np.array([[40.0, 50.0], [80.0, 62.0], [60.0, 70.0], [45.0, 90.0], [75.0, 95.0]])
    face = Face(np.array([30.0, 35.0, 90.0, 105.0]), 0.99, eyes)
    for align in (True, False):
        matrix, side = face_matrix(face, margin=0.2, align=align)
        (_, ly), (_, ry) = (matrix @ np.append(p, 1.0) for p in eyes[:2])
        assert (abs(ly - ry) < 1e-6) == align
        centre = matrix @ np.array([60.0, 70.0, 1.0])
        assert np.allclose(centre, [side / 2, side / 2])
    assert side == round(70 * 1.4)


def make_dataset(folder: Path, with_fer: bool) -> Dataset:
    """Three photos with a face (one per split, of three sizes), then two images without one."""
    photo = astronaut()
    close_up = cv2.resize(photo[20:240, 120:340], (200, 200), interpolation=cv2.INTER_AREA)
    gradient, noise = no_face_images()
    images = [("train", photo), ("val", photo[:, ::-1].copy()), ("test", close_up), ("train", gradient), ("val", noise)]
    if with_fer:
        images += list(zip(("train", "val", "test"), fer_images(per_class=1)))
    records = [ImageRecord(split, k % 2, f"s{k}", f"img{k}", img) for k, (split, img) in enumerate(images)]
    write_dataset(folder, "fixture", ["a", "b"], records)
    return Dataset(folder)


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["keep", "drop"])
def test_no_face_policy_is_counted(tmp_path, detector, policy):
    dataset = make_dataset(tmp_path / "ds", with_fer=False)
    s = settings(no_face=policy, size=32)
    splits = crop_dataset(dataset, s, detector)
    report = detection_report(splits)["all"]
    assert (report["images"], report["detected"]) == (5, 3)
    assert (report["fallback"], report["dropped"]) == ((2, 0) if policy == "keep" else (0, 2))
    ids = np.concatenate([sp.ids for sp in splits.values()])
    assert sorted(ids) == ([0, 1, 2, 3, 4] if policy == "keep" else [0, 1, 2])
    for sp in splits.values():
        assert sp.images.shape[1:] == (32, 32)
        for img, row_id, found in zip(sp.images, sp.ids, sp.found):
            grey = cv2.cvtColor(to_rgb(dataset.image(row_id), ""), cv2.COLOR_RGB2GRAY)
            assert found == (row_id < 3)
            if not found:
                assert np.array_equal(img, whole_frame(grey, 32))


@pytest.mark.slow
def test_drop_policy_refuses_to_empty_a_split(tmp_path, detector):
    gradient, noise = no_face_images()
    records = [ImageRecord("train", 0, "s", "photo", astronaut()), ImageRecord("test", 0, "s", "gradient", gradient),
               ImageRecord("test", 0, "s", "noise", noise)]
    write_dataset(tmp_path / "ds", "fixture", ["a", "b"], records)
    with pytest.raises(FerpipeError, match="faces.no_face.*2 test images"):
        crop_dataset(Dataset(tmp_path / "ds"), settings(no_face="drop"), detector)


@pytest.mark.slow
def test_runtime_settings_give_the_same_crops(tmp_path, detector):
    """runtime.faces is speed only: worker processes and batch size never change a crop."""
    dataset = make_dataset(tmp_path / "ds", with_fer=FER.is_dir())
    one = crop_dataset(dataset, settings(), detector)
    for other in (runtime(batch_size=2, workers=2), runtime(batch_size=1)):
        two = crop_dataset(dataset, settings(), FaceDetector(settings(), other))
        for split in one:
            assert np.array_equal(one[split].images, two[split].images)
            assert np.array_equal(one[split].confidence, two[split].confidence, equal_nan=True)


@pytest.mark.slow
def test_image_below_20_px_is_an_error_naming_it(tmp_path, detector):
    tiny = ImageRecord("train", 0, "s", "tiny.png", np.zeros((19, 40), dtype=np.uint8))
    write_dataset(tmp_path / "ds", "fixture", ["a", "b"], [ImageRecord("train", 0, "s", "ok.png", astronaut()), tiny])
    with pytest.raises(FerpipeError, match=r"image id 1 \(tiny.png\).*40x19"):
        crop_dataset(Dataset(tmp_path / "ds"), settings(), detector)


@pytest.mark.parametrize("key, value", [("size", 8), ("margin", -0.1), ("thresholds", [0.6, 0.7]),
                                        ("no_face", "skip")])
def test_bad_settings_name_the_parameter(key, value):
    with pytest.raises(FerpipeError, match=f"faces.{key}"):
        settings(**{key: value})


@pytest.mark.parametrize("key, value", [("workers", 0), ("device", "tpu"), ("batch_size", 1.5)])
def test_bad_runtime_names_the_parameter(key, value):
    with pytest.raises(FerpipeError, match=f"runtime.faces.{key}"):
        runtime(**{key: value})


def run_stage(tmp_path: Path, faces: dict):
    params = {"faces": faces, "runtime": {"faces": RUNTIME}, "other": {"ignored": True}}
    return run_array_stage("faces", params, tmp_path, "--dataset", tmp_path / "ds", "faces")


@pytest.mark.slow
def test_stage_end_to_end(tmp_path):
    dataset = make_dataset(tmp_path / "ds", with_fer=FER.is_dir())
    plant_stale(array_stage_outputs("faces", tmp_path, "faces"))
    proc, (out, metrics, plot) = run_stage(tmp_path, FACES)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(metrics.read_text())
    assert report["all"]["images"] == len(dataset) and report["all"]["fallback"] >= 2
    assert plot.stat().st_size > 0
    for split in ("train", "val", "test"):
        data = load_split(out / f"{split}.npz")
        assert data["images"].shape[1:] == (48, 48) and data["images"].dtype == np.uint8
        assert list(data["ids"]) == list(dataset.indices(split))
        assert list(data["classes"]) == ["a", "b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ferpipe-outputs", "ds", "faces", "faces.json", "faces.png",
                                                          "params.yaml"]
    assert sorted(p.name for p in out.iterdir()) == ["test.npz", "train.npz", "val.npz"]


def test_stage_bad_parameter_fails_with_no_outputs(tmp_path):
    make_dataset(tmp_path / "ds", with_fer=False)
    outs = array_stage_outputs("faces", tmp_path, "faces")
    plant_stale(outs)
    proc, _ = run_stage(tmp_path, {**FACES, "size": 8})
    assert_failed_cleanly(proc, "faces.size", outs)
    assert str(tmp_path / "params.yaml") in proc.stderr


def test_stage_damaged_dataset_fails_naming_the_file(tmp_path):
    make_dataset(tmp_path / "ds", with_fer=False)
    index = tmp_path / "ds" / "index.csv"
    index.write_text(index.read_text().replace(",label,", ",class,", 1))
    proc, outs = run_stage(tmp_path, FACES)
    assert_failed_cleanly(proc, f"{index}: missing column(s) label", outs)
