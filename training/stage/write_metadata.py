"""Write models/bbch-stage.json from the exported model, its checkpoint, the ONNX Runtime evaluation and benchmark.

  /usr/bin/python3 training/stage/write_metadata.py --ckpt training/runs/stage/final64/model.pt \
      --metrics training/runs/stage/ort_eval.json --latency training/runs/stage/ort_bench.json
Also prints the confusion matrix as a markdown table for the model card.
"""
import argparse
import hashlib
import json
import os
import sys

import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402

MIN_CONFIDENCE = 0.5  # fixed a priori: below this top probability the product reports the stage as uncertain


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", default=os.path.join(data.repo_root(), "models", "bbch-stage.onnx"))
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--metrics", required=True, help="JSON from `ort_eval.sh eval`")
    ap.add_argument("--latency", required=True, help="JSON from `ort_eval.sh bench`")
    ap.add_argument("--out", default=os.path.join(data.repo_root(), "models", "bbch-stage.json"))
    args = ap.parse_args()
    ck = torch.load(args.ckpt)
    m = json.load(open(args.metrics))
    lat = json.load(open(args.latency))
    size = onnx.load(args.onnx).graph.input[0].type.tensor_type.shape.dim[2].dim_value
    sha = hashlib.sha256(open(args.onnx, "rb").read()).hexdigest()
    meta = {
        "name": "bbch-stage",
        "version": "1.0.0",
        "task": "stage-classification",
        "file": os.path.basename(args.onnx),
        "sha256": sha,
        "input": {"name": "input", "layout": "NCHW", "shape": [-1, 3, size, size], "colorOrder": "RGB", "resize": "area",
                  "scale": 1.0 / 255.0, "mean": data.MEAN, "std": data.STD},
        "output": {"name": "probabilities", "shape": [-1, 10]},
        "classes": data.CLASSES,
        "thresholds": {"minConfidence": MIN_CONFIDENCE},
        "evaluation": {"heldOutCameras": m["heldOutCameras"], "crops": m["crops"], "top1": round(m["top1"], 4),
                       "withinOne": round(m["withinOne"], 4), "flowering": round(m["flowering"], 4),
                       "perClassRecall": {k: round(v, 4) for k, v in m["perClassRecall"].items()},
                       "confusion": m["confusion"]},
        "training": {"data": "19ngxuan/appleBlossomDataset (no licence stated; research use)",
                     "trainCameras": ck["train_cameras"], "crops": ck["train_crops"], "seed": ck["args"]["seed"],
                     "script": "training/stage/train.py",
                     "baseWeights": "ImageNet ResNet18 from NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (MIT)"},
        "latency": {"msPerCropBatch1": lat["msPerCropBatch1"], "msPerCropBatch64": lat["msPerCropBatch64"], "threads": 2,
                    "runtime": "ONNX Runtime 1.31.1"},
    }
    with open(args.out, "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print("wrote", args.out)
    print("| true \\ predicted | " + " | ".join(c[-2:] for c in data.CLASSES) + " | recall |")
    print("|---" * 12 + "|")
    for c, row in zip(data.CLASSES, m["confusion"]):
        print("| **%s** | " % c + " | ".join(str(v) for v in row) + " | %.2f |" % m["perClassRecall"][c])


if __name__ == "__main__":
    main()
