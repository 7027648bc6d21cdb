"""BlossomNet: a small CenterNet-style detector (MobileNetV2-like inverted residuals, FPN-lite neck, stride-4 heads).

Heads at 1/4 of the input: cluster-centre heatmap (1), box size (2: log of w, h in input pixels), sub-cell offset (2).
The exported graph adds sigmoid, a 3x3 max-pool peak mask and exp() so the C# side only thresholds peaks.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def cbr(cin, cout, k=3, s=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, s=1, e=3):
        super().__init__()
        mid = cin * e
        self.block = nn.Sequential(cbr(cin, mid, 1), cbr(mid, mid, 3, s, groups=mid), cbr(mid, cout, 1, act=False))
        self.residual = s == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


def sep(cin, cout):
    """Depthwise-separable 3x3 smoothing conv."""
    return nn.Sequential(cbr(cin, cin, 3, groups=cin), cbr(cin, cout, 1))


class BlossomNet(nn.Module):
    def __init__(self, width=1.0):
        super().__init__()
        c = [int(v * width) for v in (16, 24, 40, 80, 128)]
        n = int(64 * width)
        h = int(48 * width)
        self.stem = cbr(3, c[0], 3, 2)
        self.s4 = nn.Sequential(InvertedResidual(c[0], c[1], 2), InvertedResidual(c[1], c[1]))
        self.s8 = nn.Sequential(InvertedResidual(c[1], c[2], 2), InvertedResidual(c[2], c[2]))
        self.s16 = nn.Sequential(InvertedResidual(c[2], c[3], 2, 4), InvertedResidual(c[3], c[3], 1, 4), InvertedResidual(c[3], c[3], 1, 4))
        self.s32 = nn.Sequential(InvertedResidual(c[3], c[4], 2, 4), InvertedResidual(c[4], c[4], 1, 4))
        self.l32, self.l16, self.l8, self.l4 = cbr(c[4], n, 1), cbr(c[3], n, 1), cbr(c[2], n, 1), cbr(c[1], h, 1)
        self.m16, self.m8 = sep(n, n), sep(n, n)
        self.d4 = cbr(n, h, 1)
        self.m4 = sep(h, h)

        def head(out):
            return nn.Sequential(cbr(h, h, 3, groups=h), nn.Conv2d(h, 32, 1), nn.ReLU(inplace=True), nn.Conv2d(32, out, 1))

        self.hm, self.wh, self.off = head(1), head(2), head(2)
        nn.init.constant_(self.hm[-1].bias, -2.19)  # prior 0.1, CenterNet's init

    def forward(self, x):
        x4 = self.s4(self.stem(x))
        x8 = self.s8(x4)
        x16 = self.s16(x8)
        x32 = self.s32(x16)
        p16 = self.m16(self.l16(x16) + F.interpolate(self.l32(x32), scale_factor=2.0, mode="nearest"))
        p8 = self.m8(self.l8(x8) + F.interpolate(p16, scale_factor=2.0, mode="nearest"))
        p4 = self.m4(self.l4(x4) + F.interpolate(self.d4(p8), scale_factor=2.0, mode="nearest"))
        return self.hm(p4), self.wh(p4), self.off(p4)


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
