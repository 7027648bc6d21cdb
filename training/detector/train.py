"""Train BlossomNet on composites of the training cameras' crops (held-out cameras never loaded).

  /usr/bin/python3 training/detector/train.py --steps 6000 --name v1
Checkpoints and the log go to training/runs/detector/<name>/ (model.pt = last, log.txt).
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
import common  # noqa: E402
import composite  # noqa: E402
from model import BlossomNet  # noqa: E402

MIN_VISIBLE = 0.35  # clusters less visible than this are neither positives nor negatives (ignored in the loss)


def targets(boxes, h, w, stride=common.OUTPUT_STRIDE):
    """CenterNet targets on the stride-4 grid: heatmap, loss weight (0 = ignore), sizes and offsets at centres."""
    gh, gw = h // stride, w // stride
    hm = np.zeros((gh, gw), np.float32)
    weight = np.ones((gh, gw), np.float32)
    wh = np.zeros((2, gh, gw), np.float32)
    off = np.zeros((2, gh, gw), np.float32)
    mask = np.zeros((gh, gw), np.float32)
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float32)
    for x, y, bw, bh, _, vis in boxes:
        cx, cy = (x + bw / 2) / stride, (y + bh / 2) / stride
        sx, sy = max(0.7, bw / stride / 6), max(0.7, bh / stride / 6)
        g = np.exp(-((xs - cx) ** 2 / (2 * sx * sx) + (ys - cy) ** 2 / (2 * sy * sy)))
        if vis < MIN_VISIBLE:
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


def _render_one(job):
    seed, size = job
    cv2.setNumThreads(1)
    rng = np.random.default_rng(seed)
    crops = _render_one.crops
    px = common.INPUT_SCALE * rng.uniform(0.75, 1.35)
    return composite.render(rng, crops, size, size, px)


def _init_worker():
    _render_one.crops = common.load_crops("train")


def scene_pool(count, size, seed, workers):
    """Composites rendered once and reused every epoch (rendering costs as much CPU as a training step on this machine)."""
    path = os.path.join(common.cache_dir(), "pool-%d-%d-%d.pkl" % (count, size, seed))
    if os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)
    with multiprocessing.Pool(workers, initializer=_init_worker) as pool:
        scenes = pool.map(_render_one, [(seed * 1_000_003 + i, size) for i in range(count)], chunksize=16)
    with open(path, "wb") as f:
        pickle.dump(scenes, f, protocol=4)
    return scenes


def batches(scenes, batch, size, rng):
    """Random scenes with flips (clusters look the same mirrored or upside down), as network tensors and targets."""
    while True:
        xs, hms, ws, whs, offs, masks = [], [], [], [], [], []
        for i in rng.integers(0, len(scenes), batch):
            img, boxes = scenes[i]
            if rng.random() < 0.5:
                img = img[:, ::-1]
                boxes = [(size - x - w, y, w, h, st, v) for x, y, w, h, st, v in boxes]
            if rng.random() < 0.5:
                img = img[::-1]
                boxes = [(x, size - y - h, w, h, st, v) for x, y, w, h, st, v in boxes]
            hm, weight, wh, off, mask = targets(boxes, size, size)
            xs.append(common.to_input_tile(np.ascontiguousarray(img)))
            hms.append(hm[None]); ws.append(weight[None]); whs.append(wh); offs.append(off); masks.append(mask[None])
        yield tuple(torch.from_numpy(np.stack(a)) for a in (xs, hms, ws, whs, offs, masks))


def focal(pred_logits, gt, weight):
    p = torch.sigmoid(pred_logits).clamp(1e-4, 1 - 1e-4)
    pos = gt.eq(1).float()
    neg = (1 - pos) * weight
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p ** 2 * (1 - gt) ** 4 * neg
    n = pos.sum().clamp(min=1)
    return -(pos_loss.sum() + neg_loss.sum()) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="v1")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=1)  # a shared 2-core machine: more threads spin and lose
    ap.add_argument("--workers", type=int, default=2, help="processes rendering the scene pool")
    ap.add_argument("--pools", default="2400:1", help="COUNT:SEED,... composite pools rendered once (cached) and reused")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--resume", default=None, help="continue a run: weights, optimiser and step")
    ap.add_argument("--init", default=None, help="start from these weights with a fresh schedule (fine-tuning)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    out = os.path.join(common.repo_root(), "training", "runs", "detector", args.name)
    os.makedirs(out, exist_ok=True)
    net = BlossomNet()
    start = 0
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
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
    t_pool = time.time()
    scenes = [s for spec in args.pools.split(",") for s in scene_pool(int(spec.split(":")[0]), args.size, int(spec.split(":")[1]), args.workers)]
    print("scene pool: %d composites (%.0f s)" % (len(scenes), time.time() - t_pool), flush=True)
    loader = batches(scenes, args.batch, args.size, np.random.default_rng(args.seed * 7 + start))
    log = open(os.path.join(out, "log.txt"), "a")
    net.train()
    t0, run = time.time(), None
    for step, (x, hm, weight, wh, off, mask) in enumerate(loader, start=start):
        if step >= args.steps:
            break
        phm, pwh, poff = net(x)
        l_hm = focal(phm, hm, weight)
        n = mask.sum().clamp(min=1)
        l_wh = (F.l1_loss(pwh, wh, reduction="none") * mask).sum() / n
        l_off = (F.l1_loss(poff, off, reduction="none") * mask).sum() / n
        loss = l_hm + 0.5 * l_wh + l_off
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        sched.step()
        v = np.array([loss.item(), l_hm.item(), l_wh.item(), l_off.item()])
        run = v if run is None else 0.98 * run + 0.02 * v
        if step % 50 == 0 or step == args.steps - 1:
            msg = "step %d loss %.3f hm %.3f wh %.3f off %.3f lr %.2e %.2fs/step" % (
                step, *run, sched.get_last_lr()[0], (time.time() - t0) / (step - start + 1))
            print(msg, flush=True)
            log.write(msg + "\n")
            log.flush()
        if step % 500 == 0 or step == args.steps - 1:
            torch.save({"state_dict": net.state_dict(), "optimizer": opt.state_dict(), "step": step + 1, "args": vars(args)},
                       os.path.join(out, "model.pt"))


if __name__ == "__main__":
    main()
