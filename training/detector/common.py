"""Shared bits of the detector pipeline: paths, the camera split (same held-out cameras as the stage model), crop cache.

Run scripts from the repository root with Debian's Python: /usr/bin/python3 training/detector/<script>.py
"""
import os
import pickle

import cv2
import numpy as np

STAGES = ["53", "54", "56", "57", "59", "61", "65", "67", "69", "71"]
CLASSES = ["bbch" + s for s in STAGES]

# Never used to train the detector: their crops only appear in held-out evaluation composites.
# Same cameras the stage classifier holds out (training/stage/data.py), so no model saw them.
HELD_OUT_CAMERAS = ["blink-04-00-02", "blink-04-01-08"]

# Network input: frame pixels are scaled by INPUT_SCALE (1280x720 -> 480x270, padded to a multiple of STRIDE_PAD).
INPUT_SCALE = 0.375
STRIDE_PAD = 32
OUTPUT_STRIDE = 4
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def shared_data(*parts):
    return os.path.join(os.path.dirname(repo_root()), "shared", "data", *parts)


def cache_dir():
    d = os.path.join(repo_root(), "training", "cache", "detector")
    os.makedirs(d, exist_ok=True)
    return d


def list_crops():
    """Sorted (path, stage index, camera) of every BBCH crop."""
    items = []
    for k, s in enumerate(STAGES):
        d = shared_data("bbch", "bbch" + s)
        for f in sorted(os.listdir(d)):
            if f.endswith(".jpg"):
                items.append((os.path.join(d, f), k, f[:-4].rsplit("_", 2)[0]))
    return items


def load_crops(which, max_side=160):
    """Crops of the training ('train') or held-out ('held') cameras as BGR uint8 arrays (longest side <= max_side).

    Cached as a pickle under training/cache/detector (the originals stay in ../shared)."""
    path = os.path.join(cache_dir(), "crops-%s-%d.pkl" % (which, max_side))
    if os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)
    held = which == "held"
    out = []
    for p, k, cam in list_crops():
        if (cam in HELD_OUT_CAMERAS) != held:
            continue
        im = cv2.imread(p, cv2.IMREAD_COLOR)
        if im is None:
            raise RuntimeError("cannot decode " + p)
        s = max_side / max(im.shape[:2])
        if s < 1:
            im = cv2.resize(im, (max(1, round(im.shape[1] * s)), max(1, round(im.shape[0] * s))), interpolation=cv2.INTER_AREA)
        out.append((im, k, cam, os.path.relpath(p, shared_data())))
    with open(path, "wb") as f:
        pickle.dump(out, f, protocol=4)
    return out


def pad_to(n, m):
    return (n + m - 1) // m * m


def to_input(img_bgr):
    """Frame (BGR uint8) -> network input float32 [3,H',W'] as the C# worker prepares it (scale, pad, RGB, normalise)."""
    h, w = img_bgr.shape[:2]
    nw, nh = max(1, round(w * INPUT_SCALE)), max(1, round(h * INPUT_SCALE))
    small = cv2.resize(img_bgr, (nw, nh), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((pad_to(nh, STRIDE_PAD), pad_to(nw, STRIDE_PAD), 3), np.uint8)
    canvas[:nh, :nw] = small
    x = canvas[:, :, ::-1].astype(np.float32) / 255.0
    x = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    # The padding is zero *after* normalisation, like the C# side (a zeroed buffer).
    x[nh:, :, :] = 0
    x[:, nw:, :] = 0
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def to_input_tile(img_bgr):
    """A scene already rendered at input scale -> normalised float32 [3,H,W] (training only)."""
    x = img_bgr[:, :, ::-1].astype(np.float32) / 255.0
    x = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))
