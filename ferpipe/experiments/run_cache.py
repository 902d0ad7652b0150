"""The run-cache entries of some stages, as they stand in the workspace, pushed to the DVC default remote with
every object those entries name (`python -m ferpipe.commands.run_cache_push`, which a Ray task runs).

DVC 3.67's `dvc push --run-cache` sends the entries but only the objects of the outputs DVC caches; those of
the uncached ones (the `cache: false` metrics and plots each stage writes) stay behind, and without them
another clone cannot restore the stage from the run-cache, so it runs the stage again.
"""
from __future__ import annotations

import os

from ferpipe.core.errors import require


def push_run_cache(names: list[str]) -> str:
    """Push the run-cache entries of the stages `names` and their objects; what was pushed, as one line."""
    from dvc.repo import Repo
    from dvc.stage.cache import _get_stage_hash

    with Repo() as repo:
        entries = []
        for name in names:
            key = _get_stage_hash(repo.stage.collect(name)[0])
            folder = repo.stage_cache._get_cache_dir(key)
            require(os.path.isdir(folder), f"stage {name}: no run-cache entry for it as it stands: `dvc repro {name}`")
            entries += [(key, value) for value in os.listdir(folder)]
        repo.stage_cache.push(None)
        pushed = repo.cloud.push({obj for objs in repo.stage_cache.get_used_objs(entries).values() for obj in objs})
        require(not pushed.failed, f"{len(pushed.failed)} objects of the run-cache of {', '.join(names)} not pushed")
    return f"run-cache of {', '.join(names)}: {len(entries)} entries, {len(pushed.transferred)} objects pushed"
