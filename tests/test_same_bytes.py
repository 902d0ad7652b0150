"""Outputs with the same bytes for the same inputs (DVC hashes each one): zip archives (npz, skops,
Keras) without dates or memory addresses, ONNX files without run-dependent names or node order, PNGs
without the renderer's version; and the train, svm and export stages run again on the same inputs,
whose every file keeps its md5."""
from __future__ import annotations

import hashlib
import random
import time
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from support.model_fixtures import EXPORT_ARGS, run_stage, write_svm
from onnx import TensorProto, helper

from ferpipe.core.figures import save_png
from ferpipe.core.fixed_zip import save_npz
from ferpipe.export.canonical import canonical
from ferpipe.svm.model import load_svm, save_svm


def md5s(folder: Path, names) -> dict[str, str]:
    return {name: hashlib.md5((folder / name).read_bytes()).hexdigest() for name in names}


def test_npz_files_have_no_dates(tmp_path):
    arrays = {"images": np.arange(12, dtype=np.uint8).reshape(3, 2, 2), "classes": np.asarray(["a", "b"])}
    save_npz(tmp_path / "a.npz", arrays)
    time.sleep(2.1)  # a zip entry's time has 2 s steps
    save_npz(tmp_path / "b.npz", arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz") as back:
        assert set(back.files) == set(arrays) and all(np.array_equal(back[k], v) for k, v in arrays.items())


def test_a_skops_file_names_no_memory_address_or_date(tmp_path):
    write_svm(tmp_path / "fitted.skops", probability=True)
    model, twin = (load_svm(tmp_path / "fitted.skops") for _ in range(2))  # alike, at other addresses
    save_svm(model, tmp_path / "a.skops")
    time.sleep(2.1)  # a zip entry's time has 2 s steps
    save_svm(twin, tmp_path / "b.skops")
    assert (tmp_path / "a.skops").read_bytes() == (tmp_path / "b.skops").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.skops") as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    rows = np.random.default_rng(1).normal(size=(5, model.n_features_in_))
    assert np.array_equal(load_svm(tmp_path / "b.skops").predict_proba(rows), model.predict_proba(rows))


def shuffled_graph(seed: int) -> onnx.ModelProto:
    """y = x @ w + relu(x + b), with names (of tensors, nodes, batch dimensions) made of `seed`, its nodes
    in one of their valid orders and its opset imports in one of two (skl2onnx's order changes with the
    process's hash seed)."""
    rng = random.Random(seed)
    tag = f"{rng.getrandbits(32):08x}"
    matmul = helper.make_node("MatMul", ["x", f"w_{tag}"], [f"mm_{tag}"], name=f"MatMul__{seed}")
    add = helper.make_node("Add", ["x", f"b_{tag}"], [f"add_{tag}"], name=f"Add__{seed + 1}", doc_string=tag)
    relu = helper.make_node("Relu", [f"add_{tag}"], [f"relu_{tag}"], name=f"Relu__{seed + 2}")
    out = helper.make_node("Add", [f"mm_{tag}", f"relu_{tag}"], ["y"], name=f"Add__{seed + 3}")
    order = [[matmul, add, relu], [add, matmul, relu], [add, relu, matmul]][seed % 3] + [out]
    weights = [helper.make_tensor(f"w_{tag}", TensorProto.FLOAT, [2, 2], [1.0, 2.0, 3.0, 4.0]),
               helper.make_tensor(f"b_{tag}", TensorProto.FLOAT, [2], [-10.0, 0.5])]
    graph = helper.make_graph(order, f"graph_{tag}",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [f"unk__{seed}", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [f"unk__{seed + 1}", 2])],
                              initializer=rng.sample(weights, 2), doc_string=f"converted {tag}")
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.ml", 1)]
    return helper.make_model(graph, opset_imports=opsets[::1 if seed % 2 else -1], doc_string=f"at {tag}")


def test_canonical_onnx_is_the_same_for_other_names_and_orders_and_computes_the_same():
    files = {canonical(shuffled_graph(seed), "net").SerializeToString() for seed in range(6)}
    assert len({shuffled_graph(seed).SerializeToString() for seed in range(6)}) == 6 and len(files) == 1
    (data,) = files
    model = onnx.ModelProto.FromString(data)
    onnx.checker.check_model(model)
    assert [n.name for n in model.graph.node] == ["MatMul_0", "Add_1", "Relu_2", "Add_3"]
    assert [v.type.tensor_type.shape.dim[0].dim_param for v in (*model.graph.input, *model.graph.output)] == ["n0", "n1"]
    x = np.asarray([[1.0, 2.0], [-3.0, 0.5]], np.float32)
    expected = x @ np.asarray([[1.0, 2.0], [3.0, 4.0]], np.float32) + np.maximum(x + np.asarray([-10.0, 0.5], np.float32), 0)
    (y,) = onnxruntime.InferenceSession(data).run(["y"], {"x": x})
    assert np.allclose(y, expected)


def conv_graph(no_op_reshapes: int) -> onnx.ModelProto:
    """x (N, 2, 1, 1) -> Conv 1x1 -> Relu -> y (N, 2): the Relu's output flattened by a Reshape to (-1, 2),
    after `no_op_reshapes` Reshapes of the Conv's output to (-1, 2, 1, 1), the shape it has (as tf2onnx
    leaves one in some runs and not in others)."""
    nodes, last = [helper.make_node("Conv", ["x", "w"], ["c0"])], "c0"
    for i in range(no_op_reshapes):
        nodes.append(helper.make_node("Reshape", [last, "same"], [f"r{i}"]))
        last = f"r{i}"
    nodes += [helper.make_node("Relu", [last], ["relu"]), helper.make_node("Reshape", ["relu", "flat"], ["y"])]
    weights = [helper.make_tensor("w", TensorProto.FLOAT, [2, 2, 1, 1], [1.0, -2.0, 0.5, 3.0]),
               helper.make_tensor("same", TensorProto.INT64, [4], [-1, 2, 1, 1]),
               helper.make_tensor("flat", TensorProto.INT64, [2], [-1, 2])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2, 1, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])], initializer=weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_canonical_onnx_drops_reshapes_to_the_shape_a_tensor_has():
    files = {canonical(conv_graph(n), "net").SerializeToString() for n in range(3)}
    assert len(files) == 1
    (data,) = files
    model = onnx.ModelProto.FromString(data)
    assert [n.op_type for n in model.graph.node] == ["Conv", "Relu", "Reshape"]  # the one that flattens is kept
    x = np.asarray([[[[1.0]], [[-2.0]]], [[[0.5]], [[4.0]]]], np.float32)
    (y,) = onnxruntime.InferenceSession(data).run(["y"], {"x": x})
    assert np.array_equal(y, onnxruntime.InferenceSession(conv_graph(2).SerializeToString()).run(["y"], {"x": x})[0])


def test_a_png_names_no_renderer_version(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    save_png(fig, tmp_path / "plot.png", dpi=50)
    assert b"Matplotlib" not in (tmp_path / "plot.png").read_bytes()


SVM_OUTPUTS = ("svm.skops", "svm.json", "grid.json", "svm_confusion.json", "svm.npz")
EXPORT_OUTPUTS = ("network.onnx", "svm.onnx", "model_card.json")


MODEL_FILES = ("model.keras", "model.json")


@pytest.mark.slow
def test_forced_reruns_of_train_svm_and_export_give_the_same_bytes(demo_lenet, demo_export, tmp_path):
    """The train stage of the demo LeNet's fixture runs once more on its inputs, its svm and export stages twice
    more, in this process again (where Keras' objects sit at other addresses and its name counters, tf2onnx's
    name counter and TensorFlow's function ids have moved on)."""
    made = demo_export.parent
    first = {**md5s(made, SVM_OUTPUTS), **md5s(made / "export", EXPORT_OUTPUTS)}
    trained = md5s(demo_lenet / "model", MODEL_FILES)
    for run in ("run1", "run2"):
        folder = tmp_path / run
        folder.mkdir()
        (folder / "params.yaml").write_text((made / "params.yaml").read_text())
        for name in ("model", "augmented", "embeddings", "data.json", "softmax.json"):
            (folder / name).symlink_to(made / name)
        if run == "run1":  # one more training in this process is enough to number an unnamed optimizer sgd_1
            done = run_stage("train", folder, "--train", "augmented/train.npz", "--val", "augmented/val.npz", "--model",
                             "retrained", "--live", "live", "--metrics", "train.json", "--checkpoints", "ckpt")
            assert done.returncode == 0, done.stderr[-3000:]
            assert md5s(folder / "retrained", MODEL_FILES) == trained
        done = run_stage("svm", folder, "--embeddings", "embeddings", "--model", "svm.skops", "--metrics", "svm.json",
                         "--grid", "grid.json", "--confusion", "svm_confusion.json", "--predictions", "svm.npz")
        assert done.returncode == 0, done.stderr[-3000:]
        done = run_stage("export", folder, *EXPORT_ARGS)
        assert done.returncode == 0, done.stderr[-3000:]
        assert {**md5s(folder, SVM_OUTPUTS), **md5s(folder / "export", EXPORT_OUTPUTS)} == first, run
