"""Downloading and unpacking sources, against an HTTP server on 127.0.0.1 that the test starts."""
from __future__ import annotations

import base64
import hashlib
import http.server
import shutil
import tarfile
import threading
from pathlib import Path

import pytest
from support.builders import write_fer_csv, write_genki
from test_fetch import fetch, params_for

from ferpipe.core.errors import FerpipeError
from ferpipe.data.sources.download import materialize


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Serve tmp_path/www on 127.0.0.1; yields (www folder, base URL, list of requests seen)."""
    www = tmp_path / "www"
    www.mkdir()
    seen = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(www), **kwargs)

        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            if self.path.startswith("/api/v1/datasets/download/"):
                if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"alice:secret").decode():
                    self.send_error(401)
                    return
                self.path = "/" + self.path.rsplit("/", 1)[-1] + ".zip"
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("FERPIPE_CACHE", str(tmp_path / "cache"))
    yield www, f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_zip_download_is_checked_unpacked_cached_and_loaded(tmp_path, served):
    www, base, seen = served
    write_genki(tmp_path / "src" / "GENKI-4K", n=20)
    archive = Path(shutil.make_archive(str(www / "genki"), "zip", tmp_path / "src"))
    params = params_for("genki4k", f"{base}/genki.zip")
    params["fetch"]["sha256"]["genki4k"] = sha256(archive)
    metrics, ds = fetch(tmp_path, params)
    assert len(ds) == 20
    fetch(tmp_path / "again", params)
    assert len([p for p, _ in seen if p == "/genki.zip"]) == 1  # second run used the cache


def test_tar_gz_download(tmp_path, served):
    www, base, _ = served
    write_fer_csv(tmp_path / "fer2013.csv", {"Training": 1, "PublicTest": 1, "PrivateTest": 1})
    with tarfile.open(www / "fer.tar.gz", "w:gz") as tf:
        tf.add(tmp_path / "fer2013.csv", arcname="fer2013/fer2013.csv")
    params = params_for("fer2013", f"{base}/fer.tar.gz")
    params["fetch"]["sha256"]["fer2013"] = sha256(www / "fer.tar.gz")
    assert fetch(tmp_path, params)[0]["counts"]["val"]["total"] == 7


def test_sha256_mismatch_fails_and_removes_the_download(tmp_path, served):
    www, base, _ = served
    (www / "data.zip").write_bytes(b"PK-not-really")
    params = params_for("genki4k", f"{base}/data.zip")
    params["fetch"]["sha256"]["genki4k"] = "0" * 64
    with pytest.raises(FerpipeError, match="sha256 mismatch") as err:
        fetch(tmp_path, params)
    assert "fetch.sha256.genki4k" in str(err.value) and sha256(www / "data.zip") in str(err.value)
    assert not list((tmp_path / "cache" / "downloads").rglob("data.zip*"))
    assert not (tmp_path / "out" / "dataset").exists()


def test_missing_sha256_fails_and_tells_the_actual_one(tmp_path, served):
    www, base, _ = served
    (www / "data.zip").write_bytes(b"some bytes")
    with pytest.raises(FerpipeError, match=sha256(www / "data.zip")):
        fetch(tmp_path, params_for("genki4k", f"{base}/data.zip"))


def test_http_error_is_reported(tmp_path, served):
    _, base, _ = served
    params = params_for("genki4k", f"{base}/absent.zip")
    params["fetch"]["sha256"]["genki4k"] = "0" * 64
    with pytest.raises(FerpipeError, match="HTTP 404"):
        fetch(tmp_path, params)


def test_kaggle_source_uses_credentials(tmp_path, served, monkeypatch):
    www, base, seen = served
    write_genki(tmp_path / "src" / "GENKI-4K", n=20)
    archive = Path(shutil.make_archive(str(www / "genki4k"), "zip", tmp_path / "src"))
    monkeypatch.setenv("FERPIPE_KAGGLE_API", f"{base}/api/v1")
    params = params_for("genki4k", "kaggle:someone/genki4k")
    params["fetch"]["sha256"]["genki4k"] = sha256(archive)
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-kaggle"))
    with pytest.raises(FerpipeError, match="credentials"):
        fetch(tmp_path, params)
    monkeypatch.setenv("KAGGLE_USERNAME", "alice")
    monkeypatch.setenv("KAGGLE_KEY", "secret")
    assert len(fetch(tmp_path, params)[1]) == 20
    assert ("/api/v1/datasets/download/someone/genki4k", "Basic " + base64.b64encode(b"alice:secret").decode()) in seen


def test_local_archive_is_unpacked_and_checked_when_a_sha256_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv("FERPIPE_CACHE", str(tmp_path / "cache"))
    write_genki(tmp_path / "src" / "g", n=20)
    archive = Path(shutil.make_archive(str(tmp_path / "g"), "zip", tmp_path / "src"))
    unpacked = materialize("genki4k", {"genki4k": str(archive)}, {}, "params.yaml")
    assert (unpacked / "g" / "labels.txt").is_file()
    assert unpacked.stat().st_mode & 0o777 == 0o755  # readable like any unpacked folder, not owner-only
    with pytest.raises(FerpipeError, match="sha256 mismatch"):
        materialize("genki4k", {"genki4k": str(archive)}, {"genki4k": "f" * 64}, "params.yaml")
    assert archive.is_file()  # a user's own file is never deleted


def test_archive_escaping_its_folder_is_refused(tmp_path, monkeypatch):
    import zipfile
    monkeypatch.setenv("FERPIPE_CACHE", str(tmp_path / "cache"))
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zf:
        zf.writestr("../../escape.txt", "x")
    with pytest.raises(FerpipeError, match="outside"):
        materialize("genki4k", {"genki4k": str(tmp_path / "evil.zip")}, {}, "params.yaml")
