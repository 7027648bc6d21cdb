"""Convert the ImageNet ResNet18 shipped in the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1
(MIT; tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx, a CNTK export without the fc layer) into a
torchvision resnet18 state_dict, and verify the conversion numerically.

What the NuGet model expects (from ResNetPrepOnnx/ResNetPreprocess.onnx): an RGB 1x3x224x224 float image on 0..255,
which it reorders to BGR and from which it subtracts a per-pixel mean image (channel means B 103.06, G 115.90,
R 123.15); no std scaling. Its convolutions use CNTK's asymmetric padding (e.g. pads 3,3,2,2 for the 7x7/2 stem),
which for even input sizes samples exactly the same grid as torchvision's symmetric padding. Unlike torchvision's
resnet18 its layer4 has 3 basic blocks (22 convolutions, 15.9 M parameters); we only use stem..layer3 anyway.

The converted state_dict takes torchvision-style input (RGB/255 - data.MEAN)/data.STD: conv1's input channels are
reversed (BGR -> RGB) and multiplied by 255*std, so (x/255-mean)/std feeds it exactly RGB*255 - channel mean.

Usage (repo root): /usr/bin/python3 training/stage/convert_resnet18.py [--onnx PATH] [--out training/runs/stage/resnet18_imagenet.pt]
The ONNX file is located via $RESNET18_ONNX, else ~/.nuget/packages/..., else restored with a throwaway .NET project
in /tmp/r18 (`dotnet add package Microsoft.ML.DnnImageFeaturizer.ResNet18 --version 0.23.1`). It is never committed.
"""
import argparse
import glob
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
import torchvision
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402

PKG = "microsoft.ml.dnnimagefeaturizer.resnet18"
VER = "0.23.1"
REL = os.path.join("tools", "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx")


def locate_onnx():
    env = os.environ.get("RESNET18_ONNX")
    if env and os.path.exists(env):
        return env
    roots = [os.environ.get("NUGET_PACKAGES", ""), os.path.expanduser("~/.nuget/packages")]
    for r in roots:
        p = os.path.join(r, PKG, VER, REL)
        if r and os.path.exists(p):
            return p
    # restore it with a throwaway .NET project outside the repo
    d = "/tmp/r18"
    os.makedirs(d, exist_ok=True)
    if not glob.glob(os.path.join(d, "*.csproj")):
        subprocess.check_call(["dotnet", "new", "console", "--force", "-o", d])
    subprocess.check_call(["dotnet", "add", "package", "Microsoft.ML.DnnImageFeaturizer.ResNet18", "--version", VER], cwd=d)
    p = os.path.join(os.path.expanduser("~/.nuget/packages"), PKG, VER, REL)
    if not os.path.exists(p):
        raise FileNotFoundError(p)
    return p


def _attrs(n):
    return {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}


def run_onnx_graph(model, x):
    """Minimal independent interpreter of the NuGet ResNet18 graph (Conv/BN/Relu/MaxPool/Add/AveragePool)
    honouring its asymmetric pads. Used only to verify the conversion."""
    init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    env = {model.graph.input[0].name: x}
    for n in model.graph.node:
        a = _attrs(n)
        i = [env[k] if k in env else init[k] for k in n.input]
        if n.op_type == "Conv":
            p = a.get("pads", [0, 0, 0, 0])  # [top, left, bottom, right]
            y = F.conv2d(F.pad(i[0], (p[1], p[3], p[0], p[2])), i[1], i[2] if len(i) > 2 else None,
                         stride=a["strides"], dilation=a.get("dilations", 1), groups=a.get("group", 1))
        elif n.op_type == "BatchNormalization":
            y = F.batch_norm(i[0], i[3], i[4], i[1], i[2], False, 0.0, a.get("epsilon", 1e-5))
        elif n.op_type == "Relu":
            y = F.relu(i[0])
        elif n.op_type == "MaxPool":
            p = a.get("pads", [0, 0, 0, 0])
            y = F.max_pool2d(F.pad(i[0], (p[1], p[3], p[0], p[2]), value=float("-inf")), a["kernel_shape"], a["strides"])
        elif n.op_type == "Add":
            y = i[0] + i[1]
        elif n.op_type == "AveragePool":
            y = F.avg_pool2d(i[0], a["kernel_shape"], a["strides"])
        else:
            raise NotImplementedError(n.op_type)
        env[n.output[0]] = y
    return env[model.graph.output[0].name]


BLOCKS = [2, 2, 2, 3]


def make_resnet():
    """torchvision ResNet with BasicBlocks [2, 2, 2, 3], the layout of the NuGet ResNet18."""
    return torchvision.models.resnet.ResNet(torchvision.models.resnet.BasicBlock, BLOCKS)


def convert(model):
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    convs = []  # (weight, [gamma, beta, mean, var]) in graph order
    for idx, n in enumerate(model.graph.node):
        if n.op_type == "Conv":
            bn = next(m for m in model.graph.node if m.op_type == "BatchNormalization" and m.input[0] == n.output[0])
            convs.append((init[n.input[1]], [init[k] for k in bn.input[1:5]]))
    main = [c for c in convs if c[0].shape[-1] != 1]
    down = [c for c in convs if c[0].shape[-1] == 1]
    # this CNTK ResNet18 has 3 basic blocks in layer4 (torchvision: 2), i.e. block counts [2, 2, 2, 3]
    names = ["conv1"] + ["layer%d.%d.conv%d" % (l, b, c) for l in range(1, 5) for b in range(BLOCKS[l - 1]) for c in (1, 2)]
    dnames = ["layer%d.0.downsample.0" % l for l in range(2, 5)]
    assert len(main) == len(names) and len(down) == len(dnames)
    sd = {}
    for (w, bn), nm in list(zip(main, names)) + list(zip(down, dnames)):
        bnm = nm.replace("conv", "bn") if "downsample" not in nm else nm[:-1] + "1"
        sd[nm + ".weight"] = torch.from_numpy(w.copy())
        for key, v in zip(["weight", "bias", "running_mean", "running_var"], bn):
            sd[bnm + "." + key] = torch.from_numpy(v.copy())
        sd[bnm + ".num_batches_tracked"] = torch.tensor(0)
    ref = make_resnet().state_dict()
    for k, v in sd.items():
        assert ref[k].shape == v.shape, (k, ref[k].shape, v.shape)
    missing = [k for k in ref if k not in sd]
    assert missing == ["fc.weight", "fc.bias"], missing
    return sd


def fold_rgb_input(sd_bgr255):
    """BGR 0..255-minus-mean input -> (RGB/255 - MEAN)/STD input."""
    sd = dict(sd_bgr255)
    w = sd["conv1.weight"].flip(1)  # BGR -> RGB
    sd["conv1.weight"] = w * (255.0 * torch.tensor(data.STD)).view(1, 3, 1, 1)
    return sd


def features(sd, x):
    m = make_resnet()
    m.fc = torch.nn.Identity()
    m.load_state_dict({k: v for k, v in sd.items() if not k.startswith("fc.")}, strict=False)
    m.eval()
    with torch.no_grad():
        return m(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", default=None)
    ap.add_argument("--out", default=os.path.join(data.repo_root(), "training", "runs", "stage", "resnet18_imagenet.pt"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    path = args.onnx or locate_onnx()
    print("ResNet18.onnx:", path)
    model = onnx.load(path)
    sd = convert(model)

    # 1) converted torch model == ONNX graph on the same (BGR, 0..255 minus per-pixel mean) input
    torch.manual_seed(0)
    items = data.list_crops()
    rgb = np.stack([data.resize_area(data.load_rgb(items[i][0]), 224) for i in (0, 4000, 8000)]).astype(np.float32)
    prep = onnx.load(os.path.join(os.path.dirname(os.path.dirname(path)), "ResNetPrepOnnx", "ResNetPreprocess.onnx"))
    mean_img = torch.from_numpy(numpy_helper.to_array(prep.graph.initializer[0]).copy())  # [1,3,224,224] BGR
    x_bgr = torch.from_numpy(rgb[..., ::-1].copy()).permute(0, 3, 1, 2) - mean_img
    ref = run_onnx_graph(model, x_bgr).flatten(1)
    got = features(sd, x_bgr)
    err = (ref - got).abs().max().item() / ref.abs().max().item()
    print("check 1: ONNX graph vs torch (BGR input): max rel diff %.2e, feature mean %.3f" % (err, ref.mean().item()))
    assert err < 1e-4

    # 2) folded RGB/255 normalisation == BGR 0..255 minus channel mean
    sd_rgb = fold_rgb_input(sd)
    x_rgb = torch.from_numpy(data.to_tensor_np(rgb.astype(np.uint8)))
    chan_mean = torch.tensor([m * 255.0 for m in data.MEAN[::-1]]).view(1, 3, 1, 1)  # BGR channel means
    x_bgr_c = torch.from_numpy(rgb[..., ::-1].copy()).permute(0, 3, 1, 2) - chan_mean
    ref2 = run_onnx_graph(model, x_bgr_c).flatten(1)
    got2 = features(sd_rgb, x_rgb)
    err2 = (ref2 - got2).abs().max().item() / ref2.abs().max().item()
    print("check 2: ONNX graph (channel-mean input) vs folded torch model on (RGB/255-mean)/std: max rel diff %.2e" % err2)
    assert err2 < 1e-4
    err3 = (ref - ref2).abs().max().item() / ref.abs().max().item()
    print("info: per-pixel mean image vs per-channel mean changes features by max rel %.2e" % err3)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    torch.save(sd_rgb, args.out)
    print("saved", args.out)


if __name__ == "__main__":
    main()
