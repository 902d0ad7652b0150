"""Decoding image files into the uint8 arrays the canonical dataset stores, for `fetch` and `predict` alike.

Every bit depth and mode PIL reads becomes 8-bit grey or RGB by scaling its range, never by clipping:
16-bit grey (PNG, TIFF) is divided by 257; 32-bit integer grey must hold 16-bit values (0..65535);
float grey must lie in 0..1 (scaled by 255) or 0..255; alpha (LA, RGBA, PA, palette transparency) is
composited over white; CMYK, YCbCr, LAB, HSV, palette and 1-bit images convert as PIL converts them.
Anything else (an unknown mode, values outside those ranges) is refused naming the file.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ferpipe.core.errors import FerpipeError
from ferpipe.core.textfile import opened_regular

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
UNREAD_IMAGE_SUFFIXES = {".heic", ".heif", ".avif", ".jfif", ".jp2", ".j2k", ".jxl", ".pgm", ".ppm", ".pbm", ".pnm",
                         ".ico", ".svg", ".raw", ".dng", ".cr2", ".nef", ".arw"}
MIN_IMAGE_SIDE = 20  # px: smaller images hold no face that MTCNN or a 48 px crop could use
MAX_IMAGE_PIXELS = 100_000_000  # about 10000 x 10000: larger ones are refused before they are decoded
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_ALPHA_MODES = ("LA", "PA", "RGBA", "RGBa")


def check_image_side(height: int, width: int, name: str) -> None:
    if min(height, width) < MIN_IMAGE_SIDE:
        raise FerpipeError(f"{name}: image is {width}x{height} px, smaller than the {MIN_IMAGE_SIDE} px minimum")


def _grey_to_8bit(img: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit integer or float grey image scaled into 0..255."""
    values = np.asarray(img)
    if img.mode in _SIXTEEN_BIT_MODES or img.mode == "I":
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(f"{img.mode} pixel values {values.min()}..{values.max()} exceed 16 bits")
        scaled = values.astype(np.float64) / 257.0
    else:  # "F"
        if not np.isfinite(values).all():
            raise ValueError("float pixels hold NaN or infinity")
        top = 1.0 if values.max(initial=0.0) <= 1.0 else 255.0
        if values.min(initial=0.0) < 0 or values.max(initial=0.0) > 255:
            raise ValueError(f"float pixel values {values.min()}..{values.max()} lie outside 0..1 and 0..255")
        scaled = values.astype(np.float64) * (255.0 / top)
    return Image.fromarray(np.round(scaled).astype(np.uint8), "L")


def to_8bit(img: Image.Image) -> Image.Image:
    """`img` as 8-bit "L" or "RGB" (see the module docstring); ValueError says why not."""
    if img.mode in _SIXTEEN_BIT_MODES or img.mode in ("I", "F"):
        return _grey_to_8bit(img)
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in _ALPHA_MODES:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if img.mode in ("L", "RGB"):
        return img
    if img.mode in ("1", "P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        return img.convert("RGB" if img.mode != "1" else "L")
    raise ValueError(f"image mode {img.mode} is not supported")


def read_image(path: Path, mode: str, upright: bool = False) -> np.ndarray:
    """Decode `path` as grey ("L", HxW) or colour ("RGB", HxWx3), scaled to 8 bits (`to_8bit`).
    With `upright`, the image is turned as its EXIF orientation tag says (phone photos are often
    stored sideways with such a tag).

    A corrupt, truncated, too small or too large file, or one of several frames or pages, is an error
    naming it (PIL raises on `load` of a truncated file; the size is checked before decoding).
    """
    with opened_regular(path, "an image") as fh:
        return decode_image(fh, str(path), mode, upright)


def decode_image(fh: BinaryIO, name: str, mode: str, upright: bool = False,
                 max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """`read_image` of an open binary file (an upload held in memory too), named `name` in errors;
    an image of more than `max_pixels` is refused before it is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked here instead
            with Image.open(fh) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise FerpipeError(f"{name}: image is {width}x{height} px, more than the "
                                       f"{max_pixels / 1_000_000:g} megapixel limit; downscale it first")
                check_image_side(height, width, name)
                frames = getattr(img, "n_frames", 1)
                if frames > 1:  # an animation or a multi-page file: which frame is the photo is not ours to pick
                    raise FerpipeError(f"{name}: holds {frames} frames or pages (an animation or a multi-page file), "
                                       "and a photo is one; save the frame you mean as a still image")
                img.load()
                turned = ImageOps.exif_transpose(img) if upright else img
                return np.asarray(to_8bit(turned).convert(mode), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise FerpipeError(f"{name}: corrupt or unreadable image ({exc})") from exc


def list_images(folder: Path) -> list[Path]:
    """The image files of `folder` (special files too, for `read_image` to refuse by name); a photo in a
    format ferpipe does not read is an error, not an image silently left out."""
    files = sorted(p for p in folder.iterdir() if not p.is_dir())
    foreign = [p for p in files if p.suffix.lower() in UNREAD_IMAGE_SUFFIXES]
    if foreign:
        raise FerpipeError(f"{foreign[0]}: a {foreign[0].suffix} image, which ferpipe does not read "
                           f"({len(foreign)} such file(s) in this folder); convert to one of "
                           f"{', '.join(sorted(IMAGE_SUFFIXES))} or remove them")
    return [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
