"""Detector training frames from the simulator's renderer (`treescout simulate --crop-cameras train`).

Renders a fixed list of runs (seeds and scene options below: camera distance via row spacing, tree spacing, cluster
density, stage mix, speed = motion blur, resolution = apparent cluster size, JPEG quality, curved rows, either camera),
then caches every frame, scaled by STORE_SCALE, as JPEG bytes with its boxes:

  /usr/bin/python3 training/detector/simdata.py [--runs 24] [--cli "dotnet src/TreeScout.Cli/bin/Release/net10.0/treescout.dll"]

Recordings go to training/cache/detector/sim/<name>/ (re-used when present), the frame cache to
training/cache/detector/sim-frames-<runs>.pkl. Only the training cameras' crops are used (`--crop-cameras train`); the
held-out evaluation run is the bundled sample samples/betuwe-rtk-2x12 (held-out cameras' crops, seed 42).
"""
import argparse
import json
import os
import pickle
import shlex
import subprocess
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

# Frames are stored larger than the network's input scale so that training can zoom out and in around it.
STORE_SCALE = 0.5

ROW_SPACING = [3.0, 3.5, 4.0, 4.5]             # camera 1.2-2.0 m from the row line
TREE_SPACING = [0.8, 1.0, 1.25]
SPEED = [4, 6, 8, 10]                          # km/h: motion blur
DENSITY = ["15-40", "25-60", "50-100", "80-140"]
STAGE_MIX = [None, "53=1,54=1,56=2,57=3,59=3", "61=2,65=3,67=2", "65=1,67=2,69=2,71=1"]
RESOLUTION = ["1280x720", "1280x720", "1920x1080", "1024x576"]
SIDE = ["right", "left", "both"]


def run_options(i):
    """Scene options of training run i (deterministic; factors cycle with co-prime periods so they mix)."""
    opts = ["--seed", str(1001 + i), "--rows", "2", "--trees-per-row", "12", "--fps", "2", "--crop-cameras", "train",
            "--no-gnss-events", "--row-spacing", str(ROW_SPACING[i % 4]), "--tree-spacing", str(TREE_SPACING[i % 3]),
            "--speed-kmh", str(SPEED[(i // 2) % 4]), "--clusters-per-tree", DENSITY[(i // 3) % 4],
            "--resolution", RESOLUTION[(i // 4) % 4], "--jpeg-quality", str(60 + (i * 7) % 31), "--camera-side", SIDE[i % 3]]
    if STAGE_MIX[(i // 5) % 4]:
        opts += ["--stage-mix", STAGE_MIX[(i // 5) % 4]]
    if i % 2:
        opts.append("--curved-rows")
    return opts


def read_run(folder, min_visible=0.1):
    """(path, width, height, boxes [(x, y, w, h, visibleFraction)]) of every frame of a recording with truth.json."""
    truth = json.load(open(os.path.join(folder, "truth.json")))
    out = []
    for f in truth["frames"]:
        boxes = [(b["x"], b["y"], b["w"], b["h"], b["visibleFraction"]) for b in f["boxes"] if b["visibleFraction"] >= min_visible]
        out.append((os.path.join(folder, f["file"]), boxes))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=24)
    ap.add_argument("--cli", default="dotnet src/TreeScout.Cli/bin/Release/net10.0/treescout.dll",
                    help="how to start treescout (build it first: dotnet build -c Release src/TreeScout.Cli)")
    args = ap.parse_args()
    root = common.repo_root()
    cache = os.path.join(common.cache_dir(), "sim-frames-%d.pkl" % args.runs)
    frames = []
    for i in range(args.runs):
        folder = os.path.join(common.cache_dir(), "sim", "train-%02d" % i)
        if not os.path.exists(os.path.join(folder, "truth.json")):
            cmd = shlex.split(args.cli) + ["simulate", "--out", folder, "--force"] + run_options(i)
            print(" ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, cwd=root)
        for path, boxes in read_run(folder):
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            h, w = img.shape[:2]
            small = cv2.resize(img, (round(w * STORE_SCALE), round(h * STORE_SCALE)), interpolation=cv2.INTER_AREA)
            ok, enc = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 95])
            frames.append((enc.tobytes(), [(x * STORE_SCALE, y * STORE_SCALE, bw * STORE_SCALE, bh * STORE_SCALE, v)
                                           for x, y, bw, bh, v in boxes]))
    with open(cache, "wb") as f:
        pickle.dump({"scale": STORE_SCALE, "frames": frames}, f, protocol=4)
    n = sum(len(b) for _, b in frames)
    print("cached %d simulator frames (%d boxes >= 10 %% visible) at scale %.2f -> %s" % (len(frames), n, STORE_SCALE, cache))


if __name__ == "__main__":
    main()
