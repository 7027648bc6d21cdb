"""Reviewed field frames as COCO datasets (`treescout dataset export`): reading them for training, and checking them.

Written independently of the C# writer (only the COCO format and docs/labelling.md in common): standard library json
and cv2, so that the export's test reads the dataset back the way a training job does.

  /usr/bin/python3 training/detector/coco.py --validate DATASET_DIR [DATASET_DIR ...]

prints one JSON object per dataset (images, annotations, negative images, images per block and per date, boxes per
stage, problems) and exits 1 when any dataset has a problem. Every image is decoded and every box is checked against
the decoded image's size.
"""
import argparse
import json
import math
import os
import sys

import cv2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

ANNOTATIONS = "annotations.json"
IMAGES = "images"
CATEGORY = "blossom_cluster"


def read(folder):
    """The dataset's annotations.json as a dict; raises ValueError with the path when it is not one."""
    path = os.path.join(folder, ANNOTATIONS)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError("%s: not a readable COCO file (%s)" % (path, e)) from e
    for key, kind in (("images", list), ("annotations", list), ("categories", list), ("info", dict), ("licenses", list)):
        if not isinstance(data.get(key), kind):
            raise ValueError("%s: '%s' is missing or not a %s" % (path, key, kind.__name__))
    return data


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check(folder, decode=True):
    """(frames, problems): frames = [{id, path, width, height, block, date, boxes [(x, y, w, h, stage)]}] of the images
    without a problem; problems = one line per image or box left out. decode=False trusts width/height (faster)."""
    data = read(folder)
    problems = []
    categories = {}
    for c in data["categories"]:
        if not isinstance(c, dict) or not isinstance(c.get("id"), int) or c["id"] in categories:
            problems.append("category %r: no id, or an id used twice" % (c,))
            continue
        categories[c["id"]] = c.get("name")
    if CATEGORY not in categories.values():
        problems.append("no '%s' category" % CATEGORY)
    frames = {}
    left_out = set()  # listed images with a problem: their boxes go with them, without a line each
    for im in data["images"]:
        iid = im.get("id") if isinstance(im, dict) else None
        if not isinstance(iid, int) or iid in frames:
            problems.append("image %r: no id, or an id used twice" % (iid,))
            continue
        name, w, h = im.get("file_name"), im.get("width"), im.get("height")
        where = "image %d (%s)" % (iid, name)
        if not isinstance(name, str) or not name or os.path.isabs(name) or ".." in name.split("/"):
            problems.append("%s: file_name must be a path inside %s/" % (where, IMAGES))
            left_out.add(iid)
            continue
        if not (isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0):
            problems.append("%s: width and height must be positive integers" % where)
            left_out.add(iid)
            continue
        path = os.path.join(folder, IMAGES, name)
        if not os.path.isfile(path):
            problems.append("%s: image missing" % where)
            left_out.add(iid)
            continue
        if decode:
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                problems.append("%s: cannot be decoded" % where)
                left_out.add(iid)
                continue
            if img.shape[:2] != (h, w):
                problems.append("%s: decoded %dx%d, listed %dx%d" % (where, img.shape[1], img.shape[0], w, h))
                left_out.add(iid)
                continue
        frames[iid] = {"id": iid, "path": path, "width": w, "height": h, "block": im.get("block_id"),
                       "date": str(im.get("date_captured", ""))[:10], "sample": im.get("sample_id"), "boxes": []}
    ann_ids = set()
    bad_images = set()
    for a in data["annotations"]:
        aid = a.get("id") if isinstance(a, dict) else None
        if not isinstance(aid, int) or aid in ann_ids:
            problems.append("annotation %r: no id, or an id used twice" % (aid,))
            continue
        ann_ids.add(aid)
        frame = frames.get(a.get("image_id"))
        where = "annotation %d" % aid
        box = a.get("bbox")
        stage = (a.get("attributes") or {}).get("bbch_stage")
        if frame is None:
            if a.get("image_id") in left_out:
                continue
            problems.append("%s: image %r is not in the dataset" % (where, a.get("image_id")))
            continue
        problem = None
        if a.get("category_id") not in categories:
            problem = "category %r is not listed" % (a.get("category_id"),)
        elif not (isinstance(box, list) and len(box) == 4 and all(_number(v) for v in box)):
            problem = "bbox must be [x, y, width, height]"
        elif box[2] <= 0 or box[3] <= 0:
            problem = "bbox %s has no area" % box
        elif box[0] < 0 or box[1] < 0 or box[0] + box[2] > frame["width"] + 1e-6 or box[1] + box[3] > frame["height"] + 1e-6:
            problem = "bbox %s is outside the %dx%d image" % (box, frame["width"], frame["height"])
        elif not _number(a.get("area")) or abs(a["area"] - box[2] * box[3]) > 0.01 * max(1.0, a["area"]):
            problem = "area %r is not width x height of bbox %s" % (a.get("area"), box)
        elif a.get("iscrowd", 0) != 0:
            problem = "iscrowd must be 0 (one cluster per box)"
        elif stage is not None and stage not in common.CLASSES:
            problem = "unknown BBCH stage %r" % stage
        if problem:
            problems.append("%s of image %d: %s" % (where, frame["id"], problem))
            bad_images.add(frame["id"])
            continue
        frame["boxes"].append((box[0], box[1], box[2], box[3], stage))
    # An image with a bad box would teach "no cluster here" where there is one: it is left out whole.
    return [f for i, f in sorted(frames.items()) if i not in bad_images], problems


def split(frames, by, holdout):
    """(train, held) never at random: neighbouring frames of one tree would leak. by: 'block' or 'date'."""
    key = "block" if by == "block" else "date"
    held = set(holdout)
    return [f for f in frames if f[key] not in held], [f for f in frames if f[key] in held]


def summary(folder, frames, problems):
    count = lambda key: {k: sum(1 for f in frames if f[key] == k) for k in sorted({str(f[key]) for f in frames}, key=str)}  # noqa: E731
    stages = {}
    for f in frames:
        for b in f["boxes"]:
            stages[b[4] or "unjudged"] = stages.get(b[4] or "unjudged", 0) + 1
    return {
        "dataset": os.path.basename(os.path.normpath(folder)),
        "images": len(frames),
        "annotations": sum(len(f["boxes"]) for f in frames),
        "negative_images": sum(1 for f in frames if not f["boxes"]),
        "blocks": {str(k): v for k, v in count("block").items()},
        "dates": count("date"),
        "stages": dict(sorted(stages.items())),
        "problems": problems,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--validate", nargs="+", required=True, metavar="DATASET_DIR")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    failed = False
    for folder in args.validate:
        try:
            frames, problems = check(folder)
        except ValueError as e:
            frames, problems = [], [str(e)]
        failed |= bool(problems)
        print(json.dumps(summary(folder, frames, problems)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
