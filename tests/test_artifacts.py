"""The model registry entries of dvc.yaml (`artifacts:`): the trained network folder and the export,
declared as models with a description and labels, on paths a stage writes, and the FER-2013 network kept
in git (models/fer2013-resnet50/, the `ship` command's copy); read back through
`dvc.api.artifacts_show` and fetched with `dvc artifacts get` from a Git repository and a DVC remote of
its own (made here, in temporary folders: no network), as docs/predict.md shows a user."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.stage_runs import REPO

DVC_YAML = yaml.safe_load((REPO / "dvc.yaml").read_text())
ARTIFACTS = DVC_YAML["artifacts"]
STAGE_OF = {"ferpipe-network": "train", "ferpipe-export": "export"}
SHIPPED = "fer2013-resnet50"  # committed to git, not a stage's output
# What the two stages of the made-up project below write in place of a trained network and an export, and
# what it commits in place of the shipped model.
FILES = {"data/model": {"model.keras": "weights", "model.json": "info"},
         "data/export": {"network.onnx": "network", "svm.onnx": "svm", "model_card.json": "card"},
         "models/fer2013-resnet50": {"network.onnx": "int8 network", "model_card.json": "shipped card"}}


def stage_outs(stage: str) -> list[str]:
    return [next(iter(o)) if isinstance(o, dict) else o for o in DVC_YAML["stages"][stage]["outs"]]


@pytest.mark.parametrize("name", sorted(STAGE_OF))
def test_the_network_and_the_export_are_declared_models_on_a_stages_output(name):
    artifact = ARTIFACTS[name]
    assert artifact["type"] == "model" and artifact["path"] in stage_outs(STAGE_OF[name])
    assert "ResNet-50" in artifact["desc"] and "S. Liu" in artifact["desc"]  # the paper's network
    assert "FER-2013" in artifact["desc"] and "demo" in artifact["desc"]  # the datasets
    assert {"facial-expression-recognition", "resnet50"} <= set(artifact["labels"])
    assert set(ARTIFACTS) == set(STAGE_OF) | {SHIPPED}


def test_the_shipped_network_is_a_declared_model_on_its_committed_folder():
    artifact = ARTIFACTS[SHIPPED]
    assert artifact["type"] == "model" and artifact["path"] == "models/fer2013-resnet50"
    tracked = run(REPO, "git", "ls-files", artifact["path"]).splitlines()
    assert sorted(Path(p).name for p in tracked) == ["model_card.json", "network.onnx"]
    assert "ResNet-50" in artifact["desc"] and "S. Liu" in artifact["desc"] and "FER-2013" in artifact["desc"]
    assert {"facial-expression-recognition", "resnet50", "onnx", "fer2013"} <= set(artifact["labels"])


def run(cwd: Path, *args) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"
    return done.stdout.strip()


def writer(folder: str) -> str:
    """A stage command that writes FILES[folder]."""
    code = f"import pathlib; p = pathlib.Path({folder!r}); p.mkdir(parents=True, exist_ok=True); " + "; ".join(
        f"(p / {name!r}).write_text({text!r})" for name, text in FILES[folder].items())
    return f'{sys.executable} -c "{code}"'


@pytest.fixture
def registry(tmp_path, monkeypatch) -> Path:
    """A project with this dvc.yaml's artifacts, whose train and export stages write small files, run,
    pushed to a local DVC remote, committed and tagged `<name>@v1.0.0`; its DVC cache then emptied, so
    that what is fetched comes from the remote."""
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    project = tmp_path / "project"
    project.mkdir()
    run(project, "git", "init", "-q")
    run(project, "git", "config", "user.name", "t")
    run(project, "git", "config", "user.email", "t@t.invalid")
    run(project, sys.executable, "-m", "dvc", "init", "-q")
    run(project, sys.executable, "-m", "dvc", "remote", "add", "-d", "store", str(tmp_path / "remote"))
    stages = {stage: {"cmd": writer(ARTIFACTS[name]["path"]), "outs": [ARTIFACTS[name]["path"]]}
              for name, stage in STAGE_OF.items()}
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages, "artifacts": ARTIFACTS}, sort_keys=False))
    run(project, sys.executable, "-m", "dvc", "repro", "-q")
    run(project, sys.executable, "-m", "dvc", "push", "-q")
    shipped = project / ARTIFACTS[SHIPPED]["path"]
    shipped.mkdir(parents=True)
    for name, text in FILES[ARTIFACTS[SHIPPED]["path"]].items():
        (shipped / name).write_text(text)
    run(project, "git", "add", "-A")
    run(project, "git", "commit", "-qm", "trained")
    for name in ARTIFACTS:
        run(project, "git", "tag", "-a", f"{name}@v1.0.0", "-m", f"Registering artifact {name} version 1.0.0")
    for path in (project / ".dvc" / "cache").rglob("*"):
        if path.is_file():
            path.unlink()
    return project


@pytest.mark.slow
def test_artifacts_show_and_artifacts_get_find_the_tagged_export(registry, tmp_path):
    import dvc.api

    head = run(registry, "git", "rev-parse", "HEAD")
    for name in ARTIFACTS:
        assert dvc.api.artifacts_show(name, repo=str(registry)) == {"rev": head, "path": ARTIFACTS[name]["path"]}
        assert dvc.api.artifacts_show(name, version="v1.0.0", repo=str(registry))["rev"] == head
    user = tmp_path / "user"
    user.mkdir()
    run(user, sys.executable, "-m", "dvc", "artifacts", "get", str(registry), "ferpipe-export", "-o", "export")
    got = {p.name: p.read_text() for p in (user / "export").iterdir()}
    assert got == FILES["data/export"]
    assert not any(p.is_file() for p in (registry / ".dvc" / "cache").rglob("*"))  # fetched from the remote
    run(user, sys.executable, "-m", "dvc", "artifacts", "get", str(registry), SHIPPED, "-o", "shipped")
    assert {p.name: p.read_text() for p in (user / "shipped").iterdir()} == FILES["models/fer2013-resnet50"]
