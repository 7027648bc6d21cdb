"""BlossomNet: a small CenterNet-style detector of plain 3x3 convolutions (FPN-lite neck, stride-4 heads).

Plain convolutions rather than depthwise-separable ones: on this CPU they train ~10x faster per step in PyTorch for the
same multiply-adds, and ONNX Runtime runs them efficiently too. Heads at 1/4 of the input: cluster-centre heatmap (1),
box size (2: log of w, h in input pixels), sub-cell offset (2). The exported graph adds sigmoid, a 3x3 max-pool peak
mask and exp() so the C# side only thresholds peaks.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def cbr(cin, cout, s=1, k=3):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class BlossomNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.s4 = nn.Sequential(cbr(3, 16, 2), cbr(16, 32, 2))            # 1/4
        self.s8 = nn.Sequential(cbr(32, 48, 2), cbr(48, 48))              # 1/8
        self.s16 = nn.Sequential(cbr(48, 64, 2), cbr(64, 64))             # 1/16
        self.s32 = nn.Sequential(cbr(64, 96, 2), cbr(96, 96))             # 1/32: context (canopy vs sky vs soil)
        self.l32, self.l16, self.l8 = cbr(96, 48, k=1), cbr(64, 48, k=1), cbr(48, 48, k=1)
        self.m16, self.m8 = cbr(48, 48), cbr(48, 48)
        self.l4, self.d4 = cbr(32, 32, k=1), cbr(48, 32, k=1)
        self.m4 = cbr(32, 32)
        self.head = nn.Sequential(cbr(32, 32), nn.Conv2d(32, 5, 1))
        with torch.no_grad():
            self.head[-1].bias[0] = -2.19  # heatmap prior 0.1, CenterNet's init

    def forward(self, x):
        x4 = self.s4(x)
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
