"""The CUDA shims of ferpipe/nn/torch_cuda.py, checked on the CPU (forced on; the training loop applies
them only with a CUDA device): the same training steps, and no read-back of a device value in a step.

Keras runs on torch in a child process (this file run as a script), apart from the tests that run
Keras on TensorFlow."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def child(tmp: Path) -> tuple[dict, dict]:
    """The same steps without the shims, then with them, in one process (one start of Keras on torch)."""
    env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, __file__, str(tmp)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    plain, shimmed = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    return plain, shimmed


@pytest.mark.slow
def test_shims_train_the_same_without_reading_device_values_back(tmp_path):
    plain, shimmed = child(tmp_path)
    assert plain["applied"] == [] and len(shimmed["applied"]) == 3 and shimmed["restored"]
    assert plain["reads_per_step"] >= 1 and shimmed["reads_per_step"] == 0  # Keras' SGD reads the rate back
    np.testing.assert_allclose(shimmed["losses"], plain["losses"], rtol=1e-5)
    before, after = np.load(tmp_path / "weights_False.npy"), np.load(tmp_path / "weights_True.npy")
    assert np.linalg.norm(after - before) < 1e-5 * np.linalg.norm(before)


def train_steps(weights_file: str, shims: bool) -> None:
    """Five steps of the paper's LeNet (convolutions, pooling; SGD with Nesterov momentum, weight decay,
    cosine rate) from one seed."""
    import torch  # noqa: F401  (before keras, as everywhere)
    from torch.utils._python_dispatch import TorchDispatchMode

    import keras
    from ferpipe.nn.settings import train_config
    from ferpipe.nn.models import build_model
    from ferpipe.nn.torch_cuda import remove_shims, speed_up_keras_on_cuda
    from ferpipe.nn.schedule import PhasePlan
    from ferpipe.nn.keras_loop import compile_for_phase
    from support.train_params import train_params

    class ReadBacks(TorchDispatchMode):
        """Counts `.item()`-like reads, which wait for the GPU on a CUDA device."""
        count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            ReadBacks.count += func is torch.ops.aten._local_scalar_dense.default
            return func(*args, **(kwargs or {}))

    from keras.src.backend.torch import core, nn, numpy
    from keras.src.backend.torch.optimizers import torch_sgd

    def keras_own():
        return [core.convert_to_tensor, numpy.convert_to_tensor, nn._transpose_spatial_inputs,
                torch_sgd.SGD._parallel_update_step]

    own = keras_own()
    applied = list(speed_up_keras_on_cuda(force=True)) if shims else []
    keras.utils.set_random_seed(0)
    cfg = train_config(train_params(lr=0.01, batch_size=4, train_momentum=0.9, train_nesterov=True,
                                    train_weight_decay=0.001, train_schedule="cosine"))
    model = build_model(cfg, 32, 3)
    compile_for_phase(model, cfg, PhasePlan(head_only=False, lr=cfg.lr, steps=10, warmup_steps=0))
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.integers(0, 256, (4, 32, 32, 1)).astype(np.float32))
    y = torch.as_tensor(np.arange(4) % 3)
    losses = [float(model.train_on_batch(x, y, return_dict=True)["loss"])]
    for _ in range(4):
        model.reset_metrics()
        with ReadBacks():
            logs = model.train_function([(x, y)])
        losses.append(float(logs["loss"]))
    np.save(weights_file, np.concatenate([np.ravel(keras.ops.convert_to_numpy(v)) for v in model.weights]))
    if shims:
        remove_shims()  # for the rest of the process: the plain run goes first
    print(json.dumps({"applied": applied, "losses": losses, "reads_per_step": ReadBacks.count / 4,
                      "restored": keras_own() == own}))


if __name__ == "__main__":
    for shims in (False, True):
        train_steps(str(Path(sys.argv[1]) / f"weights_{shims}.npy"), shims)
