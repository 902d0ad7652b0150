"""How `make test` shares the test files out between its pytest-xdist workers (`-n 3 --dist loadfile`).

xdist's loadfile hands a worker one file at a time, by default the files with the most tests first; the
two end-to-end files have few tests and the longest run (the Ray sweep module's cluster and sweeps, the
`make repro` of test_pipeline.py), so they came last, each alone on a worker while the other sat idle.
Here the files go out longest first (the longest-processing-time rule: the two long ones start at once,
one on each of two workers, and the short files fill in around them on the third), and the files that
read the session-scoped LeNet fixtures (`demo_lenet`, `demo_export` in conftest.py) go to one worker as
one unit, so that the LeNet is trained and exported once, not once on each worker. Three workers on two
cores: the two end-to-end files wait on their subprocesses (dvc, git, Ray) much of the time, and the
third worker fills those waits.
"""
from __future__ import annotations

# The files that read conftest.py's demo_lenet or demo_export: one unit of work.
SHARED_MODEL = "shared LeNet fixtures"
SHARED_MODEL_FILES = {f"tests/{name}.py" for name in (
    "test_export", "test_generalize", "test_predict", "test_predict_onnx", "test_predict_video", "test_same_bytes",
    "test_serve", "test_ship")}
# Units, longest first (from `--durations` of full runs: the `make repro` fixture 10-12 minutes beside the rest,
# the Ray sweep module 4-5, the shared LeNet's files 3, then the files that train or run MTCNN; the first three
# start together); the other files follow in their collection order.
LONGEST_FIRST = ["tests/test_ray_sweep.py", "tests/test_pipeline.py", SHARED_MODEL, "tests/test_train_stages.py",
                 "tests/test_training.py", "tests/test_torch_loop.py", "tests/test_faces.py", "tests/test_demo_faces.py",
                 "tests/test_fer2013_real.py", "tests/test_ckplus_real.py", "tests/test_evaluate_stage.py",
                 "tests/test_embed_svm_compare_stages.py"]


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or SHARED_MODEL."""
    file = nodeid.split("::", 1)[0]
    return SHARED_MODEL if file in SHARED_MODEL_FILES else file


def longest_first(nodeids: list[str]) -> list[int]:
    """The order to run `nodeids` in (their indices): the units of LONGEST_FIRST first, in that order, then
    the others; a unit's tests together, a file's tests together; otherwise as given."""
    rank = {unit: i for i, unit in enumerate(LONGEST_FIRST)}
    files = [nodeid.split("::", 1)[0] for nodeid in nodeids]
    first_seen: dict[str, int] = {}
    for nodeid, file in zip(nodeids, files):
        first_seen.setdefault(unit_of(nodeid), len(first_seen))
        first_seen.setdefault(file, len(first_seen))
    return sorted(range(len(nodeids)), key=lambda i: (
        rank.get(unit_of(nodeids[i]), len(rank)), first_seen[unit_of(nodeids[i])], first_seen[files[i]], i))


def make_scheduler(config, log):
    """xdist's loadfile scheduler with SHARED_MODEL as one unit, and the units sent out in collection order
    (which the workers' `pytest_collection_modifyitems` has made `longest_first`) rather than by test count."""
    from xdist.scheduler import LoadFileScheduling

    class LongestFirst(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    config.option.loadscopereorder = False
    return LongestFirst(config, log)
