"""Small SGLang expert distribution dumps, saved with torch.save in SGLang's own layout.

The dict layouts follow SGLang's recorder (python/sglang/srt/eplb/expert_distribution.py):
stat modes save {rank, logical_count [passes, L, E] int32,
average_utilization_rate_over_window}; per_pass and per_token modes save, per rank,
{records: [...], last_physical_to_logical_map [L, P]} where each per_token record
holds forward_pass_id, rank, gatherer_key, input_ids, positions, extend_seq_lens,
forward_mode, topk_ids_of_layer [L, tokens, 8] int32 (physical ids, -1 elsewhere),
misc_objects and global_physical_count [L, P].

The model here: L layers of which `dense` have no experts, E logical experts, P = E
+ replicas physical experts (expert e lives at physical e, and some also at E + j).
Every choice is drawn as a logical expert first; the test's expectations come from
those logical choices, never from the physical ids the converter reads.
"""

import numpy as np
import torch

SLOTS = 8  # SGLang's per_token gatherer keeps 8 slots per token


class Model:
    def __init__(self, rng, layers=4, dense=(0,), experts=6, top_k=2, replicas=2):
        self.rng = rng
        self.layers, self.dense, self.experts, self.top_k = layers, set(dense), experts, top_k
        replicated = rng.choice(experts, size=replicas, replace=False)
        self.p2l = np.concatenate([np.arange(experts), replicated])  # physical -> logical
        self.physical_to_logical = torch.tensor(np.tile(self.p2l, (layers, 1)), dtype=torch.int32)

    @property
    def moe_layers(self):
        return [l for l in range(self.layers) if l not in self.dense]

    def choose(self, n):
        """Logical choices [L, n, k] (distinct per token) and -1 for dense layers."""
        out = np.full((self.layers, n, self.top_k), -1, dtype=np.int64)
        for l in self.moe_layers:
            out[l] = np.argsort(self.rng.random((n, self.experts)), axis=1)[:, : self.top_k]
        return out

    def to_physical(self, logical):
        """A physical replica for each logical choice (a random one where there are several)."""
        phys = np.where(logical >= 0, logical, -1)
        for p in range(self.experts, len(self.p2l)):
            swap = (logical == self.p2l[p]) & (self.rng.random(logical.shape) < 0.5)
            phys[swap] = p
        return phys

    def physical_count(self, physical):
        """[L, P] like SGLang's per-pass global_physical_count (-1 slots not counted)."""
        counts = np.zeros((self.layers, len(self.p2l)), dtype=np.int64)
        for l in range(self.layers):
            ids = physical[l].ravel()
            counts[l] += np.bincount(ids[ids >= 0], minlength=len(self.p2l))
        return counts


def token_record(model, pass_id, rank, input_ids, extend_seq_lens, logical):
    """One per_token record; logical [L, n, k] (-1 allowed) becomes padded physical slots."""
    n = len(input_ids)
    physical = model.to_physical(logical)
    slots = np.full((model.layers, n, SLOTS), -1, dtype=np.int64)
    slots[:, :, : logical.shape[2]] = physical
    if extend_seq_lens is None:
        positions = list(range(100, 100 + n))
    else:
        positions = [p for length in extend_seq_lens for p in range(length)]
    return dict(
        forward_pass_id=pass_id,
        rank=rank,
        gatherer_key="primary",
        input_ids=[int(v) for v in input_ids],
        positions=positions,
        extend_seq_lens=None if extend_seq_lens is None else list(extend_seq_lens),
        forward_mode=1 if extend_seq_lens is not None else 2,
        topk_ids_of_layer=torch.tensor(slots, dtype=torch.int32),
        misc_objects=[],
        global_physical_count=torch.tensor(model.physical_count(physical), dtype=torch.int32),
    )


def save_detail(path, model, records):
    torch.save(dict(records=records, last_physical_to_logical_map=model.physical_to_logical), path)


def save_stat(path, logical_count, rank=0):
    torch.save(
        dict(rank=rank, logical_count=torch.tensor(logical_count, dtype=torch.int32),
             average_utilization_rate_over_window=None),
        path,
    )
