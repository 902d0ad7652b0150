"""`predict` on videos: frames sampled at --fps with their time stamps, one CSV row per face and frame
(with --json one object per sampled frame), the drawn video at the sampling rate, a video OpenCV cannot open, and undecodable frames skipped (in a
real MJPG video with one frame's data destroyed, and in a made-up capture for the edge cases)."""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from support.stage_runs import run_main

from ferpipe import __main__ as ferpipe_command
from ferpipe.apply.predict import FaceResult
from ferpipe.apply.predict_files import _predict_videos
from ferpipe.apply.video import sampled_frames
from ferpipe.commands.predict import parse_args
from support.face_video import write_face_video

SOURCE_FPS, FRAMES = 10, 20  # a 2 s clip


@pytest.fixture(scope="module")
def work(demo_export, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("predict_video")
    shutil.copy(demo_export.parent / "params.yaml", folder)
    shutil.copytree(demo_export, folder / "data" / "export")
    write_face_video(folder / "clip.mp4", FRAMES, SOURCE_FPS)
    return folder


def run(work: Path, *args):
    return run_main(ferpipe_command.main, ["predict", *args], work)


@pytest.mark.slow
@pytest.mark.parametrize("fps, frames", [(5, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]), (2.5, [0, 4, 8, 12, 16])])
def test_one_row_per_face_and_sampled_frame_and_the_drawn_video(work, tmp_path, fps, frames):
    done = run(work, "clip.mp4", "--fps", fps, "--out", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [int(r["frame"]) for r in rows] == frames and {r["face"] for r in rows} == {"1"}
    assert [float(r["time_s"]) for r in rows] == pytest.approx([f / SOURCE_FPS for f in frames])
    x1 = [float(r["x1"]) for r in rows]
    assert x1 == sorted(x1) and x1[-1] - x1[0] > 100  # the face moves right, 6.4 px a frame
    assert all(sum(float(r[k]) for k in r if k.startswith("p_")) == pytest.approx(1, abs=1e-4) for r in rows)
    drawn = cv2.VideoCapture(str(tmp_path / "clip_faces.mp4"))
    assert drawn.get(cv2.CAP_PROP_FRAME_COUNT) == len(frames) and drawn.get(cv2.CAP_PROP_FPS) == pytest.approx(fps)
    ok, first = drawn.read()
    assert ok and first.shape == (240, 320, 3)
    drawn.release()


@pytest.mark.slow
def test_a_video_opencv_cannot_open_is_one_error_and_writes_nothing(work, tmp_path):
    (tmp_path / "broken.mp4").write_text("not a video")
    done = run(work, tmp_path / "broken.mp4", "--out", tmp_path / "drawn")
    assert done.returncode == 1 and done.stdout.startswith("video,frame,time_s,face,")
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.mp4: OpenCV cannot open this video" in errors[0]
    assert not list((tmp_path / "drawn").iterdir())


@pytest.mark.slow
def test_photos_and_videos_in_one_run_is_an_error(work, tmp_path):
    cv2.imwrite(str(tmp_path / "photo.png"), np.zeros((64, 64, 3), np.uint8))
    done = run(work, "clip.mp4", tmp_path / "photo.png")
    assert done.returncode == 1 and "error: give photos and videos in separate runs" in done.stderr


def damage_frame(avi: Path, index: int) -> None:
    """Zero the JPEG data (all but its first two bytes) of frame `index` of an MJPG AVI, its size kept: the
    frame's chunk, the `index`-th 00dc chunk of the movi list, is there but cannot be decoded."""
    data = bytearray(avi.read_bytes())
    at, seen = data.index(b"movi") + 4, 0
    while at < len(data):
        chunk, size = bytes(data[at:at + 4]), int.from_bytes(data[at + 4:at + 8], "little")
        if chunk == b"00dc" and seen == index:
            data[at + 10:at + 8 + size] = bytes(size - 2)
            avi.write_bytes(data)
            return
        seen += chunk == b"00dc"
        at += 8 + size + size % 2
    raise AssertionError(f"{avi}: no frame {index} in its movi list")


@pytest.mark.slow
def test_a_real_video_with_an_undecodable_frame_reports_it_and_goes_on(work, tmp_path):
    video = write_face_video(tmp_path / "damaged.avi", 10, SOURCE_FPS, codec="MJPG")
    damage_frame(video, 4)
    done = run(work, video, "--fps", SOURCE_FPS, "--out", tmp_path / "drawn")
    assert done.returncode == 0, done.stderr[-3000:]
    assert [int(r["frame"]) for r in csv.DictReader(io.StringIO(done.stdout))] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {video}: frame 4 (0.40 s): cannot be decoded; skipped"]
    drawn = cv2.VideoCapture(str(tmp_path / "drawn" / "damaged_faces.mp4"))
    assert drawn.get(cv2.CAP_PROP_FRAME_COUNT) == 9
    drawn.release()


@pytest.mark.slow
def test_json_gives_one_object_per_sampled_frame_with_its_time_stamp(work):
    done = run(work, "clip.mp4", "--fps", 2.5, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["head"] == "softmax" and len(report["classes"]) == 7 and "photos" not in report
    (video,) = report["videos"]
    assert video["video"] == "clip.mp4" and video["error"] is None
    frames = video["frames"]
    assert [f["frame"] for f in frames] == [0, 4, 8, 12, 16]
    assert [f["time_s"] for f in frames] == pytest.approx([0, 0.4, 0.8, 1.2, 1.6])
    assert all(f["error"] is None and len(f["faces"]) == 1 for f in frames)
    x1 = [f["faces"][0]["box"][0] for f in frames]
    assert x1 == sorted(x1) and x1[-1] - x1[0] > 100  # the face moves right, as in the CSV rows
    face = frames[0]["faces"][0]
    assert set(face["probabilities"]) == set(report["classes"]) and face["predicted"] in report["classes"]
    assert sum(face["probabilities"].values()) == pytest.approx(1, abs=1e-4)


@pytest.mark.slow
def test_json_lists_a_video_opencv_cannot_open_and_an_undecodable_frame(work, tmp_path):
    (tmp_path / "broken.mp4").write_text("not a video")
    video = write_face_video(tmp_path / "damaged.avi", 10, SOURCE_FPS, codec="MJPG")
    damage_frame(video, 4)
    done = run(work, tmp_path / "broken.mp4", video, "--fps", SOURCE_FPS, "--json")
    assert done.returncode == 1
    broken, damaged = json.loads(done.stdout)["videos"]
    assert "OpenCV cannot open this video" in broken["error"] and broken["frames"] == []
    assert damaged["error"] is None and [f["frame"] for f in damaged["frames"]] == list(range(10))
    bad = damaged["frames"][4]
    assert bad == {"frame": 4, "time_s": 0.4, "error": "cannot be decoded; skipped", "faces": []}
    assert all(len(f["faces"]) == 1 for f in damaged["frames"] if f["frame"] != 4)


class StubPredictor:
    """A predictor without MTCNN or a model: every decoded frame has one face whose box starts at the frame's index."""

    class classifier:  # noqa: N801 (what predict reads of the classifier)
        classes = ["a", "b"]

    probability_method = "softmax"

    def run(self, frames, keep_images):
        for frame in frames:
            if not frame.error:
                frame.faces = [FaceResult((frame.frame, 0.0, 10.0, 10.0), 0.9, "a", {"a": 0.75, "b": 0.25})]
            yield frame


def test_json_video_report_without_a_model(tmp_path, capsys):
    video = write_face_video(tmp_path / "clip.avi", 10, SOURCE_FPS, codec="MJPG")
    damage_frame(video, 4)
    args = parse_args([str(video), "--fps", "5", "--json"])
    assert _predict_videos(args, StubPredictor(), [video], [], "model") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "model" and report["classes"] == ["a", "b"] and "photos" not in report
    (item,) = report["videos"]
    assert item["video"] == str(video) and item["error"] is None
    assert [(f["frame"], f["time_s"], f["error"]) for f in item["frames"]] == [
        (0, 0.0, None), (2, 0.2, None), (4, 0.4, "cannot be decoded; skipped"), (6, 0.6, None), (8, 0.8, None)]
    assert [len(f["faces"]) for f in item["frames"]] == [1, 1, 0, 1, 1]
    assert item["frames"][1]["faces"][0] == {"box": [2.0, 0.0, 10.0, 10.0], "detection_confidence": 0.9,
                                             "predicted": "a", "probabilities": {"a": 0.75, "b": 0.25}}


class FakeCapture:
    """A 10-frame, 10 fps video whose frames in `broken` cannot be decoded (grab fails)."""

    def __init__(self, broken: set[int]):
        self.broken, self.index = broken, -1

    def get(self, prop):
        return {cv2.CAP_PROP_FPS: 10.0, cv2.CAP_PROP_FRAME_COUNT: 10, cv2.CAP_PROP_POS_MSEC: 100.0 * self.index}[prop]

    def grab(self):
        self.index += 1
        return self.index < 10 and self.index not in self.broken

    def retrieve(self):
        return True, np.full((4, 4, 3), self.index, np.uint8)


@pytest.mark.parametrize("broken, errors", [
    ({2, 3}, ["2: cannot be decoded; skipped"]),  # frame 3 is not due at 5 fps
    ({8, 9}, ["8: frames 8 to 9 of 10 cannot be decoded; skipped"]),  # at the end: one range
])
def test_undecodable_frames_are_reported_and_skipped(broken, errors):
    frames = list(sampled_frames(Path("v.mp4"), FakeCapture(broken), fps=5))
    assert [f"{f.frame}: {f.error}" for f in frames if f.error] == errors
    good = [f for f in frames if not f.error]
    assert [f.frame for f in good] == [i for i in (0, 2, 4, 6, 8) if i not in broken]
    assert all(f.image[0, 0, 0] == f.frame and f.time == f.frame / 10 for f in good)


def test_a_variable_frame_rate_video_gets_its_own_time_stamps_and_no_false_warning(tmp_path):
    """Frames at 0, 2.0 and 6.4 s of a 10 s Matroska file (nominal 2.5 fps, so "25 frames"): sampled at their
    own times, and the end of the frames is the end of the video, not 22 undecodable frames."""
    from ferpipe.apply.video import opened
    from support.face_video import write_vfr_video

    video = write_vfr_video(tmp_path / "vfr.mkv", [0, 2000, 6400], duration_ms=10_000)
    with opened(video) as capture:
        frames = list(sampled_frames(video, capture, fps=1))
    assert [(f.frame, f.time, f.error) for f in frames] == [(0, 0.0, None), (1, 2.0, None), (2, 6.4, None)]
    assert [int(f.image[0, 0, 0]) for f in frames] == pytest.approx([40, 60, 80], abs=3)
    with opened(video) as capture:  # sampled every 3 s: the frame at 2.0 s is not due, the one at 6.4 s is
        assert [f.frame for f in sampled_frames(video, capture, fps=1 / 3)] == [0, 2]
