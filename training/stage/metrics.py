"""Metrics for the stage classifier (shared by training and evaluation)."""
import numpy as np

from data import CLASSES, FLOWERING


def compute(y_true, probs):
    y_true = np.asarray(y_true)
    pred = np.asarray(probs).argmax(1)
    flow_t = np.isin(y_true, list(FLOWERING))
    flow_p = np.isin(pred, list(FLOWERING))
    conf = np.zeros((10, 10), dtype=int)
    for t, p in zip(y_true, pred):
        conf[t, p] += 1
    recall = {CLASSES[k]: (float(conf[k, k] / conf[k].sum()) if conf[k].sum() else float("nan")) for k in range(10)}
    return {"crops": int(len(y_true)), "top1": float((pred == y_true).mean()),
            "withinOne": float((np.abs(pred - y_true) <= 1).mean()),
            "flowering": float((flow_t == flow_p).mean()), "perClassRecall": recall,
            "confusion": conf.tolist()}
