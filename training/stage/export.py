"""Export a trained StageNet to ONNX (opset 17, input `input` [N,3,S,S] float32 NCHW, dynamic batch,
output `probabilities` [N,10] = softmax over bbch53..bbch71) and check it against torch.

  /usr/bin/python3 training/stage/export.py --ckpt training/runs/stage/final/model.pt --out models/bbch-stage.onnx
"""
import argparse
import os
import sys

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from model import Exported, StageNet  # noqa: E402
from onnx_torch import OnnxTorch  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", default=os.path.join(data.repo_root(), "models", "bbch-stage.onnx"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    ck = torch.load(args.ckpt)
    size = ck["args"]["size"]
    a = ck["args"]
    net = StageNet(upto=a["upto"], mixstyle=a.get("mixstyle", 0.0), grayworld=a.get("grayworld", False))
    net.load_state_dict(ck["state_dict"])
    m = Exported(net).eval()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.onnx.export(m, torch.zeros(1, 3, size, size), args.out, opset_version=17, input_names=["input"],
                      output_names=["probabilities"], dynamic_axes={"input": {0: "N"}, "probabilities": {0: "N"}},
                      do_constant_folding=True)
    mo = onnx.load(args.out)
    onnx.checker.check_model(mo)
    mo.producer_name = "TreeScout training/stage/export.py"
    onnx.save(mo, args.out)
    items = data.list_crops()[::500]
    x = data.to_tensor_np(np.stack([data.resize_area(data.load_rgb(p), size) for p, *_ in items]))
    with torch.no_grad():
        ref = m(torch.from_numpy(x)).numpy()
    got = OnnxTorch(args.out)(x)
    print("exported %s (%.2f MB, S=%d, ops %s); max |onnx - torch| = %.2e" % (
        args.out, os.path.getsize(args.out) / 1e6, size, sorted({n.op_type for n in mo.graph.node}), np.abs(ref - got).max()))
    assert np.abs(ref - got).max() < 1e-4


if __name__ == "__main__":
    main()
