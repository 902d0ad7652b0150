"""models/fer2013-resnet50/: the FER-2013 ResNet-50 kept in the repository (int8 weights, softmax head only),
checked against its model card and against the run it came from (results/fer2013-resnet50/): the file's
sha256, its classes and dataset, its PrivateTest accuracy within one point of the float32 network's, its
size, and the expression it gives a fixed photo."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support import REPO
from support.model_fixtures import astronaut_photos
from support.stage_runs import run_main

from ferpipe import __main__ as ferpipe_command
from ferpipe.core.errors import FerpipeError
from ferpipe.data.sources.fer2013 import CLASSES
from ferpipe.export.card import CARD_FILE, NETWORK_FILE, read_card
from ferpipe.export.ship import INT8_WEIGHTS

MODEL = REPO / "models" / "fer2013-resnet50"
RUN = REPO / "results" / "fer2013-resnet50"
MAX_BYTES = 30_000_000  # what a repository keeps without a large-file store


def run_metrics(name: str) -> dict:
    return json.loads((RUN / "metrics" / f"{name}.json").read_text())


def test_the_shipped_file_is_the_one_its_card_names_and_comes_from_the_run():
    card, files = read_card(MODEL)  # the network's sha256 against the card's
    assert set(files) == {"network"} and card.svm is None
    assert list(card.classes) == CLASSES and card.dataset.name == "fer2013"
    assert card.dataset.content_hash == run_metrics("data")["content_hash"]
    assert card.shipped.weights == INT8_WEIGHTS and card.shipped.test_images == run_metrics("softmax")["n"]
    # the float32 network it was made from is the run's: the same PrivateTest accuracy as the evaluate stage's
    assert card.shipped.source_test_accuracy == pytest.approx(run_metrics("softmax")["accuracy"], abs=1e-6)
    assert card.test_accuracy.softmax >= card.shipped.source_test_accuracy - 0.01
    assert (MODEL / NETWORK_FILE).stat().st_size < MAX_BYTES
    assert {p.name for p in MODEL.iterdir()} == {CARD_FILE, NETWORK_FILE}


def test_a_changed_byte_of_the_shipped_file_is_refused(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(MODEL, copy)
    raw = bytearray((copy / NETWORK_FILE).read_bytes())
    raw[len(raw) // 2] ^= 1
    (copy / NETWORK_FILE).write_bytes(bytes(raw))
    with pytest.raises(FerpipeError, match="sha256"):
        read_card(copy)


@pytest.mark.slow
def test_the_smiling_astronaut_is_happy(tmp_path):
    """skimage's astronaut photo (Eileen Collins, smiling): one face, `happy` by a wide margin."""
    photo, _ = astronaut_photos(tmp_path / "photos")
    done = run_main(ferpipe_command.main, ["predict", "--json", "--export", str(MODEL), str(photo)], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["model"] == str(MODEL)
    [face] = report["photos"][0]["faces"]
    probabilities = face["probabilities"]
    assert max(probabilities, key=probabilities.get) == "happy" and probabilities["happy"] >= 0.5, probabilities
