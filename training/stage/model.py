"""Stage classifier network: the ImageNet ResNet18 (NuGet/CNTK layout) truncated after layer3 + linear head."""
import torch
import torch.nn as nn

from convert_resnet18 import make_resnet


class StageNet(nn.Module):
    def __init__(self, num_classes=10, dropout=0.2, upto=3):
        super().__init__()
        r = make_resnet()
        self.features = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, *[r.layer1, r.layer2, r.layer3, r.layer4][:upto])
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear([64, 128, 256, 512][upto - 1], num_classes)
        self._names = {"conv1": "features.0", "bn1": "features.1", "layer1": "features.4", "layer2": "features.5",
                       "layer3": "features.6", "layer4": "features.7"}

    def load_imagenet(self, sd):
        """Load a torchvision-style state_dict (from convert_resnet18.py) into the truncated backbone."""
        mapped = {}
        for k, v in sd.items():
            head, rest = k.split(".", 1)
            if head in self._names:
                mapped[self._names[head] + "." + rest] = v
        own = self.state_dict()
        mapped = {k: v for k, v in mapped.items() if k in own}
        missing = [k for k in own if k not in mapped and not k.startswith("fc.")]
        assert not missing, missing
        self.load_state_dict(mapped, strict=False)

    def forward(self, x):
        f = self.features(x).mean((2, 3))
        return self.fc(self.dropout(f))


class Exported(nn.Module):
    """Deployed graph: logits -> softmax probabilities."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), 1)
