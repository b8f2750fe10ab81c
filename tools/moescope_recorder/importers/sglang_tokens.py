"""SGLang's per_token expert distribution records as a routing dump with tokens.

Each record is one forward pass on one rank: `input_ids` [n], `positions` [n],
`extend_seq_lens` (the tokens of each request in an extend pass; None in a decode
pass, where each token belongs to another request) and `topk_ids_of_layer`
[L, n, slots]: PHYSICAL expert ids, -1 in slots that hold no choice (slots beyond
the model's k, layers without experts). `last_physical_to_logical_map` [L, P] of the
same file maps them to logical experts, which is what the dump stores.

Mapping: each request's tokens in one pass become a sequence, labelled `extend` or
`decode`; layers that never chose an expert (dense layers) are left out, the others
are named by their layer number. k is the most valid slots a token has; a token
with fewer valid slots in some layer cannot be stored as a row of k choices and is
left out (with a warning saying how many). Under tensor parallelism every rank
records the same pass: a record equal to one already read on another rank is
imported once.
"""

import hashlib

import numpy as np

from ..writer import DumpError, DumpWriter
from . import ImportFailure, warn
from .sglang import describe, experts_of, int_array, layer_name, physical_map

__all__ = ["convert_per_token"]

_NEEDED = ("forward_pass_id", "input_ids", "topk_ids_of_layer")


class _Record:
    """One forward pass of one rank, checked."""

    def __init__(self, path, index, rec, pmap):
        self.path = path
        self.where = f"{path}: record {index}"
        missing = [k for k in _NEEDED if k not in rec]
        if missing:
            raise ImportFailure(f"{self.where}: expected keys {list(_NEEDED)}, missing {missing} ({describe(rec)})")
        self.pass_id = int(rec["forward_pass_id"])
        self.rank = rec.get("rank")
        self.where += f" (forward pass {self.pass_id}" + (f", rank {self.rank})" if self.rank is not None else ")")
        self.ids = int_array(path, f"record {index}: input_ids", rec["input_ids"], 1)
        if self.ids.size and self.ids.min() < 0:
            raise ImportFailure(f"{self.where}: input_ids holds a negative token id ({int(self.ids.min())})")
        topk = int_array(path, f"record {index}: topk_ids_of_layer", rec["topk_ids_of_layer"], 3)
        n = self.ids.shape[0]
        if topk.shape[0] != pmap.shape[0] or topk.shape[1] != n:
            raise ImportFailure(
                f"{self.where}: topk_ids_of_layer is {list(topk.shape)}, expected [{pmap.shape[0]} layers, "
                f"{n} tokens, slots] (the map has {pmap.shape[0]} layers, input_ids {n} tokens)"
            )
        bad = (topk < -1) | (topk >= pmap.shape[1])
        if bad.any():
            layer, token, slot = (int(v[0]) for v in np.nonzero(bad))
            raise ImportFailure(
                f"{self.where}, layer {layer}, token {token}: physical expert id {int(topk[layer, token, slot])} "
                f"is outside [0, {pmap.shape[1]}) and is not the padding -1"
            )
        self.valid = topk >= 0
        self.logical = np.where(self.valid, pmap[np.arange(pmap.shape[0])[:, None, None], np.maximum(topk, 0)], -1)
        self.lengths = self._lengths(rec.get("extend_seq_lens"), index, n)
        self.label = "decode" if rec.get("extend_seq_lens") is None else "extend"

    def _lengths(self, extend_seq_lens, index, n):
        if extend_seq_lens is None:  # a decode pass: one token per request
            return [1] * n
        lengths = [int(v) for v in int_array(self.path, f"record {index}: extend_seq_lens", extend_seq_lens, 1)]
        if any(v < 0 for v in lengths) or sum(lengths) != n:
            raise ImportFailure(f"{self.where}: extend_seq_lens {lengths[:8]} sum to {sum(lengths)}, "
                                f"but the pass has {n} tokens")
        return lengths

    def key(self):
        """Identity of the pass's content, to import a pass recorded on several ranks once."""
        h = hashlib.sha1(self.ids.tobytes())
        h.update(self.logical.tobytes())
        return self.pass_id, h.hexdigest()


def _read_records(loaded, num_experts):
    maps = [(path, physical_map(path, obj, num_experts)) for path, obj in loaded]
    e = experts_of(maps, num_experts)
    layers = maps[0][1].shape[0]
    records, seen, repeated = [], set(), 0
    for (path, obj), (_, pmap) in zip(loaded, maps):
        if pmap.shape[0] != layers:
            raise ImportFailure(f"{path}: the physical-to-logical map has {pmap.shape[0]} layers, "
                                f"but {maps[0][0]} has {layers}: the ranks disagree on the model")
        for i, rec in enumerate(obj["records"]):
            r = _Record(path, i, rec, pmap)
            key = r.key()
            if key in seen:
                repeated += 1
                continue
            seen.add(key)
            records.append(r)
    if repeated:
        warn(f"{repeated} records repeat a pass already read on another rank (tensor parallel); imported once")
    return records, e, layers


def convert_per_token(loaded, out, num_experts, top_k, attrs):
    records, e, num_layers = _read_records(loaded, num_experts)
    used = np.zeros(num_layers, dtype=bool)
    for r in records:
        used |= r.valid.any(axis=(1, 2))
    moe = np.flatnonzero(used)
    if not moe.size:
        raise ImportFailure(f"{records[0].path}: no layer chose any expert in any record")
    k = max(int(r.valid[moe].sum(axis=2).max(initial=0)) for r in records)
    if top_k is not None and top_k != k:
        raise ImportFailure(f"the records choose up to {k} experts per token, --top-k says {top_k}")
    if k > e:
        raise ImportFailure(f"the records choose {k} experts per token, more than the {e} experts")

    names = [layer_name(int(l), num_layers) for l in moe]
    left_out = 0
    written = 0
    with DumpWriter(out, num_experts=e, top_k=k, extra_attrs=attrs) as w:
        for name, layer in zip(names, moe):
            w.add_layer(name, index=int(layer))
        for r in records:
            full = (r.valid[moe].sum(axis=2) == k).all(axis=0)  # [n]: k valid slots in every MoE layer
            left_out += int((~full).sum())
            # The valid slots of each token, moved to the front in their recorded order.
            order = np.argsort(~r.valid[moe], axis=2, kind="stable")[:, :, :k]
            chosen = np.take_along_axis(r.logical[moe], order, axis=2)  # [L_moe, n, k]
            start = 0
            for length in r.lengths:
                sl = slice(start, start + length)
                start += length
                keep = full[sl]
                if not keep.any():
                    continue
                try:
                    w.append_tokens(r.ids[sl][keep], r.label)
                    for position, name in enumerate(names):
                        w.append_layer(name, topk_ids=chosen[position, sl][keep])
                except DumpError as err:
                    raise ImportFailure(f"{r.where}: {err}") from None
                written += int(keep.sum())
        if not written:
            raise ImportFailure("no token has a full set of choices in every MoE layer: nothing to import")
    if left_out:
        warn(f"{left_out} tokens have fewer than {k} valid expert slots in some layer and were left out")
    return {"tokens": written, "layers": len(moe), "num_experts": e, "top_k": k, "left_out": left_out}
