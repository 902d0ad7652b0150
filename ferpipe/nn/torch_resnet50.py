"""The project's Keras ResNet-50 (`ferpipe.nn.models.build_resnet50`) as a plain PyTorch module, layer
for layer, and the copy of weights between the two.

keras.applications' ResNet-50 is v1 (the stride in each stage's first 1x1 convolution, biases in
every convolution, BatchNorm epsilon 1.001e-5); torchvision's is v1.5, so it is written out here.
Every module is named as its Keras layer, so weights go across by name: Keras builds and
initialises the network (ImageNet or a weights file included), this module trains it on the CPU in
channels-last memory with bf16 autocast, and the trained weights go back into the Keras model
that every later stage loads. Keras' BatchNorm momentum 0.99 is PyTorch's 0.01.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ferpipe.nn.models import BACKBONE_NAME, IMAGENET_BGR_MEAN

BN_EPSILON = 1.001e-5
BN_MOMENTUM = 0.01  # Keras' 0.99: moving = 0.99 x moving + 0.01 x batch
STAGES = (("conv2", 64, 3, 1), ("conv3", 128, 4, 2), ("conv4", 256, 6, 2), ("conv5", 512, 3, 2))


def _batchnorm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPSILON, momentum=BN_MOMENTUM)


class Bottleneck(nn.Module):
    """keras.applications.resnet's block1: 1x1 (stride) -> 3x3 -> 1x1 x4, with a projection shortcut first."""

    def __init__(self, name: str, in_channels: int, filters: int, stride: int, projection: bool):
        super().__init__()
        self.name = name
        self.convs = nn.ModuleDict()
        self.bns = nn.ModuleDict()
        if projection:
            self.convs["0"] = nn.Conv2d(in_channels, 4 * filters, 1, stride=stride)
            self.bns["0"] = _batchnorm(4 * filters)
        self.convs["1"] = nn.Conv2d(in_channels, filters, 1, stride=stride)
        self.convs["2"] = nn.Conv2d(filters, filters, 3, padding=1)
        self.convs["3"] = nn.Conv2d(filters, 4 * filters, 1)
        for i, channels in (("1", filters), ("2", filters), ("3", 4 * filters)):
            self.bns[i] = _batchnorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.bns["0"](self.convs["0"](x)) if "0" in self.convs else x
        y = F.relu(self.bns["1"](self.convs["1"](x)))
        y = F.relu(self.bns["2"](self.convs["2"](y)))
        return F.relu(shortcut + self.bns["3"](self.convs["3"](y)))

    def keras_names(self):
        """(module, Keras layer name) of each convolution and BatchNorm."""
        for i in self.convs:
            yield self.convs[i], f"{self.name}_{i}_conv"
            yield self.bns[i], f"{self.name}_{i}_bn"


class ResNet50(nn.Module):
    """Grey uint8 crops (N, S, S) -> class logits, as `build_resnet50` computes them (softmax left to the loss)."""

    def __init__(self, input_size: int, num_classes: int, dropout: float):
        super().__init__()
        self.input_size = input_size
        self.register_buffer("mean", torch.tensor(IMAGENET_BGR_MEAN).view(1, 3, 1, 1), persistent=False)
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3)
        self.bn1 = _batchnorm(64)
        blocks, channels = [], 64
        for stage, filters, count, stride in STAGES:
            for b in range(1, count + 1):
                blocks.append(Bottleneck(f"{stage}_block{b}", channels, filters, stride if b == 1 else 1, b == 1))
                channels = 4 * filters
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels, num_classes)

    def inputs(self, crops: torch.Tensor) -> torch.Tensor:
        """uint8 (N, S, S) -> (N, 3, input, input) float, ImageNet's BGR mean subtracted, channels-last."""
        x = crops[:, None].float()
        if x.shape[-1] != self.input_size:  # Keras' Resizing: bilinear, half-pixel centres, no antialiasing
            x = F.interpolate(x, size=(self.input_size,) * 2, mode="bilinear", align_corners=False)
        return (x.expand(-1, 3, -1, -1) - self.mean).contiguous(memory_format=torch.channels_last)

    def features(self, crops: torch.Tensor) -> torch.Tensor:
        """The 2,048-d pooled output (the Keras model's `features` layer)."""
        return self.features_of_inputs(self.inputs(crops))

    def features_of_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled output of the network's float input (`inputs`' output, or a blend of such)."""
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 3, stride=2, padding=1)  # Keras pads with zeros after a ReLU: the same maximum
        return self.blocks(x).mean(dim=(2, 3))

    def logits_of_inputs(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features_of_inputs(x)))

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.logits_of_inputs(self.inputs(crops))

    def backbone_modules(self):
        """(module, Keras layer name) of every layer with weights inside Keras' `resnet50` sub-model."""
        yield self.conv1, "conv1_conv"
        yield self.bn1, "conv1_bn"
        for block in self.blocks:
            yield from block.keras_names()


def _keras_to_torch(module: nn.Module, weights: list[np.ndarray]) -> None:
    with torch.no_grad():
        if isinstance(module, nn.BatchNorm2d):
            for target, value in zip((module.weight, module.bias, module.running_mean, module.running_var), weights):
                target.copy_(torch.from_numpy(value))
        elif isinstance(module, nn.Conv2d):  # Keras kernel (kh, kw, in, out) -> (out, in, kh, kw)
            module.weight.copy_(torch.from_numpy(weights[0]).permute(3, 2, 0, 1))
            module.bias.copy_(torch.from_numpy(weights[1]))
        else:  # Dense (in, out) -> Linear (out, in)
            module.weight.copy_(torch.from_numpy(weights[0]).T)
            module.bias.copy_(torch.from_numpy(weights[1]))


def _torch_to_keras(module: nn.Module) -> list[np.ndarray]:
    if isinstance(module, nn.BatchNorm2d):
        tensors = (module.weight, module.bias, module.running_mean, module.running_var)
    elif isinstance(module, nn.Conv2d):
        tensors = (module.weight.permute(2, 3, 1, 0), module.bias)
    else:
        tensors = (module.weight.T, module.bias)
    return [t.detach().float().contiguous().numpy().copy() for t in tensors]


def _pairs(net: ResNet50, keras_model):
    backbone = keras_model.get_layer(BACKBONE_NAME)
    for module, name in net.backbone_modules():
        yield module, backbone.get_layer(name)
    yield net.head, keras_model.get_layer("predictions")


def from_keras(keras_model, input_size: int, num_classes: int, dropout: float) -> ResNet50:
    """A PyTorch copy of a `build_resnet50` model, its weights and BatchNorm statistics included."""
    net = ResNet50(input_size, num_classes, dropout)
    for module, layer in _pairs(net, keras_model):
        _keras_to_torch(module, [np.asarray(w) for w in layer.get_weights()])
    return net


def into_keras(net: ResNet50, keras_model) -> None:
    """Write the module's weights and BatchNorm statistics into the Keras model it came from."""
    for module, layer in _pairs(net, keras_model):
        layer.set_weights(_torch_to_keras(module))
