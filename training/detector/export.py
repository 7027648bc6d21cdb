"""Export a trained BlossomNet to ONNX and write its card (models/blossom-detector.json, without the evaluation block,
which `dotnet run --project bench/TreeScout.Bench -c Release -- evaluate --write-card` fills from the committed model).
A model trained with reviewed field datasets (train.py --coco) gets them, and its held-out block's numbers, in the card.

  /usr/bin/python3 training/detector/export.py --ckpt training/runs/detector/d2/model.pt --version 2.0.0
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from model import BlossomNet, Exported  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", default=os.path.join(common.repo_root(), "models", "blossom-detector.onnx"))
    ap.add_argument("--score", type=float, default=0.3)
    ap.add_argument("--nms-iou", type=float, default=0.5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ck = torch.load(args.ckpt)
    net = BlossomNet()
    net.load_state_dict(ck["state_dict"])
    m = Exported(net.eval()).eval()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    dummy = torch.zeros(1, 3, 288, 480)
    torch.onnx.export(m, dummy, args.out, opset_version=17, input_names=["input"], output_names=["heatmap", "size", "offset"],
                      dynamic_axes={"input": {2: "H", 3: "W"}, "heatmap": {2: "h", 3: "w"}, "size": {2: "h", 3: "w"}, "offset": {2: "h", 3: "w"}},
                      do_constant_folding=True)
    mo = onnx.load(args.out)
    onnx.checker.check_model(mo)
    mo.producer_name = "TreeScout training/detector/export.py"
    onnx.save(mo, args.out)
    sha = hashlib.sha256(open(args.out, "rb").read()).hexdigest()
    card_path = os.path.splitext(args.out)[0] + ".json"
    old = json.load(open(card_path)) if os.path.exists(card_path) else {}
    card = {
        "name": "blossom-detector",
        "version": args.version,
        "task": "blossom-cluster-detection",
        "file": os.path.basename(args.out),
        "sha256": sha,
        "parameters": int(sum(p.numel() for p in net.parameters())),
        "input": {"name": "input", "layout": "NCHW", "shape": [1, 3, "H", "W"], "colorOrder": "RGB", "resize": "INTER_AREA",
                  "scale": 1 / 255.0, "mean": common.MEAN, "std": common.STD},
        "outputs": [{"name": "heatmap", "shape": [1, 1, "h", "w"]}, {"name": "size", "shape": [1, 2, "h", "w"]},
                    {"name": "offset", "shape": [1, 2, "h", "w"]}],
        "detector": {"inputScale": common.INPUT_SCALE, "padMultiple": common.STRIDE_PAD, "outputStride": common.OUTPUT_STRIDE},
        "classes": ["blossom-cluster"],
        "thresholds": {"score": args.score, "nmsIou": args.nms_iou},
        "training": {
            "script": "training/detector/train.py", "checkpointStep": ck["step"], "args": ck["args"],
            "data": "simulator frames (training/detector/simdata.py: treescout simulate --crop-cameras train, seeds 1001-1024) and "
                    "synthetic composites (training/detector/composite.py), both of real BBCH cluster crops from the training cameras "
                    "(all except %s) of github 19ngxuan/appleBlossomDataset (no licence stated; research use)" % ", ".join(common.HELD_OUT_CAMERAS),
            "pretrained": "stem = conv1 + first layer1 block of ImageNet ResNet18 from NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18 (MIT), "
                          "converted by training/stage/convert_resnet18.py; frozen in training",
            "heldOutCameras": common.HELD_OUT_CAMERAS,
            "realFrames": "github aborger/FruitCount Tree_9_East_{b,c,d,e} (MIT): evaluation only, never trained on",
        },
    }
    if ck.get("datasets"):
        # Which reviewed field datasets trained the model, and how it did on the block held out of them.
        card["training"]["datasets"] = ck["datasets"]
        card["training"]["heldOut"] = ck.get("heldOut")
        card["training"]["init"] = ck["args"].get("init")
        card["training"]["data"] += "; fine-tuned on reviewed field frames: " + ", ".join(
            "%s (%d images, %d boxes, blocks %s)" % (d["name"], d["images"], d["boxes"], ", ".join(d["blocks"])) for d in ck["datasets"])
    for keep in ("evaluation", "latency"):
        if keep in old and old.get("sha256") == sha:
            card[keep] = old[keep]
    with open(card_path, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    # torch vs the exported graph on a real-sized input
    x = torch.from_numpy(np.random.default_rng(0).normal(0, 1, (1, 3, 288, 480)).astype(np.float32))
    with torch.no_grad():
        ref = [t.numpy() for t in m(x)]
    print("exported %s (%.2f MB, sha256 %s), card %s" % (args.out, os.path.getsize(args.out) / 1e6, sha, card_path))
    print("output shapes", [r.shape for r in ref])


if __name__ == "__main__":
    main()
