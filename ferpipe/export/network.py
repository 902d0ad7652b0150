"""The kept Keras network as one ONNX file with two outputs, the class probabilities and the
`features` layer the SVM reads, written by the exporter of the backend Keras runs on.

TensorFlow: tf2onnx, as Keras' own `model.export(format="onnx")` calls it, but with only the crops as
graph inputs: Keras' call lists every tensor the function captures (the ResNet-50's ImageNet-mean
Normalization constants) as an input of the ONNX graph. torch: `torch.onnx.export` (TorchDynamo)
with a dynamic batch size, which Keras' export hands to the older TorchScript exporter, which fails
on Keras' squeeze; the weights are frozen first, since exporting a Resizing layer followed by
BatchNormalization with gradients on fails in torch's decomposition.

Either way the file is written through `canonical`, so that the same model gives the same bytes.
"""
from __future__ import annotations

from pathlib import Path

import keras

from ferpipe.core.fixed_zip import number_in_order
from ferpipe.export.canonical import canonical
from ferpipe.export.card import CROPS, FEATURES, PROBABILITIES
from ferpipe.nn.models import feature_model

OPSET = 18
GRAPH_NAME = "ferpipe_network"


def two_outputs(model: keras.Model, feature_layer: str) -> keras.Model:
    features = feature_model(model, feature_layer).output
    return keras.Model(model.inputs, {PROBABILITIES: model.output, FEATURES: features}, name=f"{model.name}_export")


def export_network(model: keras.Model, feature_layer: str, crop_size: int, path: Path) -> None:
    exported = two_outputs(model, feature_layer)
    if keras.config.backend() == "torch":
        _export_torch(exported, crop_size, path)
    else:
        _export_tensorflow(exported, crop_size, path)


def in_float32(model: keras.Model) -> keras.Model:
    """`model` itself if it computes in float32, else a copy of it that does, with the same weights.

    A network trained under a mixed policy (`mixed_bfloat16` on a CPU with native bf16, `mixed_float16` on
    a GPU) keeps float32 weights but computes in 16 bits, and tf2onnx writes its casts as ops that ONNX
    Runtime refuses to load (a `Min` bound to float16 and float). Only the layers' dtype policies change.
    """
    config, mixed = model.get_config(), []

    def float32_policy(key: str, value):
        if key == "dtype" and isinstance(value, dict) and value.get("class_name") == "DTypePolicy" \
                and value["config"]["name"].startswith("mixed_"):
            mixed.append(value["config"]["name"])
            return {**value, "config": {**value["config"], "name": "float32"}}
        return None

    number_in_order(config, float32_policy)
    if not mixed:
        return model
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def _export_tensorflow(model: keras.Model, crop_size: int, path: Path) -> None:
    import tensorflow as tf
    import tf2onnx
    from keras.src.export.tf2onnx_lib import patch_tf2onnx
    from tf2onnx import tf_loader

    function = tf.function(lambda crops: model(crops, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec((None, crop_size, crop_size, 1), tf.float32, name=CROPS))
    crops = concrete.inputs[0].name  # the captured tensors come after the function's own argument
    outputs = {tensor.name: name for name, tensor in concrete.structured_outputs.items()}
    patch_tf2onnx()  # Keras' fix of tf2onnx for numpy 2
    graph_def = tf_loader.from_function(concrete, [crops], list(outputs))
    onx, _ = tf2onnx.convert.from_graph_def(graph_def, input_names=[crops], output_names=list(outputs), opset=OPSET,
                                            tensors_to_rename={crops: CROPS, **outputs})
    _save(onx, path)


def _export_torch(model: keras.Model, crop_size: int, path: Path) -> None:
    import torch

    model.trainable = False  # Keras turns off requires_grad of every weight
    model.eval()
    example = (torch.zeros(2, crop_size, crop_size, 1),)
    batch = torch.export.Dim("batch")
    outputs = keras.tree.flatten({name: name for name in model.output})  # the order torch sees them in
    # optimize=True (the default, written out) runs onnxscript's optimizer once. A second pass
    # (program.optimize()) cost the ResNet-50 8 s more and only removed one pair of consecutive Transposes,
    # which ONNX Runtime's graph optimizer removes when it loads the file anyway.
    program = torch.onnx.export(model, example, dynamo=True, opset_version=OPSET, input_names=[CROPS],
                                output_names=outputs, dynamic_shapes=(({0: batch},),), optimize=True, verbose=False)
    _save(program.model_proto, path)


def _save(onx, path: Path) -> None:
    path.write_bytes(canonical(onx, GRAPH_NAME).SerializeToString())
