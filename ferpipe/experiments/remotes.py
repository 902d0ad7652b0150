"""The two remotes a sweep on other machines goes through: the git remote (the sweep's commit out, each
experiment's ref back) and the DVC default remote of the commit (data and run-cache both ways)."""
from __future__ import annotations

import re
from pathlib import Path

from ferpipe.core.errors import require
from ferpipe.experiments.dvc_repo import git, run_dvc
from ferpipe.experiments.ray_tasks import Checkout

DVC_CONFIG = ".dvc/config"
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/]+@[^/]+:")  # scheme://... or user@host:path


def git_remote_url(remote: str) -> str:
    """The URL of git remote `remote` as a node can use it (a local path made absolute)."""
    proc = git("remote", "get-url", remote)
    require(proc.returncode == 0, f"--git-remote {remote}: no such git remote; every node clones the sweep's "
            f"commit from it: `git remote add {remote} URL` (a repository every node reaches)")
    url = proc.stdout.strip()
    return url if _URL_SCHEME.match(url) else str(Path(url).resolve())


def check_dvc_remote() -> str:
    """The name of the DVC default remote the committed .dvc/config sets, which every node's clone reads."""
    from configobj import ConfigObj  # DVC's own config reader; DVC's API would resolve relative paths

    committed = ConfigObj(DVC_CONFIG) if Path(DVC_CONFIG).is_file() else {}  # preflight: as in the commit
    name = committed.get("core", {}).get("remote")
    require(bool(name), "no DVC default remote in .dvc/config: each node pulls the shared stages' outputs from it "
            "and pushes its experiment's there: `dvc remote add -d NAME URL` (S3, SSH, or a folder every node "
            "mounts), then commit .dvc/config")
    url = str(committed.get(f'remote "{name}"', {}).get("url", ""))
    require(bool(_URL_SCHEME.match(url)) or Path(url).is_absolute(),
            f".dvc/config: DVC remote {name} is the relative path {url!r}, which each node's clone would read as "
            "a folder of its own: give the absolute path of a folder every node mounts")
    return name


def identity() -> tuple[str, str]:
    """The git author (name, email) the experiment commits made on the nodes carry: this repository's."""
    ident = re.fullmatch(r"(.*) <(.*)> \d+ [+-]\d{4}", git("var", "GIT_AUTHOR_IDENT").stdout.strip())
    require(ident is not None, "the experiments commit under your git identity: "
            "git config user.name NAME && git config user.email EMAIL")
    return ident[1], ident[2]


def push_commit(remote: str, commit: str) -> None:
    """Push the current branch, at `commit`, to `remote`, where the nodes clone it from."""
    branch = git("symbolic-ref", "--quiet", "--short", "HEAD").stdout.strip()
    require(bool(branch), f"HEAD ({commit[:8]}) is not on a branch, so there is nothing to push to {remote}: "
            "`git switch -c BRANCH` first")
    proc = git("push", "--quiet", remote, f"{commit}:refs/heads/{branch}")
    detail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])
    require(proc.returncode == 0, f"cannot push commit {commit[:8]} ({branch}) to git remote {remote}, where the "
            f"nodes would clone it: {detail[0]}{' ...' if len(detail) > 1 else ''} (pull or rebase, then rerun)")


def checked_checkout(remote: str, commit: str) -> Checkout:
    """What each task needs, once both remotes are checked (the commit is not pushed yet)."""
    url = git_remote_url(remote)
    check_dvc_remote()
    name, email = identity()
    return Checkout(git_url=url, commit=commit, author_name=name, author_email=email)


def pull_experiments(remote: str, names: list[str]) -> None:
    """Fetch the experiments' refs (params, metrics and lock, all in git) from `remote`; their cached outputs
    (models, features) stay on the DVC remote until `dvc exp pull REMOTE NAME` or `dvc exp apply` asks."""
    if names:
        run_dvc("exp", "pull", "--no-cache", remote, *names)
