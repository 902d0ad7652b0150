"""Every bit depth and mode of image file becomes 8-bit grey or RGB by scaling, the same for `fetch` and
`predict` (both read through `read_image`); the detector sees large photos downscaled, boxes mapped back."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from PIL import Image

from ferpipe.data.images import MAX_IMAGE_PIXELS, read_image
from ferpipe.faces.detector import MAX_DETECT_SIDE, DetectorView
from ferpipe.faces.settings import FaceSettings

GRADIENT16 = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)  # 0..65520


def saved(tmp: Path, name: str, write) -> Path:
    path = tmp / name
    write(path)
    return path


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path):
    path = saved(tmp_path, "g16.png", lambda p: Image.fromarray(GRADIENT16).save(p))
    grey = read_image(path, "L")
    np.testing.assert_array_equal(grey, np.round(GRADIENT16 / 257).astype(np.uint8))
    assert (grey == 255).mean() < 0.01  # clipping made 99.6% of such a photo white
    rgb = read_image(path, "RGB")
    assert rgb.shape == (64, 64, 3) and np.array_equal(rgb[..., 0], grey)


def test_16_bit_rgb_png_keeps_its_range(tmp_path):
    rgb16 = np.stack([GRADIENT16, GRADIENT16 // 2, GRADIENT16 // 4], axis=-1)
    path = saved(tmp_path, "rgb16.png", lambda p: cv2.imwrite(str(p), rgb16[..., ::-1]))  # cv2 writes BGR
    rgb = read_image(path, "RGB").astype(int)
    assert np.abs(rgb - np.round(rgb16 / 257)).max() <= 1


@pytest.mark.parametrize("values, expected", [
    (np.linspace(0, 1, 400, dtype=np.float32).reshape(20, 20), lambda v: np.round(v * 255)),
    (np.linspace(0, 255, 400, dtype=np.float32).reshape(20, 20), np.round),
])
def test_float_tiff_in_0_1_or_0_255(tmp_path, values, expected):
    path = saved(tmp_path, "f.tif", lambda p: Image.fromarray(values).save(p))
    np.testing.assert_array_equal(read_image(path, "L"), expected(values).astype(np.uint8))


def test_transparency_is_composited_over_white(tmp_path):
    rgba = np.zeros((30, 30, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:15, :, 3] = 255  # top half opaque red-ish, bottom half fully transparent
    path = saved(tmp_path, "a.png", lambda p: Image.fromarray(rgba, "RGBA").save(p))
    rgb = read_image(path, "RGB")
    assert tuple(rgb[0, 0]) == (200, 0, 0) and tuple(rgb[-1, -1]) == (255, 255, 255)
    la = saved(tmp_path, "la.png", lambda p: Image.fromarray(rgba[..., [0, 3]], "LA").save(p))
    grey = read_image(la, "L")
    assert grey[0, 0] == 200 and grey[-1, -1] == 255


@pytest.mark.parametrize("mode", ["1", "P", "CMYK"])
def test_other_modes_convert_as_pil_does(tmp_path, mode):
    base = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    img = base.convert(mode)
    path = saved(tmp_path, "m.jpg" if mode == "CMYK" else "m.png", lambda p: img.save(p))
    with Image.open(path) as reread:
        expected = np.asarray(reread.convert("RGB").convert("L"))
    assert np.abs(read_image(path, "L").astype(int) - expected).max() <= 1


def test_large_photos_are_shown_to_the_detector_downscaled():
    settings = FaceSettings.from_params({"faces": _faces_params()}, "params.yaml")
    view = DetectorView.for_size(6000, 8000, settings)
    assert (view.width, view.height) == (MAX_DETECT_SIDE, 1200) and view.pad == 0
    box_in_view = np.array([[160.0, 120.0], [320.0, 300.0]])
    np.testing.assert_allclose(view.to_original(box_in_view), box_in_view * 5)
    shown = view.show(np.zeros((6000, 8000, 3), np.uint8), settings.pad_mode)
    assert shown.shape == (1200, MAX_DETECT_SIDE, 3)
    small = DetectorView.for_size(480, 640, settings)
    assert (small.width, small.height, small.scale_x) == (640, 480, 1.0)


def _faces_params() -> dict:
    return yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())["faces"]


def test_predict_help_states_the_limits():
    from ferpipe.commands.predict import __doc__ as help_text

    flat = " ".join(help_text.split())
    assert f"at most {MAX_DETECT_SIDE} px" in flat and f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels are refused" in flat
    assert "never overwrites a file" in flat
