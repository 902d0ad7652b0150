"""Property-based tests (Hypothesis) beside the catalogue: generated params files, `-S` values, YAML text,
output file names, image bytes and photo names. Every run asserts the one invariant of bad input: exit 0
with complete outputs, or one `error:` line, a non-zero exit and no outputs (nor a temporary copy). What
is accepted is read alike by ferpipe, DVC (YAML 1.2) and YAML 1.1 readers.

The examples are derandomized (the same on every run and machine) and few enough that the module runs in
well under a minute.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from support.stage_runs import result_of, stage_main

from ferpipe.commands.params import main as params_main
from ferpipe.core.errors import FerpipeError
from ferpipe.core.outputs import MANIFEST
from ferpipe.core.params import load_params, parse_yaml
from ferpipe.data.images import read_image
from ferpipe.report.sweep_table import flatten

REPO = Path(__file__).resolve().parents[2]
PARAMS_TEXT = (REPO / "params.yaml").read_text()
PARAMS = load_params(REPO / "params.yaml")
LEAVES = sorted(flatten(PARAMS))
FEW = settings(max_examples=int(os.environ.get("FERPIPE_EXAMPLES", "30")), deadline=None,
               derandomize="FERPIPE_EXPLORE" not in os.environ, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Plain scalars the YAML dialects read differently or that stress a reader, beside generated ones.
TRICKY = ["010", "0o17", "0x1F", "1_000", "1:30", "190:20:30.15", "yes", "No", "on", "OFF", "y", "n", "~", "null",
          "Null", "true", "True", ".inf", "-.Inf", ".NaN", "1e3", "1.0e+3", "2e-2", "0.", ".5", "+1", "-0",
          "2001-12-14", "'quoted'", '"dq"', "[1, 2]", "{a: 1}", "!!set {a}", "!!omap [{a: 1}]", "!!binary aGk=",
          "!!python/object:os.system x", "&a 1", "*a", "''", "' '", '"\\x1b[31m"', "x" * 400, "[" * 80 + "]" * 80,
          "- a", ": b", "? c", "|", ">-", "%TAG", "@x", "`x`", "!x y", "0b101", "12:30:45", "=", "<<"]
VALUES = st.one_of(st.sampled_from(TRICKY), st.integers(-10**20, 10**20).map(str), st.floats().map(repr),
                   st.text(max_size=12).map(json.dumps), st.text(alphabet="0123456789.:eE+-_xob", max_size=8))


def plain(value: Any) -> bool:
    """Plain data only: what the project reads."""
    if isinstance(value, dict):
        return all(isinstance(k, (str, int, float, bool, type(None))) and plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return isinstance(value, (str, int, float, bool, type(None)))


def same(a: Any, b: Any) -> bool:
    """Equal, types included, NaN equal to NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def read_alike(text: str, doc: Any) -> None:
    """What ferpipe accepted is what DVC reads, and what a YAML 1.1 reader reads."""
    from dvc.utils.serialize import parse_yaml as dvc_parse

    assert same(dvc_parse(text, "x") if doc else doc, doc)  # DVC reads any falsy document (0, "", []) as {}
    assert same(yaml.safe_load(text), doc)


def one_error(code: int, lines: list[str]) -> None:
    errors = [line for line in lines if line.startswith("error:")]
    assert code == 1 and len(errors) == 1 and lines[-1] == errors[0], lines[-10:]
    assert not any("Traceback" in line for line in lines)
    assert "\x1b" not in errors[0] and len(errors[0]) < 2100


def left_behind(folder: Path, name: str) -> list[Path]:
    return [p for p in folder.iterdir() if p.name == name or p.name.startswith(f".{name}.tmp-")]


@contextlib.contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        yield Path(tmp)


@FEW
@given(st.one_of(st.text(max_size=200),
                 st.lists(st.tuples(st.integers(0, 6), st.sampled_from(["a", "lr", "yes", "1", "- x", "? k"]),
                                    VALUES), max_size=8)
                 .map(lambda rows: "\n".join(" " * i + f"{k}: {v}" for i, k, v in rows))))
def test_yaml_text_is_read_as_dvc_reads_it_or_is_one_error(text):
    try:
        doc = parse_yaml(text, "x.yaml")
    except FerpipeError as exc:
        assert str(exc).startswith("x.yaml: ") and "\n" not in str(exc).strip()
        return
    assert plain(doc)
    read_alike(text, doc)


def with_value(key: str, value: str) -> str:
    """params.yaml with the leaf `key` written as the YAML text `value`."""
    tree = json.loads(json.dumps(PARAMS))
    *parents, last = key.split(".")
    node = tree
    for part in parents:
        node = node[part]
    node[last] = "__VALUE__"
    return yaml.safe_dump(tree, sort_keys=False, width=10_000).replace("__VALUE__", value, 1)


EDITS = st.one_of(
    st.tuples(st.sampled_from(LEAVES), VALUES).map(lambda kv: with_value(*kv)),
    st.sampled_from(LEAVES).map(lambda key: PARAMS_TEXT.replace(f"{key.split('.')[-1]}:", f"{key.split('.')[-1]}x:", 1)),
    st.tuples(st.integers(0, len(PARAMS_TEXT)), st.text(max_size=8)).map(lambda it: PARAMS_TEXT[:it[0]] + it[1]
                                                                          + PARAMS_TEXT[it[0]:]),
)


@FEW
@given(EDITS)
def test_a_generated_params_file_is_checked_or_is_one_error(text):
    """The check_params stage: its output complete and the file read alike by every reader, or one error line
    and no output."""
    with folder() as tmp:
        (tmp / "params.yaml").write_text(text)
        code, lines = result_of(stage_main("check_params"), "--params", "params.yaml", "--out", "checked.txt")
        if code == 0:
            assert (tmp / "checked.txt").read_text() == "every parameter checked\n"
            read_alike(text, load_params(tmp / "params.yaml"))
        else:
            one_error(code, lines)
            assert not left_behind(tmp, "checked.txt")


@settings(FEW, max_examples=max(12, FEW.max_examples // 3))  # DVC's own override code takes a good part of a second each
@given(st.sampled_from(LEAVES + ["lrr", "train.inptu_size", "faces.size.x", "+new"]), VALUES)
def test_a_generated_override_is_checked_or_is_one_error(key, value):
    """`-S key=value` as the sweep's pre-check takes it: the parameters DVC would run, each read alike by every
    reader, or one error."""
    from ferpipe.experiments.overrides import apply_overrides
    from ferpipe.registry import check_all

    text = f"{key}={value}"
    with folder() as tmp:
        (tmp / "params.yaml").write_text(PARAMS_TEXT)
        try:
            params = apply_overrides(tmp / "params.yaml", [text])
            check_all(params, "params.yaml")
        except FerpipeError as exc:
            assert "\n" not in str(exc).strip() and len(str(exc)) < 2100
            return
        assert same(parse_yaml(yaml.safe_dump(params, sort_keys=False), "x"), params)


NAMES = st.text(alphabet=st.characters(blacklist_characters="/\0", blacklist_categories=["Cs"]),
                min_size=1, max_size=260)


@FEW
@given(NAMES)
def test_an_output_of_any_name_is_written_whole_or_is_one_error(name):
    """`params doc --out NAME`: the reference complete under that name, or one error and nothing written."""
    with folder() as tmp:
        reference = tmp / "reference.md"
        assert result_of(params_main, "doc", "--params", str(REPO / "params.yaml"), "--out", str(reference))[0] == 0
        code, lines = result_of(params_main, "doc", "--params", str(REPO / "params.yaml"), f"--out={name}")
        out = tmp / name
        if code == 0:
            assert out.is_file() and out.read_bytes() == reference.read_bytes()
            assert not [p for p in out.parent.iterdir() if ".tmp-" in p.name]
        else:
            one_error(code, lines)
            if name not in (".", "..", "reference.md", MANIFEST) and len(name.encode()) <= 255:  # those were there
                assert not left_behind(tmp, name)


def picture(kind: str, size: tuple[int, int], mode: str, cut: float) -> bytes:
    array = np.random.default_rng(size[0] * 31 + size[1]).integers(0, 256, (*size[::-1], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(array).convert(mode).save(out, format=kind)
    data = out.getvalue()
    return data[:max(1, int(len(data) * cut))] if cut < 1 else data


IMAGE_BYTES = st.one_of(
    st.binary(max_size=300),
    st.builds(picture, st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"]),
              st.tuples(st.integers(1, 80), st.integers(1, 80)), st.sampled_from(["RGB", "L"]),
              st.sampled_from([1.0, 1.0, 0.9, 0.5, 0.1])),
)


@FEW
@given(IMAGE_BYTES, st.sampled_from(["photo.png", "photo.jpg", "photo.gif", "photo.tif", "photo"]))
def test_image_bytes_are_an_image_or_one_error(data, name):
    with folder() as tmp:
        (tmp / name).write_bytes(data)
        try:
            image = read_image(tmp / name, "RGB")
        except FerpipeError as exc:
            assert str(exc).startswith(f"{tmp / name}: ") and "\n" not in str(exc)
            return
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= 1


@settings(FEW, max_examples=max(8, FEW.max_examples // 4))  # MTCNN and the network for each
@given(st.text(alphabet=st.characters(blacklist_characters="/\0", blacklist_categories=["Cs"]), min_size=1,
               max_size=240).filter(lambda n: n not in (".", "..")), IMAGE_BYTES)
def test_predict_on_any_photo_name_and_bytes_draws_it_or_says_one_error(tiny, name, data):
    """predict (the tiny model) on one photo: exit 0 with its drawing, or one error line and no drawing; no
    name reaches the terminal raw."""
    from test_bad_models import predict_params

    from support.stage_runs import run_main

    from ferpipe.commands import predict as predict_command
    from ferpipe.core.cli import run_stage

    with folder() as tmp:
        (tmp / "in").mkdir()
        photo = tmp / "in" / (name + ".png")
        if len(photo.name.encode()) > 255:
            return
        photo.write_bytes(data)
        done = run_main(lambda argv: run_stage(predict_command._main, argv),
                        ["--params", predict_params(tmp), str(photo), "--model", str(tiny / "model"),
                         "--out", str(tmp / "drawn")], tmp)
        assert "\x1b" not in done.stdout + done.stderr
        drawn = list((tmp / "drawn").iterdir()) if (tmp / "drawn").exists() else []
        if done.returncode == 0:
            assert len(drawn) == 1 and drawn[0].name.endswith("_faces.png") and drawn[0].stat().st_size > 0
        else:  # the photo's one error line, then the run's summary of how many could not be used
            lines = done.stderr.splitlines()
            assert done.returncode == 1 and [line for line in lines if line.startswith("error:")] == lines[-2:-1]
            assert "Traceback" not in done.stderr and drawn == []


def video_bytes(times: list[int], cut: float) -> bytes:
    from support.face_video import write_vfr_video

    with tempfile.TemporaryDirectory() as tmp:
        data = write_vfr_video(Path(tmp) / "v.mkv", times, duration_ms=times[-1] + 500).read_bytes()
    return data[:max(1, int(len(data) * cut))]


TIMES = st.lists(st.integers(1, 3000), min_size=1, max_size=6).map(lambda gaps: [sum(gaps[:i]) for i in range(len(gaps))])


@FEW
@given(st.one_of(st.binary(max_size=400), st.builds(video_bytes, TIMES, st.sampled_from([1.0, 0.7, 0.3, 0.05]))),
       st.sampled_from(["clip.mkv", "clip.mp4", "clip.avi"]))
def test_video_bytes_are_sampled_frames_or_one_error(data, name):
    """Any bytes as a video: OpenCV cannot open it (one error naming it), or its frames come back in time order,
    each decoded or with its error."""
    from ferpipe.apply.video import opened, sampled_frames

    with folder() as tmp:
        (tmp / name).write_bytes(data)
        try:
            with opened(tmp / name) as capture:
                frames = list(sampled_frames(tmp / name, capture, fps=2))
        except FerpipeError as exc:
            assert str(exc).startswith(f"{tmp / name}: ") and "\n" not in str(exc)
            return
        times = [f.time for f in frames if f.error is None]
        assert times == sorted(times) and all(f.image is not None for f in frames if f.error is None)


@FEW
@given(TIMES)
def test_a_variable_frame_rate_video_is_sampled_at_its_own_times(times):
    from ferpipe.apply.video import opened, sampled_frames
    from support.face_video import write_vfr_video

    with folder() as tmp:
        video = write_vfr_video(tmp / "v.mkv", times, duration_ms=times[-1] + 500)
        with opened(video) as capture:
            frames = list(sampled_frames(video, capture, fps=1000))  # every frame due
            nominal = capture.get(cv2.CAP_PROP_FPS)
        decoded = [(f.frame, f.time) for f in frames if f.error is None]
        assert decoded == [(i, t / 1000) for i, t in enumerate(times)]
        # A warning about frames past the last is left only where every frame sat on the nominal rate's grid:
        # then what OpenCV shows cannot tell such a file from a cut one.
        on_grid = len(times) >= 2 and all(abs(t / 1000 - i / nominal) <= 0.5 / nominal for i, t in enumerate(times))
        assert len(frames) == len(times) + (on_grid and len(frames) > len(times))
