"""Checks that a later stage would make only after the expensive ones ran, made by `params check` (and the
`check_params` stage, `make repro`, the sweep's pre-check) in the first second: feature geometry against
the crop size, the files `weights` names (kind, resolved place, special files in data/pretrained/, a source
model's crops and its model.json's types)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.stage_runs import expect_error, result_of

from ferpipe.commands import params as params_command

REPO = Path(__file__).resolve().parents[2]
PARAMS = (REPO / "params.yaml").read_text()


def check(tmp: Path, text: str) -> tuple[int, list[str]]:
    (tmp / "params.yaml").write_text(text)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)
        return result_of(params_command._main, "check", "--params", "params.yaml")


def with_weights(weights: str) -> str:
    return PARAMS.replace("weights: none", f"weights: '{weights}'")


def model_folder(folder: Path, crop: int = 48, input_size=32) -> Path:
    """A model folder as model.json describes it (model.keras's bytes are not read by these checks)."""
    folder.mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"PK")
    (folder / "model.json").write_text(json.dumps({
        "classes": ["a", "b"], "crop_size": crop, "feature_layer": "features", "precision": "float32",
        "config": {"arch": "resnet50", "input_size": input_size}}))
    return folder


@pytest.mark.parametrize("edit, message", [
    ([("features: network", "features: hog"), ("pixels_per_cell: 8", "pixels_per_cell: 32")],
     "params.yaml: embed.hog: a block of 2x2 cells of 32 px (64 px) does not fit 48x48 crops"),
    ([("features: network", "features: lbp"), ("grid: [6, 6]", "grid: [60, 6]")],
     "params.yaml: embed.lbp.grid [60, 6] has more cells"),
    ([("features: network", "features: lbp"), ("radius: 2", "radius: 8"), ("  size: 48", "  size: 16")],
     "embed.lbp.radius 8.0 does not fit 16x16 crops"),
], ids=["hog blocks", "lbp grid", "lbp radius"])
def test_feature_geometry_is_checked_against_faces_size(tmp_path, edit, message):
    text = PARAMS
    for old, new in edit:
        assert old in text
        text = text.replace(old, new, 1)
    expect_error(check(tmp_path, text), message)


def test_a_weights_file_that_is_not_keras_weights_fails_the_check(tmp_path):
    (tmp_path / "notes.h5").write_text("not HDF5")
    expect_error(check(tmp_path, with_weights("notes.h5")), "weights='notes.h5': not a Keras weights file")


def test_a_weights_file_with_the_hdf5_signature_passes(tmp_path):
    (tmp_path / "w.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    assert check(tmp_path, with_weights("w.h5"))[0] == 0


def test_a_fifo_as_weights_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "w.h5")
    code, lines = check(tmp_path, with_weights("w.h5"))
    assert code == 1 and lines[-1].startswith("error:") and "w.h5" in lines[-1]


def test_a_model_folder_leaving_data_pretrained_through_a_link_or_dots_fails(tmp_path):
    model_folder(tmp_path / "elsewhere" / "model")
    (tmp_path / "data" / "pretrained").mkdir(parents=True)
    expect_error(check(tmp_path, with_weights("data/pretrained/../../elsewhere/model")),
                 "resolves to", [])
    (tmp_path / "data" / "pretrained" / "linked").symlink_to(tmp_path / "elsewhere" / "model")
    expect_error(check(tmp_path, with_weights("data/pretrained/linked")), "outside data/pretrained/")


def test_a_special_file_in_data_pretrained_fails_before_dvc_reads_it(tmp_path):
    (tmp_path / "data" / "pretrained" / "m").mkdir(parents=True)
    os.mkfifo(tmp_path / "data" / "pretrained" / "m" / "pipe")
    expect_error(check(tmp_path, PARAMS), "data/pretrained/m/pipe: is a FIFO (named pipe) inside data/pretrained/")


def test_a_source_model_of_another_crop_size_fails_the_check(tmp_path):
    model_folder(tmp_path / "data" / "pretrained" / "src", crop=64)
    expect_error(check(tmp_path, with_weights("data/pretrained/src")),
                 "weights='data/pretrained/src': trained on 64x64 crops, faces.size is 48: set faces.size to 64")


def test_a_source_model_json_with_a_string_input_size_says_so(tmp_path):
    model_folder(tmp_path / "data" / "pretrained" / "src", input_size="32")
    line = expect_error(check(tmp_path, with_weights("data/pretrained/src")), "config.input_size must be an integer")
    assert "'32'" in line and "this run's is 32" not in line


def test_a_fitting_source_model_passes(tmp_path):
    model_folder(tmp_path / "data" / "pretrained" / "src")
    assert check(tmp_path, with_weights("data/pretrained/src")) == (0, [])
