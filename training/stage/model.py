"""Stage classifier network: the ImageNet ResNet18 (NuGet/CNTK layout) truncated after layer3 + linear head."""
import torch
import torch.nn as nn

from convert_resnet18 import make_resnet
from data import MEAN, STD


class MixStyle(nn.Module):
    """Training-only feature-statistics mixing (Zhou et al., ICLR 2021): with probability p, each sample's per-channel
    mean/std is replaced by a Beta(alpha, alpha) mix of its own and another sample's. Crops of one stage come from
    few cameras, so this keeps the network from reading the camera's colour and contrast as the stage. Identity at
    inference, so it adds nothing to the exported graph."""

    def __init__(self, p, alpha=0.1):
        super().__init__()
        self.p, self.alpha = p, alpha

    def forward(self, x):
        if not self.training or self.p <= 0 or torch.rand(1).item() > self.p:
            return x
        b = x.size(0)
        mu = x.mean((2, 3), keepdim=True)
        sig = (x.var((2, 3), keepdim=True) + 1e-6).sqrt()
        mu, sig = mu.detach(), sig.detach()
        lam = torch.distributions.Beta(self.alpha, self.alpha).sample((b, 1, 1, 1))
        perm = torch.randperm(b)
        return (x - mu) / sig * (sig * lam + sig[perm] * (1 - lam)) + (mu * lam + mu[perm] * (1 - lam))


class GrayWorld(nn.Module):
    """In-graph white balance: scales each channel so the crop's channel means are equal (gray-world assumption),
    keeping the crop's overall brightness. Removes the camera's colour cast before the backbone sees it."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))  # undoes the input's normalisation
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, x):
        x01 = x * self.std + self.mean
        cm = x01.mean((2, 3), keepdim=True)
        x01 = x01 * (cm.mean(1, keepdim=True) + 1e-3) / (cm + 1e-3)
        return (x01 - self.mean) / self.std


class StageNet(nn.Module):
    def __init__(self, num_classes=10, dropout=0.2, upto=3, mixstyle=0.0, grayworld=False):
        super().__init__()
        r = make_resnet()
        layers = [r.layer1, r.layer2, r.layer3, r.layer4][:upto]
        if mixstyle > 0:  # after layer1 and layer2, where the statistics still describe style more than content
            layers = [layers[0], MixStyle(mixstyle), layers[1], MixStyle(mixstyle), *layers[2:]]
        self.white = GrayWorld() if grayworld else nn.Identity()
        self.features = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, *layers)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear([64, 128, 256, 512][upto - 1], num_classes)
        idx = {id(m): i for i, m in enumerate(self.features)}
        self._names = {"conv1": "features.0", "bn1": "features.1"}
        self._names.update({"layer%d" % (k + 1): "features.%d" % idx[id(m)]
                            for k, m in enumerate([r.layer1, r.layer2, r.layer3, r.layer4][:upto])})

    def load_imagenet(self, sd):
        """Load a torchvision-style state_dict (from convert_resnet18.py) into the truncated backbone."""
        mapped = {}
        for k, v in sd.items():
            head, rest = k.split(".", 1)
            if head in self._names:
                mapped[self._names[head] + "." + rest] = v
        own = self.state_dict()
        mapped = {k: v for k, v in mapped.items() if k in own}
        missing = [k for k in own if k not in mapped and not k.startswith(("fc.", "white."))]
        assert not missing, missing
        self.load_state_dict(mapped, strict=False)

    def forward(self, x):
        f = self.features(self.white(x)).mean((2, 3))
        return self.fc(self.dropout(f))


class Exported(nn.Module):
    """Deployed graph: logits -> softmax probabilities."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), 1)
