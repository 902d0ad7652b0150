from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml
from facenet_pytorch import MTCNN
from skimage.feature import hog
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ferpipe.core.errors import FerpipeError
from ferpipe.data.dataset import SPLITS
from ferpipe.data.sources import demo
from ferpipe.data.sources.demo_faces import DEMO_CLASSES, MAX_SUBJECTS, demo_faces_at, generate_demo

FETCH = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())["fetch"]


def _pixels(data):
    return np.stack([img for img, _, _ in data])


def _best_boxes(images):
    """The most confident MTCNN box per image (default settings), None where none was found."""
    boxes, probs = MTCNN(keep_all=True, device="cpu").detect(images)
    return [None if b is None else np.asarray(b, dtype=float)[int(np.argmax(np.asarray(p, dtype=float)))]
            for b, p in zip(boxes, probs)]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These workloads are tiny: with 2 threads, OpenMP/BLAS spin-waiting on a busy shared CPU made
    MTCNN 7x and the logistic regression 40x slower than with 1 thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def default_demo():
    """The demo's records as `fetch` makes them with the params.yaml defaults."""
    _, records = demo.load(FETCH["demo"]["per_class"], FETCH["demo"]["size"], FETCH["val_fraction"],
                           FETCH["test_fraction"], FETCH["seed"])
    return records


@pytest.fixture(scope="module")
def small_set():
    """7 x 40 images at 64 px (the harder size), with their MTCNN boxes."""
    data = generate_demo(seed=0, per_class=40, size=64)
    return data, _best_boxes([img for img, _, _ in data])


def test_classes_follow_fer2013_ids():
    assert DEMO_CLASSES == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def test_same_seed_same_pixels_and_different_seed_different_pixels():
    a, b, c = generate_demo(3, 2, 64), generate_demo(3, 2, 64), generate_demo(4, 2, 64)
    assert np.array_equal(_pixels(a), _pixels(b))
    assert [x[1:] for x in a] == [x[1:] for x in b]
    assert all(not np.array_equal(x[0], y[0]) for x, y in zip(a, c))


def test_some_images_alone_are_those_of_the_whole_demo():
    whole = generate_demo(3, 4, 64)
    some = demo_faces_at(3, 4, 64, [27, 0, 13])
    assert sorted(some) == [0, 13, 27]
    for i, (image, label, subject) in some.items():
        assert np.array_equal(image, whole[i][0]) and (label, subject) == whole[i][1:]


def test_shapes_labels_and_class_balance():
    data = generate_demo(seed=1, per_class=5, size=64)
    assert len(data) == 5 * len(DEMO_CLASSES)
    for img, label, subject in data:
        assert img.dtype == np.uint8 and img.shape == (64, 64, 3)
        assert isinstance(label, int) and isinstance(subject, str)
    assert Counter(label for _, label, _ in data) == {k: 5 for k in range(len(DEMO_CLASSES))}
    images = _pixels(data).astype(float)
    assert images.std() > 20  # not blank
    # no two images alike
    flat = images.reshape(len(images), -1)
    assert min(np.abs(flat[i] - flat[j]).mean() for i in range(len(flat)) for j in range(i)) > 5


def test_every_subject_shows_every_expression_equally_often():
    data = generate_demo(seed=0, per_class=2 * MAX_SUBJECTS, size=32)
    per_subject = Counter(subject for _, _, subject in data)
    assert len(per_subject) == MAX_SUBJECTS
    assert Counter((subject, label) for _, label, subject in data) == {
        (subject, label): n // len(DEMO_CLASSES) for subject, n in per_subject.items() for label in range(len(DEMO_CLASSES))}


def test_default_demo_no_identity_in_two_splits(default_demo):
    splits_of = {}
    for r in default_demo:
        splits_of.setdefault(r.subject, set()).add(r.split)
    assert all(len(splits) == 1 for splits in splits_of.values())
    assert {next(iter(splits)) for splits in splits_of.values()} == set(SPLITS)


def test_default_demo_every_class_in_every_split_and_enough_to_evaluate(default_demo):
    counts = Counter((r.split, r.label) for r in default_demo)
    assert all(counts[split, label] > 0 for split in SPLITS for label in range(len(DEMO_CLASSES)))
    for split in ("val", "test"):
        assert sum(counts[split, label] for label in range(len(DEMO_CLASSES))) >= 70


def test_demo_split_is_deterministic_per_seed():
    def assignment(seed):
        _, records = demo.load(40, 32, 0.1, 0.1, seed)
        return [(r.split, r.label, r.subject, r.image.tobytes()) for r in records]

    first = assignment(2)
    assert first == assignment(2)
    other = assignment(3)
    assert [(split, subject) for split, _, subject, _ in first] != [(split, subject) for split, _, subject, _ in other]


@pytest.mark.parametrize("bad", [dict(per_class=0), dict(size=8), dict(seed=-1)])
def test_bad_parameters_are_named(bad):
    args = dict(seed=0, per_class=2, size=64) | bad
    with pytest.raises(FerpipeError, match=next(iter(bad))):
        generate_demo(**args)


@pytest.mark.slow
def test_mtcnn_finds_nearly_all_faces_at_96_px():
    """96 px is the default size: the faces stage should crop nearly every image."""
    data = generate_demo(seed=5, per_class=10, size=96)
    found = [b is not None for b in _best_boxes([img for img, _, _ in data])]
    assert np.mean(found) >= 0.95


@pytest.mark.slow
def test_mtcnn_finds_most_faces_at_64_px(small_set):
    _, boxes = small_set
    assert np.mean([b is not None for b in boxes]) >= 0.9


@pytest.mark.slow
def test_expressions_are_learnable_from_face_crops(small_set):
    """HOG of the MTCNN crop + logistic regression, tested on unseen subjects, far above chance (1/7).

    The expressions are meant to be easy (about 0.96-1.0 measured here): the default ResNet-50 must
    learn them from scratch in a few CPU minutes."""
    data, boxes = small_set
    feats, labels, subjects = [], [], []
    for (img, label, subject), box in zip(data, boxes):
        if box is None:
            continue
        x1, y1, x2, y2 = np.clip(np.round(box), 0, 64).astype(int)
        face = cv2.resize(cv2.cvtColor(img[y1:y2, x1:x2], cv2.COLOR_RGB2GRAY), (48, 48), interpolation=cv2.INTER_AREA)
        feats.append(hog(face, pixels_per_cell=(6, 6), cells_per_block=(2, 2)))
        labels.append(label)
        subjects.append(subject)
    feats, labels, subjects = np.stack(feats), np.array(labels), np.array(subjects)
    test = np.isin(subjects, ["s000", "s005", "s010", "s015"])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.05))
    clf.fit(feats[~test], labels[~test])
    assert clf.score(feats[test], labels[test]) > 0.7
