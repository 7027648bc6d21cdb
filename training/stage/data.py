"""BBCH stage data: listing, fixed camera split, cv2 preprocessing and RAM/disk cache.

Run from the repo root:  /usr/bin/python3 training/stage/data.py
prints the per-camera stage table and the split.
"""
import collections
import hashlib
import os
import sys

import cv2
import numpy as np

DATA_ROOT = os.path.join("..", "shared", "data", "bbch")  # relative to the repo root
STAGES = ["53", "54", "56", "57", "59", "61", "65", "67", "69", "71"]
CLASSES = ["bbch" + s for s in STAGES]
FLOWERING = {5, 6, 7}  # indices of bbch61, bbch65, bbch67

# Held-out cameras: never used for training, model selection or hyperparameters.
# blink-04-00-02 covers every stage except 67 (3 crops); blink-04-01-08 adds 78 crops of 67.
HELD_OUT_CAMERAS = ["blink-04-00-02", "blink-04-01-08"]
# Camera-disjoint model-selection split inside the training cameras (used only in
# `--mode select` runs; the final model is trained on all training cameras).
SELECT_CAMERAS = ["blink-04-01-06", "blink-04-02-06", "blink-04-01-09", "blink-04-02-04", "blink-04-00-03"]

# ImageNet-style normalisation of RGB/255 input. The mean is the per-channel mean of the
# Caffe/CNTK mean image shipped in ResNetPreprocess.onnx (B 103.06, G 115.90, R 123.15 on 0..255);
# the std is the usual torchvision ImageNet std (the converted first conv is rescaled so that
# (x/255 - mean)/std reproduces the original 0..255 BGR-minus-mean input exactly).
MEAN = [123.15163 / 255.0, 115.902885 / 255.0, 103.06262 / 255.0]
STD = [0.229, 0.224, 0.225]


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def list_crops(root=None):
    """Return a sorted list of (path, label index, camera, photo id)."""
    root = root or os.path.join(repo_root(), DATA_ROOT)
    items = []
    for k, s in enumerate(STAGES):
        d = os.path.join(root, "bbch" + s)
        for f in sorted(os.listdir(d)):
            if not f.endswith(".jpg"):
                continue
            cam, t, _ = f[:-4].rsplit("_", 2)
            items.append((os.path.join(d, f), k, cam, cam + "_" + t))
    return items


def split(items):
    held = [it for it in items if it[2] in HELD_OUT_CAMERAS]
    train = [it for it in items if it[2] not in HELD_OUT_CAMERAS]
    return train, held


def camera_table(items, out=sys.stdout):
    tab = collections.defaultdict(collections.Counter)
    for _, k, cam, _ in items:
        tab[cam][k] += 1
    print("camera".ljust(16) + "".join(s.rjust(5) for s in STAGES) + "  total  set", file=out)
    for cam in sorted(tab, key=lambda c: -sum(tab[c].values())):
        role = "HELD-OUT" if cam in HELD_OUT_CAMERAS else ("train(select)" if cam in SELECT_CAMERAS else "train")
        print(cam.ljust(16) + "".join(str(tab[cam][k]).rjust(5) for k in range(10))
              + str(sum(tab[cam].values())).rjust(7) + "  " + role, file=out)


def load_rgb(path):
    """cv2.imread (BGR uint8) -> RGB uint8."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise IOError(path)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def resize_area(rgb, size):
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)


def shrink_to_width(rgb, width):
    """The crop as a camera would see the cluster at `width` pixels wide (aspect kept, INTER_AREA)."""
    h = max(1, int(round(rgb.shape[0] * width / rgb.shape[1])))
    return cv2.resize(rgb, (width, h), interpolation=cv2.INTER_AREA)


def to_tensor_np(rgb_uint8_batch):
    """uint8 [N,S,S,3] RGB -> float32 NCHW, (x/255 - mean)/std. Identical to the deployed preprocessing."""
    x = rgb_uint8_batch.astype(np.float32) / np.float32(255.0)
    x = (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def cached_images(items, size, cache_dir=None):
    """uint8 [N,size,size,3] RGB images of `items`, resized with INTER_AREA straight from the original files
    (exactly the evaluation/deployment pipeline). All crops are decoded once per size and cached as .npy
    under training/cache/stage/ (git-ignored)."""
    cache_dir = cache_dir or os.path.join(repo_root(), "training", "cache", "stage")
    os.makedirs(cache_dir, exist_ok=True)
    everything = list_crops()
    key = hashlib.sha1(("\n".join(os.path.relpath(p, repo_root()) for p, *_ in everything)).encode()).hexdigest()[:12]
    f = os.path.join(cache_dir, "imgs_%d_%s.npy" % (size, key))
    if os.path.exists(f):
        arr = np.load(f, mmap_mode="r")
    else:
        arr = np.stack([resize_area(load_rgb(p), size) for p, *_ in everything])
        np.save(f, arr)
    pos = {p: i for i, (p, *_) in enumerate(everything)}
    return np.ascontiguousarray(arr[[pos[p] for p, *_ in items]])


if __name__ == "__main__":
    items = list_crops()
    camera_table(items)
    train, held = split(items)
    print()
    print("crops: %d total, %d train (%d cameras), %d held-out (%.1f %%, cameras %s)" % (
        len(items), len(train), len({c for _, _, c, _ in train}), len(held), 100.0 * len(held) / len(items),
        ", ".join(HELD_OUT_CAMERAS)))
    hc = collections.Counter(k for _, k, _, _ in held)
    print("held-out per stage: " + ", ".join("%s %d" % (CLASSES[k], hc[k]) for k in range(10)))
    sel = [it for it in train if it[2] in SELECT_CAMERAS]
    sc = collections.Counter(k for _, k, _, _ in sel)
    print("model-selection split inside training (%d crops): %s" % (len(sel), ", ".join("%s %d" % (CLASSES[k], sc[k]) for k in range(10))))
