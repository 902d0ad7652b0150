"""What the tests and the benchmarks share: generated datasets and models, stage runs in process or in a
child, a copy of the project, a local Ray cluster, test videos and a browser. It lives in tests/, not in
the package, so that an installed ferpipe carries no test code; pytest finds it because tests/ is on its
path (`pythonpath` in pyproject.toml), a benchmark because it puts tests/ on sys.path itself."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the source checkout the tests run in
