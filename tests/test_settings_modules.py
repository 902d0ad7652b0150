"""Each part's parameters live in its settings module, which imports no logic: the settings registry (and so
the check_params stage, `python -m ferpipe params check` and the sweep's pre-check) reads every parameter
without the parts' code or their numerical libraries, and check_params' DVC deps stay the settings."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from support.stage_imports import REPO, imported_names

PACKAGE = REPO / "ferpipe"
SETTINGS_MODULES = sorted(PACKAGE.rglob("settings.py"))
LIGHT_LIBRARIES = {"pydantic", "pydantic_core", "annotated_types"}
# What the registry and the train settings may import beyond settings modules and core/: the readers of a
# source model's folder (model.json, its weights' hash) for the checks on what `weights` names. Both load
# no framework (test_the_registry_loads_no_numerical_library).
SOURCE_MODEL_READERS = frozenset({"ferpipe.nn.saved", "ferpipe.nn.pretrained"})
HEAVY = ("cv2", "torch", "tensorflow", "keras", "sklearn", "skimage", "scipy", "matplotlib", "facenet_pytorch")


def not_light(path: Path, extras: frozenset[str] = frozenset()) -> list[str]:
    """The imports of `path` that are neither the standard library, pydantic, ferpipe's core/ nor a settings module."""
    def light(name: str) -> bool:
        top = name.split(".")[0]
        if top != "ferpipe":
            return top in sys.stdlib_module_names or top in LIGHT_LIBRARIES
        return name.startswith("ferpipe.core.") or name.endswith(".settings") or name in extras
    return sorted(name for name in imported_names(path) if not light(name))


def test_every_part_with_parameters_has_a_settings_module():
    parts = {str(p.parent.relative_to(PACKAGE)) for p in SETTINGS_MODULES}
    assert {"core", "data", "faces", "augment", "features", "svm", "eval", "apply", "report"} <= parts


@pytest.mark.parametrize("module", SETTINGS_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_settings_module_imports_no_logic(module):
    assert not not_light(module, SOURCE_MODEL_READERS if module.parent.name == "nn" else frozenset())


def test_the_registry_imports_settings_modules_only():
    assert not not_light(PACKAGE / "registry.py", SOURCE_MODEL_READERS)


def test_the_check_sees_a_logic_import(tmp_path):
    module = tmp_path / "settings.py"
    module.write_text("import numpy\nfrom ferpipe.data.settings import Sources\n\n\n"
                      "def f():\n    from ferpipe.features.handcrafted import lbp_codes\n")
    assert not_light(module) == ["ferpipe.features.handcrafted", "numpy"]


def test_the_registry_loads_no_numerical_library():
    code = ("import sys, ferpipe.registry; "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, capture_output=True, text=True,
                            timeout=300).stdout.split()
    assert not loaded
