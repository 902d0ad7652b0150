"""ONNX files with the same bytes for the same model (DVC hashes every output).

The exporters name what they make after counters and ids that differ from run to run (tf2onnx's
process-wide `__<n>` counter, in tensor, node and symbolic dimension names; skl2onnx's random graph
name; the metadata torch's exporter may give each node), and may list the nodes in another valid
order. `canonical` rewrites a model so that none of that is left: nodes in one topological order
found from the graph's outputs alone (a depth-first walk through each node's inputs in order), every
tensor but the graph's inputs and outputs named `_<n>` and every node `<op type>_<n>` in that order,
initializers and shape annotations in that order, symbolic dimensions named `n<k>` in order, doc
strings and node metadata dropped, the graph named by the caller, the opset imports in order of domain
(skl2onnx lists them in a set's order, which changes with each process's string hash seed). A Reshape
to the shape its input already has is removed first: tf2onnx left one such Reshape of the ResNet-50's
in about one run of 15 and not in the others, with the same hash seed. What the model computes is
untouched.
"""
from __future__ import annotations

import onnx
from onnx import numpy_helper


def canonical(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    graph = model.graph
    model.doc_string, graph.name, graph.doc_string = "", name, ""
    del model.metadata_props[:]
    opsets = [onnx.OperatorSetIdProto.FromString(o.SerializeToString())
              for o in sorted(model.opset_import, key=lambda o: (o.domain, o.version))]
    del model.opset_import[:]
    model.opset_import.extend(opsets)
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for n in graph.node for a in n.attribute):
        _strip(graph.node)  # a subgraph reads its outer graph's tensors by name: names and order are kept
        return model
    _remove_no_op_reshapes(model)
    nodes = [graph.node[i] for i in _topological_order(graph)]
    names = {v.name: v.name for v in (*graph.input, *graph.output)}
    for node in nodes:
        for tensor in (*node.input, *node.output):
            if tensor and tensor not in names:
                names[tensor] = f"_{len(names)}"
    rank = {new: i for i, new in enumerate(names.values())}
    renamed = []
    for i, node in enumerate(nodes):
        node = onnx.NodeProto.FromString(node.SerializeToString())
        node.name = f"{node.op_type}_{i}"
        node.input[:] = [names.get(t, t) for t in node.input]
        node.output[:] = [names.get(t, t) for t in node.output]
        renamed.append(node)
    _strip(renamed)
    del graph.node[:]
    graph.node.extend(renamed)
    for items in (graph.initializer, graph.value_info):
        kept = sorted((item for item in items if item.name in names), key=lambda item: rank[names[item.name]])
        for item in kept:
            item.name = names[item.name]
            item.doc_string = ""
        copies = [type(item).FromString(item.SerializeToString()) for item in kept]
        del items[:]
        items.extend(copies)
    _number_symbolic_dims(graph)
    return model


def _remove_no_op_reshapes(model: onnx.ModelProto) -> None:
    """Drop each Reshape whose target (a constant) is the static shape its input already has, the batch
    dimension (symbolic in the input, -1 or the same symbol's size in the target) aside; its readers read
    its input instead. A Reshape that gives a graph output is kept."""
    graph = model.graph
    shapes = {value.name: [d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim]
              for value in (*onnx.shape_inference.infer_shapes(model).graph.value_info, *graph.input)}
    targets = {init.name: numpy_helper.to_array(init).tolist() for init in graph.initializer
               if init.data_type == onnx.TensorProto.INT64 and len(init.dims) == 1}
    outputs = {value.name for value in graph.output}
    replaced: dict[str, str] = {}
    kept = []
    for node in graph.node:
        node.input[:] = [replaced.get(t, t) for t in node.input]
        if node.op_type == "Reshape" and node.output[0] not in outputs and _same_shape(
                shapes.get(node.input[0]), targets.get(node.input[1])):
            replaced[node.output[0]] = node.input[0]
            continue
        kept.append(node)
    if replaced:
        copies = [onnx.NodeProto.FromString(node.SerializeToString()) for node in kept]
        del graph.node[:]
        graph.node.extend(copies)


def _same_shape(shape: list[int | None] | None, target: list[int] | None) -> bool:
    """Whether reshaping a tensor of `shape` (None: unknown) to `target` leaves it as it is."""
    if not shape or target is None or len(shape) != len(target) or None in shape[1:] or shape[1:] != target[1:]:
        return False
    return target[0] == -1 or target[0] == shape[0]


def _number_symbolic_dims(graph: onnx.GraphProto) -> None:
    """Name the symbolic dimensions (tf2onnx's `unk__<counter>`) `n<k>` in order of appearance."""
    names: dict[str, str] = {}
    for value in (*graph.input, *graph.output, *graph.value_info):
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                dim.dim_param = names.setdefault(dim.dim_param, f"n{len(names)}")


def _strip(nodes) -> None:
    for node in nodes:
        node.doc_string = ""
        del node.metadata_props[:]


def _topological_order(graph: onnx.GraphProto) -> list[int]:
    """Node indices, each after the nodes its inputs come from: a post-order walk from the graph's
    outputs in order through each node's inputs in order (nodes no output needs follow, as listed)."""
    producer = {tensor: i for i, node in enumerate(graph.node) for tensor in node.output if tensor}
    order, seen = [], set()
    for root in [producer[o.name] for o in graph.output if o.name in producer] + list(range(len(graph.node))):
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(graph.node[root].input))]
        while stack:
            index, inputs = stack[-1]
            for tensor in inputs:
                source = producer.get(tensor)
                if source is not None and source not in seen:
                    seen.add(source)
                    stack.append((source, iter(graph.node[source].input)))
                    break
            else:
                stack.pop()
                order.append(index)
    return order
