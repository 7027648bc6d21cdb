"""Train BlossomNet 2 on a mix of simulator frames (simdata.py) and compositor scenes (composite.py), training cameras'
crops only (the held-out cameras and the real orchard photos are never loaded here), and reviewed field frames
(`treescout dataset export` COCO datasets, --coco) when given.

  /usr/bin/python3 training/detector/train.py --name d2 --steps 3000
  /usr/bin/python3 training/detector/train.py --name field --init training/cache/detector/shipped-2.0.0.pt --freeze-bn \
      --coco DATASET_DIR --split block --holdout BLOCK_ID --p-coco 0.5 --steps 300 --lr 1e-4

Field frames are split by block (or date), never at random: neighbouring frames show the same trees, so a random split
would grade the model on frames it has nearly seen. Precision/recall on the held-out block is measured before training
(the --init weights) and after; both, with the datasets used (name, images, boxes, blocks), go into the checkpoint and
from there into the model card (export.py).

The ImageNet stem (conv1 + first layer1 block) stays frozen (weights and batch-norm statistics): its photo-learnt
filters are what carries over to real photos; the stages after it, the neck and the heads are trained.
Each sample is a SIZE x SIZE tile at the network's input scale x a random zoom. Checkpoints, the log and validation
(precision/recall on training-camera simulator frames and composites) go to training/runs/detector/<name>/.
"""
import argparse
import math
import multiprocessing
import os
import pickle
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coco  # noqa: E402
import common  # noqa: E402
import composite  # noqa: E402
import validate  # noqa: E402
from model import BlossomNet, Exported  # noqa: E402

MIN_VISIBLE = validate.MIN_VISIBLE  # less visible clusters are neither positives nor negatives (ignored in the loss)
MIN_PX = validate.MIN_REQUIRED_PX * common.INPUT_SCALE  # smaller boxes (rows behind the scanned one) are ignored too
ZOOM = (0.75, 1.35)  # apparent cluster size around the deployed input scale (camera distance, lens, resolution)


def targets(boxes, h, w, stride=common.OUTPUT_STRIDE):
    """CenterNet targets on the stride-4 grid: heatmap, loss weight (0 = ignore), sizes and offsets at centres.

    boxes: (x, y, w, h, required) in tile pixels; a box that is not required only blanks its area out of the loss."""
    gh, gw = h // stride, w // stride
    hm = np.zeros((gh, gw), np.float32)
    weight = np.ones((gh, gw), np.float32)
    wh = np.zeros((2, gh, gw), np.float32)
    off = np.zeros((2, gh, gw), np.float32)
    mask = np.zeros((gh, gw), np.float32)
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float32)
    for x, y, bw, bh, required in boxes:
        cx, cy = (x + bw / 2) / stride, (y + bh / 2) / stride
        sx, sy = max(0.7, bw / stride / 6), max(0.7, bh / stride / 6)
        g = np.exp(-((xs - cx) ** 2 / (2 * sx * sx) + (ys - cy) ** 2 / (2 * sy * sy)))
        if not required:
            weight[g > 0.05] = 0
            continue
        hm = np.maximum(hm, g)
        ix, iy = min(gw - 1, int(cx)), min(gh - 1, int(cy))
        hm[iy, ix] = 1.0
        wh[:, iy, ix] = (math.log(bw), math.log(bh))
        off[:, iy, ix] = (cx - ix, cy - iy)
        mask[iy, ix] = 1
    weight = np.maximum(weight, (hm == 1).astype(np.float32))
    return hm, weight, wh, off, mask


def tile_boxes(boxes, ox, oy, size):
    """Boxes (x, y, w, h, visible) already at tile scale, shifted by the tile origin, clipped; a box mostly outside the
    tile, too occluded or too small is not required."""
    out = []
    for x, y, bw, bh, vis in boxes:
        x0, y0 = x - ox, y - oy
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(size, x0 + bw), min(size, y0 + bh)
        if cx1 - cx0 < 1 or cy1 - cy0 < 1:
            continue
        inside = (cx1 - cx0) * (cy1 - cy0) / max(1e-6, bw * bh)
        required = vis >= MIN_VISIBLE and inside >= 0.5 and max(bw, bh) >= MIN_PX
        out.append((cx0, cy0, cx1 - cx0, cy1 - cy0, required))
    return out


def sim_sample(frames, store_scale, size, rng):
    """A random tile of a random simulator frame at input scale x zoom, with camera effects; horizontal flips only
    (the simulator's frames are upright, like the worker's)."""
    jpeg, boxes = frames[int(rng.integers(len(frames)))]
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    s = common.INPUT_SCALE / store_scale * math.exp(rng.uniform(math.log(ZOOM[0]), math.log(ZOOM[1])))
    h, w = img.shape[:2]
    nw, nh = max(size, round(w * s)), max(size, round(h * s))
    img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    sx, sy = nw / w, nh / h
    ox, oy = int(rng.integers(0, nw - size + 1)), int(rng.integers(0, nh - size + 1))
    tile = img[oy:oy + size, ox:ox + size]
    tb = tile_boxes([(x * sx, y * sy, bw * sx, bh * sy, v) for x, y, bw, bh, v in boxes], ox, oy, size)
    if rng.random() < 0.5:
        tile = tile[:, ::-1]
        tb = [(size - x - bw, y, bw, bh, r) for x, y, bw, bh, r in tb]
    if rng.random() < 0.7:
        tile = composite.camera_effects(rng, np.ascontiguousarray(tile), common.INPUT_SCALE)
    return tile, tb


def comp_sample(scenes, size, rng):
    """A compositor scene (rendered at input scale x zoom); flipped both ways (its canopy has no up)."""
    img, boxes = scenes[int(rng.integers(len(scenes)))]
    tb = [(x, y, bw, bh, v >= MIN_VISIBLE and max(bw, bh) >= MIN_PX) for x, y, bw, bh, _, v in boxes]
    if rng.random() < 0.5:
        img = img[:, ::-1]
        tb = [(size - x - bw, y, bw, bh, r) for x, y, bw, bh, r in tb]
    if rng.random() < 0.5:
        img = img[::-1]
        tb = [(x, size - y - bh, bw, bh, r) for x, y, bw, bh, r in tb]
    return np.ascontiguousarray(img), tb


def batches(sources, batch, size, rng):
    """sources: [(share, sample(rng) -> (tile, boxes))]; each tile comes from one source, drawn by share with one uniform
    draw (so simulator + compositor training draws exactly what it did before field data existed)."""
    bounds = np.cumsum([s for s, _ in sources], dtype=np.float64)
    bounds /= bounds[-1]
    while True:
        xs, hms, ws, whs, offs, masks = [], [], [], [], [], []
        for _ in range(batch):
            pick = min(int(np.searchsorted(bounds, rng.random(), side="right")), len(sources) - 1)
            img, tb = sources[pick][1](rng)
            hm, weight, wh, off, mask = targets(tb, size, size)
            xs.append(common.to_input_tile(img))
            hms.append(hm[None]); ws.append(weight[None]); whs.append(wh); offs.append(off); masks.append(mask[None])
        yield tuple(torch.from_numpy(np.stack(a)) for a in (xs, hms, ws, whs, offs, masks))


def _render_one(job):
    seed, size = job
    cv2.setNumThreads(1)
    rng = np.random.default_rng(seed)
    px = common.INPUT_SCALE * math.exp(rng.uniform(math.log(ZOOM[0]), math.log(ZOOM[1])))
    return composite.render(rng, _render_one.crops, size, size, px)


def _init_worker():
    _render_one.crops = common.load_crops("train")


def scene_pool(count, size, seed, workers):
    """Compositor scenes rendered once and reused (rendering costs as much CPU as a training step)."""
    path = os.path.join(common.cache_dir(), "pool-%d-%d-%d.pkl" % (count, size, seed))
    if os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)
    with multiprocessing.Pool(workers, initializer=_init_worker) as pool:
        scenes = pool.map(_render_one, [(seed * 1_000_003 + i, size) for i in range(count)], chunksize=16)
    with open(path, "wb") as f:
        pickle.dump(scenes, f, protocol=4)
    return scenes


def focal(pred_logits, gt, weight):
    p = torch.sigmoid(pred_logits).clamp(1e-4, 1 - 1e-4)
    pos = gt.eq(1).float()
    neg = (1 - pos) * weight
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p ** 2 * (1 - gt) ** 4 * neg
    n = pos.sum().clamp(min=1)
    return -(pos_loss.sum() + neg_loss.sum()) / n


def scores(res):
    """validate.run_set's {threshold: (precision, recall)} as JSON for the card (no precision without detections: null)."""
    return {"%.2f" % t: {"precision": None if math.isnan(p) else round(p, 4), "recall": round(r, 4)} for t, (p, r) in res.items()}


def field_data(folders, by, holdout):
    """Reviewed field frames: (training frames as a simulator-style cache, held-out (path, labels) for validate.run_set,
    the datasets' description for the model card)."""
    train, held, described = [], [], []
    for folder in folders:
        frames, problems = coco.check(folder, decode=False)
        for p in problems:
            print("left out of %s: %s" % (folder, p), flush=True)
        summary = coco.summary(folder, frames, problems)
        t, h = coco.split(frames, by, holdout)
        train += t
        held += h
        described.append({"name": summary["dataset"], "folder": os.path.relpath(os.path.abspath(folder), common.repo_root()),
                          "images": summary["images"], "boxes": summary["annotations"], "blocks": summary["blocks"],
                          "dates": summary["dates"], "trainImages": len(t), "heldOutImages": len(h), "problems": len(problems)})
    if not train or not held:
        values = sorted({str(f["block" if by == "block" else "date"]) for f in train + held})
        raise SystemExit("--holdout %s leaves %d training and %d held-out field frames; the %ss are: %s"
                         % (",".join(holdout), len(train), len(held), by, ", ".join(values)))
    # A reviewer boxed every cluster they could see: all are positives (tiny ones are ignored like in simulator frames).
    cache = {"scale": 1.0, "frames": [(open(f["path"], "rb").read(), [(x, y, w, h, 1.0) for x, y, w, h, _ in f["boxes"]]) for f in train]}
    return cache, validate.coco_labels(held), described


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="d2")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the 2 cores are shared: use 1)")
    ap.add_argument("--p-sim", type=float, default=0.6, help="share of simulator tiles in a batch (rest: compositor)")
    ap.add_argument("--sim", default="sim-frames-24.pkl", help="frame cache written by simdata.py (training/cache/detector), or none")
    ap.add_argument("--coco", action="append", default=[], help="a reviewed field dataset (treescout dataset export; repeatable)")
    ap.add_argument("--split", choices=["block", "date"], default="block", help="how field frames are split (never at random)")
    ap.add_argument("--holdout", action="append", default=[], help="block id (or date YYYY-MM-DD) held out for evaluation (repeatable)")
    ap.add_argument("--p-coco", type=float, default=0.5, help="share of field tiles in a batch when --coco is given")
    ap.add_argument("--freeze-bn", action="store_true", help="keep every batch norm in eval mode (a checkpoint from from_onnx.py needs it)")
    ap.add_argument("--pools", default="3000:11", help="COUNT:SEED,... compositor pools rendered once (cached)")
    ap.add_argument("--workers", type=int, default=1, help="processes rendering the compositor pool")
    ap.add_argument("--imagenet", default=os.path.join(common.repo_root(), "training", "runs", "stage", "resnet18_imagenet.pt"),
                    help="converted ImageNet ResNet18 (training/stage/convert_resnet18.py)")
    ap.add_argument("--val-sim", default=None, help="truth.json of a training-camera simulator run (validation)")
    ap.add_argument("--val-comp", default=None, help="truth.json of training-camera composites (validation)")
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--resume", default=None, help="continue a run: weights, optimiser and step")
    ap.add_argument("--init", default=None, help="start from these weights (a fresh optimiser and schedule)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    out = os.path.join(common.repo_root(), "training", "runs", "detector", args.name)
    os.makedirs(out, exist_ok=True)
    net = BlossomNet()
    if not (args.init or args.resume):
        print("ImageNet trunk: %d tensors from %s" % (net.load_imagenet(args.imagenet), args.imagenet), flush=True)
    frozen = [net.stem]
    for m in frozen:
        for p in m.parameters():
            p.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=args.lr, weight_decay=1e-4)
    start = 0
    if args.init:
        net.load_state_dict(torch.load(args.init)["state_dict"])
    if args.resume:
        ck = torch.load(args.resume)
        net.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        start = ck["step"]
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.05)
    for _ in range(start):
        sched.step()
    t_data = time.time()
    sim = {"frames": []}
    if args.sim != "none":
        with open(os.path.join(common.cache_dir(), args.sim), "rb") as f:
            sim = pickle.load(f)
    scenes = [s for spec in args.pools.split(",") if spec for s in scene_pool(int(spec.split(":")[0]), args.size, int(spec.split(":")[1]), args.workers)]
    field, heldout, datasets = field_data(args.coco, args.split, args.holdout) if args.coco else ({"frames": []}, [], [])
    print("data: %d simulator frames, %d compositor scenes, %d field frames (%d held out) (%.0f s)" % (
        len(sim["frames"]), len(scenes), len(field["frames"]), len(heldout), time.time() - t_data), flush=True)
    val = [(name, validate.read_truth(p)) for name, p in (("sim", args.val_sim), ("comp", args.val_comp)) if p]
    if heldout:
        val.append(("heldout-" + args.split, heldout))
    # Shares of a batch: field tiles (--p-coco) next to the synthetic ones, split between simulator and compositor.
    p_sim = args.p_sim if sim["frames"] and scenes else float(bool(sim["frames"]))
    synthetic = 1 - args.p_coco if field["frames"] else 1.0
    sources = [(share, fn) for share, data, fn in (
        (synthetic * p_sim, sim["frames"], lambda rng: sim_sample(sim["frames"], sim["scale"], args.size, rng)),
        (synthetic * (1 - p_sim), scenes, lambda rng: comp_sample(scenes, args.size, rng)),
        (1 - synthetic, field["frames"], lambda rng: sim_sample(field["frames"], field["scale"], args.size, rng)),
    ) if share > 0 and data]
    if not sources:
        raise SystemExit("no training data: give --sim, --pools or --coco")
    loader = batches(sources, args.batch, args.size, np.random.default_rng(args.seed * 7 + start))
    log = open(os.path.join(out, "log.txt"), "a")

    def say(msg):
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    say("args %s" % vars(args))
    held_out = None
    if heldout:
        held_out = {"split": args.split, "values": args.holdout, "images": len(heldout),
                    "requiredBoxes": sum(lab[4] for _, labels in heldout for lab in labels), "after": None}
        net.eval()
        held_out["before"] = scores(validate.run_set(Exported(net).eval(), heldout))
        say("held-out %s %s before training: %s" % (args.split, ",".join(args.holdout), held_out["before"]))

    def checkpoint(path, step, **extra):
        torch.save({"state_dict": net.state_dict(), "step": step, "args": vars(args), "datasets": datasets, "heldOut": held_out, **extra}, path)

    t0, run = time.time(), None
    for step in range(start, args.steps):
        x, hm, weight, wh, off, mask = next(loader)
        net.train()
        for m in frozen:
            m.eval()  # ImageNet batch-norm statistics stay as they are
        if args.freeze_bn:
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.eval()
        phm, pwh, poff = net(x)
        l_hm = focal(phm, hm, weight)
        n = mask.sum().clamp(min=1)
        l_wh = (F.l1_loss(pwh, wh, reduction="none") * mask).sum() / n
        l_off = (F.l1_loss(poff, off, reduction="none") * mask).sum() / n
        loss = l_hm + 0.5 * l_wh + l_off
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 10.0)
        opt.step()
        sched.step()
        v = np.array([loss.item(), l_hm.item(), l_wh.item(), l_off.item()])
        run = v if run is None else 0.98 * run + 0.02 * v
        last = step == args.steps - 1
        if step % 50 == 0 or last:
            say("step %d loss %.3f hm %.3f wh %.3f off %.3f lr %.2e %.2fs/step threads %d" % (
                step, *run, sched.get_last_lr()[-1], (time.time() - t0) / (step - start + 1), torch.get_num_threads()))
        validated = val and ((step + 1) % args.val_every == 0 or last)
        if validated:
            net.eval()
            for name, images in val:
                res = validate.run_set(Exported(net).eval(), images)
                say("val %s step %d: %s" % (name, step + 1, "  ".join("@%.2f P %.3f R %.3f" % (t, p, r) for t, (p, r) in res.items())))
                if held_out and images is heldout:
                    held_out.update(after=scores(res), afterStep=step + 1)
        if (step + 1) % 250 == 0 or last:
            checkpoint(os.path.join(out, "model.pt"), step + 1, optimizer=opt.state_dict())
        if validated:
            checkpoint(os.path.join(out, "model-%05d.pt" % (step + 1)), step + 1)


if __name__ == "__main__":
    main()
