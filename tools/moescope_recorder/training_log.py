"""The /training series of a dump: the router's health over training steps.

A TrainingLog lives for the whole training run and is handed to every
DumpWriter made at a checkpoint (DumpWriter(..., training_log=log)); each dump
then holds the series up to its own step. The columns of lb_loss, z_loss and
tokens_per_expert follow the dump's layer order (by the layers' index).
"""

import h5py
import numpy as np

from . import routing
from .writer import DumpError

__all__ = ["TrainingLog"]


class TrainingLog:
    def __init__(self, num_layers=None, num_experts=None):
        self.num_layers = None if num_layers is None else int(num_layers)
        self.num_experts = None if num_experts is None else int(num_experts)
        self._step = []
        self._lb = []
        self._z = []
        self._tpe = []

    def __len__(self):
        return len(self._step)

    def record(self, step, lb_loss, z_loss, tokens_per_expert):
        """Adds one record. lb_loss, z_loss: [L] (NaN where unknown); tokens_per_expert: [L, E]."""
        lb = np.asarray(lb_loss, dtype=np.float64).reshape(-1)
        z = np.asarray(z_loss, dtype=np.float64).reshape(-1)
        tpe = np.asarray(tokens_per_expert)
        if tpe.ndim != 2:
            raise DumpError(f"tokens_per_expert must be [L, E], got shape {tpe.shape}")
        if tpe.size and (not np.issubdtype(tpe.dtype, np.integer) and not np.all(tpe == np.round(tpe))):
            raise DumpError("tokens_per_expert must hold whole numbers")
        tpe = tpe.astype(np.int64)
        if tpe.size and tpe.min() < 0:
            raise DumpError("tokens_per_expert must not be negative")
        layers, experts = tpe.shape
        if self.num_layers is None:
            self.num_layers = layers
        if self.num_experts is None:
            self.num_experts = experts
        if (layers, experts) != (self.num_layers, self.num_experts):
            raise DumpError(
                f"tokens_per_expert must be [{self.num_layers}, {self.num_experts}], got {list(tpe.shape)}"
            )
        if lb.shape != (layers,) or z.shape != (layers,):
            raise DumpError(f"lb_loss and z_loss must have {layers} entries")
        step = int(step)
        if self._step and step < self._step[-1]:
            raise DumpError(f"step {step} comes after step {self._step[-1]}")
        self._step.append(step)
        self._lb.append(lb)
        self._z.append(z)
        self._tpe.append(tpe)

    def record_router_outputs(self, step, layers, top_k=None):
        """Computes and adds one record from router outputs, one entry per MoE layer.

        Each entry is a dict (or a tuple (logits, topk_ids)) with `logits` [T, E] and/or
        `topk_ids` [T, k]. Without topk_ids the choices are derived from the logits
        (softmax scoring, routing.md), which needs top_k.
        """
        lbs, zs, counts = [], [], []
        for entry in layers:
            if isinstance(entry, dict):
                logits, ids = entry.get("logits"), entry.get("topk_ids")
            else:
                logits, ids = entry
            if logits is None and ids is None:
                raise DumpError("a layer needs logits or topk_ids")
            if logits is not None:
                z = np.asarray(logits, dtype=np.float64)
                e = z.shape[1]
            else:
                e = self.num_experts
                if e is None:
                    raise DumpError("num_experts is unknown: give it to TrainingLog() or pass logits")
            if ids is None:
                if top_k is None:
                    raise DumpError("top_k is needed to derive the choices from logits")
                ids, _, _ = routing.choose(z, top_k)  # invalid rows get id -1: not counted
            ids = np.asarray(ids)
            counts.append(routing.expert_counts(ids, e))
            if logits is None:
                lbs.append(np.nan)
                zs.append(np.nan)
            else:
                ok = routing.valid_rows(z)
                lbs.append(routing.lb_loss(z[ok], routing.expert_counts(ids[ok], e)))
                zs.append(routing.z_loss(z[ok]))
        self.record(step, lbs, zs, np.stack(counts))

    def arrays(self):
        """The series as arrays: step [N], lb_loss [N, L], z_loss [N, L], tokens_per_expert [N, L, E]."""
        n = len(self._step)
        l = self.num_layers or 0
        e = self.num_experts or 0
        return {
            "step": np.asarray(self._step, dtype=np.int64).reshape(n),
            "lb_loss": np.asarray(self._lb, dtype=np.float64).reshape(n, l),
            "z_loss": np.asarray(self._z, dtype=np.float64).reshape(n, l),
            "tokens_per_expert": np.asarray(self._tpe, dtype=np.int64).reshape(n, l, e),
        }

    def write_to(self, h5, num_layers=None, num_experts=None):
        """Writes /training into an open h5py file, replacing any earlier series."""
        if num_layers is not None and self.num_layers not in (None, int(num_layers)):
            raise DumpError(f"the training log has {self.num_layers} layers, the dump {num_layers}")
        if num_experts is not None and self.num_experts not in (None, int(num_experts)):
            raise DumpError(f"the training log has {self.num_experts} experts, the dump {num_experts}")
        if "training" in h5:
            del h5["training"]
        group = h5.create_group("training")
        for name, data in self.arrays().items():
            opts = {}
            if data.size:
                opts = dict(chunks=True, compression="gzip", compression_opts=4, shuffle=True)
            group.create_dataset(name, data=data, **opts)
        return group

    @classmethod
    def read(cls, source):
        """Reads /training back from a dump path or an open h5py file."""
        if isinstance(source, (h5py.File, h5py.Group)):
            return cls._from_group(source["training"])
        with h5py.File(source, "r") as f:
            return cls._from_group(f["training"])

    @classmethod
    def _from_group(cls, g):
        tpe = g["tokens_per_expert"][()]
        log = cls(num_layers=tpe.shape[1], num_experts=tpe.shape[2])
        for s, lb, z, t in zip(g["step"][()], g["lb_loss"][()], g["z_loss"][()], tpe):
            log.record(int(s), lb, z, t)
        return log
