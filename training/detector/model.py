"""BlossomNet 2: the first layers of an ImageNet ResNet18 (conv1, maxpool, first BasicBlock of layer1; frozen) as the
stem, then v1's cheap plain-convolution stages to 1/32, FPN-lite neck and CenterNet heads.

The stem's low-level filters were learnt on real photographs, so they carry over from synthetic training frames to real
orchard photos better than filters learnt from scratch on composites (v1). The full ResNet18 trunk up to layer2
(~3.4 GMAC at 480x288) ran ~120 ms per frame in ONNX Runtime on the 2-core target, which breaks the frame budget with the
stage classifier; this variant is ~1.5 GMAC. Heads at 1/4 of the input: cluster-centre heatmap (1), box size (2: log of
w, h in input pixels), sub-cell offset (2). The exported graph adds sigmoid, a 3x3 max-pool peak mask and exp() so the C#
side only thresholds peaks.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stage"))
from convert_resnet18 import make_resnet  # noqa: E402


def cbr(cin, cout, s=1, k=3):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class BlossomNet(nn.Module):
    def __init__(self):
        super().__init__()
        r = make_resnet()
        # ImageNet ResNet18 conv1 + maxpool + the first BasicBlock of layer1: 1/4, 64 channels (frozen in training)
        self.stem = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1[0])
        self.s8 = nn.Sequential(cbr(64, 64, 2), cbr(64, 64))              # 1/8
        self.s16 = nn.Sequential(cbr(64, 96, 2), cbr(96, 96))             # 1/16
        self.s32 = nn.Sequential(cbr(96, 128, 2), cbr(128, 128))          # 1/32: context (canopy vs sky vs soil)
        self.l32, self.l16, self.l8 = cbr(128, 48, k=1), cbr(96, 48, k=1), cbr(64, 48, k=1)
        self.m16, self.m8 = cbr(48, 48), cbr(48, 48)
        self.l4, self.d4 = cbr(64, 32, k=1), cbr(48, 32, k=1)
        self.m4 = cbr(32, 32)
        self.head = nn.Sequential(cbr(32, 32), nn.Conv2d(32, 5, 1))
        with torch.no_grad():
            self.head[-1].bias[0] = -2.19  # heatmap prior 0.1, CenterNet's init

    def load_imagenet(self, path):
        """Stem weights from training/stage/convert_resnet18.py (torchvision names; expects (RGB/255-mean)/std input)."""
        sd = torch.load(path)
        mapped = {}
        for k, v in sd.items():
            head, rest = k.split(".", 1)
            if head == "conv1":
                mapped["stem.0." + rest] = v
            elif head == "bn1":
                mapped["stem.1." + rest] = v
            elif k.startswith("layer1.0."):
                mapped["stem.4." + k[len("layer1.0."):]] = v
        missing, _ = self.load_state_dict(mapped, strict=False)
        stem = [k for k in missing if k.startswith("stem.")]
        assert not stem, stem
        return len(mapped)

    def forward(self, x):
        x4 = self.stem(x)
        x8 = self.s8(x4)
        x16 = self.s16(x8)
        x32 = self.s32(x16)
        p16 = self.m16(self.l16(x16) + F.interpolate(self.l32(x32), scale_factor=2.0, mode="nearest"))
        p8 = self.m8(self.l8(x8) + F.interpolate(p16, scale_factor=2.0, mode="nearest"))
        p4 = self.m4(self.l4(x4) + F.interpolate(self.d4(p8), scale_factor=2.0, mode="nearest"))
        out = self.head(p4)
        return out[:, 0:1], out[:, 1:3], out[:, 3:5]


class Exported(nn.Module):
    """Deployed graph: heatmap (peaks only, sigmoid), size (w, h in input pixels), offset (cells)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        hm, wh, off = self.net(x)
        hm = torch.sigmoid(hm)
        peaks = hm * (F.max_pool2d(hm, 3, 1, 1) == hm).float()
        return peaks, torch.exp(wh), off
