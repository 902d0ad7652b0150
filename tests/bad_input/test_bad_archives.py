"""Damaged and hostile archives, and malformed Kaggle credentials, given to the `fetch` stage: one
`error:` line naming the archive (or credentials file), exit 1, no output, and nothing left in the
unpack cache, so a damaged archive is never reused as if complete."""
from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Callable

import pytest
from support.builders import write_fer_csv, write_fer_folders
from support.stage_runs import expect_error
from test_bad_datasets import fetch_outputs, run_fetch

from ferpipe.core.sha256 import sha256_of

BLOCK = 512


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("FERPIPE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


TAR_NAMES = {"": "fer2013.tar", "gz": "fer2013.tgz", "xz": "fer2013.tar.xz", "bz2": "fer2013.tar.bz2"}


def fer_tar(tmp: Path, compression: str = "") -> Path:
    """The FER-2013 folder layout as a tar (`compression` "gz": a .tgz, "xz", "bz2") of many small members."""
    root = write_fer_folders(tmp / "src" / "fer2013", train=2, public=1, private=1)
    path = tmp / TAR_NAMES[compression]
    with tarfile.open(path, "w:" + compression) as tf:
        tf.add(root, arcname="fer2013")
    return path


def fer_zip(tmp: Path, extra: dict[str, bytes] | None = None) -> Path:
    """fer2013.csv in a zip, stored uncompressed (so that a byte of its data sits at a known place)."""
    csv_path = tmp / "src" / "fer2013.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    write_fer_csv(csv_path, {"Training": 2, "PublicTest": 1, "PrivateTest": 1})
    path = tmp / "fer2013.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.write(csv_path, "fer2013.csv")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def edit_bytes(path: Path, edit: Callable[[bytes], bytes]) -> Path:
    path.write_bytes(edit(path.read_bytes()))
    return path


def flip(at: int, n: int = 4) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        i = at % len(data)
        return data[:i] + bytes(b ^ 0xFF for b in data[i:i + n]) + data[i + n:]
    return edit


def header_offsets(tar: Path) -> list[int]:
    with tarfile.open(tar) as tf:
        return [m.offset for m in tf.getmembers()]


def break_member_header(tar: Path, k: int) -> bytes:
    """The tar's bytes with the header of member k damaged (its checksum no longer matches)."""
    data = bytearray(tar.read_bytes())
    at = header_offsets(tar)[k]
    data[at:at + 8] = b"\xff" * 8
    return bytes(data)


def gzip_of(data: bytes) -> bytes:
    import gzip
    return gzip.compress(data, mtime=0)


def tgz_with_broken_header(tmp: Path) -> Path:
    """What the issue met: a .tgz whose inner tar has a bad block half way (gzip itself is intact)."""
    tar = fer_tar(tmp)
    path = tmp / "fer2013.tar.gz"
    path.write_bytes(gzip_of(break_member_header(tar, len(header_offsets(tar)) // 2)))
    return path


def tar_cut_at_member(tmp: Path) -> Path:
    tar = fer_tar(tmp)
    return edit_bytes(tar, lambda data: data[:header_offsets(tar)[-3]])


def tar_cut_in_member(tmp: Path) -> Path:
    tar = fer_tar(tmp)
    return edit_bytes(tar, lambda data: data[:header_offsets(tar)[-1] + BLOCK + 100])


def zip_with_bad_crc(tmp: Path) -> Path:
    path = fer_zip(tmp)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("fer2013.csv")
    data_start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    return edit_bytes(path, flip(data_start + info.file_size // 2, 1))


def tar_escaping(tmp: Path) -> Path:
    path = tmp / "evil.tar"
    with tarfile.open(path, "w") as tf:
        data = b"x"
        info = tarfile.TarInfo("../outside.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return path


ARCHIVE_CASES = [
    ("tgz gzip CRC flipped", lambda t: edit_bytes(fer_tar(t, "gz"), flip(-8)),
     "fer2013.tgz: cannot unpack (BadGzipFile: CRC check failed"),
    ("tgz bytes flipped near the end", lambda t: edit_bytes(fer_tar(t, "gz"), flip(-60, 8)), "fer2013.tgz: "),
    ("tgz truncated", lambda t: edit_bytes(fer_tar(t, "gz"), lambda d: d[:len(d) * 2 // 3]), "fer2013.tgz: cannot unpack"),
    ("tgz with a bad tar block half way", tgz_with_broken_header,
     "fer2013.tar.gz: damaged archive: unreadable data after member"),
    ("tar with a bad block half way", lambda t: edit_bytes(fer_tar(t), lambda d: break_member_header(t / "fer2013.tar", 20)),
     "fer2013.tar: damaged archive: unreadable data after member 20"),
    ("tar cut at a member boundary", tar_cut_at_member,
     "fer2013.tar: damaged archive: it ends without the end-of-archive marker"),
    ("tar cut inside a member", tar_cut_in_member, "fer2013.tar: cannot unpack (ReadError"),
    ("tar member escaping the folder", tar_escaping, "evil.tar: cannot unpack (OutsideDestinationError"),
    ("zip member with a bad CRC", zip_with_bad_crc, "fer2013.zip: damaged archive: member 'fer2013.csv' fails its CRC check"),
    ("zip truncated", lambda t: edit_bytes(fer_zip(t), lambda d: d[:len(d) // 2]), "fer2013.zip: cannot unpack (BadZipFile"),
    ("zip of zero bytes", lambda t: edit_bytes(fer_zip(t), lambda d: b""), "fer2013.zip: cannot unpack (BadZipFile"),
    ("zip member escaping the folder", lambda t: fer_zip(t, {"../outside.txt": b"x"}),
     "fer2013.zip: member '../outside.txt' would unpack outside the target folder"),
    ("text file named .tgz", lambda t: (t / "fer2013.tgz").write_text("not an archive") and t / "fer2013.tgz",
     "fer2013.tgz: cannot unpack (ReadError: file could not be opened successfully:; - method gz"),
]


@pytest.mark.parametrize("make, message", [c[1:] for c in ARCHIVE_CASES], ids=[c[0] for c in ARCHIVE_CASES])
def test_damaged_archive(tmp_path, cache, make, message):
    archive = make(tmp_path)
    expect_error(run_fetch(tmp_path, "fer2013", archive), message, fetch_outputs(tmp_path))
    assert not list((cache / "unpacked").glob("*")), "a failed unpack left something in the cache"
    assert not (tmp_path / "outside.txt").exists()


def test_the_intact_archives_unpack(tmp_path, cache):
    for archive in (fer_tar(tmp_path, "gz"), fer_tar(tmp_path, "xz"), fer_tar(tmp_path, "bz2"), fer_zip(tmp_path)):
        out, metrics = fetch_outputs(tmp_path)
        code, lines = run_fetch(tmp_path, "fer2013", archive)
        assert code == 0, lines[-5:]
        assert json.loads(metrics.read_text())["counts"]["train"]["total"] == 14 and out.is_dir()
        assert (cache / "unpacked" / sha256_of(archive)[:16] / ".verified").is_file()


@pytest.mark.parametrize("make", [lambda t: fer_zip(t, {"zeros.bin": bytes(4 << 20)}),
                                  lambda t: fer_tar(t, "xz")], ids=["zip", "tar.xz"])
def test_an_archive_larger_than_the_free_disk_is_refused_before_unpacking(tmp_path, cache, monkeypatch, make):
    archive = make(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1 << 30, 1 << 30, 1 << 10))
    line = expect_error(run_fetch(tmp_path, "fer2013", archive), "its members add up to", fetch_outputs(tmp_path))
    assert line.endswith(f"more than the 1.0 KiB free in {cache / 'unpacked'}")
    assert not list((cache / "unpacked").glob("*"))


def test_a_fifo_as_the_source_is_refused_at_once(tmp_path, cache):
    os.mkfifo(tmp_path / "fer2013.csv")
    expect_error(run_fetch(tmp_path, "fer2013", tmp_path / "fer2013.csv"),
                 "fer2013.csv: is a FIFO (named pipe), expected a dataset folder, a csv file or an archive",
                 fetch_outputs(tmp_path))


def test_a_partial_unpack_marked_complete_by_an_older_run_is_not_reused(tmp_path, cache):
    archive = tgz_with_broken_header(tmp_path)
    stale = cache / "unpacked" / sha256_of(archive)[:16]
    stale.mkdir(parents=True)
    (stale / ".complete").touch()  # what the unverified unpack wrote
    expect_error(run_fetch(tmp_path, "fer2013", archive), "damaged archive", fetch_outputs(tmp_path))
    assert not stale.exists()


# --- Kaggle credentials --------------------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    (b"{username: alice}", "kaggle.json: not valid JSON"),
    (b'{"username": "alice"}', 'kaggle.json: expected a JSON object with the strings "username" and "key"'),
    (b'["alice", "secret"]', 'kaggle.json: expected a JSON object with the strings "username" and "key"'),
    (b'{"username": "alice", "key": 42}', 'kaggle.json: expected a JSON object with the strings "username" and "key"'),
    ('{"username": "alice", "key": "s"}'.encode("utf-16"), "kaggle.json: the file is UTF-16-encoded"),
    (b"", "kaggle.json: not valid JSON"),
])
def test_malformed_kaggle_credentials(tmp_path, cache, monkeypatch, content, message):
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle"))
    monkeypatch.setenv("FERPIPE_KAGGLE_API", "http://127.0.0.1:9/never-reached")
    (tmp_path / "kaggle").mkdir()
    (tmp_path / "kaggle" / "kaggle.json").write_bytes(content)
    expect_error(run_fetch(tmp_path, "fer2013", "kaggle:owner/fer2013"), message, fetch_outputs(tmp_path))
