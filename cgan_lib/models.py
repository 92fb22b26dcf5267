"""Networks: the generator G and discriminator D of ConfounderGAN, and the classifier zoo.

The classifiers are torchvision's models with the stem adapted to small images, as
CIFAR work does: the first convolution becomes 3x3 with stride 1 (2 in the ``ci``
profile, ``stem_stride``) and the max-pool is removed (torchvision's ImageNet stem shrinks
a 32x32 image to 8x8 before the first block and is known to change these results). Each classifier normalises its own input with the
training set's mean and std, so every caller feeds it images (or noise) in [0, 1] units.
"""
from __future__ import annotations

import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

ARCHS = ("resnet18", "resnet50", "vgg11", "densenet121")


def freeze(model: nn.Module, device=None) -> nn.Module:
    """Put ``model`` in eval mode with every parameter's gradient off (on ``device`` if
    given): how a trained f, G or victim is used once it is trained."""
    if device is not None:
        model = model.to(device)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class Normalize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class SmallResNet(ResNet):
    """torchvision's ResNet with a CIFAR stem and a width multiplier.

    ``width=1`` is the standard ResNet18/50 (64-128-256-512 channels); ``width=0.25`` is a
    quarter-width one for CPU profiles. Blocks, forward pass and initialisation are
    torchvision's own.
    """

    def __init__(self, block, layers, num_classes=10, in_channels=3, width=1.0, stem_stride=1):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.dilation, self.groups, self.base_width = 1, 1, 64
        w = [max(4, int(round(c * width))) for c in (64, 128, 256, 512)]
        self.inplanes = w[0]
        self.conv1 = nn.Conv2d(in_channels, w[0], 3, stem_stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()
        self.layer1 = self._make_layer(block, w[0], layers[0])
        self.layer2 = self._make_layer(block, w[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, w[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, w[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(w[3] * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


def _vgg11(num_classes, in_channels, width, stem_stride=1):
    m = torchvision.models.vgg11_bn(num_classes=num_classes)
    feats, prev = [], in_channels
    for layer in m.features:
        if isinstance(layer, nn.Conv2d):
            out = max(4, int(round(layer.out_channels * width)))
            feats.append(nn.Conv2d(prev, out, 3, stride=stem_stride if not feats else 1, padding=1))
            prev = out
        elif isinstance(layer, nn.BatchNorm2d):
            feats.append(nn.BatchNorm2d(prev))
        elif isinstance(layer, nn.MaxPool2d):
            feats.append(nn.MaxPool2d(2, 2, ceil_mode=True))  # 28x28 inputs survive 5 pools
        else:
            feats.append(layer)
    m.features = nn.Sequential(*feats)
    m.avgpool = nn.AdaptiveAvgPool2d(1)
    m.classifier = nn.Sequential(nn.Flatten(), nn.Linear(prev, num_classes))
    return m


def _densenet121(num_classes, in_channels, width, stem_stride=1):
    growth = max(4, int(round(32 * width)))
    m = torchvision.models.DenseNet(growth_rate=growth, block_config=(6, 12, 24, 16),
                                    num_init_features=2 * growth, num_classes=num_classes)
    m.features.conv0 = nn.Conv2d(in_channels, 2 * growth, 3, stem_stride, 1, bias=False)
    m.features.pool0 = nn.Identity()
    return m


class PretrainedWeightsUnavailable(RuntimeError):
    pass


def _imagenet_model(arch: str, num_classes: int, in_channels: int, pretrained: bool):
    """torchvision's own model with its ImageNet stem; with ``pretrained``, its ImageNet
    weights (downloaded by torchvision on first use) and a new last layer."""
    ctor = {"resnet18": torchvision.models.resnet18, "resnet50": torchvision.models.resnet50,
            "vgg11": torchvision.models.vgg11_bn, "densenet121": torchvision.models.densenet121}[arch]
    if not pretrained:
        net = ctor(num_classes=num_classes)
    else:
        if os.environ.get("CGAN_OFFLINE") == "1":
            raise PretrainedWeightsUnavailable(
                f"{arch}'s ImageNet weights are needed (Appendix G.3: f for ImageNet is "
                f"torchvision's pretrained model) but CGAN_OFFLINE=1 forbids the download. "
                f"Unset CGAN_OFFLINE on a machine with internet, or put the weights file in "
                f"torch's hub cache ({torch.hub.get_dir()}/checkpoints).")
        try:
            net = ctor(weights="DEFAULT")
        except Exception as e:  # URLError, HTTPError, ...
            raise PretrainedWeightsUnavailable(
                f"Could not obtain {arch}'s ImageNet weights from torchvision ({e}). Connect "
                f"to the internet once, or copy the weights file into {torch.hub.get_dir()}/checkpoints.") from e
        if arch.startswith("resnet"):
            net.fc = nn.Linear(net.fc.in_features, num_classes)
        elif arch == "vgg11":
            net.classifier[-1] = nn.Linear(net.classifier[-1].in_features, num_classes)
        else:
            net.classifier = nn.Linear(net.classifier.in_features, num_classes)
    if in_channels != 3:   # grayscale: a first convolution that takes one channel
        first = net.conv1 if arch.startswith("resnet") else (
            net.features[0] if arch == "vgg11" else net.features.conv0)
        new = nn.Conv2d(in_channels, first.out_channels, first.kernel_size, first.stride,
                        first.padding, bias=first.bias is not None)
        if pretrained:
            with torch.no_grad():
                new.weight.copy_(first.weight.mean(1, keepdim=True))
        if arch.startswith("resnet"):
            net.conv1 = new
        elif arch == "vgg11":
            net.features[0] = new
        else:
            net.features.conv0 = new
    return net


def make_classifier(arch: str, num_classes: int, in_channels: int, mean, std,
                    width: float = 1.0, image_size: int = 32, pretrained: bool = False,
                    stem_stride: int = 1) -> nn.Module:
    """A classifier from the zoo, with input normalisation built in.

    Images smaller than :data:`~cgan_lib.profiles.LARGE_IMAGE` pixels get the CIFAR stem
    and the width multiplier; larger ones torchvision's model as it is (ImageNet stem),
    optionally with its ImageNet weights (``pretrained``, full width only).
    ``stem_stride`` is the stride of the CIFAR stem's first convolution: 1 as in CIFAR
    work and the paper; 2 halves the resolution of every block (the ``ci`` profile: about
    2.7x faster a training step on a 2-core CPU, see ``profiles.py``). Large images keep
    torchvision's stem, which has its own stride.
    """
    from .profiles import LARGE_IMAGE
    arch = arch.lower()
    if arch not in ARCHS:
        raise ValueError(f"Unknown architecture {arch!r}. Known: {', '.join(ARCHS)}.")
    if stem_stride not in (1, 2):
        raise ValueError(f"stem_stride must be 1 (the CIFAR stem) or 2, got {stem_stride!r}.")
    if image_size >= LARGE_IMAGE:
        if pretrained and width != 1.0:
            raise ValueError("ImageNet weights exist only for the full-width models (width=1).")
        net = _imagenet_model(arch, num_classes, in_channels, pretrained)
    elif pretrained:
        raise ValueError(f"ImageNet weights are for images of {LARGE_IMAGE}+ pixels, not {image_size}.")
    elif arch == "resnet18":
        net = SmallResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels, width, stem_stride)
    elif arch == "resnet50":
        net = SmallResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, width, stem_stride)
    elif arch == "vgg11":
        net = _vgg11(num_classes, in_channels, width, stem_stride)
    else:
        net = _densenet121(num_classes, in_channels, width, stem_stride)
    return nn.Sequential(Normalize(mean, std), net)


# ----------------------------------------------------------------------------- GAN

def _pad16(x):
    h, w = x.shape[-2:]
    ph, pw = (-h) % 16, (-w) % 16
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x, h, w


class Generator(nn.Module):
    """G_theta: 4 strided convolutions down, 4 transposed convolutions up (Appendix G.3).

    The output is ``eps * tanh(.)``, so ``|G(x)|_inf <= eps`` holds by construction for any
    input. Any image size works: the input is padded to a multiple of 16 and the noise
    cropped back.
    """

    def __init__(self, channels: int = 3, eps: float = 8 / 255, width: int = 32):
        super().__init__()
        self.channels, self.eps, self.width = channels, float(eps), width
        c = [channels, width, 2 * width, 4 * width, 8 * width]
        down = []
        for i in range(4):
            down += [nn.Conv2d(c[i], c[i + 1], 4, 2, 1), nn.BatchNorm2d(c[i + 1]),
                     nn.LeakyReLU(0.2, inplace=True)]
        up = []
        for i in range(4, 0, -1):
            last = i == 1
            up += [nn.ConvTranspose2d(c[i], c[i - 1], 4, 2, 1)]
            if not last:
                up += [nn.BatchNorm2d(c[i - 1]), nn.ReLU(inplace=True)]
        self.down, self.up = nn.Sequential(*down), nn.Sequential(*up)

    def forward(self, x):
        xp, h, w = _pad16(x)
        noise = self.eps * torch.tanh(self.up(self.down(xp)))
        return noise[..., :h, :w]


class Discriminator(nn.Module):
    """D_phi: 4 strided convolutions and a binary classifier (logit of 'original')."""

    def __init__(self, channels: int = 3, width: int = 32):
        super().__init__()
        c = [channels, width, 2 * width, 4 * width, 8 * width]
        layers = []
        for i in range(4):
            layers += [nn.Conv2d(c[i], c[i + 1], 4, 2, 1)]
            if i > 0:
                layers += [nn.BatchNorm2d(c[i + 1])]
            layers += [nn.LeakyReLU(0.2, inplace=True)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c[4], 1))

    def forward(self, x):
        xp, _, _ = _pad16(x)
        return self.head(self.features(xp)).squeeze(1)


# ----------------------------------------------------------------------------- denoiser

class DnCNN(nn.Module):
    """DnCNN (Zhang et al. 2017): conv-ReLU, ``depth - 2`` conv-BN-ReLU blocks, conv; it
    predicts the noise and subtracts it (residual learning): ``x - body(x)``. Images in
    [0, 1] units in and out; any size (padding keeps it).

    One departure from Zhang et al.'s initialisation: the last convolution starts at zero,
    so an untrained DnCNN is the identity and training can only move it towards the
    clean images (with a random last layer, short runs end farther from the clean images
    than the noisy input was)."""

    def __init__(self, channels: int = 3, depth: int = 17, width: int = 64):
        super().__init__()
        if depth < 3:
            raise ValueError(f"DnCNN needs at least 3 layers, not {depth}.")
        layers = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(width, channels, 3, padding=1)]
        self.body = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x):
        return x - self.body(x)


def count_parameters(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def l2_bound(eps: float, shape) -> float:
    """The largest L2 norm an L-inf-bounded noise of this shape can have."""
    return eps * math.sqrt(math.prod(shape))
