"""`python -m ferpipe serve` on the demo LeNet's export: the JSON API (status codes, schema, caps, load),
and the page in a real headless Chromium (Debian's, driven by Selenium through chromium-driver): the
model card, a photo of demo faces labelled as `predict --json` labels it, the webcam fed by Chromium's
fake camera from a .y4m video of a demo face, and the error states.

One server process serves the module (started once: its start-up is most of the cost); the busy
state runs on a second, in-process server whose model is a stand-in that waits to be released, so
that a full queue is reached for certain, not by timing."""
from __future__ import annotations

import io
import json
import os
import queue
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image
from support.stage_runs import REPO, run_main

from ferpipe import __main__ as ferpipe_command
from support.browser import CHROMEDRIVER, CHROMIUM, chromium_with_fake_camera
from support.face_video import demo_faces_photo, write_demo_face_y4m

pytestmark = pytest.mark.slow
MAX_BYTES, MAX_PIXELS = 1_000_000, 4_000_000  # the served caps, small enough to test cheaply
TRAINING_STACK = ("tensorflow", "keras", "sklearn", "scipy", "tf2onnx", "skl2onnx", "skops")
# The server as `python -m ferpipe serve` runs in a terminal (Ctrl-C raises KeyboardInterrupt even where the
# test's own shell ignores SIGINT), telling on exit which modules of the training stack it loaded.
SERVER = ("import signal, sys\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
          "from ferpipe.__main__ import main\ntry:\n    main(['serve', *sys.argv[1:]])\nfinally:\n"
          f"    print('loaded:', sorted({{m.split('.')[0] for m in sys.modules}} & set({TRAINING_STACK!r})), "
          "file=sys.stderr)")


def wait_for_line(proc: subprocess.Popen, prefix: str, seconds: float = 180) -> list[str]:
    """The lines `proc` prints on stdout up to one starting with `prefix` (read by a thread: a pipe's buffered
    reader may hold several lines that a poll of the pipe no longer sees)."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in iter(proc.stdout.readline, "")], daemon=True).start()
    seen, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            seen.append(lines.get(timeout=1).rstrip("\n"))
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        if seen[-1].startswith(prefix):
            return seen
    proc.kill()
    raise AssertionError(f"no {prefix!r} line: {seen} {proc.stderr.read()[-3000:]}")


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("serve_photos")
    demo_faces_photo(folder / "demo_faces.png")
    Image.new("RGB", (240, 180), (120, 130, 140)).save(folder / "wall.png")  # no face
    (folder / "notes.txt").write_text("not a photo\n")
    return folder


@pytest.fixture(scope="module")
def served(demo_export, tmp_path_factory):
    """(url, process, its start-up lines) of `serve` on the demo export, on a free port of 127.0.0.1."""
    cwd = tmp_path_factory.mktemp("serve")
    proc = subprocess.Popen([sys.executable, "-c", SERVER, "--export", str(demo_export), "--port", "0",
                             "--max-bytes", str(MAX_BYTES), "--max-pixels", str(MAX_PIXELS), "--queue", "4"],
                            cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = wait_for_line(proc, "open ")
    yield lines[-1].split()[1], proc, lines
    if proc.poll() is None:
        proc.kill()
        proc.communicate(timeout=30)


def url_of(served) -> str:
    return served[0]


def predict_json(photo: Path, export: Path, head: str) -> list[dict]:
    """The faces `python -m ferpipe predict --json` gives for `photo`."""
    done = run_main(ferpipe_command.main, ["predict", "--json", photo, "--export", export, "--head", head], photo.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)["photos"][0]["faces"]


def post(url: str, data: bytes, name: str = "photo.png", kind: str = "image/png", **kw) -> requests.Response:
    return requests.post(url + "api/predict", files={"file": (name, data, kind)}, timeout=60, **kw)


def assert_error(response: requests.Response, status: int, message: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"] == "application/json"
    doc = response.json()
    assert list(doc) == ["error"] and message in doc["error"], doc
    assert "Traceback" not in response.text


# ---- the API ----

def test_it_says_which_model_it_serves_on_127_0_0_1(served, demo_export):
    url, _, lines = served
    assert lines[0] == (f"serving {demo_export} (lenet trained on demo; test accuracy softmax "
                        f"{json.loads((demo_export / 'model_card.json').read_text())['test_accuracy']['softmax']:.3f}, "
                        f"svm {json.loads((demo_export / 'model_card.json').read_text())['test_accuracy']['svm']:.3f})")
    assert url.startswith("http://127.0.0.1:") and "Ctrl-C stops it" in lines[-1] and len(lines) == 2


def test_model_health_docs_and_page(served, demo_export):
    url = url_of(served)
    card = requests.get(url + "api/model", timeout=30).json()
    assert card["folder"] == str(demo_export) and card["heads"] == ["softmax", "svm"]
    assert card["card"] == json.loads((demo_export / "model_card.json").read_text())
    assert card["limits"] == {"max_bytes": MAX_BYTES, "max_pixels": MAX_PIXELS}
    assert set(card) == {"folder", "description", "commit", "heads", "probability_notes", "limits", "card"}
    assert requests.get(url + "healthz", timeout=30).json() == {"status": "ok", "admitted": 0, "limit": 6, "workers": 2}
    docs = requests.get(url + "docs", timeout=30)
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text and "cdn." not in docs.text
    assert requests.get(url.rstrip("/") + docs.text.split('src="')[1].split('"')[0], timeout=30).status_code == 200
    assert "/api/predict" in requests.get(url + "openapi.json", timeout=30).json()["paths"]
    page = requests.get(url, timeout=30)
    assert page.status_code == 200 and "<title>ferpipe" in page.text
    assert requests.get(url + "static/app.js", timeout=30).status_code == 200


def test_each_head_gives_the_faces_of_predict_json(served, demo_export, photos):
    photo = photos / "demo_faces.png"
    doc = post(url_of(served), photo.read_bytes(), photo.name).json()
    assert set(doc) == {"model", "photo", "width", "height", "classes", "heads", "seconds"}
    assert (doc["photo"], doc["width"], doc["height"]) == ("demo_faces.png", 640, 160)
    for head in ("softmax", "svm"):
        expected = predict_json(photo, demo_export, head)
        assert len(expected) == 4 and doc["heads"][head]["faces"] == expected
    assert doc["heads"]["svm"]["probabilities"] == json.loads((demo_export / "model_card.json").read_text())["svm"]["probabilities"]
    raw = requests.post(url_of(served) + "api/predict?head=svm", data=photo.read_bytes(), timeout=60,
                        headers={"Content-Type": "image/png", "X-Filename": "raw.png"}).json()
    assert list(raw["heads"]) == ["svm"] and raw["heads"]["svm"] == doc["heads"]["svm"] and raw["photo"] == "raw.png"


def test_a_photo_without_a_face_has_no_faces(served, photos):
    doc = post(url_of(served), (photos / "wall.png").read_bytes()).json()
    assert [h["faces"] for h in doc["heads"].values()] == [[], []]


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels in 60 bytes: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def image_bytes(size: tuple[int, int], fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("L", size, 128).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("send, status, message", [
    (lambda url: post(url, b""), 400, "empty upload"),
    (lambda url: post(url, b"not a photo\n", "notes.png"), 415, "notes.png: not an image this server reads"),
    (lambda url: post(url, image_bytes((200, 200)), "a.txt", "text/plain"), 415, "content type 'text/plain' is not"),
    (lambda url: requests.post(url + "api/predict", data=b"x" * 100, headers={"Content-Type": "text/plain"},
                               timeout=60), 415, "content type 'text/plain': send an image"),
    (lambda url: post(url, image_bytes((640, 480), "JPEG")[:800], "cut.jpg", "image/jpeg"), 422,
     "cut.jpg: corrupt or unreadable image"),
    (lambda url: post(url, image_bytes((12, 12))), 422, "smaller than the 20 px minimum"),
    (lambda url: post(url, np.random.default_rng(0).bytes(MAX_BYTES + 1)), 413, f"more than the limit of {MAX_BYTES:,}"),
    (lambda url: post(url, image_bytes((2500, 2000))), 413, f"2500x2000 px, more than the limit of {MAX_PIXELS:,} pixels"),
    (lambda url: post(url, png_header_only(60000, 60000), "bomb.png"), 413, "bomb.png: refused as a decompression bomb"),
    (lambda url: post(url, png_header_only(3000, 3000), "big.png"), 413, "3000x3000 px, more than the limit"),
    (lambda url: requests.post(url + "api/predict", files=[("a", ("a.png", image_bytes((40, 40)), "image/png")),
                                                           ("b", ("b.png", image_bytes((40, 40)), "image/png"))],
                               timeout=60), 400, "must hold one file"),
    (lambda url: requests.post(url + "api/predict", files={"file": (None, "text")}, timeout=60), 400,
     "must hold one file"),
    (lambda url: requests.post(url + "api/predict?head=lbp", data=image_bytes((40, 40)),
                               headers={"Content-Type": "image/png"}, timeout=60), 400, "query.head"),
    (lambda url: requests.get(url + "api/predict", timeout=60), 405, "Method Not Allowed"),
    (lambda url: requests.get(url + "static/%2e%2e/%2e%2e/etc/passwd", timeout=60), 404, "Not Found"),
    (lambda url: requests.get(url + "nothing", timeout=60), 404, "Not Found"),
])
def test_bad_input_is_one_json_error(served, send, status, message):
    assert_error(send(url_of(served)), status, message)


def test_20_parallel_requests_are_answered_or_refused_none_lost(served, photos):
    url, data = url_of(served), (photos / "demo_faces.png").read_bytes()
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: post(url, data, "demo_faces.png"), range(20)))
    assert len(answers) == 20 and {r.status_code for r in answers} <= {200, 503}
    done = [r.json() for r in answers if r.status_code == 200]
    busy = [r for r in answers if r.status_code == 503]
    assert done and all(d["heads"] == done[0]["heads"] for d in done)
    for r in busy:
        assert_error(r, 503, "the server is busy")
        assert r.headers["Retry-After"] == "1"
    assert requests.get(url + "healthz", timeout=30).json()["admitted"] == 0


# ---- the queue, certain to be full: a stand-in model that waits ----

class WaitingModel:
    heads = ("softmax",)

    def __init__(self, card: dict):
        self.card, self.release, self.calls = card, threading.Event(), 0

    def describe(self) -> str:
        return "a stand-in model"

    def model_card(self, limits) -> dict:
        return {"folder": "stand-in", "description": self.describe(), "commit": None, "heads": list(self.heads),
                "probability_notes": {"softmax": "the network's softmax", "svm": "-"},
                "limits": {"max_bytes": limits.max_bytes, "max_pixels": limits.max_pixels}, "card": self.card}

    def predict(self, data, name, heads, limits) -> dict:
        self.calls += 1
        assert self.release.wait(60)
        return {"model": "stand-in", "photo": name, "width": 40, "height": 40, "classes": self.card["classes"],
                "heads": {"softmax": {"probabilities": "softmax", "probabilities_note": "-", "faces": []}}, "seconds": {}}


@pytest.fixture
def waiting_server(demo_export, request):
    import uvicorn

    from ferpipe.serve.app import create_app
    from ferpipe.serve.server import bound_socket, url_of as server_url
    from ferpipe.serve.limits import Capacity, Limits

    model = WaitingModel(json.loads((demo_export / "model_card.json").read_text()))
    sock = bound_socket("127.0.0.1", 0)
    app = create_app(model, Limits(), Capacity(workers=1, queue=1), connections=getattr(request, "param", None))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = server_url(sock)
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield url, model
    model.release.set()
    server.should_exit = True
    thread.join(30)
    sock.close()


def admitted(url: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while requests.get(url + "healthz", timeout=10).json()["admitted"] != count:
        assert time.monotonic() < deadline, "requests not admitted"
        time.sleep(0.05)


def test_a_full_queue_answers_503_with_retry_after(waiting_server):
    url, model = waiting_server
    data = image_bytes((40, 40))
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(post, url, data) for _ in range(2)]  # one on the worker, one in the queue
        admitted(url, 2)
        refused = post(url, data)
        assert_error(refused, 503, "the server is busy (2 requests in hand, 1 at a time)")
        assert refused.headers["Retry-After"] == "1"
        model.release.set()
        assert [f.result().status_code for f in held] == [200, 200]
    assert model.calls == 2 and post(url, data).status_code == 200


@pytest.mark.parametrize("waiting_server", [2], indirect=True)
def test_requests_beyond_the_connection_bound_are_refused_before_their_body_is_read(waiting_server):
    url, model = waiting_server
    data = image_bytes((40, 40))
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(post, url, data) for _ in range(2)]
        admitted(url, 2)  # /healthz is answered beyond the bound
        refused = requests.get(url + "api/model", timeout=30)
        assert_error(refused, 503, "the server is busy (2 requests open)")
        assert refused.headers["Retry-After"] == "1"
        model.release.set()
        assert [f.result().status_code for f in held] == [200, 200]
    assert requests.get(url + "api/model", timeout=30).status_code == 200


# ---- the command's own checks, in this process (no model is loaded) ----

def test_host_0000_is_said_and_a_missing_export_is_one_error(tmp_path):
    done = run_main(ferpipe_command.main, ["serve", "--host", "0.0.0.0", "--port", "0", "--export", "none"], tmp_path)
    assert done.stdout.startswith("warning: --host 0.0.0.0: listening beyond this machine")
    assert done.returncode == 1 and done.stderr == "error: none: no model_card.json; run the export stage (dvc repro export)\n"
    done = run_main(ferpipe_command.main, ["serve", "--port", "70000"], tmp_path)
    assert done.returncode == 1 and "--port must be 0..65535" in done.stderr


def test_the_default_export_is_the_shipped_network_where_it_is_there(tmp_path):
    from ferpipe.serve.engine import default_export

    assert default_export(tmp_path) == Path("data/export")
    (tmp_path / "models" / "fer2013-resnet50").mkdir(parents=True)
    (tmp_path / "models" / "fer2013-resnet50" / "model_card.json").write_text("{}")
    assert default_export(tmp_path) == Path("models/fer2013-resnet50")


def test_the_commit_is_the_last_that_changed_the_served_folder(tmp_path):
    from ferpipe.serve.engine import commit_of

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "model_card.json").write_text("{}")
    git("add", "export")
    git("commit", "-qm", "export")
    first = git("rev-parse", "HEAD")
    (tmp_path / "other.txt").write_text("later\n")
    git("add", "other.txt")
    git("commit", "-qm", "later")
    commit = commit_of(tmp_path / "export")
    assert (commit["hash"], commit["from"], commit["uncommitted_changes"]) == (first, "export", False)
    (tmp_path / "export" / "model_card.json").write_text("{ }")
    assert commit_of(tmp_path / "export")["uncommitted_changes"] is True


def test_a_taken_port_is_one_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        from ferpipe.serve.server import bound_socket
        from ferpipe.core.errors import FerpipeError

        with pytest.raises(FerpipeError, match="cannot listen there"):
            bound_socket("127.0.0.1", taken.getsockname()[1])


# ---- the page, in Chromium ----

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium with a fake camera playing a .y4m of a demo face (the page's permission to use it is
    granted by the test that starts it: until then the camera is refused, as a person may refuse it)."""
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are missing: .ci/run installs them (apt-get install chromium chromium-driver)")
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    video = write_demo_face_y4m(tmp_path_factory.mktemp("camera") / "face.y4m")
    driver = chromium_with_fake_camera(video, "--window-size=1280,1000")
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_until(driver, condition, seconds: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.1).until(lambda d: condition(d))


def by_id(driver, name: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, name)


def css(node, selector: str) -> list:
    from selenium.webdriver.common.by import By

    return node.find_elements(By.CSS_SELECTOR, selector)


def open_page(driver, url: str) -> None:
    driver.get(url)
    wait_until(driver, lambda d: css(d, "#card dd"))


def test_the_page_shows_the_model_card(browser, served, demo_export):
    open_page(browser, url_of(served))
    card = json.loads((demo_export / "model_card.json").read_text())
    assert by_id(browser, "model-line").text.startswith(f"Model: {demo_export} (lenet trained on demo")
    fields = {dd.get_attribute("data-field"): dd.text for dd in css(browser, "#card dd")}
    assert fields["Dataset content hash"] == card["dataset"]["content_hash"]
    assert fields["Test accuracy"] == (f"softmax {100 * card['test_accuracy']['softmax']:.1f}%, "
                                       f"SVM {100 * card['test_accuracy']['svm']:.1f}%")
    assert fields["Training precision"] == "float32" and fields["Trained on"] == "demo"
    assert fields["Commit"] == "not in a Git repository"  # the fixture's export lies in a temporary folder


def test_an_uploaded_photo_shows_the_labels_and_probabilities_of_predict_json(browser, served, demo_export, photos,
                                                                               tmp_path):
    photo = photos / "demo_faces.png"
    open_page(browser, url_of(served))
    by_id(browser, "file-input").send_keys(str(photo))
    article = wait_until(browser, lambda d: [a for a in css(d, ".photo-result") if a.get_attribute("data-state")])[0]
    assert article.get_attribute("data-state") == "done"
    browser.save_screenshot(str(tmp_path / "serve_photo.png"))
    faces = css(article, ".face")
    assert [b.text.split()[1] for b in css(article, ".box-label")] == [f.text for f in css(article, ".predicted")]
    for head in ("softmax", "svm"):
        expected = predict_json(photo, demo_export, head)
        assert len(faces) == len(expected) == 4
        for face, want in zip(faces, expected):
            assert json.loads(face.get_attribute("data-box")) == want["box"]
            rows = css(face, f'.head[data-head="{head}"] .bar')
            assert [r.get_attribute("data-class") for r in rows] == list(want["probabilities"])
            for row in rows:
                p = want["probabilities"][row.get_attribute("data-class")]
                assert float(row.get_attribute("data-p")) == p
                assert abs(float(css(row, ".val")[0].text) - p) <= 0.0005 + 1e-9  # shown to 3 decimals
            assert css(face, f'.head[data-head="{head}"] .bar.top')[0].get_attribute("data-class") == want["predicted"]
        assert [f.text for f in css(article, ".predicted")] == [w["predicted"] for w in predict_json(photo, demo_export, "softmax")]


def test_the_error_states_show(browser, served, photos):
    open_page(browser, url_of(served))
    by_id(browser, "file-input").send_keys(str(photos / "notes.txt"))
    wait_until(browser, lambda d: css(d, '.photo-result[data-state="error"]'))
    assert by_id(browser, "status").text == "notes.txt: content type 'text/plain' is not an image type"
    by_id(browser, "file-input").send_keys(str(photos / "wall.png"))
    wait_until(browser, lambda d: css(d, '.photo-result[data-state="no-face"]'))
    assert by_id(browser, "status").text == "No face found in wall.png."
    assert "No face found in wall.png" in css(browser, '.photo-result[data-state="no-face"] .no-face')[0].text
    by_id(browser, "mode-webcam").click()
    by_id(browser, "camera-start").click()  # not granted yet: headless Chromium refuses it
    wait_until(browser, lambda d: by_id(d, "webcam-panel").get_attribute("data-camera") == "refused")
    assert by_id(browser, "status").text.startswith("The camera was refused")


def test_webcam_mode_shows_live_labels(browser, served, tmp_path):
    url = url_of(served)
    open_page(browser, url)
    browser.execute_cdp_cmd("Browser.grantPermissions", {"permissions": ["videoCapture"], "origin": url.rstrip("/")})
    by_id(browser, "mode-webcam").click()
    by_id(browser, "camera-start").click()
    wait_until(browser, lambda d: int(by_id(d, "live-fps").get_attribute("data-frames")) >= 5)
    # Read in one script: the list is redrawn with every answer, so a node found now may be gone next.
    labels = wait_until(browser, lambda d: d.execute_script(
        "return [...document.querySelectorAll('#live-labels .live-face')].map(li => [li.dataset.predicted, li.textContent])"))
    classes = requests.get(url + "api/model", timeout=30).json()["card"]["classes"]
    predicted, text = labels[0]
    assert predicted in classes and re.fullmatch(rf"Face 1: {predicted} [01]\.\d\d", text), labels
    assert by_id(browser, "status").text == ""
    assert by_id(browser, "live-fps").text.endswith(" frames/s")
    browser.save_screenshot(str(tmp_path / "serve_webcam.png"))
    by_id(browser, "camera-stop").click()
    assert by_id(browser, "webcam-panel").get_attribute("data-camera") == "off"


def test_the_page_says_when_the_server_is_busy(browser, waiting_server, photos):
    url, model = waiting_server
    open_page(browser, url)
    hold = threading.Thread(target=post, args=(url, image_bytes((40, 40))))
    hold.start()
    admitted(url, 1)
    blocker = threading.Thread(target=post, args=(url, image_bytes((40, 40))))
    blocker.start()
    admitted(url, 2)  # the worker and the queue are both taken
    by_id(browser, "file-input").send_keys(str(photos / "wall.png"))
    wait_until(browser, lambda d: by_id(d, "status").get_attribute("data-kind") == "busy")
    assert by_id(browser, "status").text.startswith("The server is busy (503)")
    model.release.set()  # the page tries again after Retry-After, and gets its answer
    wait_until(browser, lambda d: css(d, '.photo-result[data-state="no-face"]'))
    hold.join(30)
    blocker.join(30)


# ---- last: the module's server stops ----

def test_ctrl_c_stops_it_in_one_line_and_it_never_loaded_the_training_stack(served):
    _, proc, _ = served
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and out == ""
    assert err.splitlines() == ["interrupted", "loaded: []"]  # the second line is the test's wrapper's
