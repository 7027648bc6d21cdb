"""Static int8 QDQ quantization of a model in models/ (the blossom detector, the BBCH stage classifier), without the
onnxruntime Python package (not available here): activation statistics come from ONNX Runtime in C#.

  # 1. a copy of the fp32 graph whose intermediate tensors are graph outputs
  /usr/bin/python3 training/quantize.py augment --model models/blossom-detector.onnx --out /tmp/int8/det-aug.onnx
  # 2. activation histograms over calibration images of the TRAINING cameras only (bench/TreeScout.Bench)
  dotnet run -c Release --project bench/TreeScout.Bench -- calibrate-int8 --card models/blossom-detector.json \
      --graph /tmp/int8/det-aug.onnx --images /tmp/int8/det-images.txt --out /tmp/int8/det-stats.json
  # 3. the QDQ model and its card
  /usr/bin/python3 training/quantize.py quantize --model models/blossom-detector.onnx --stats /tmp/int8/det-stats.json \
      --out models/blossom-detector-int8.onnx --calibration "..."

The QDQ layout is the one ONNX Runtime's CPU provider fuses into integer kernels (QLinearConv, QLinearAdd, uint8
MaxPool/Resize): weights of Conv per output channel, symmetric int8; bias int32 at input scale x weight scale;
activations uint8, asymmetric, one QuantizeLinear -> DequantizeLinear pair per tensor, placed on the inputs of Conv, Add,
MaxPool and Resize. A Relu between a Conv/Add and its quantized output is left in the graph: with the output's zero
point at 0 ONNX Runtime drops it (ReluQuantFusion). A Conv whose output feeds no quantized node (the detector's last head
layer, before Slice/Sigmoid/Exp; the classifier's before the pooling) keeps float weights and output: those tensors are
what the card's thresholds are applied to. MaxPool and Resize outputs take their input's scale, so the pair around them
is dropped and they run on uint8.

Ranges: for each tensor, the clipping range with the least expected squared error (clipping + rounding) over the
calibration histogram, searched over fractions of the observed [min, max].
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QUANTIZED_OPS = {"Conv", "Add", "MaxPool", "Resize"}
# Ops whose uint8 output must keep the input's scale and zero point (ONNX Runtime then runs them on uint8).
SAME_SCALE_OPS = {"MaxPool", "Resize"}


def consumers(graph):
    out = {}
    for n in graph.node:
        for i in n.input:
            out.setdefault(i, []).append(n)
    return out


def producers(graph):
    return {o: n for n in graph.node for o in n.output}


def activation_inputs(node, initializers):
    """The inputs of a quantized node that are activations (not weights, biases or Resize's scales)."""
    if node.op_type == "Conv":
        return [node.input[0]]
    if node.op_type in ("MaxPool", "Resize"):
        return [node.input[0]]
    return [i for i in node.input if i and i not in initializers]


def float_tail(graph):
    """Nodes after the last quantized layer: everything downstream of a tensor (after an optional Relu) that a
    non-quantized op reads — the detector's head after its last Conv, the classifier's pooling and classifier."""
    cons = consumers(graph)
    seeds = []
    for n in graph.node:
        if n.op_type not in QUANTIZED_OPS:
            continue
        out = n.output[0]
        after = cons.get(out, [])
        if len(after) == 1 and after[0].op_type == "Relu":
            after = cons.get(after[0].output[0], [])
        if any(c.op_type not in QUANTIZED_OPS for c in after):
            seeds += after
    tail, stack = set(), [c for c in seeds if c.op_type not in QUANTIZED_OPS]
    while stack:
        n = stack.pop()
        if n.output[0] in tail:
            continue
        tail.add(n.output[0])
        for o in n.output:
            stack += cons.get(o, [])
    return tail


def tensors_to_quantize(graph):
    initializers = {t.name for t in graph.initializer}
    tail = float_tail(graph)
    out = []
    for n in graph.node:
        if n.op_type in QUANTIZED_OPS and n.output[0] not in tail:
            for t in activation_inputs(n, initializers):
                if t not in out:
                    out.append(t)
    return out


def augment(args):
    model = onnx.load(args.model)
    g = model.graph
    existing = {o.name for o in g.output}
    names = []
    for n in g.node:
        if n.op_type in QUANTIZED_OPS or n.op_type == "Relu":
            names += [o for o in n.output if o not in existing]
    # The graph input is a calibrated tensor too: expose it through an Identity.
    for i in g.input:
        g.node.append(helper.make_node("Identity", [i.name], [i.name + "__calib"]))
        names.append(i.name + "__calib")
    for name in names:
        g.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    onnx.save(model, args.out)
    print(f"{args.out}: {len(names)} tensors exposed")


def best_range(stat, bins):
    """(lo, hi) with the least expected squared quantization error (uint8) over the histogram."""
    lo, hi = min(stat["min"], 0.0), max(stat["max"], 0.0)
    hist = np.asarray(stat["histogram"], dtype=np.float64)
    if hi - lo < 1e-12 or hist.sum() == 0:
        return lo, hi if hi > lo else lo + 1e-6
    width = (stat["max"] - stat["min"]) / bins
    centres = stat["min"] + (np.arange(bins) + 0.5) * width
    best = None
    for f in np.linspace(0.2, 1.0, 161):
        a, b = lo * f, hi * f
        step = (b - a) / 255.0
        clipped = np.clip(centres, a, b)
        err = np.where(centres == clipped, step * step / 12.0, (centres - clipped) ** 2)
        mse = float((hist * err).sum())
        if best is None or mse < best[0]:
            best = (mse, a, b)
    return best[1], best[2]


def uint8_params(lo, hi):
    scale = max((hi - lo) / 255.0, 1e-8)
    zero = int(np.clip(round(-lo / scale), 0, 255))
    return np.float32(scale), np.uint8(zero)


def quantize(args):
    model = onnx.load(args.model)
    g = model.graph
    stats = json.load(open(args.stats))
    bins = stats["bins"]
    tensors = stats["tensors"]
    inits = {t.name: t for t in g.initializer}
    prod = producers(g)
    cons = consumers(g)

    def stat_of(name):
        return tensors.get(name) or tensors[name + "__calib"]

    # Activation parameters, in graph order so a MaxPool/Resize input is decided before its output.
    params = {}
    to_q = tensors_to_quantize(g)
    for n in g.node:
        for o in n.output:
            if o not in to_q:
                continue
            if n.op_type in SAME_SCALE_OPS and n.input[0] in params:
                params[o] = params[n.input[0]]
            else:
                params[o] = uint8_params(*best_range(stat_of(o), bins))
    for t in to_q:
        if t not in params:  # graph inputs
            params[t] = uint8_params(*best_range(stat_of(t), bins))

    def quantized_output(conv):
        """The Conv's output after an optional Relu, if that tensor is quantized (then the Conv runs as QLinearConv)."""
        out = conv.output[0]
        after = cons.get(out, [])
        if len(after) == 1 and after[0].op_type == "Relu":
            out = after[0].output[0]
        return out if out in params else None

    new_inits, new_nodes = [], []
    # Weights and biases of the Convs that become integer convolutions.
    for n in g.node:
        if n.op_type != "Conv" or quantized_output(n) is None:
            continue
        w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        w_scale = np.maximum(np.abs(w).reshape(w.shape[0], -1).max(axis=1) / 127.0, 1e-12).astype(np.float32)
        w_q = np.clip(np.round(w / w_scale[:, None, None, None]), -127, 127).astype(np.int8)
        base = n.input[1]
        new_inits += [numpy_helper.from_array(w_q, base + "_q"), numpy_helper.from_array(w_scale, base + "_scale"),
                      numpy_helper.from_array(np.zeros(w.shape[0], np.int8), base + "_zp")]
        new_nodes.append(helper.make_node("DequantizeLinear", [base + "_q", base + "_scale", base + "_zp"], [base + "_dq"], axis=0))
        n.input[1] = base + "_dq"
        if len(n.input) > 2 and n.input[2]:
            b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float64)
            in_scale = float(params[n.input[0]][0])
            b_scale = (in_scale * w_scale.astype(np.float64)).astype(np.float32)
            b_q = np.round(b / b_scale).astype(np.int32)
            bb = n.input[2]
            new_inits += [numpy_helper.from_array(b_q, bb + "_q"), numpy_helper.from_array(b_scale, bb + "_scale"),
                          numpy_helper.from_array(np.zeros(w.shape[0], np.int32), bb + "_zp")]
            new_nodes.append(helper.make_node("DequantizeLinear", [bb + "_q", bb + "_scale", bb + "_zp"], [bb + "_dq"], axis=0))
            n.input[2] = bb + "_dq"

    # One QuantizeLinear -> DequantizeLinear pair per quantized activation; its consumers read the dequantized copy.
    for t, (scale, zero) in params.items():
        q, dq = t + "_QuantizeLinear", t + "_DequantizeLinear"
        new_inits += [numpy_helper.from_array(np.array(scale, np.float32), t + "_scale"),
                      numpy_helper.from_array(np.array(zero, np.uint8), t + "_zero_point")]
        new_nodes += [helper.make_node("QuantizeLinear", [t, t + "_scale", t + "_zero_point"], [q]),
                      helper.make_node("DequantizeLinear", [q, t + "_scale", t + "_zero_point"], [dq])]
        for c in cons.get(t, []):
            for k, i in enumerate(c.input):
                if i == t:
                    c.input[k] = dq

    # Unused float weights go; nodes are re-sorted so every input is produced before it is read.
    g.initializer.extend(new_inits)
    nodes = list(g.node) + new_nodes
    used = {i for n in nodes for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    del g.node[:]
    g.node.extend(topological(nodes, {i.name for i in g.input} | {t.name for t in keep}))
    onnx.checker.check_model(model)
    onnx.save(model, args.out)
    sha = hashlib.sha256(open(args.out, "rb").read()).hexdigest()
    convs = sum(1 for n in g.node if n.op_type == "Conv")
    int_convs = sum(1 for n in g.node if n.op_type == "Conv" and n.input[1].endswith("_dq"))
    print(f"{args.out}: {len(params)} activations and {int_convs} of {convs} Conv weight sets quantized; "
          f"{os.path.getsize(args.out)} bytes, sha256 {sha}")
    write_card(args, sha, len(params), int_convs, convs, stats)


def topological(nodes, available):
    available = set(available) | {""}
    done, out, pending = set(), [], list(nodes)
    while pending:
        progressed = False
        rest = []
        for n in pending:
            if all(i in available for i in n.input):
                out.append(n)
                available.update(n.output)
                progressed = True
            else:
                rest.append(n)
        if not progressed:
            raise SystemExit(f"graph has a cycle or a missing input near {rest[0].op_type} {list(rest[0].input)}")
        pending = rest
    return out


def write_card(args, sha, activations, int_convs, convs, stats):
    """The int8 model's card: the fp32 card with this file's identity and how it was made; evaluation and latency are
    written by the bench (`evaluate --detector … --write-card`, classify-stage) because they are measured in C#."""
    src_card_path = os.path.splitext(args.model)[0] + ".json"
    card = json.load(open(src_card_path))
    card["version"] = card["version"] + "-int8"
    card["file"] = os.path.basename(args.out)
    card["sha256"] = sha
    card["precision"] = {
        "weights": "int8, symmetric, per output channel (Conv)",
        "activations": "uint8, asymmetric, per tensor; range with the least expected squared error over the calibration histogram",
        "format": "QDQ (QuantizeLinear/DequantizeLinear), fused by ONNX Runtime's CPU provider into integer kernels",
        "quantizedActivations": activations,
        "integerConvolutions": f"{int_convs} of {convs}",
        "fromModel": {"file": os.path.basename(args.model), "sha256": hashlib.sha256(open(args.model, "rb").read()).hexdigest()},
        "calibration": {"images": stats["images"], "set": args.calibration},
        "script": "training/quantize.py",
    }
    for stale in ("evaluation", "latency"):
        card.pop(stale, None)
    out_card = os.path.splitext(args.out)[0] + ".json"
    with open(out_card, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    print(f"{out_card}: card written (evaluation and latency still to be measured)")


STAGES = ["bbch53", "bbch54", "bbch56", "bbch57", "bbch59", "bbch61", "bbch65", "bbch67", "bbch69", "bbch71"]
FLOWERING = {"bbch61", "bbch65", "bbch67"}


def stage_evaluation(args):
    """The stage card's held-out evaluation from `treescout classify-stage … --json` (one line per crop, the true
    stage is the crop's bbchNN folder), in the fp32 card's format, written into --card."""
    confusion = np.zeros((len(STAGES), len(STAGES)), np.int64)
    for line in open(args.predictions):
        if line.startswith("{"):
            crop = json.loads(line)
            truth = os.path.basename(os.path.dirname(crop["file"]))
            confusion[STAGES.index(truth), STAGES.index(crop["stage"])] += 1
    n = int(confusion.sum())
    idx = np.arange(len(STAGES))
    within = sum(int(confusion[t, p]) for t in idx for p in idx if abs(t - p) <= 1)
    flowering = sum(int(confusion[t, p]) for t in idx for p in idx if (STAGES[t] in FLOWERING) == (STAGES[p] in FLOWERING))
    card = json.load(open(args.card))
    card["evaluation"] = {
        "heldOutCameras": args.cameras.split(","),
        "crops": n,
        "top1": round(float(np.trace(confusion)) / n, 4),
        "withinOne": round(within / n, 4),
        "flowering": round(flowering / n, 4),
        "perClassRecall": {s: round(float(confusion[k, k]) / max(1, int(confusion[k].sum())), 4) for k, s in enumerate(STAGES)},
        "confusion": confusion.tolist(),
    }
    with open(args.card, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    print(f"{args.card}: evaluation on {n} held-out crops, top-1 {card['evaluation']['top1']}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("augment")
    a.add_argument("--model", required=True)
    a.add_argument("--out", required=True)
    q = sub.add_parser("quantize")
    q.add_argument("--model", required=True)
    q.add_argument("--stats", required=True)
    q.add_argument("--out", required=True)
    q.add_argument("--calibration", required=True, help="what the calibration images were (recorded in the card)")
    e = sub.add_parser("stage-evaluation")
    e.add_argument("--predictions", required=True, help="output of treescout classify-stage DIR --json")
    e.add_argument("--card", required=True)
    e.add_argument("--cameras", required=True, help="the held-out cameras the predictions cover")
    args = ap.parse_args()
    {"augment": augment, "quantize": quantize, "stage-evaluation": stage_evaluation}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
