"""How fast `python -m ferpipe serve` answers: a benchmark, not a test.

Starts the server as a user does (a child process, `--port 0`), then measures:
- start-up: from launching the process to its `open http://...` line (interpreter, PyTorch, MTCNN, the export);
- latency: --n requests one after another of one 640x480 JPEG with one face (the astronaut's head on a
  scikit-image scene), both heads: p50 and p95 in ms, as the client sees them;
- requests/s: the same photo from --clients clients at once for --n requests in all (answers 200 and 503 counted);
- webcam frames/s: the page in headless Chromium (Debian's chromium and chromium-driver) with the fake
  camera playing a 640x480 .y4m of a demo face, for --webcam-seconds: frames answered and drawn a second,
  end to end (grab, downscale to 320 px, JPEG, POST, draw); without Chromium, the same 320x240 frames sent
  by a Python client one at a time instead (said so);
- memory: the server's resident set after start-up and at its peak (VmHWM) after the load.

    python benchmarks/serve_speed.py                       # the default export (models/fer2013-resnet50 or data/export)
    python benchmarks/serve_speed.py --export path/to/export --n 50 --out benchmarks/results/serve_speed_cpu.txt
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import queue
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# The tests' shared helpers (tests/support/) are no part of the installed package: reached from this checkout.
sys.path.insert(0, str(REPO / "tests"))

from support.face_video import write_demo_face_y4m  # noqa: E402

WIDTH, HEIGHT = 640, 480


def one_face_photo() -> bytes:
    """A 640x480 JPEG: the astronaut's head (200 px tall) on scikit-image's coffee scene."""
    import cv2
    from PIL import Image
    from skimage import data

    photo = cv2.resize(data.coffee(), (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    head = data.astronaut()[0:250, 120:320]
    photo[140:340, 240:400] = cv2.resize(head, (160, 200), interpolation=cv2.INTER_AREA)
    out = io.BytesIO()
    Image.fromarray(photo).save(out, format="JPEG", quality=90)
    return out.getvalue()


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def memory_mib(pid: int) -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}


def start_server(export: str | None, extra: list[str]) -> tuple[subprocess.Popen, str, float]:
    started = time.perf_counter()
    args = [sys.executable, "-m", "ferpipe", "serve", "--port", "0", *(["--export", export] if export else []), *extra]
    proc = subprocess.Popen(args, cwd=REPO, text=True, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in iter(proc.stdout.readline, "")], daemon=True).start()
    while True:
        line = lines.get(timeout=300)
        print("  server:", line.rstrip())
        if line.startswith("open "):
            return proc, line.split()[1], time.perf_counter() - started


def post(url: str, data: bytes, kind: str = "image/jpeg", query: str = "") -> tuple[int, float]:
    import requests

    started = time.perf_counter()
    response = requests.post(url + "api/predict" + query, data=data, headers={"Content-Type": kind}, timeout=120)
    return response.status_code, time.perf_counter() - started


def webcam_in_chromium(url: str, seconds: float, folder: Path) -> float | None:
    from support.browser import CHROMEDRIVER, CHROMIUM, chromium_with_fake_camera

    if not (CHROMIUM and CHROMEDRIVER):
        return None
    from selenium.webdriver.common.by import By

    video = write_demo_face_y4m(folder / "face.y4m", frames=60, width=WIDTH, height=HEIGHT)
    driver = chromium_with_fake_camera(video, "--use-fake-ui-for-media-stream")
    try:
        driver.get(url)
        driver.find_element(By.ID, "mode-webcam").click()
        driver.find_element(By.ID, "camera-start").click()
        frames = lambda: int(driver.find_element(By.ID, "live-fps").get_attribute("data-frames"))  # noqa: E731
        deadline = time.monotonic() + 60
        while frames() < 3 and time.monotonic() < deadline:  # warmed up
            time.sleep(0.1)
        first, started = frames(), time.perf_counter()
        time.sleep(seconds)
        return (frames() - first) / (time.perf_counter() - started)
    finally:
        driver.quit()


def webcam_by_client(url: str, seconds: float) -> float:
    """320x240 JPEG frames of a demo face sent one at a time, the page's loop without a browser."""
    import cv2

    from ferpipe.data.sources.demo_faces import demo_faces_at

    frame = np.full((240, 320, 3), 90, np.uint8)
    frame[60:180, 100:220] = demo_faces_at(7, 1, 120, [3])[3][0]
    jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))[1].tobytes()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        count += post(url, jpeg, query="?head=softmax")[0] == 200
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", help="export folder (default: serve's own default)")
    parser.add_argument("--n", type=int, default=60, help="requests for latency, and again for requests/s")
    parser.add_argument("--clients", type=int, default=4, help="clients at once for requests/s")
    parser.add_argument("--webcam-seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args()

    report = [f"serve speed, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", f"machine: {machine()}",
              f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"]
    photo = one_face_photo()
    proc, url, startup = start_server(args.export, [])
    try:
        rss_start = memory_mib(proc.pid)["VmRSS"]
        post(url, photo)  # warm-up
        latencies = [post(url, photo)[1] for _ in range(args.n)]
        with ThreadPoolExecutor(args.clients) as pool:
            started = time.perf_counter()
            answers = list(pool.map(lambda _: post(url, photo), range(args.n)))
            elapsed = time.perf_counter() - started
        ok = sum(code == 200 for code, _ in answers)
        with tempfile.TemporaryDirectory() as folder:
            fps = webcam_in_chromium(url, args.webcam_seconds, Path(folder))
        how = "the page in headless Chromium, fake camera, 640x480 video sent at 320x240"
        if fps is None:
            fps, how = webcam_by_client(url, args.webcam_seconds), "no Chromium: a Python client sending 320x240 JPEGs"
        memory = memory_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)
    ms = np.array(latencies) * 1000
    report += [
        f"export: {args.export or 'serve default'}; server start-up to its address line: {startup:.1f} s",
        f"latency, one 640x480 JPEG with one face, both heads, {args.n} requests one at a time: "
        f"p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms",
        f"requests/s, {args.clients} clients at once, {args.n} requests: {ok / elapsed:.1f} answered "
        f"({ok} x 200, {args.n - ok} x 503)",
        f"webcam frames/s end to end ({how}): {fps:.1f}",
        f"memory: {rss_start:.0f} MiB resident after start-up, peak {memory['VmHWM']:.0f} MiB",
        f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]
    text = "\n".join(report)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
