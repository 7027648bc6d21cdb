"""BlossomNet 2: ImageNet ResNet18 trunk (stem, layer1, layer2) + a light context path + FPN-lite neck + CenterNet heads.

The trunk's low-level filters were learnt on real photographs, so they carry over from synthetic training frames to
real orchard photos far better than filters learnt from scratch on composites (v1, docs/adr/0064). layer3/layer4 are
not used: their multiply-adds at frame scale would blow the frame budget; two cheap stride-2 convolutions give the
1/16 and 1/32 context (canopy vs sky vs soil) instead. Heads at 1/4 of the input: cluster-centre heatmap (1), box size
(2: log of w, h in input pixels), sub-cell offset (2). The exported graph adds sigmoid, a 3x3 max-pool peak mask and
exp() so the C# side only thresholds peaks.
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
    def __init__(self, neck=64, head=48):
        super().__init__()
        r = make_resnet()
        self.stem = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool)   # 1/4, 64
        self.layer1 = r.layer1                                          # 1/4, 64
        self.layer2 = r.layer2                                          # 1/8, 128
        self.c16 = nn.Sequential(cbr(128, 128, 2), cbr(128, 128))       # 1/16: context
        self.c32 = cbr(128, 128, 2)                                     # 1/32: canopy vs sky vs soil
        self.l32, self.l16, self.l8 = cbr(128, neck, k=1), cbr(128, neck, k=1), cbr(128, neck, k=1)
        self.m16, self.m8 = cbr(neck, neck), cbr(neck, neck)
        self.l4, self.d4 = cbr(64, head, k=1), cbr(neck, head, k=1)
        self.head = nn.Sequential(cbr(head, head), cbr(head, head), nn.Conv2d(head, 5, 1))
        with torch.no_grad():
            self.head[-1].bias[0] = -2.19  # heatmap prior 0.1, CenterNet's init

    def load_imagenet(self, path):
        """Trunk weights from training/stage/convert_resnet18.py (torchvision names; expects (RGB/255-mean)/std input)."""
        sd = torch.load(path)
        own = {"conv1": "stem.0", "bn1": "stem.1", "layer1": "layer1", "layer2": "layer2"}
        mapped = {own[k.split(".", 1)[0]] + "." + k.split(".", 1)[1]: v for k, v in sd.items() if k.split(".", 1)[0] in own}
        missing, _ = self.load_state_dict(mapped, strict=False)
        trunk = [k for k in missing if k.startswith(("stem.", "layer1.", "layer2."))]
        assert not trunk, trunk
        return len(mapped)

    def trunk(self):
        return [self.stem, self.layer1, self.layer2]

    def forward(self, x):
        x4 = self.layer1(self.stem(x))
        x8 = self.layer2(x4)
        x16 = self.c16(x8)
        x32 = self.c32(x16)
        p16 = self.m16(self.l16(x16) + F.interpolate(self.l32(x32), scale_factor=2.0, mode="nearest"))
        p8 = self.m8(self.l8(x8) + F.interpolate(p16, scale_factor=2.0, mode="nearest"))
        p4 = self.l4(x4) + F.interpolate(self.d4(p8), scale_factor=2.0, mode="nearest")
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
