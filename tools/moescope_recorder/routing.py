"""Reference implementation of the routing rules and health metrics of routing.md.

Plain numpy, float64 throughout. The recorder uses it to derive choices from logits,
the training logger to compute its series, and the tests to check the C++ side
against numbers computed independently.
"""

import math

import numpy as np

__all__ = [
    "scores",
    "valid_rows",
    "choose",
    "expert_counts",
    "load_health",
    "lb_loss",
    "z_loss",
    "token_order_drops",
]


def valid_rows(logits):
    """Rows whose logits are all finite; the others are invalid tokens (routing.md)."""
    logits = np.asarray(logits)
    return np.isfinite(logits).all(axis=1)


def _softmax(z):
    z = np.asarray(z, dtype=np.float64)
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    return e / e.sum(axis=1, keepdims=True)


def scores(logits, scoring="softmax"):
    """p[t, e] from logits z[t, e]; rows must be finite."""
    z = np.asarray(logits, dtype=np.float64)
    if scoring == "softmax":
        return _softmax(z)
    if scoring == "sigmoid":
        # Written as 0.5 * (1 + tanh(z / 2)) so large |z| never overflows exp().
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    raise ValueError(f"unknown scoring {scoring!r} (expected 'softmax' or 'sigmoid')")


def _best_first(values):
    """Column order of each row, largest value first, ties to the lower column.

    A stable ascending sort of the negated values keeps equal values in column
    order, which is exactly the tie rule. Negation is exact in floating point.
    """
    return np.argsort(-values, axis=1, kind="stable")


def choose(
    logits,
    top_k,
    scoring="softmax",
    normalize_topk=True,
    expert_bias=None,
    n_group=None,
    topk_group=None,
    routed_scaling_factor=1.0,
):
    """Choices and gate weights for every row of logits [T, E].

    Returns (topk_ids [T, k] int64, topk_weights [T, k] float64, valid [T] bool).
    Invalid rows (non-finite logits) get ids -1 and weights NaN.
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"logits must be [T, E], got shape {z.shape}")
    t, e = z.shape
    k = int(top_k)
    if not 1 <= k <= e:
        raise ValueError(f"top_k must be in 1..{e}, got {k}")
    valid = np.isfinite(z).all(axis=1)
    ids = np.full((t, k), -1, dtype=np.int64)
    weights = np.full((t, k), np.nan, dtype=np.float64)
    if not valid.any():
        return ids, weights, valid

    p = scores(z[valid], scoring)
    b = np.zeros(e) if expert_bias is None else np.asarray(expert_bias, dtype=np.float64)
    if b.shape != (e,):
        raise ValueError(f"expert_bias must have shape ({e},), got {b.shape}")
    s = p + b

    if n_group:
        s = _mask_to_best_groups(s, int(n_group), int(topk_group or n_group))

    chosen = _best_first(s)[:, :k]
    w = np.take_along_axis(p, chosen, axis=1)
    if normalize_topk:
        w = w / w.sum(axis=1, keepdims=True)
    w = w * float(routed_scaling_factor)

    ids[valid] = chosen
    weights[valid] = w
    return ids, weights, valid


def _mask_to_best_groups(s, n_group, topk_group):
    """DeepSeek-V3 group-limited routing: only the best groups stay eligible."""
    t, e = s.shape
    if e % n_group:
        raise ValueError(f"{e} experts do not split into {n_group} equal groups")
    size = e // n_group
    grouped = s.reshape(t, n_group, size)
    best_two = -np.sort(-grouped, axis=2)[:, :, : min(2, size)]
    group_score = best_two.sum(axis=2)
    keep = _best_first(group_score)[:, :topk_group]
    eligible = np.zeros((t, n_group), dtype=bool)
    np.put_along_axis(eligible, keep, True, axis=1)
    masked = np.where(np.repeat(eligible, size, axis=1), s, -np.inf)
    return masked


def expert_counts(topk_ids, num_experts):
    """c[e]: tokens whose chosen experts include e (ids < 0 are ignored)."""
    ids = np.asarray(topk_ids).reshape(-1)
    ids = ids[ids >= 0]
    return np.bincount(ids, minlength=num_experts).astype(np.int64)


def load_health(counts, top_k, tokens, capacity_factor=1.25):
    """Load figures of routing.md from the counts of one layer."""
    c = np.asarray(counts, dtype=np.float64)
    e = c.size
    m = top_k * tokens / e if e else 0.0
    out = {"mean_load": m}
    if tokens == 0 or m == 0:
        out.update(cv=0.0, max_vio=0.0, entropy=0.0, hot=[], cold=[], shares=np.zeros(e))
        return out
    u = c / (top_k * tokens)
    nz = u[u > 0]
    out["shares"] = u
    out["cv"] = float(c.std() / m)
    out["max_vio"] = float((c.max() - m) / m)
    out["entropy"] = float(-(nz * np.log(nz)).sum() / math.log(e)) if e > 1 else 0.0
    out["hot"] = [int(i) for i in np.nonzero(c > capacity_factor * m)[0]]
    out["cold"] = [int(i) for i in np.nonzero(c < 0.1 * m)[0]]
    return out


def lb_loss(logits, counts):
    """Switch load-balancing loss E * sum_e (c[e]/T) * P[e] over the valid rows.

    counts must be the counts of those same rows (recorded or derived choices).
    P is the softmax probability even for sigmoid routers (routing.md).
    """
    z = np.asarray(logits, dtype=np.float64)
    z = z[np.isfinite(z).all(axis=1)]
    t, e = z.shape
    if t == 0:
        return float("nan")
    big_p = _softmax(z).mean(axis=0)
    return float(e * np.sum(np.asarray(counts, dtype=np.float64) / t * big_p))


def z_loss(logits):
    """ST-MoE router z-loss: mean over valid rows of logsumexp(z)^2."""
    z = np.asarray(logits, dtype=np.float64)
    z = z[np.isfinite(z).all(axis=1)]
    if z.shape[0] == 0:
        return float("nan")
    m = z.max(axis=1)
    lse = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
    return float(np.mean(lse**2))


def token_order_drops(topk_ids, num_experts, capacity_factor, weights_for_priority=None):
    """What a capacity factor drops over the whole set of rows given.

    Token order (Switch): slot 0 of every token in position order, then slot 1, ...
    With weights_for_priority [T, k] the score-priority policy is used instead:
    descending weight, ties keeping position then slot order.
    Returns (dropped_fraction, fully_dropped_fraction, kept [T, k] bool).
    """
    ids = np.asarray(topk_ids, dtype=np.int64)
    t, k = ids.shape
    kept = np.zeros((t, k), dtype=bool)
    if t == 0:
        return 0.0, 0.0, kept
    cap = math.ceil(capacity_factor * k * t / num_experts)
    # Assignment number in token order: slot-major, then position.
    slot_major = np.arange(t * k).reshape(k, t).T
    if weights_for_priority is None:
        order = np.argsort(slot_major.reshape(-1), kind="stable")
    else:
        w = np.asarray(weights_for_priority, dtype=np.float64).reshape(-1)
        # Ties keep position order, then slot order: secondary key is row-major index.
        order = np.lexsort((np.arange(t * k), -w))
    flat_ids = ids.reshape(-1)
    load = np.zeros(num_experts, dtype=np.int64)
    flat_kept = np.zeros(t * k, dtype=bool)
    for a in order:
        ex = flat_ids[a]
        if load[ex] < cap:
            load[ex] += 1
            flat_kept[a] = True
    kept = flat_kept.reshape(t, k)
    dropped = float((~kept).sum()) / (k * t)
    fully = float((~kept).all(axis=1).sum()) / t
    return dropped, fully, kept
