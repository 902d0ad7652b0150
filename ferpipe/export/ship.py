"""A network-only copy of an export folder, small enough to keep in a repository (`models/<name>/`), so
that `predict` runs a trained network on real faces without a pipeline run.

The export's network.onnx holds every weight in float32 (ResNet-50: about 94 MB). Here each large weight
of a Conv, Gemm or MatMul is stored as int8 with one float32 scale per output channel (symmetric: the
largest magnitude of the channel maps to 127) and a standard ONNX DequantizeLinear node turns it back
into float32 inside the graph: about a quarter of the size, the arithmetic still float32, any ONNX
runtime. The SVM head is not shipped (its support vectors are the training set's size).

The copy is checked, not trusted: its own accuracy on the test crops goes into its card beside the
accuracy of the float32 network it came from, with the largest probability difference between them
and the share of crops on which they name the same class.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ferpipe.core.errors import require
from ferpipe.core.textfile import read_text
from ferpipe.export.card import CARD_FILE, CROPS, NETWORK_FILE, PROBABILITIES, file_entry, read_card, write_card

WEIGHT_INPUT = {"Conv": 1, "Gemm": 1, "MatMul": 1}  # op type -> the input that holds its weights
MIN_ELEMENTS = 4096  # smaller weights (the softmax layer's biases, BatchNorm vectors) stay float32
INT8_WEIGHTS = "int8 per output channel"
EVAL_BATCH = 256


def _output_axis(node, rank: int) -> int:
    """The axis of a weight's output channels: Conv (O, I, kh, kw) 0; MatMul (in, out) 1; Gemm by transB."""
    if node.op_type == "Conv":
        return 0
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    return rank - 1


def int8_weights(model):
    """`model` with each large Conv/Gemm/MatMul weight as int8 + per-channel scale + DequantizeLinear."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    users: dict[str, list] = {}
    for node in graph.node:
        for tensor in node.input:
            users.setdefault(tensor, []).append(node)
    replaced, new_nodes = set(), []
    for node in graph.node:
        index = WEIGHT_INPUT.get(node.op_type)
        if index is None or len(node.input) <= index or node.input[index] not in initializers:
            continue
        name = node.input[index]
        if name in replaced:
            continue
        weight = numpy_helper.to_array(initializers[name])
        if weight.dtype != np.float32 or weight.size < MIN_ELEMENTS or weight.ndim < 2:
            continue
        axis = _output_axis(node, weight.ndim)
        if any(_output_axis(other, weight.ndim) != axis or other.op_type not in WEIGHT_INPUT
               for other in users[name]):
            continue  # shared with another kind of use: keep it float32
        other_axes = tuple(a for a in range(weight.ndim) if a != axis)
        largest = np.abs(weight).max(axis=other_axes)
        scale = np.where(largest > 0, largest / 127.0, 1.0).astype(np.float32)
        shape = [1] * weight.ndim
        shape[axis] = -1
        values = np.clip(np.rint(weight / scale.reshape(shape)), -127, 127).astype(np.int8)
        graph.initializer.remove(initializers[name])
        graph.initializer.extend([numpy_helper.from_array(values, f"{name}_int8"),
                                  numpy_helper.from_array(scale, f"{name}_scale"),
                                  numpy_helper.from_array(np.zeros(len(scale), np.int8), f"{name}_zero")])
        new_nodes.append(helper.make_node("DequantizeLinear", [f"{name}_int8", f"{name}_scale", f"{name}_zero"],
                                          [name], name=f"{name}_dequantize", axis=axis))
        replaced.add(name)
    nodes = new_nodes + list(graph.node)  # the dequantized weights first: the graph stays in topological order
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return model, len(replaced)


def session_options():
    """ONNX Runtime's options for an exported or shipped network. A shipped network stores its weights as
    int8 with a DequantizeLinear each (ferpipe.export.ship); by default ONNX Runtime keeps those nodes for
    its quantized kernels and dequantizes every weight at every run (measured: 88 ms a crop against 52 for
    the float32 file, ResNet-50 at 48 px, one thread). With its QDQ handling off, constant folding turns them
    into float32 weights once, at load (19 ms a crop). A float32 file is unaffected."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.disable_quant_qdq", "1")
    return options


def _accuracy_and_probabilities(session, crops: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    probabilities = np.concatenate([
        session.run([PROBABILITIES], {CROPS: crops[i:i + EVAL_BATCH].astype(np.float32)[..., None]})[0]
        for i in range(0, len(crops), EVAL_BATCH)])
    return float((probabilities.argmax(1) == labels).mean()), probabilities


def ship(export: Path, test_path: Path, out: Path, commit: str, recipe: str, max_drop: float = 0.01) -> dict[str, Any]:
    """Write the network of `export` with int8 weights and its card into `out` (a staged folder); an error
    where its test accuracy is more than `max_drop` below the float32 network's."""
    import onnx
    import onnxruntime

    from ferpipe.data.arrays import load_split
    from ferpipe.export.canonical import canonical

    card, files = read_card(export)
    test = load_split(test_path)
    require([str(c) for c in test["classes"]] == list(card.classes),
            f"{test_path}: its classes {list(test['classes'])} are not the export's {list(card.classes)}")
    require(test["images"].shape[1:] == (card.crop_size, card.crop_size),
            f"{test_path}: crops of {test['images'].shape[1:]}, the export takes {card.crop_size}x{card.crop_size}")
    model, count = int8_weights(onnx.load_from_string(files["network"]))
    require(count > 0, f"{export / NETWORK_FILE}: no Conv, Gemm or MatMul weight of {MIN_ELEMENTS} or more values")
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(canonical(model, "ferpipe_network"), out / NETWORK_FILE)
    source = onnxruntime.InferenceSession(files["network"], session_options(), providers=["CPUExecutionProvider"])
    shipped = onnxruntime.InferenceSession(str(out / NETWORK_FILE), session_options(),
                                           providers=["CPUExecutionProvider"])
    source_accuracy, source_probabilities = _accuracy_and_probabilities(source, test["images"], test["labels"])
    accuracy, probabilities = _accuracy_and_probabilities(shipped, test["images"], test["labels"])
    require(accuracy >= source_accuracy - max_drop,
            f"{out.name}: int8 weights cost {100 * (source_accuracy - accuracy):.2f} points of test accuracy "
            f"({100 * accuracy:.2f}% against {100 * source_accuracy:.2f}%), more than --max-drop {100 * max_drop:g}")
    network = card.network.model_dump(mode="json")
    network.update(file_entry(out / NETWORK_FILE))
    shipped_card = {
        **{key: value for key, value in card.model_dump(mode="json").items() if key != "format"},
        "network": network, "svm": None, "parity": None,
        "test_accuracy": {"softmax": accuracy, "svm": None},
        "shipped": {"weights": INT8_WEIGHTS, "source_network_sha256": card.network.sha256,
                    "source_test_accuracy": source_accuracy, "test_images": len(test["labels"]),
                    "max_probability_difference": float(np.abs(probabilities - source_probabilities).max()),
                    "same_class_share": float((probabilities.argmax(1) == source_probabilities.argmax(1)).mean()),
                    "commit": commit, "recipe": recipe},
    }
    write_card(out, shipped_card)
    return shipped_card


def describe(card: dict[str, Any], out: Path) -> str:
    s = card["shipped"]
    size = (out / NETWORK_FILE).stat().st_size / 1e6
    return (f"ship: {out / NETWORK_FILE} {size:.1f} MB ({s['weights']}), test accuracy {card['test_accuracy']['softmax']:.4f} "
            f"against {s['source_test_accuracy']:.4f} in float32 on {s['test_images']} crops (same class on "
            f"{100 * s['same_class_share']:.2f}%); card {out / CARD_FILE}")


def shipped_folder(folder: Path) -> bool:
    """A folder that holds nothing but a shipped model (its card, with its `shipped` block, and its network):
    what `ship --out` replaces, e.g. a committed models/<name>/ shipped again."""
    from ferpipe.core.errors import FerpipeError

    if not folder.is_dir() or folder.is_symlink() or {p.name for p in folder.iterdir()} - {CARD_FILE, NETWORK_FILE}:
        return False
    try:
        card, _ = read_card(folder)
    except FerpipeError:
        return False
    return card.shipped is not None


def read_recipe(path: Path) -> str:
    """The training settings of a recipe file (presets/fer2013_cpu.args) as one line, comments left out."""
    require(path.is_file(), f"{path}: --recipe must name a file of the training settings")
    return " ".join(line.split("#")[0].strip() for line in read_text(path, 1 << 20).splitlines()
                    if line.split("#")[0].strip())


def checkout_commit() -> str:
    """The short commit of this checkout ("" outside a git checkout)."""
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:  # no git on this machine: the caller asks for --commit
        return ""
