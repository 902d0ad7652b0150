import os

# An xdist worker's share of the cores, before torch or TensorFlow starts a thread pool (the stages it runs
# inherit it): two workers of two threads each on two cores made OpenMP spin-wait, one torch training test
# took 178 s beside a copy of itself instead of 18 s with one thread each (docs/development.md).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
if _WORKERS:
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ.setdefault(_name, str(max(1, (os.cpu_count() or 1) // _WORKERS)))

# Before any test module imports TensorFlow (see the function's docstring).
from ferpipe.nn.backend import load_torch_before_tensorflow  # noqa: E402

load_torch_before_tensorflow()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from support import no_training  # noqa: E402
from support.model_fixtures import export_demo_lenet, train_demo_lenet  # noqa: E402
from support.xdist_order import longest_first, make_scheduler  # noqa: E402

no_training.install()


def fast_tests_train_nothing(item):
    """A hook wrapper's body: a test not marked slow fails if it, or a fixture it sets up, trains a network."""
    if item.get_closest_marker("slow") is not None:
        return (yield)
    with no_training.training_refused() as refused:
        outcome = yield
    if refused:
        pytest.fail(f"{no_training.MESSAGE.format(step=refused[0])}; the error was caught on its way", pytrace=False)
    return outcome


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from fast_tests_train_nothing(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from fast_tests_train_nothing(item))


@pytest.fixture(autouse=True)
def float32_afterwards():
    """Keras' global dtype policy back to float32 after each test: a training run in this process sets it
    (`auto`: mixed_bfloat16 on a CPU with native bf16), and a later test's network would be built under it."""
    yield
    if "keras" in sys.modules:
        sys.modules["keras"].mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="session")
def demo_lenet(tmp_path_factory) -> Path:
    """A folder with params.yaml and model/, the LeNet of `train_demo_lenet`: trained once for the
    predict and generalize tests, which only read it."""
    folder = tmp_path_factory.mktemp("demo_lenet")
    train_demo_lenet(folder)
    return folder


@pytest.fixture(scope="session")
def demo_export(demo_lenet, tmp_path_factory) -> Path:
    """The export stage's folder for the `demo_lenet` model (exported on TensorFlow); its parent holds
    the evaluate_softmax, embed and svm outputs it was made from."""
    return export_demo_lenet(demo_lenet, tmp_path_factory.mktemp("demo_export"))


def pytest_collection_modifyitems(config, items):
    if hasattr(config, "workerinput"):  # an xdist worker: its collection order is the order the units go out in
        items[:] = [items[i] for i in longest_first([item.nodeid for item in items])]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") == "loadfile":
        return make_scheduler(config, log)
    return None
