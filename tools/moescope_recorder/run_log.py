"""A live run log: the router's health written step by step while training runs.

The file holds only /training plus the root attributes (dump-format.md, "Written
while training runs"). It is written in HDF5's single-writer/multiple-reader mode
(SWMR): every dataset is chunked and extendable along the step axis, a step is
appended by extending every dataset (`step` last) and the file is flushed, so a
reader (`moescope watch`, the window) sees whole steps only and a writer killed at
any moment leaves a file holding every step flushed before.

With torch.distributed initialised every rank calls the same `record(...)`: counts
are summed and losses averaged over the process group and only its rank 0 writes.
"""

import os

import h5py
import numpy as np

from . import routing
from .writer import FORMAT_NAME, FORMAT_VERSION, DumpError

__all__ = ["RunLog"]

# Datasets of one record, in the order they are extended (`step` is appended last).
_SERIES = ("lb_loss", "z_loss", "max_vio", "dropped_fraction")


def _as_numpy(x, dtype=None):
    """A tensor or array-like as a numpy array (detached, on the CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if str(x.dtype) in ("torch.float16", "torch.bfloat16"):
            x = x.float()
        x = x.numpy()
    return np.asarray(x, dtype=dtype)


def _dist_group_info(group, ep_group):
    """(distributed module or None, is this the writing rank) for the current process."""
    try:
        import torch.distributed as dist
    except ImportError:
        return None, True
    if not (dist.is_available() and dist.is_initialized()):
        return None, True
    writer = dist.get_rank(group) == 0 and (ep_group is None or dist.get_rank(ep_group) == 0)
    return dist, writer


class RunLog:
    """Writes one training run's router health to `path`, a step at a time.

    num_layers, num_experts: L and E (global E under expert parallelism).
    top_k: k, needed to derive choices from logits alone; written as the root
        attribute `top_k`. When not given, it is taken from the first record's
        `topk_ids` and the file is created at that first record.
    layer_names: L names (default "00", "01", ...).
    flush_every: steps kept in memory before they are appended and flushed
        together (1: every step reaches the file at once; a kill loses at most
        flush_every - 1 steps).
    expert_bias: whether records carry the balancing bias (/training/expert_bias);
        None: decided by the first record.
    group, ep_group: torch.distributed process groups (default: the whole world
        when initialised); see record().
    """

    def __init__(self, path, num_layers, num_experts, layer_names=None, flush_every=1, top_k=None,
                 expert_bias=None, capacity_factor=None, model=None, group=None, ep_group=None,
                 **attributes):
        self.path = os.fspath(path)
        self.num_layers = int(num_layers)
        self.num_experts = int(num_experts)
        if self.num_layers < 1 or not 1 <= self.num_experts <= 4096:
            raise DumpError(f"{self.path}: need at least one layer and 1..4096 experts")
        names = layer_names if layer_names is not None else [f"{i:02d}" for i in range(self.num_layers)]
        self.layer_names = [str(n) for n in names]
        if len(self.layer_names) != self.num_layers:
            raise DumpError(f"{self.path}: {len(self.layer_names)} layer names for {self.num_layers} layers")
        self.flush_every = max(1, int(flush_every))
        self.top_k = None if top_k is None else int(top_k)
        self.with_bias = expert_bias
        self.attributes = dict(attributes)
        if capacity_factor is not None:
            self.attributes["capacity_factor"] = float(capacity_factor)
        if model is not None:
            self.attributes["model"] = str(model)
        self.group, self.ep_group = group, ep_group
        self._dist, self.is_writer = _dist_group_info(group, ep_group)
        self._file = None
        self._pending = []
        self._last_step = None
        self.steps_written = 0
        if self.is_writer and self.top_k is not None and self.with_bias is not None:
            self._create()

    # -- writing -------------------------------------------------------------

    def _create(self):
        """Creates the file, every dataset extendable along N, then switches SWMR on."""
        if os.path.exists(self.path):
            # A new inode, not a truncation: a reader still following the old run
            # sees the file replaced instead of its old view rewritten under it.
            os.remove(self.path)
        f = h5py.File(self.path, "w", libver=("v110", "v110"))
        try:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["num_experts"] = self.num_experts
            f.attrs["top_k"] = self.top_k
            for key, value in self.attributes.items():
                f.attrs[key] = value
            g = f.create_group("training")
            L, E = self.num_layers, self.num_experts
            g.create_dataset("layer_names", data=np.array(self.layer_names, dtype=h5py.string_dtype()))
            # Chunks of 64 steps (fewer for very wide layers) keep one append cheap.
            rows = max(1, min(64, (1 << 20) // (8 * L * E)))
            g.create_dataset("step", shape=(0,), maxshape=(None,), dtype="i8", chunks=(256,))
            for name in _SERIES:
                g.create_dataset(name, shape=(0, L), maxshape=(None, L), dtype="f4", chunks=(256, L))
            g.create_dataset("tokens_per_expert", shape=(0, L, E), maxshape=(None, L, E), dtype="i8",
                             chunks=(rows, L, E))
            if self.with_bias:
                g.create_dataset("expert_bias", shape=(0, L, E), maxshape=(None, L, E), dtype="f4",
                                 chunks=(rows, L, E))
            f.swmr_mode = True
            f.flush()
        except BaseException:
            f.close()
            raise
        self._file = f

    def _append(self, records):
        if self._file is None:
            self._create()
        g = self._file["training"]
        n = g["step"].shape[0]
        m = len(records)
        names = [*_SERIES, "tokens_per_expert"] + (["expert_bias"] if self.with_bias else [])
        for name in names:
            ds = g[name]
            ds.resize(n + m, axis=0)
            ds[n:] = np.stack([r[name] for r in records])
        ds = g["step"]
        ds.resize(n + m, axis=0)
        ds[n:] = np.array([r["step"] for r in records], dtype=np.int64)
        self._file.flush()
        self.steps_written += m

    def flush(self):
        """Appends and flushes the steps still kept in memory."""
        if self._pending and self.is_writer:
            self._append(self._pending)
        self._pending = []

    def close(self):
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- one step ------------------------------------------------------------

    def record(self, step, logits=None, topk_ids=None, counts=None, lb_loss=None, z_loss=None,
               expert_bias=None, dropped_fraction=None, expert_offset=0):
        """Adds one training step. Every rank of the group calls it with its own part.

        Per layer (lists of L entries, or arrays with L first):
          logits [T, E_local_or_E] and/or topk_ids [T, k]: the router outputs of
              this rank's tokens; lb loss, z-loss and counts are computed from them
              by the routing rules (choices derived from the logits when no ids);
          counts [L, E_r]: ready-made tokens per expert (instead of or besides ids);
          lb_loss, z_loss [L]: ready-made losses (override those computed);
          expert_bias [L, E]: the balancing bias after this step;
          dropped_fraction [L]: share of assignments dropped (default 0).
        expert_offset: global id of this rank's first expert when `counts` holds only
            its local experts (expert parallelism); they land at global ids.
        Under torch.distributed the counts are summed and losses averaged over
        `group` (and `ep_group` when given) and only rank 0 writes.
        """
        L, E = self.num_layers, self.num_experts
        step = int(step)
        if self._last_step is not None and step < self._last_step:
            raise DumpError(f"{self.path}: step {step} comes after step {self._last_step}")
        lb = np.full(L, np.nan)
        z = np.full(L, np.nan)
        c = None
        if logits is not None or topk_ids is not None:
            c, lb, z = self._from_router(logits, topk_ids)
        if counts is not None:
            local = _as_numpy(counts, np.float64)
            if local.ndim != 2 or local.shape[0] != L or expert_offset + local.shape[1] > E:
                raise DumpError(f"{self.path}: counts must be [{L}, E_local] within {E} experts, "
                                f"got {list(local.shape)} at offset {expert_offset}")
            c = np.zeros((L, E))
            c[:, expert_offset:expert_offset + local.shape[1]] = local
        if c is None:
            raise DumpError(f"{self.path}: step {step} needs logits, topk_ids or counts")
        if lb_loss is not None:
            lb = _as_numpy(lb_loss, np.float64).reshape(L)
        if z_loss is not None:
            z = _as_numpy(z_loss, np.float64).reshape(L)
        drop = np.zeros(L) if dropped_fraction is None else _as_numpy(dropped_fraction, np.float64).reshape(L)
        c, lb, z, drop = self._reduce(c, lb, z, drop)
        self._last_step = step
        if not self.is_writer:
            return
        if self.with_bias is None:
            self.with_bias = expert_bias is not None
        if self.top_k is None:
            self.top_k = self._k_seen or 1
        rec = {"step": step, "lb_loss": lb, "z_loss": z, "dropped_fraction": drop,
               "tokens_per_expert": np.rint(c).astype(np.int64)}
        rec["max_vio"] = np.array([self._max_vio(row) for row in rec["tokens_per_expert"]])
        if self.with_bias:
            if expert_bias is None:
                raise DumpError(f"{self.path}: this run log records expert_bias; step {step} has none")
            rec["expert_bias"] = _as_numpy(expert_bias, np.float64).reshape(L, E)
        self._pending.append(rec)
        if len(self._pending) >= self.flush_every:
            self.flush()

    _k_seen = None

    @staticmethod
    def _max_vio(c):
        m = c.sum() / c.size
        return float((c.max() - m) / m) if m > 0 else 0.0

    def _from_router(self, logits, topk_ids):
        L, E = self.num_layers, self.num_experts
        logits = [None] * L if logits is None else list(logits)
        ids = [None] * L if topk_ids is None else list(topk_ids)
        if len(logits) != L or len(ids) != L:
            raise DumpError(f"{self.path}: logits and topk_ids need one entry per layer ({L})")
        counts, lbs, zs = np.zeros((L, E)), np.full(L, np.nan), np.full(L, np.nan)
        for i, (zl, il) in enumerate(zip(logits, ids)):
            zl = None if zl is None else _as_numpy(zl, np.float64).reshape(-1, E)
            if il is None:
                if zl is None:
                    raise DumpError(f"{self.path}: layer {self.layer_names[i]} has neither logits nor ids")
                if self.top_k is None:
                    raise DumpError(f"{self.path}: top_k is needed to derive choices from logits")
                il, _, _ = routing.choose(zl, self.top_k)
            il = _as_numpy(il).astype(np.int64)
            il = il.reshape(il.shape[0], -1) if il.ndim > 1 else il.reshape(-1, 1)
            self._k_seen = il.shape[1]
            if il.size and (il.max() >= E):
                raise DumpError(f"{self.path}: layer {self.layer_names[i]}: expert id {il.max()} >= {E}")
            counts[i] = routing.expert_counts(il, E)
            if zl is not None:
                ok = routing.valid_rows(zl)
                lbs[i] = routing.lb_loss(zl[ok], routing.expert_counts(il[ok], E))
                zs[i] = routing.z_loss(zl[ok])
        return counts, lbs, zs

    def _reduce(self, c, lb, z, drop):
        """Sums counts, averages losses over the process group(s); no-op without one."""
        dist = self._dist
        if dist is None:
            return c, lb, z, drop
        import torch

        L = self.num_layers
        # One all-reduce per group: counts, then losses and drops with a 1 per
        # rank that knew each loss (NaN = unknown), so the mean skips the unknown.
        known = lambda v: np.where(np.isnan(v), 0.0, 1.0)  # noqa: E731
        payload = np.concatenate([c.reshape(-1), np.nan_to_num(lb), known(lb), np.nan_to_num(z), known(z),
                                  drop, np.ones(1)])
        t = torch.from_numpy(payload)
        groups = [g for g in (self.ep_group, self.group) if g is not None] or [None]
        backend = dist.get_backend(groups[-1])
        if backend == "nccl":
            t = t.cuda()
        for g in groups:
            dist.all_reduce(t, op=dist.ReduceOp.SUM, group=g)
        v = t.cpu().numpy()
        E = self.num_experts
        o = L * E
        c = v[:o].reshape(L, E)
        lb_sum, lb_n, z_sum, z_n = (v[o + i * L:o + (i + 1) * L] for i in range(4))
        drop = v[o + 4 * L:o + 5 * L] / v[-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            lb = np.where(lb_n > 0, lb_sum / lb_n, np.nan)
            z = np.where(z_n > 0, z_sum / z_n, np.nan)
        return c, lb, z, drop
