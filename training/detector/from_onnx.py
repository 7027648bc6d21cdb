"""A BlossomNet checkpoint from an exported detector (models/blossom-detector.onnx), to fine-tune the shipped model
when its training checkpoint is not at hand.

  /usr/bin/python3 training/detector/from_onnx.py --onnx models/blossom-detector.onnx --out training/cache/detector/shipped.pt

torch.onnx.export folded every batch norm into the convolution before it, so each batch norm is restored as the
identity on top of the folded convolution (weight 1, bias = the folded bias, mean 0, variance 1 - eps): the network
computes exactly what the ONNX file does as long as the batch norms stay in eval mode, which is why a fine-tune of such
a checkpoint uses train.py --freeze-bn. The conversion is checked against `treescout detect` output when given.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import validate  # noqa: E402
from model import BlossomNet, Exported  # noqa: E402


def module_name(conv_output):
    """'/net/s8/s8.0/s8.0.0/Conv_output_0' -> 's8.0.0'; '/net/stem/stem.4/conv1/Conv_output_0' -> 'stem.4.conv1'."""
    parts = conv_output.split("/")[2:-1]
    name = parts[0]
    for p in parts[1:]:
        name = p if p.startswith(name + ".") else name + "." + p
    return name


def convert(path):
    model = onnx.load(path)
    init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    net = BlossomNet()
    modules = dict(net.named_modules())
    order = list(modules)
    sd = net.state_dict()
    done = set()
    for n in model.graph.node:
        if n.op_type != "Conv":
            continue
        name = module_name(n.output[0])
        conv = modules[name]
        weight, bias = init[n.input[1]], init[n.input[2]]
        assert conv.weight.shape == weight.shape, (name, conv.weight.shape, weight.shape)
        sd[name + ".weight"] = weight
        if conv.bias is not None:
            sd[name + ".bias"] = bias
        else:
            bn = next(m for m in order[order.index(name) + 1:] if isinstance(modules[m], torch.nn.BatchNorm2d))
            eps = modules[bn].eps
            sd[bn + ".weight"] = torch.ones_like(bias)
            sd[bn + ".bias"] = bias
            sd[bn + ".running_mean"] = torch.zeros_like(bias)
            sd[bn + ".running_var"] = torch.full_like(bias, 1 - eps)
            done.add(bn)
        done.add(name)
    convs = {k for k, m in modules.items() if isinstance(m, (torch.nn.Conv2d, torch.nn.BatchNorm2d))}
    assert convs == done, "not restored: %s" % sorted(convs - done)
    net.load_state_dict(sd)
    return net


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--check", default=None, help="`treescout detect --json --score S` output of some frames: boxes must agree")
    ap.add_argument("--check-score", type=float, default=0.2)
    ap.add_argument("--check-frames", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(1)
    net = convert(args.onnx).eval()
    card = json.load(open(os.path.splitext(args.onnx)[0] + ".json"))
    if args.check:
        import cv2
        import common
        m = Exported(net).eval()
        worst, n = 0.0, 0
        for line in list(open(args.check))[: args.check_frames]:
            d = json.loads(line)
            img = cv2.imread(d["file"], cv2.IMREAD_COLOR)
            with torch.no_grad():
                peaks, size, offset = (o.numpy() for o in m(torch.from_numpy(common.to_input(img))[None]))
            mine = validate.decode(peaks, size, offset, img.shape[1], img.shape[0], args.check_score)
            theirs = [(b["x"], b["y"], b["w"], b["h"], b["score"]) for b in d["detections"]]
            # ONNX Runtime and torch round differently: a box right at the score threshold may be in one list only.
            near = [b for b in theirs if abs(b[4] - args.check_score) > 0.01]
            for b in near:
                best = max((validate.iou(b, c) for c in mine), default=0.0)
                worst = max(worst, 1 - best)
                n += 1
        print("checked %d boxes of %d frames against treescout detect: worst 1 - IoU %.4f" % (n, args.check_frames, worst))
        assert worst < 0.02, "the converted network does not reproduce the ONNX file"
    torch.save({"state_dict": net.state_dict(), "step": 0,
                "args": {"from_onnx": os.path.relpath(args.onnx), "version": card["version"], "sha256": card["sha256"]}}, args.out)
    print("wrote %s from %s (version %s)" % (args.out, args.onnx, card["version"]))


if __name__ == "__main__":
    main()
