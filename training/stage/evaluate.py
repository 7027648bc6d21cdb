"""Evaluate an exported ONNX stage model on the held-out cameras with the deployed cv2 preprocessing
(imread BGR -> RGB -> resize SxS INTER_AREA -> /255 -> (x-mean)/std -> NCHW).

  /usr/bin/python3 training/stage/evaluate.py --onnx models/bbch-stage.onnx [--json-out training/runs/stage/eval_py.json]
      [--widths 48,32,24,16,12]   # also: each crop first shrunk to that many pixels wide (a cluster farther away or
                                  # seen by a wider lens), then the deployed preprocessing

The ONNX graph is executed with torch ops (onnx_torch.py). The numbers in models/bbch-stage.json come from
training/stage/ort_eval.sh (ONNX Runtime 1.31.1 + OpenCvSharp in C#), which must agree with this.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import metrics  # noqa: E402
from onnx_torch import OnnxTorch  # noqa: E402


def report(r, out=sys.stdout):
    print("crops %d  top-1 %.4f  within-one %.4f  flowering-vs-not %.4f" % (r["crops"], r["top1"], r["withinOne"], r["flowering"]), file=out)
    print("per-class recall: " + "  ".join("%s %.3f" % kv for kv in r["perClassRecall"].items()), file=out)
    print("confusion (rows true, cols predicted, " + " ".join(c[-2:] for c in data.CLASSES) + "):", file=out)
    for c, row in zip(data.CLASSES, r["confusion"]):
        print("  " + c + " " + " ".join("%4d" % v for v in row), file=out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", default=os.path.join(data.repo_root(), "models", "bbch-stage.onnx"))
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--widths", default="", help="comma-separated cluster widths in pixels to also evaluate at")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(2)
    model = onnx.load(args.onnx)
    size = model.graph.input[0].type.tensor_type.shape.dim[2].dim_value
    _, held = data.split(data.list_crops())
    x = data.to_tensor_np(np.stack([data.resize_area(data.load_rgb(p), size) for p, *_ in held]))
    run = OnnxTorch(args.onnx)
    probs = np.concatenate([run(x[i:i + 256]) for i in range(0, len(x), 256)])
    r = metrics.compute([k for _, k, _, _ in held], probs)
    r["heldOutCameras"] = data.HELD_OUT_CAMERAS
    print("held-out cameras:", ", ".join(data.HELD_OUT_CAMERAS), " S =", size)
    report(r)
    # reporting only (the threshold is fixed in write_metadata.py, not tuned here)
    from write_metadata import MIN_CONFIDENCE
    y = np.array([k for _, k, _, _ in held])
    conf_ok = probs.max(1) >= MIN_CONFIDENCE
    print("minConfidence %.2f: %.1f %% of crops confident, top-1 %.4f / within-one %.4f on those, top-1 %.4f on the rest" % (
        MIN_CONFIDENCE, 100 * conf_ok.mean(), (probs[conf_ok].argmax(1) == y[conf_ok]).mean(),
        (np.abs(probs[conf_ok].argmax(1) - y[conf_ok]) <= 1).mean(), (probs[~conf_ok].argmax(1) == y[~conf_ok]).mean()))
    for w in [int(v) for v in args.widths.split(",") if v]:
        small = [data.shrink_to_width(data.load_rgb(p), w) for p, *_ in held]
        xw = data.to_tensor_np(np.stack([data.resize_area(im, size) for im in small]))
        rw = metrics.compute(y, np.concatenate([run(xw[i:i + 256]) for i in range(0, len(xw), 256)]))
        print("crops shrunk to %3d px wide: top-1 %.4f  within-one %.4f  flowering-vs-not %.4f" % (
            w, rw["top1"], rw["withinOne"], rw["flowering"]))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
