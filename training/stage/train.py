"""Train the BBCH stage classifier (fine-tuned ImageNet ResNet18 stem..layer3) with camera-shift augmentation.

From the repo root:
  /usr/bin/python3 training/stage/train.py --mode select --name sel64   # train on training cameras minus
                                                                      # data.SELECT_CAMERAS, report on those
  /usr/bin/python3 training/stage/train.py --mode final --name final   # train on all training cameras
Outputs go to training/runs/stage/<name>/ (model.pt, log.txt). The held-out cameras (data.HELD_OUT_CAMERAS)
are never loaded here.
"""
import argparse
import collections
import math
import os
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from convert_resnet18 import main as convert_main  # noqa: E402
from model import StageNet  # noqa: E402
import metrics  # noqa: E402

SRC = 112  # cached source resolution for augmentation


def ordinal_targets(y, smooth, n=10):
    """Soft targets: 1-smooth on the true stage, smooth spread over the neighbouring stages (+-1 and +-2, 3:1)."""
    idx = torch.arange(n).view(1, n)
    d = (idx - y.view(-1, 1)).abs()
    w = torch.where(d == 1, torch.tensor(3.0), torch.where(d == 2, torch.tensor(1.0), torch.tensor(0.0)))
    w = w / w.sum(1, keepdim=True)
    t = smooth * w
    t[torch.arange(len(y)), y] += 1.0 - smooth
    return t


def jpeg_batch(imgs, rng, p):
    out = imgs.copy()
    for i in range(len(out)):
        if rng.random() < p:
            q = int(rng.integers(15, 90))
            ok, enc = cv2.imencode(".jpg", out[i], [cv2.IMWRITE_JPEG_QUALITY, q])
            out[i] = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED)
    return out


def augment(imgs_u8, size, rng, strength=1.0):
    """uint8 [B,SRC,SRC,3] RGB -> normalised float [B,3,size,size] with geometric + photometric augmentation."""
    b = len(imgs_u8)
    imgs_u8 = jpeg_batch(imgs_u8, rng, 0.4 * strength)
    x = torch.from_numpy(imgs_u8).permute(0, 3, 1, 2).float() / 255.0
    # geometry: any rotation, flips, zoom (random resized crop incl. slight zoom-out), aspect, translation
    ang = torch.from_numpy(rng.uniform(0, 2 * math.pi, b)).float()
    scale = torch.from_numpy(np.exp(rng.uniform(np.log(0.55), np.log(1.1), b))).float()
    aspect = torch.from_numpy(np.exp(rng.uniform(-0.25, 0.25, b))).float()
    flip = torch.from_numpy(rng.choice([-1.0, 1.0], b)).float()
    tx = torch.from_numpy(rng.uniform(-1, 1, b)).float() * (1 - scale).clamp(min=0.05)
    ty = torch.from_numpy(rng.uniform(-1, 1, b)).float() * (1 - scale).clamp(min=0.05)
    sx, sy = scale * aspect.sqrt() * flip, scale / aspect.sqrt()
    cos, sin = ang.cos(), ang.sin()
    theta = torch.stack([torch.stack([cos * sx, -sin * sy, tx], 1), torch.stack([sin * sx, cos * sy, ty], 1)], 1)
    # low resolution: many real crops are small and get upsampled; sample at a lower res then upsample
    lo = int(rng.choice([size, size, int(size * 0.7), int(size * 0.5), int(size * 0.35)]))
    grid = F.affine_grid(theta, (b, 3, lo, lo), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if lo != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    s = strength

    def rnd(lo_, hi_, shape=(b, 1, 1, 1)):
        return torch.from_numpy(rng.uniform(lo_, hi_, (shape[0], *shape[1:]))).float()

    # photometric: white balance, exposure, contrast, saturation, gamma, blur, noise
    x = x * torch.exp(rnd(-0.18 * s, 0.18 * s, (b, 3, 1, 1)))          # per-channel gain (white balance)
    x = x * torch.exp(rnd(-0.35 * s, 0.35 * s))                       # exposure
    m = x.mean((1, 2, 3), keepdim=True)
    x = (x - m) * torch.exp(rnd(-0.35 * s, 0.3 * s)) + m              # contrast
    g = x.mean(1, keepdim=True)
    x = (x - g) * torch.exp(rnd(-0.5 * s, 0.35 * s)) + g              # saturation
    x = x.clamp(0, 1) ** torch.exp(rnd(-0.35 * s, 0.35 * s))          # gamma
    if rng.random() < 0.3 * s:
        sig = rng.uniform(0.4, 1.3)
        k = int(2 * math.ceil(2 * sig) + 1)
        ax = torch.arange(k).float() - k // 2
        ker = torch.exp(-ax ** 2 / (2 * sig ** 2))
        ker = ker / ker.sum()
        x = F.conv2d(F.pad(x, (k // 2,) * 4, mode="reflect"), ker.view(1, 1, 1, k).repeat(3, 1, 1, 1), groups=3)
        x = F.conv2d(x, ker.view(1, 1, k, 1).repeat(3, 1, 1, 1), groups=3)
    x = x + torch.randn_like(x) * rnd(0, 0.03 * s)
    x = x.clamp(0, 1)
    gray = torch.from_numpy(rng.random(b) < 0.03 * s).view(b, 1, 1, 1)
    x = torch.where(gray, x.mean(1, keepdim=True).expand_as(x), x)
    mean = torch.tensor(data.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(data.STD).view(1, 3, 1, 1)
    return (x - mean) / std


def predict(net, x_np, batch=256):
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x_np), batch):
            out.append(torch.softmax(net(torch.from_numpy(x_np[i:i + batch])), 1))
    return torch.cat(out).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["select", "final"], default="final")
    ap.add_argument("--name", default=None)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3, help="head LR; backbone gets lr*backbone_mult")
    ap.add_argument("--backbone-mult", type=float, default=0.3)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--smooth", type=float, default=0.2, help="ordinal label smoothing mass")
    ap.add_argument("--reg", type=float, default=0.1, help="weight of expected-stage L1 regression")
    ap.add_argument("--aug", type=float, default=1.0, help="augmentation strength")
    ap.add_argument("--upto", type=int, default=3)
    ap.add_argument("--mixstyle", type=float, default=0.0, help="MixStyle probability after layer1/layer2 (0: off)")
    ap.add_argument("--grayworld", action="store_true", help="gray-world white balance in the graph")
    ap.add_argument("--swa-from", type=int, default=0,
                    help="average the weights every --swa-every steps from this epoch on (0: off), then refit batch norm")
    ap.add_argument("--swa-every", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--eval-every", type=int, default=2)
    ap.add_argument("--stop-after", type=int, default=None,
                    help="stop after this epoch (the LR schedule still follows --epochs)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    name = args.name or "%s_s%d" % (args.mode, args.size)
    out = os.path.join(data.repo_root(), "training", "runs", "stage", name)
    os.makedirs(out, exist_ok=True)
    logf = open(os.path.join(out, "log.txt"), "a")

    def log(*a):
        s = " ".join(str(v) for v in a)
        print(s, flush=True)
        logf.write(s + "\n")
        logf.flush()

    log("args:", vars(args))
    base = os.path.join(data.repo_root(), "training", "runs", "stage", "resnet18_imagenet.pt")
    if not os.path.exists(base):
        sys.argv = [sys.argv[0]]
        convert_main()

    items = data.list_crops()
    train_items, _held = data.split(items)  # held-out cameras are never used below
    if args.mode == "select":
        val_items = [it for it in train_items if it[2] in data.SELECT_CAMERAS]
        train_items = [it for it in train_items if it[2] not in data.SELECT_CAMERAS]
    else:
        val_items = []
    log("train crops %d from cameras %s" % (len(train_items), sorted({c for _, _, c, _ in train_items})))
    src = data.cached_images(train_items, SRC)
    y = np.array([k for _, k, _, _ in train_items])
    if val_items:
        xv = data.to_tensor_np(data.cached_images(val_items, args.size))
        yv = np.array([k for _, k, _, _ in val_items])

    # class-balanced sampling, and within a class, cameras weighted by 1/sqrt(count) so that the three big
    # cameras do not dominate
    cc = collections.Counter(y.tolist())
    ccam = collections.Counter((k, c) for _, k, c, _ in train_items)
    w = np.array([1.0 / math.sqrt(ccam[(k, c)]) for _, k, c, _ in train_items])
    for k in cc:
        w[y == k] /= w[y == k].sum()
    w /= w.sum()

    net = StageNet(upto=args.upto, mixstyle=args.mixstyle, grayworld=args.grayworld)
    net.load_imagenet(torch.load(base))
    head = list(net.fc.parameters())
    backbone = [p for n_, p in net.named_parameters() if not n_.startswith("fc.")]
    opt = torch.optim.AdamW([{"params": backbone, "lr": args.lr * args.backbone_mult}, {"params": head, "lr": args.lr}],
                            weight_decay=args.wd)
    base_lrs = [g["lr"] for g in opt.param_groups]
    steps_per_epoch = len(train_items) // args.batch
    total = steps_per_epoch * args.epochs
    warm = steps_per_epoch
    stages = torch.arange(10).float()
    def select_report():
        r = metrics.compute(yv, predict(net, xv))
        return "  | select-cams top1 %.3f within1 %.3f flowering %.3f recall %s" % (
            r["top1"], r["withinOne"], r["flowering"], " ".join("%.2f" % v for v in r["perClassRecall"].values()))

    step = 0
    swa, swa_n = {}, 0
    t0 = time.time()
    for ep in range(args.epochs):
        net.train()
        idx_all = rng.choice(len(y), size=steps_per_epoch * args.batch, p=w)
        tl = 0.0
        for it_ in range(steps_per_epoch):
            lr_f = min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * step / total))
            for g, bl in zip(opt.param_groups, base_lrs):
                g["lr"] = bl * lr_f
            idx = idx_all[it_ * args.batch:(it_ + 1) * args.batch]
            yb = torch.from_numpy(y[idx])
            xb = augment(src[idx], args.size, rng, args.aug)
            tgt = ordinal_targets(yb, args.smooth)
            logits = net(xb)
            logp = F.log_softmax(logits, 1)
            loss = -(tgt * logp).sum(1).mean()
            if args.reg > 0:
                exp_stage = (logp.exp() * stages).sum(1)
                loss = loss + args.reg * (exp_stage - (tgt * stages).sum(1)).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            tl += loss.item()
            if args.swa_from and ep + 1 >= args.swa_from and step % args.swa_every == 0:
                swa_n += 1
                for k, v in net.state_dict().items():
                    if v.dtype.is_floating_point and "running_" not in k:
                        swa[k] = v.detach().clone() if k not in swa else swa[k] + (v.detach() - swa[k]) / swa_n
        msg = "epoch %d loss %.4f  %.0fs" % (ep + 1, tl / steps_per_epoch, time.time() - t0)
        if val_items and ((ep + 1) % args.eval_every == 0 or ep + 1 == args.epochs):
            msg += select_report()
        log(msg)
        torch.save({"state_dict": net.state_dict(), "args": vars(args), "epoch": ep + 1,
                    "train_cameras": sorted({c for _, _, c, _ in train_items}), "train_crops": len(train_items)},
                   os.path.join(out, "model.pt"))
        if args.stop_after and ep + 1 >= args.stop_after:
            log("stopped after epoch %d of %d (--stop-after)" % (ep + 1, args.epochs))
            break
    if swa_n:
        # Weight averaging along the trajectory (SWA): a flatter optimum, which is what carries across cameras. The averaged
        # weights need batch-norm statistics of their own, refitted on augmented training batches.
        sd = net.state_dict()
        sd.update(swa)
        net.load_state_dict(sd)
        bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        net.train()
        with torch.no_grad():
            for _ in range(60):
                net(augment(src[rng.choice(len(y), size=args.batch, p=w)], args.size, rng, args.aug))
        for m in bns:
            m.momentum = 0.1
        log("swa: %d snapshots" % swa_n + (select_report() if val_items else ""))
        torch.save({"state_dict": net.state_dict(), "args": vars(args), "epoch": ep + 1, "swaSnapshots": swa_n,
                    "train_cameras": sorted({c for _, _, c, _ in train_items}), "train_crops": len(train_items)},
                   os.path.join(out, "model.pt"))
    log("done in %.1f min" % ((time.time() - t0) / 60))


if __name__ == "__main__":
    main()
