"""An automated stand-in reviewer for simulator frames: it labels them with the simulator's ground truth, so that the
field loop (review samples -> labels -> `treescout dataset export` -> fine-tune) can be run end to end without people.
It is not a reviewer: real labels come from the console's review page (docs/labelling.md).

  /usr/bin/python3 training/detector/standin_review.py --recording SIM_DIR --run RUN_DIR --block BLOCK_ID \
      [--detections DETECT.jsonl] [--every N]

Writes RUN_DIR/review/ in the review folder's format (src/TreeScout.Labelling): each kept frame's JPEG and sample JSON
(the shipped detector's proposals from `treescout detect --json --score 0.2`, when given), and labels as a careful
reviewer would save them: every truth cluster at least MIN_VISIBLE visible is boxed with its stage; a proposal that
overlaps it at IoU >= ACCEPT_IOU is accepted as drawn, one at >= REDRAW_IOU is redrawn to the truth box, other clusters
are added. Frames without a visible cluster are labelled as negatives.
"""
import argparse
import json
import os
import shutil
import sys

import cv2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import validate  # noqa: E402

MIN_VISIBLE = validate.MIN_VISIBLE
ACCEPT_IOU = 0.7
REDRAW_IOU = 0.3
REVIEWER = "standin-truth (automated, simulator ground truth)"


def model_identity(card_path):
    card = json.load(open(card_path))
    return {"name": card["name"], "version": card["version"], "sha256": card["sha256"]}


def image_size(path):
    h, w = cv2.imread(path, cv2.IMREAD_COLOR).shape[:2]
    return w, h


def stage_name(label):
    """'bbch65' (simulator, detect output) -> 'Bbch65' (the review files' enum name)."""
    return "Bbch" + label[4:]


def uncertainty(proposals):
    """0 when every proposal is sure (score near 0 or 1), 1 when all sit at 0.5."""
    return round(sum(1 - abs(2 * p["score"] - 1) for p in proposals) / len(proposals), 4) if proposals else 0.0


def labels_for(truth_boxes, proposals, width, height):
    boxes, used = [], set()
    for t in truth_boxes:
        x0, y0 = max(0.0, float(t["x"])), max(0.0, float(t["y"]))
        x1, y1 = min(float(width), float(t["x"] + t["w"])), min(float(height), float(t["y"] + t["h"]))
        if t["visibleFraction"] < MIN_VISIBLE or x1 - x0 < 1 or y1 - y0 < 1:
            continue
        tb = (x0, y0, x1 - x0, y1 - y0)
        best, best_iou = None, 0.0
        for i, p in enumerate(proposals):
            v = validate.iou(tb, (p["x"], p["y"], p["w"], p["h"]))
            if i not in used and v > best_iou:
                best, best_iou = i, v
        box = {"x": tb[0], "y": tb[1], "w": tb[2], "h": tb[3], "stage": stage_name(t["stage"]), "origin": "Added"}
        if best is not None and best_iou >= REDRAW_IOU:
            used.add(best)
            box.update(origin="Redrawn", proposalIndex=best)
            if best_iou >= ACCEPT_IOU:
                p = proposals[best]
                box.update(x=p["x"], y=p["y"], w=p["w"], h=p["h"], origin="Accepted")
        boxes.append(box)
    return boxes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--recording", required=True, help="a `treescout simulate` folder (frames + truth.json)")
    ap.add_argument("--run", required=True, help="run folder to write review/ into")
    ap.add_argument("--block", required=True, help="block id written into every sample")
    ap.add_argument("--detections", default=None, help="`treescout detect FRAMES --json --score 0.2` output (JSON lines)")
    ap.add_argument("--every", type=int, default=1, help="keep every Nth frame of a camera")
    ap.add_argument("--saved-at", default="2026-04-22T08:00:00+00:00", help="label save time (fixed: reruns write the same files)")
    args = ap.parse_args()
    truth = json.load(open(os.path.join(args.recording, "truth.json")))
    detections = {}
    if args.detections:
        for line in open(args.detections):
            d = json.loads(line)
            detections[os.path.realpath(d["file"])] = d
    root = common.repo_root()
    detector = model_identity(os.path.join(root, "models", "blossom-detector.json"))
    stage_model = model_identity(os.path.join(root, "models", "bbch-stage.json"))
    run_id = os.path.basename(os.path.normpath(args.run))
    samples, labels = (os.path.join(args.run, "review", d) for d in ("samples", "labels"))
    os.makedirs(samples, exist_ok=True)
    os.makedirs(labels, exist_ok=True)
    n = boxes_total = 0
    for f in truth["frames"]:
        if f["sequence"] % args.every:
            continue
        image = os.path.join(args.recording, f["file"])
        det = detections.get(os.path.realpath(image))
        if det is None and args.detections:
            sys.exit("%s: not in %s" % (image, args.detections))
        width, height = (det["width"], det["height"]) if det else image_size(image)
        proposals = [{"x": p["x"], "y": p["y"], "w": p["w"], "h": p["h"], "score": p["score"], "stage": stage_name(p["stage"])}
                     for p in (det["detections"] if det else [])]
        sid = "%s-%08d" % (f["cameraId"], f["sequence"])
        sample = {"schemaVersion": 1, "runId": run_id, "cameraId": f["cameraId"], "sequence": f["sequence"],
                  "capturedAtUtc": f["gnssTimeUtc"], "width": width, "height": height, "detector": detector,
                  "stageClassifier": stage_model, "reason": "EveryNth", "uncertainty": uncertainty(proposals),
                  "proposals": proposals, "blockId": args.block,
                  "treeIds": sorted({b["clusterId"].rsplit("-", 1)[0] for b in f["boxes"] if b["visibleFraction"] >= MIN_VISIBLE})}
        boxes = labels_for(f["boxes"], proposals, width, height)
        saved = {"schemaVersion": 1, "status": "Labelled", "boxes": boxes, "reviewer": REVIEWER, "savedAtUtc": args.saved_at, "revision": 1}
        shutil.copyfile(image, os.path.join(samples, sid + ".jpg"))
        json.dump(sample, open(os.path.join(samples, sid + ".json"), "w"), indent=2)
        json.dump(saved, open(os.path.join(labels, sid + ".json"), "w"), indent=2)
        with open(os.path.join(labels, sid + ".history.jsonl"), "w") as h:
            h.write(json.dumps(saved) + "\n")
        n += 1
        boxes_total += len(boxes)
    print("%s: %d frames labelled from ground truth (%d boxes), block %s" % (args.run, n, boxes_total, args.block))


if __name__ == "__main__":
    main()
