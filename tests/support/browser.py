"""Headless Debian Chromium driven by Selenium, with a fake camera playing a .y4m file: the browser of
`serve`'s page tests and of its webcam benchmark."""
from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def chromium_with_fake_camera(video: Path, *extra_args: str):
    """A Selenium Chrome driver on Debian's chromium whose camera plays `video`; `extra_args` are added
    to Chromium's command line (e.g. --use-fake-ui-for-media-stream, which grants the camera at once)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={video}", *extra_args):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
