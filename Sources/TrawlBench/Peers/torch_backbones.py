"""torch CPU peer of `make bench`'s backbone figures (run by TrawlBench, never on the main path).

Usage: torch_backbones.py BATCH THREADS
Prints `torch VERSION` once the networks are built, then answers each network name read from
stdin (`efficientnet-lite0`, `resnet18`, `wide_resnet50_2`) with the seconds one forward pass of
that network takes: eager mode under `torch.inference_mode()`, `torch.set_num_threads(THREADS)`,
random weights (speed does not depend on them), input [BATCH, 3, 224, 224]. TrawlBench asks
for a warm-up pass first, then alternates its own timed passes with these.

torchvision's PyPI wheels do not load against the CPU-only torch wheel, so the networks are
defined here with plain torch.nn: ResNet-18 and WideResNet-50-2 in torchvision's layout
(BasicBlock / Bottleneck, stride on the 3x3 convolution), EfficientNet-Lite0 in the layout of
lukemelas' EfficientNet-PyTorch (TensorFlow "same" padding, ReLU6, no squeeze-excitation),
each cut after the layer Trawl taps (ResNets `layer3`, Lite0 `_blocks.10`).
"""
import sys
import time

import torch
from torch import nn


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride, width):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride, width):
        super().__init__()
        inner = planes * width // 64
        self.conv1 = nn.Conv2d(inplanes, inner, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(inner)
        self.conv2 = nn.Conv2d(inner, inner, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv3 = nn.Conv2d(inner, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


def resnet_to_layer3(block, layers, width=64):
    """torchvision's ResNet stem, layer1, layer2 and layer3."""
    modules = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    inplanes = 64
    for planes, count, stride in zip((64, 128, 256), layers, (1, 2, 2)):
        for i in range(count):
            modules.append(block(inplanes, planes, stride if i == 0 else 1, width))
            inplanes = planes * block.expansion
    return nn.Sequential(*modules)


class SamePadConv(nn.Sequential):
    """Convolution with TensorFlow "same" padding for a fixed input side (the smaller half first)."""

    def __init__(self, side, inputs, outputs, kernel, stride=1, groups=1):
        out_side = -(-side // stride)
        total = max((out_side - 1) * stride + kernel - side, 0)
        before = total // 2
        super().__init__(nn.ZeroPad2d((before, total - before, before, total - before)),
                         nn.Conv2d(inputs, outputs, kernel, stride, groups=groups, bias=False))


class MBConv(nn.Module):
    def __init__(self, side, inputs, outputs, expand, kernel, stride):
        super().__init__()
        inner = inputs * expand
        layers = []
        if expand != 1:
            layers += [nn.Conv2d(inputs, inner, 1, bias=False), nn.BatchNorm2d(inner, eps=1e-3), nn.ReLU6(inplace=True)]
        layers += [SamePadConv(side, inner, inner, kernel, stride, groups=inner), nn.BatchNorm2d(inner, eps=1e-3),
                   nn.ReLU6(inplace=True), nn.Conv2d(inner, outputs, 1, bias=False), nn.BatchNorm2d(outputs, eps=1e-3)]
        self.body = nn.Sequential(*layers)
        self.skip = stride == 1 and inputs == outputs

    def forward(self, x):
        out = self.body(x)
        return out + x if self.skip else out


def efficientnet_lite0_to_block10(side=224):
    """Stem and `_blocks.0` … `_blocks.10` of EfficientNet-Lite0."""
    # (expand ratio, kernel, stride, output channels, repeats) of the first five stages.
    stages = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3)]
    modules = [SamePadConv(side, 3, 32, 3, 2), nn.BatchNorm2d(32, eps=1e-3), nn.ReLU6(inplace=True)]
    side, inputs = -(-side // 2), 32
    for expand, kernel, stride, outputs, repeats in stages:
        for i in range(repeats):
            s = stride if i == 0 else 1
            modules.append(MBConv(side, inputs, outputs, expand, kernel, s))
            side, inputs = -(-side // s), outputs
    return nn.Sequential(*modules)


def main():
    batch, threads = (int(a) for a in sys.argv[1:3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    networks = {"efficientnet-lite0": efficientnet_lite0_to_block10(),
                "resnet18": resnet_to_layer3(BasicBlock, (2, 2, 2)),
                "wide_resnet50_2": resnet_to_layer3(Bottleneck, (3, 4, 6), width=128)}
    for network in networks.values():
        network.eval()
    x = torch.randn(batch, 3, 224, 224)
    print(f"torch {torch.__version__}", flush=True)
    for line in sys.stdin:
        network = networks[line.strip()]
        with torch.inference_mode():
            start = time.perf_counter()
            network(x)
            print(f"{time.perf_counter() - start:.6f}", flush=True)


if __name__ == "__main__":
    main()
