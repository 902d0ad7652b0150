"""Turning `sources.<dataset>` into a local path: a folder or file as is, an archive unpacked,
an http(s) URL or a Kaggle dataset downloaded (sha256-checked) into a local cache first.

Source forms:
- a local folder or file (csv), used in place;
- a local `.zip` / `.tar` / `.tar.gz` / `.tgz` / `.tar.xz` / `.txz` / `.tar.bz2` / `.tbz2` archive, unpacked
  into the cache (if its members fit in the free disk);
- `http://...` or `https://...`, downloaded (needs `fetch.sha256.<dataset>`);
- `kaggle:<owner>/<dataset>`, downloaded with the Kaggle API when credentials exist
  (`~/.kaggle/kaggle.json` or KAGGLE_USERNAME / KAGGLE_KEY; needs `fetch.sha256.<dataset>` too).
"""
from __future__ import annotations

import hashlib
import json
import lzma
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

import requests
from tqdm import tqdm

from ferpipe.core.errors import FerpipeError
from ferpipe.core.memory import size_text
from ferpipe.core.sha256 import sha256_of
from ferpipe.core.textfile import read_text, require_regular
from ferpipe.data.settings import REMOTE_PREFIXES, check_source

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")
KAGGLE_API = "https://www.kaggle.com/api/v1"


def cache_dir() -> Path:
    return Path(os.environ.get("FERPIPE_CACHE", "data/cache"))


def _verify(path: Path, expected: str, what: str, param: str, downloaded: bool) -> None:
    actual = sha256_of(path)
    if actual != expected.lower():
        if downloaded:
            path.unlink()
        raise FerpipeError(f"{what}: sha256 mismatch ({param} = {expected}, the file has {actual})"
                           + ("; the download was removed" if downloaded else ""))


def _kaggle_auth() -> tuple[str, str]:
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return os.environ["KAGGLE_USERNAME"], os.environ["KAGGLE_KEY"]
    config = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle")) / "kaggle.json"
    if not config.is_file():
        raise FerpipeError(f"kaggle source needs credentials: {config} or KAGGLE_USERNAME and KAGGLE_KEY")
    try:
        creds = json.loads(read_text(config))
    except ValueError as exc:
        raise FerpipeError(f"{config}: not valid JSON ({exc})") from exc
    ok = isinstance(creds, dict) and all(isinstance(creds.get(k), str) and creds[k] for k in ("username", "key"))
    if not ok:
        raise FerpipeError(f"{config}: expected a JSON object with the strings \"username\" and \"key\"")
    return creds["username"], creds["key"]


def _download(url: str, target: Path, auth: tuple[str, str] | None = None) -> None:
    part = target.with_name(target.name + ".part")
    try:
        with requests.get(url, stream=True, timeout=60, auth=auth) as resp:
            if resp.status_code != 200:
                raise FerpipeError(f"{url}: download failed with HTTP {resp.status_code}")
            total = int(resp.headers.get("content-length", 0)) or None
            with open(part, "wb") as fh, tqdm(total=total, unit="B", unit_scale=True, desc=target.name) as bar:
                for chunk in resp.iter_content(1 << 20):
                    fh.write(chunk)
                    bar.update(len(chunk))
    except requests.RequestException as exc:
        part.unlink(missing_ok=True)
        raise FerpipeError(f"{url}: download failed ({exc})") from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, target)


def _archive_name(name: str) -> str:
    return name if name.endswith(ARCHIVE_SUFFIXES) else name + ".zip"


def fetch_remote(source: str, sha256: str | None, param: str) -> Path:
    """Download `source` (URL or kaggle:owner/name) into the cache once; return the local file."""
    if source.startswith("kaggle:"):
        slug = source.removeprefix("kaggle:").strip("/")
        base = os.environ.get("FERPIPE_KAGGLE_API", KAGGLE_API)
        url, auth, name = f"{base}/datasets/download/{slug}", _kaggle_auth(), slug.replace("/", "_") + ".zip"
    else:
        url, auth, name = source, None, _archive_name(Path(source.split("?")[0]).name or "download")
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    target = cache_dir() / "downloads" / key / name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        _download(url, target, auth)
    if not sha256:
        raise FerpipeError(f"{param} is not set for the download {url}; the file's sha256 is "
                           f"{sha256_of(target)}: check it against the publisher's and set {param}")
    _verify(target, sha256, url, param, downloaded=True)
    return target


def _safe_members(names: list[str], dest: Path, archive: Path) -> None:
    root = dest.resolve()
    for name in names:
        if not (root / name).resolve().is_relative_to(root):
            raise FerpipeError(f"{archive}: member {name!r} would unpack outside the target folder")


def _require_room(total: int, dest: Path, archive: Path) -> None:
    """The members' total size must fit in the free disk where they unpack, before any is written."""
    free = shutil.disk_usage(dest).free
    if total > free:
        raise FerpipeError(f"{archive}: its members add up to {size_text(total)}, more than the {size_text(free)} "
                           f"free in {dest.parent}")


def _unpack_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        _safe_members(zf.namelist(), dest, archive)
        _require_room(sum(info.file_size for info in zf.infolist()), dest, archive)
        bad = zf.testzip()  # reads every member to its end and checks its CRC
        if bad is not None:
            raise FerpipeError(f"{archive}: damaged archive: member {bad!r} fails its CRC check")
        zf.extractall(dest)


def _unpack_tar(archive: Path, dest: Path) -> None:
    """Unpack every member, then read the rest of the (decompressed) stream to its end.

    `tarfile` takes the first block that is not a valid header as the end of the archive, so a
    damaged block silently cuts the member list short: what follows the last member must be the
    end-of-archive zero blocks. Reading to the end also makes gzip / xz / bz2 check their trailer
    (CRC and length) and fail on a truncated stream.
    """
    with tarfile.open(archive) as tf:
        _require_room(sum(member.size for member in tf.getmembers()), dest, archive)
        tf.extractall(dest, filter="data")
        stream = tf.fileobj
        stream.seek(tf.offset)
        zeros = 0
        for block in iter(lambda: stream.read(1 << 20), b""):
            if block.count(0) != len(block):
                raise FerpipeError(f"{archive}: damaged archive: unreadable data after member "
                                   f"{len(tf.getmembers())} (tar header broken or file corrupted)")
            zeros += len(block)
        if zeros == 0:
            raise FerpipeError(f"{archive}: damaged archive: it ends without the end-of-archive marker (truncated?)")


def unpack(archive: Path) -> Path:
    """Unpack an archive into the cache (once per archive content); return the folder.

    The archive is read whole and checked (CRCs, the compression trailer, the tar end marker) while
    it unpacks into a temporary folder, which is renamed into place only when all of it was good:
    a damaged archive is an error naming it, never a partial dataset, and is never cached.
    """
    dest = cache_dir() / "unpacked" / sha256_of(archive)[:16]
    if (dest / ".verified").is_file():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        if archive.name.endswith(".zip"):
            _unpack_zip(archive, work)
        else:
            _unpack_tar(archive, work)
        (work / ".verified").touch()
        work.chmod(0o755)  # mkdtemp makes it owner-only; the cache is read like any unpacked folder
        os.replace(work, dest)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
        if (dest / ".verified").is_file():  # another process unpacked the same archive meanwhile
            return dest
        raise FerpipeError(f"{archive}: cannot unpack ({type(exc).__name__}: {exc})") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def materialize(dataset: str, sources: dict, sha256s: dict, params_file: str) -> Path:
    """The local folder or file holding `dataset`, downloading and unpacking as needed.

    `params_file` is the params file the sources and hashes come from, named in messages."""
    source = check_source(dataset, sources, params_file)
    sha_param = f"fetch.sha256.{dataset} in {params_file}"
    if source.startswith(REMOTE_PREFIXES):
        path = fetch_remote(source, (sha256s or {}).get(dataset), sha_param)
    else:
        path = Path(source).expanduser()
        if not path.is_dir():
            require_regular(path, "a dataset folder, a csv file or an archive")
        if path.is_file() and (sha256s or {}).get(dataset):
            _verify(path, sha256s[dataset], str(path), sha_param, downloaded=False)
    return unpack(path) if path.is_file() and path.name.endswith(ARCHIVE_SUFFIXES) else path
