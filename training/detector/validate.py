"""Validation during training, on the training cameras' data only (never the held-out cameras or the real photos):
decode the heads like the C# detector (peaks >= score, boxes in frame pixels, greedy NMS 0.5), one-to-one greedy
matching at IoU >= 0.5, labels below MIN_VISIBLE visible or MIN_REQUIRED_PX long are "may find". The model card's
numbers come from the C# evaluation of the exported ONNX (bench `evaluate`), not from here.

  /usr/bin/python3 training/detector/validate.py --ckpt training/runs/detector/<name>/model.pt --truth TRUTH.json
  /usr/bin/python3 training/detector/validate.py --detections DETECT.jsonl --coco DATASET --holdout BLOCK
"""
import argparse
import json
import os
import sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

MIN_VISIBLE = 0.35
MIN_REQUIRED_PX = 16  # frame pixels: clusters of the scanned row are >= 18 px; rows behind it are 6-13 px (simulator)


def read_truth(path, limit=None):
    """Composite (frames[].clusters) or simulator (frames[].boxes) truth -> [(image path, [(x, y, w, h, required)])]."""
    t = json.load(open(path))
    d = os.path.dirname(path)
    out = []
    for f in t["frames"][:limit]:
        labels = [(c["x"], c["y"], c["w"], c["h"], c["visibleFraction"] >= MIN_VISIBLE and max(c["w"], c["h"]) >= MIN_REQUIRED_PX)
                  for c in f.get("clusters", f.get("boxes", []))]
        out.append((os.path.join(d, f["file"]), labels))
    return out


def decode(peaks, size, offset, frame_w, frame_h, score, nms_iou=0.5):
    """Network outputs (numpy, batch 1) -> boxes [(x, y, w, h, score)] in frame pixels, best first, after NMS."""
    s = common.OUTPUT_STRIDE
    sw, sh = max(1, round(frame_w * common.INPUT_SCALE)), max(1, round(frame_h * common.INPUT_SCALE))
    fx, fy = frame_w / sw, frame_h / sh
    hm = peaks[0, 0]
    ys, xs = np.nonzero(hm >= score)
    keep = (xs * s < sw) & (ys * s < sh)
    ys, xs = ys[keep], xs[keep]
    boxes = []
    for y, x in zip(ys, xs):
        cx, cy = (x + offset[0, 0, y, x]) * s * fx, (y + offset[0, 1, y, x]) * s * fy
        w, h = size[0, 0, y, x] * fx, size[0, 1, y, x] * fy
        x0, y0 = max(0.0, cx - w / 2), max(0.0, cy - h / 2)
        x1, y1 = min(float(frame_w), cx + w / 2), min(float(frame_h), cy + h / 2)
        if x1 - x0 >= 1 and y1 - y0 >= 1:
            boxes.append((x0, y0, x1 - x0, y1 - y0, float(hm[y, x])))
    boxes.sort(key=lambda b: -b[4])
    kept = []
    for b in boxes:
        if all(iou(b, k) <= nms_iou for k in kept):
            kept.append(b)
    return kept


def iou(a, b):
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def match(dets, labels, min_iou=0.5):
    """(required labels, found, detections, false positives), greedy by score, one-to-one."""
    taken = [False] * len(labels)
    found = fp = 0
    for d in dets:
        best, best_iou = -1, -1.0
        for i, lab in enumerate(labels):
            if taken[i]:
                continue
            v = iou(d, lab)
            if v >= min_iou and v > best_iou:
                best, best_iou = i, v
        if best < 0:
            fp += 1
            continue
        taken[best] = True
        found += labels[best][4]
    return sum(1 for lab in labels if lab[4]), found, len(dets), fp


def coco_labels(frames):
    """Reviewed frames (coco.check) -> [(path, labels)]: every reviewer box is required unless under MIN_REQUIRED_PX."""
    return [(f["path"], [(x, y, w, h, max(w, h) >= MIN_REQUIRED_PX) for x, y, w, h, _ in f["boxes"]]) for f in frames]


def run_set(exported, images, thresholds=(0.2, 0.3, 0.4, 0.5)):
    """Precision/recall per score threshold of the exported graph (model.Exported) over a list of (path, labels)."""
    def detections():
        with torch.no_grad():
            for path, labels in images:
                img = cv2.imread(path, cv2.IMREAD_COLOR)
                x = torch.from_numpy(common.to_input(img))[None]
                peaks, size, offset = (o.numpy() for o in exported(x))
                yield decode(peaks, size, offset, img.shape[1], img.shape[0], min(thresholds)), labels
    return tally(detections(), thresholds)


def detect_set(jsonl, images, thresholds=(0.2, 0.3, 0.4, 0.5)):
    """The same from `treescout detect DIR --json --score 0.2` output (the C# worker's detector and ONNX Runtime)."""
    found = {}
    for line in open(jsonl):
        d = json.loads(line)
        found[os.path.realpath(d["file"])] = sorted(((b["x"], b["y"], b["w"], b["h"], b["score"]) for b in d["detections"]), key=lambda b: -b[4])
    missing = [p for p, _ in images if os.path.realpath(p) not in found]
    if missing:
        raise SystemExit("%s has no detections of %d images, e.g. %s" % (jsonl, len(missing), missing[0]))
    return tally(((found[os.path.realpath(p)], labels) for p, labels in images), thresholds)


def tally(detections, thresholds):
    """(detections best first, labels) pairs -> {threshold: (precision, recall)}."""
    counts = {t: np.zeros(4, np.int64) for t in thresholds}
    for dets, labels in detections:
        for t in thresholds:
            counts[t] += match([d for d in dets if d[4] >= t], labels)
    out = {}
    for t, (req, found, n, fp) in counts.items():
        out[t] = (((n - fp) / n) if n else float("nan"), found / max(1, req))
    return out


def main():
    from model import BlossomNet, Exported
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt")
    ap.add_argument("--truth", action="append")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--detections", help="score `treescout detect --json` output instead of a checkpoint ...")
    ap.add_argument("--coco", help="... on this reviewed dataset's held-out frames")
    ap.add_argument("--split", choices=["block", "date"], default="block")
    ap.add_argument("--holdout", action="append", default=[])
    args = ap.parse_args()
    if args.detections:
        import coco
        frames, _ = coco.check(args.coco, decode=False)
        images = coco_labels(coco.split(frames, args.split, args.holdout)[1])
        for thr, (p, r) in detect_set(args.detections, images).items():
            print("%s on %d held-out frames: score %.2f precision %.3f recall %.3f" % (args.detections, len(images), thr, p, r))
        return
    if not (args.ckpt and args.truth):
        ap.error("give --ckpt and --truth, or --detections, --coco and --holdout")
    torch.set_num_threads(1)
    net = BlossomNet()
    net.load_state_dict(torch.load(args.ckpt)["state_dict"])
    m = Exported(net.eval()).eval()
    for t in args.truth:
        for thr, (p, r) in run_set(m, read_truth(t, args.limit)).items():
            print("%s score %.2f precision %.3f recall %.3f" % (t, thr, p, r))


if __name__ == "__main__":
    main()
