"""`python -m ferpipe ship`: a network-only copy of an export with int8 weights, checked on the test crops;
`predict --export` runs it and refuses its missing SVM head with one line."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from support.model_fixtures import astronaut_photos
from onnx import TensorProto, helper, numpy_helper
from support.stage_runs import expect_error, result_of, run_main

from ferpipe import __main__ as ferpipe_command
from ferpipe.commands.ship import main as ship_main
from ferpipe.export.card import CARD_FILE, NETWORK_FILE, read_card
from ferpipe.export.ship import INT8_WEIGHTS, int8_weights


def small_network(seed: int = 0) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """Conv (64 output channels of very different sizes), then Gemm (transB), then MatMul."""
    rng = np.random.default_rng(seed)
    channel_sizes = np.linspace(0.01, 3, 64)[:, None, None, None]
    weights = {"conv_w": (rng.normal(0, 1, (64, 8, 3, 3)) * channel_sizes).astype(np.float32),
               "gemm_w": rng.normal(0, 0.1, (64, 4096)).astype(np.float32),
               "matmul_w": rng.normal(0, 0.1, (64, 80)).astype(np.float32),
               "bias": rng.normal(0, 1, (64,)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "conv_w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["c"], ["f"]),
             helper.make_node("Gemm", ["f", "gemm_w", "bias"], ["g"], transB=1),
             helper.make_node("MatMul", ["g", "matmul_w"], ["y"])]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 8, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 80])],
                              [numpy_helper.from_array(v, k) for k, v in weights.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), weights


def test_int8_weights_keep_each_output_channel_within_half_a_step():
    model, weights = small_network()
    x = np.random.default_rng(1).normal(0, 1, (4, 8, 8, 8)).astype(np.float32)
    before = onnxruntime.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    quantized, count = int8_weights(model)
    assert count == 3  # the bias (64 values) stays float32
    stored = {init.name: numpy_helper.to_array(init) for init in quantized.graph.initializer}
    assert stored["conv_w_int8"].dtype == np.int8 and "conv_w" not in stored and stored["bias"].dtype == np.float32
    for name, axis in (("conv_w", 0), ("gemm_w", 0), ("matmul_w", 1)):
        scale = stored[f"{name}_scale"]
        shape = [1] * weights[name].ndim
        shape[axis] = -1
        restored = stored[f"{name}_int8"].astype(np.float32) * scale.reshape(shape)
        assert np.all(np.abs(restored - weights[name]) <= scale.reshape(shape) / 2 + 1e-7)
        assert np.abs(stored[f"{name}_int8"]).max() == 127  # each channel's largest value maps to 127
    after = onnxruntime.InferenceSession(quantized.SerializeToString()).run(None, {"x": x})[0]
    assert np.abs(after - before).max() <= 0.02 * np.abs(before).max()


@pytest.fixture(scope="module")
def shipped(demo_export, tmp_path_factory) -> Path:
    """The demo LeNet's export shipped, in a folder with the astronaut photos."""
    work = tmp_path_factory.mktemp("ship")
    (work / "recipe.args").write_text("-S arch=lenet   # the demo's\n-S epochs=6\n")
    astronaut_photos(work / "photos")
    code, lines = result_of(ship_main, "--export", str(demo_export), "--test",
                            str(demo_export.parent / "augmented" / "test.npz"), "--out", str(work / "model"),
                            "--recipe", str(work / "recipe.args"), "--commit", "abc1234", "--max-drop", "0.05")
    assert code == 0, lines
    return work


@pytest.mark.slow
def test_the_shipped_network_is_a_quarter_the_size_and_scores_as_its_source(shipped, demo_export):
    card, files = read_card(shipped / "model")
    assert set(files) == {"network"} and card.svm is None and card.parity is None
    assert card.shipped.weights == INT8_WEIGHTS and card.shipped.commit == "abc1234"
    assert card.shipped.recipe == "-S arch=lenet -S epochs=6"
    source_card, _ = read_card(demo_export)
    assert card.shipped.source_network_sha256 == source_card.network.sha256
    assert card.shipped.source_test_accuracy == pytest.approx(source_card.test_accuracy.softmax, abs=1e-6)
    assert card.test_accuracy.softmax >= card.shipped.source_test_accuracy - 0.05
    assert card.shipped.same_class_share >= 0.95 and card.test_accuracy.svm is None
    assert (shipped / "model" / NETWORK_FILE).stat().st_size < 0.35 * (demo_export / NETWORK_FILE).stat().st_size
    assert card.classes == source_card.classes and card.dataset == source_card.dataset


@pytest.mark.slow
def test_predict_runs_the_shipped_model_and_refuses_its_missing_svm(shipped, demo_export):
    def faces(export: Path, *args):
        done = run_main(ferpipe_command.main, ["predict", "--json", "--export", str(export), *args, "photos"], shipped)
        return done, [face for photo in json.loads(done.stdout or '{"photos": []}')["photos"] for face in photo["faces"]]

    done, found = faces(shipped / "model")
    assert done.returncode == 0, done.stderr[-3000:]
    _, source = faces(demo_export)
    assert len(found) == len(source) == 3
    for a, b in zip(found, source):
        assert a["box"] == b["box"]
        assert np.abs(np.subtract(list(a["probabilities"].values()), list(b["probabilities"].values()))).max() <= 0.05
    done, _ = faces(shipped / "model", "--head", "svm")
    assert done.returncode != 0 and done.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "network-only model" in done.stderr and "--head softmax" in done.stderr


def test_a_missing_export_or_recipe_is_one_error_and_no_output(tmp_path):
    (tmp_path / "recipe.args").write_text("-S arch=lenet\n")
    out = tmp_path / "model"
    expect_error(result_of(ship_main, "--export", str(tmp_path / "none"), "--out", str(out), "--recipe",
                           str(tmp_path / "recipe.args"), "--commit", "abc1234"), f"no {CARD_FILE}", [out])
    expect_error(result_of(ship_main, "--export", str(tmp_path), "--out", str(out), "--recipe",
                           str(tmp_path / "nothing.args")), "--recipe must name a file", [out])


@pytest.mark.slow
def test_a_shipped_folder_is_shipped_again_but_no_other_folder_is_replaced(shipped, demo_export, tmp_path):
    """A committed models/<name>/ (no manifest: another checkout wrote it) is a shipped model and is replaced;
    a folder holding anything else is never replaced: it may be a user's."""
    import shutil

    from ferpipe.export.ship import shipped_folder

    committed = tmp_path / "models" / "demo"
    shutil.copytree(shipped / "model", committed)
    assert shipped_folder(committed)
    args = ["--export", str(demo_export), "--test", str(demo_export.parent / "augmented" / "test.npz"),
            "--recipe", str(shipped / "recipe.args"), "--commit", "abc1234", "--max-drop", "0.05"]
    assert result_of(ship_main, *args, "--out", str(committed))[0] == 0
    (committed / "notes.txt").write_text("mine")
    assert not shipped_folder(committed)
    expect_error(result_of(ship_main, *args, "--out", str(committed)), "that ferpipe did not write")
    assert (committed / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_serve_serves_the_shipped_model_with_its_softmax_head_alone(shipped):
    from ferpipe.serve.engine import Engine
    from ferpipe.serve.limits import Limits

    engine = Engine(shipped / "model")
    assert engine.heads == ("softmax",) and "network-only model" in engine.describe()
    card = engine.model_card(Limits())
    assert card["heads"] == ["softmax"] and card["card"]["shipped"]["commit"] == "abc1234"
    found = engine.predict((shipped / "photos" / "astronaut.jpg").read_bytes(), "astronaut.jpg", engine.heads, Limits())
    assert list(found["heads"]) == ["softmax"] and len(found["heads"]["softmax"]["faces"]) == 1


def test_without_commit_and_without_git_the_commit_is_asked_for(tmp_path, monkeypatch):
    """The commit is read from git where --commit is not given; a machine without git gets one error line."""
    (tmp_path / "recipe.args").write_text("-S arch=lenet\n")
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    out = tmp_path / "model"
    expect_error(result_of(ship_main, "--export", str(tmp_path), "--out", str(out), "--recipe",
                           str(tmp_path / "recipe.args")), "--commit: not given", [out])
