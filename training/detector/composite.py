"""Synthetic orchard composites with exact boxes: real BBCH cluster crops pasted into a procedurally drawn canopy.

Each scene: sky / soil / blurred far rows (colours of real crops), trunk and branches, leaves behind and in front of
the clusters, fallen petals and sky gaps as bright non-blossom distractors, then camera effects (white balance,
exposure, motion and focus blur, noise, JPEG). Boxes are the pasted crop rectangles clipped to the frame, with the
visible fraction (occlusion by later clusters/leaves and the frame edge).

  /usr/bin/python3 training/detector/composite.py --out DIR --cameras held --count 30 --seed 1000
writes DIR/frames/NNNN.jpg (1280x720) + DIR/truth.json (the held-out evaluation set the model card reports).
"""
import argparse
import json
import math
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

# Cluster size (longest side) in full-frame pixels: what a side camera ~1.5-2.5 m from the canopy sees at 1280x720.
MIN_CLUSTER_PX, MAX_CLUSTER_PX = 28, 150


def _hsv_color(rng, h, s, v):
    c = np.uint8([[[rng.uniform(*h), rng.uniform(*s), rng.uniform(*v)]]])
    return tuple(int(x) for x in cv2.cvtColor(c, cv2.COLOR_HSV2BGR)[0, 0])


def _far_canopy(rng, crops, h, w):
    """Out-of-focus background rows: a mosaic of hugely enlarged, blurred real crops (real colours, no labels)."""
    img = np.zeros((h, w, 3), np.uint8)
    n = int(rng.integers(2, 6))
    xs = np.linspace(0, w, n + 1).astype(int)
    for i in range(n):
        c = crops[int(rng.integers(len(crops)))][0]
        img[:, xs[i]:xs[i + 1]] = cv2.resize(c, (xs[i + 1] - xs[i], h), interpolation=cv2.INTER_LINEAR)
    k = max(3, int(min(h, w) * rng.uniform(0.02, 0.06)) | 1)
    return cv2.GaussianBlur(img, (k, k), 0)


def _speckle(rng, img, px, n, colors, radius, blur):
    layer = img.copy()
    h, w = img.shape[:2]
    for _ in range(n):
        r = max(1, int(rng.uniform(*radius) * px))
        cv2.circle(layer, (int(rng.integers(w)), int(rng.integers(h))), r, colors(rng), -1, cv2.LINE_AA)
    if blur:
        k = max(3, int(blur * px) | 1)
        layer = cv2.GaussianBlur(layer, (k, k), 0)
    return layer


def background(rng, crops, h, w, px):
    img = _far_canopy(rng, crops, h, w)
    # far rows in bloom: white and green speckle, out of focus
    img = _speckle(rng, img, px, int(h * w / (900 * px * px) * rng.uniform(0.2, 1.5)),
                   lambda r: _hsv_color(r, (20, 80), (0, 120) if r.random() < 0.5 else (60, 200), (120, 255)), (3, 12), rng.uniform(5, 21))
    sky = int(h * rng.uniform(0, 0.45 if rng.random() < 0.7 else 0.9)) if rng.random() < 0.7 else 0
    if sky:
        top, bottom = np.array(_hsv_color(rng, (95, 120), (0, 90), (170, 255)), np.float32), np.array(_hsv_color(rng, (90, 120), (0, 60), (190, 255)), np.float32)
        edge = sky + (np.sin(np.arange(w) / (w * rng.uniform(0.05, 0.3)) + rng.uniform(0, 6)) * h * 0.04).astype(int)
        grad = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        sky_img = (top * (1 - grad) + bottom * grad).astype(np.uint8)
        rows = np.arange(h)[:, None]
        mask = rows < edge[None, :]
        img[mask] = np.broadcast_to(sky_img, (h, w, 3))[mask]
    if rng.random() < 0.75:
        g0 = int(h * rng.uniform(0.6, 0.95))
        soil = np.zeros((h - g0, w, 3), np.uint8)
        soil[:] = _hsv_color(rng, (5, 30), (30, 130), (60, 180))
        noise = rng.normal(0, rng.uniform(5, 25), soil.shape[:2])[:, :, None]
        soil = np.clip(soil.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        img[g0:] = soil
        # fallen petals and grass on the ground: bright and green distractors
        for _ in range(int(w * (h - g0) / (2500 * px * px) * rng.uniform(0, 2))):
            c = (int(rng.integers(w)), int(rng.integers(g0, h)))
            ax = (max(1, int(rng.uniform(3, 9) * px)), max(1, int(rng.uniform(2, 6) * px)))
            cv2.ellipse(img, c, ax, rng.uniform(0, 180), 0, 360, _hsv_color(rng, (0, 30), (0, 50), (180, 255)), -1, cv2.LINE_AA)
    return img


def _leaf(rng, img, px, center=None, size=(25, 80), mask=None):
    h, w = img.shape[:2]
    c = center or (int(rng.integers(w)), int(rng.integers(h)))
    length = rng.uniform(*size) * px / 2
    ax = (max(2, int(length)), max(1, int(length * rng.uniform(0.3, 0.55))))
    ang = rng.uniform(0, 180)
    col = _hsv_color(rng, (28, 80), (60, 230), (30, 200))
    cv2.ellipse(img, c, ax, ang, 0, 360, col, -1, cv2.LINE_AA)
    dark = tuple(int(v * 0.7) for v in col)
    t = math.radians(ang)
    d = (int(ax[0] * math.cos(t)), int(ax[0] * math.sin(t)))
    cv2.line(img, (c[0] - d[0], c[1] - d[1]), (c[0] + d[0], c[1] + d[1]), dark, max(1, int(px * 1.5)), cv2.LINE_AA)
    if mask is not None:
        cv2.ellipse(mask, c, ax, ang, 0, 360, -1, -1)


def _branches(rng, img, px):
    h, w = img.shape[:2]
    pts = []
    if rng.random() < 0.8:  # trunk
        x = int(rng.uniform(0.15, 0.85) * w)
        col = _hsv_color(rng, (5, 25), (40, 150), (30, 110))
        cv2.line(img, (x, h), (x + int(rng.normal(0, 0.05) * w), 0), col, max(2, int(rng.uniform(12, 35) * px)), cv2.LINE_AA)
    for _ in range(int(rng.integers(3, 12))):
        x0, y0 = int(rng.integers(w)), int(rng.integers(h))
        ang, length = rng.uniform(0, 2 * math.pi), rng.uniform(0.1, 0.5) * w
        x1, y1 = int(x0 + length * math.cos(ang)), int(y0 + length * math.sin(ang))
        col = _hsv_color(rng, (5, 25), (30, 150), (25, 120))
        cv2.line(img, (x0, y0), (x1, y1), col, max(1, int(rng.uniform(2, 9) * px)), cv2.LINE_AA)
        pts.append(((x0, y0), (x1, y1)))
    return pts


def _prepare_crop(rng, crop, side):
    c = crop
    if rng.random() < 0.5:
        c = c[:, ::-1]
    k = int(rng.integers(4))
    if k:
        c = np.rot90(c, k)
    h, w = c.shape[:2]
    s = side / max(h, w)
    aspect = math.exp(rng.uniform(-0.12, 0.12))
    nw, nh = max(4, round(w * s * aspect)), max(4, round(h * s / aspect))
    c = cv2.resize(np.ascontiguousarray(c), (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    # mild per-cluster light variation (sun / shade within the canopy)
    c = np.clip(c.astype(np.float32) * rng.uniform(0.75, 1.2) + rng.uniform(-12, 12), 0, 255).astype(np.uint8)
    # feathered elliptical alpha: the crop's rectangle border must not be a cue
    a = np.zeros((nh, nw), np.float32)
    cv2.ellipse(a, (nw // 2, nh // 2), (max(1, int(nw * rng.uniform(0.42, 0.5))), max(1, int(nh * rng.uniform(0.42, 0.5)))), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    k = max(3, int(min(nw, nh) * rng.uniform(0.15, 0.35)) | 1)
    a = cv2.GaussianBlur(a, (k, k), 0)
    return c, a


def _decoy(rng, crops, side):
    """A corner of a real crop (leaves, branches, sky around a cluster), enlarged: real texture that is not a cluster,
    pasted with the same feathered alpha so neither 'photo texture' nor the ellipse edge identifies a cluster."""
    crop = crops[int(rng.integers(len(crops)))][0]
    h, w = crop.shape[:2]
    qh, qw = max(2, h // 4), max(2, w // 4)
    y, x = (0 if rng.random() < 0.5 else h - qh), (0 if rng.random() < 0.5 else w - qw)
    return _prepare_crop(rng, crop[y:y + qh, x:x + qw], side)


def camera_effects(rng, img, px):
    """White balance, exposure, gamma, saturation, haze, motion or focus blur, noise, JPEG (px = scene pixels per frame pixel)."""
    x = img.astype(np.float32)
    x *= np.exp(rng.uniform(-0.12, 0.12, 3)).astype(np.float32)  # white balance
    x = x * rng.uniform(0.6, 1.35) + rng.uniform(-25, 25)        # exposure / offset
    x = np.clip(x, 0, 255)
    gamma = math.exp(rng.uniform(-0.3, 0.3))
    x = 255.0 * (x / 255.0) ** gamma
    hsv = cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[:, :, 1] *= rng.uniform(0.55, 1.3)
    x = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)
    if rng.random() < 0.3:  # haze / overcast glare: low contrast towards a bright grey
        a = rng.uniform(0.55, 0.9)
        x = (x.astype(np.float32) * a + (1 - a) * rng.uniform(170, 250, 3).astype(np.float32)).astype(np.uint8)
    r = rng.random()
    if r < 0.35:  # motion blur along the driving direction (horizontal)
        n = int(rng.integers(2, max(3, int(12 * px))))
        k = np.zeros((1, n), np.float32)
        k[:] = 1.0 / n
        x = cv2.filter2D(x, -1, k)
    elif r < 0.6:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.4, 1.6) * px)
    if rng.random() < 0.5:
        x = np.clip(x.astype(np.float32) + rng.normal(0, rng.uniform(2, 9), x.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.8:
        ok, enc = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 95))])
        x = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return x


def render(rng, crops, h, w, px=1.0, density=None):
    """One scene (BGR uint8 [h,w,3]) and its clusters [(x, y, w, h, stage index, visible fraction)] in scene pixels.

    px = scene pixels per full-frame pixel (0.5 renders directly at the detector's input scale)."""
    img = background(rng, crops, h, w, px)
    _branches(rng, img, px)
    area_units = h * w / (px * px) / (1280 * 720)
    for _ in range(int(rng.uniform(150, 700) * area_units)):
        _leaf(rng, img, px)
    label = np.full((h, w), -1, np.int32)
    density = density if density is not None else rng.uniform(20, 200)
    n = int(rng.poisson(density * area_units))
    placed = []
    # clusters grow along branches in groups: pick a few group centres, scatter around them
    centres = [(rng.uniform(0, w), rng.uniform(0, h * 0.9)) for _ in range(max(1, n // 6))]
    for i in range(n):
        crop, stage = crops[int(rng.integers(len(crops)))][:2]
        side = math.exp(rng.uniform(math.log(MIN_CLUSTER_PX), math.log(MAX_CLUSTER_PX))) * px
        c, a = _prepare_crop(rng, crop, side)
        ch, cw = c.shape[:2]
        gx, gy = centres[int(rng.integers(len(centres)))]
        spread = rng.uniform(0.05, 0.25) * w
        cx, cy = int(gx + rng.normal(0, spread) - cw / 2), int(gy + rng.normal(0, spread * 0.6) - ch / 2)
        x0, y0, x1, y1 = max(0, cx), max(0, cy), min(w, cx + cw), min(h, cy + ch)
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        sub_a = a[y0 - cy:y1 - cy, x0 - cx:x1 - cx, None]
        roi = img[y0:y1, x0:x1].astype(np.float32)
        img[y0:y1, x0:x1] = (roi * (1 - sub_a) + c[y0 - cy:y1 - cy, x0 - cx:x1 - cx].astype(np.float32) * sub_a).astype(np.uint8)
        inside = sub_a[:, :, 0] > 0.5
        label[y0:y1, x0:x1][inside] = len(placed)
        placed.append([x0, y0, x1 - x0, y1 - y0, stage, float((a > 0.5).sum())])
    for _ in range(int(rng.uniform(0, 40) * area_units)):
        side = math.exp(rng.uniform(math.log(MIN_CLUSTER_PX), math.log(MAX_CLUSTER_PX * 1.5))) * px
        c, a = _decoy(rng, crops, side)
        ch, cw = c.shape[:2]
        cx, cy = int(rng.integers(-cw // 2, w - cw // 2)), int(rng.integers(-ch // 2, h - ch // 2))
        x0, y0, x1, y1 = max(0, cx), max(0, cy), min(w, cx + cw), min(h, cy + ch)
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        sub_a = a[y0 - cy:y1 - cy, x0 - cx:x1 - cx, None]
        img[y0:y1, x0:x1] = (img[y0:y1, x0:x1] * (1 - sub_a) + c[y0 - cy:y1 - cy, x0 - cx:x1 - cx] * sub_a).astype(np.uint8)
        label[y0:y1, x0:x1][sub_a[:, :, 0] > 0.5] = -1
    # leaves in front of some clusters
    for _ in range(int(rng.uniform(0, 60) * area_units)):
        _leaf(rng, img, px, mask=label, size=(20, 70))
    counts = np.bincount(label[label >= 0].ravel(), minlength=len(placed))
    boxes = [(x, y, bw, bh, st, float(counts[i] / max(1.0, full))) for i, (x, y, bw, bh, st, full) in enumerate(placed)]
    return camera_effects(rng, img, px), boxes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--cameras", choices=["train", "held"], default="held")
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--quality", type=int, default=90)
    args = ap.parse_args()
    crops = common.load_crops(args.cameras)
    os.makedirs(os.path.join(args.out, "frames"), exist_ok=True)
    frames = []
    for i in range(args.count):
        rng = np.random.default_rng(args.seed + i)
        img, boxes = render(rng, crops, args.height, args.width, 1.0)
        name = "frames/%04d.jpg" % i
        cv2.imwrite(os.path.join(args.out, name), img, [cv2.IMWRITE_JPEG_QUALITY, args.quality])
        frames.append({"file": name, "width": args.width, "height": args.height, "seed": args.seed + i,
                       "clusters": [{"x": x, "y": y, "w": w, "h": h, "stage": common.CLASSES[s], "visibleFraction": round(v, 3)}
                                    for x, y, w, h, s, v in boxes]})
    with open(os.path.join(args.out, "truth.json"), "w") as f:
        json.dump({"generator": "training/detector/composite.py", "cameras": args.cameras,
                   "heldOutCameras": common.HELD_OUT_CAMERAS, "frames": frames}, f, indent=1)
    print("wrote %d frames, %d clusters to %s" % (len(frames), sum(len(f["clusters"]) for f in frames), args.out))


if __name__ == "__main__":
    main()
