"""ferpipe.nn.backend, in child processes: Keras reads its backend once per process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_torchvision_loads_in_a_process_running_keras_on_tensorflow():
    # MTCNN (facenet-pytorch) needs torchvision; the predict command and the generalize stage run it beside Keras
    code = ("from ferpipe.nn.backend import select_backend; select_backend('tensorflow'); "
            "import keras, tensorflow, torchvision, facenet_pytorch; print('loaded')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0 and done.stdout.strip() == "loaded", (done.returncode, done.stderr[-2000:])
