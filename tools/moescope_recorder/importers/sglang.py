"""SGLang's expert distribution records as routing dumps.

SGLang's expert distribution recorder (python/sglang/srt/eplb/expert_distribution.py,
`--expert-distribution-recorder-mode`) writes what it saw with torch.save, one file
per call of `/dump_expert_distribution_record`:

- stat and stat_approx modes, `expert_distribution_recorder_{time}.pt`: a dict with
  `logical_count` [passes, L, E] (integers: tokens per logical expert per layer and
  forward pass, summed over ranks; dense layers are zero rows). It becomes a run log
  (/training, one record per pass) plus the summed counts of each MoE layer: a
  load-only dump, with no tokens.
- per_pass mode, `..._{time}_{rank}.pt`: a dict with `records` (one per forward pass,
  each with `global_physical_count` [L, P]) and `last_physical_to_logical_map`
  [L, P]. Counted like the stat modes once the physical experts are mapped to
  logical ones (ranks of one pass summed, as SGLang's stat mode does).
- per_token mode, `..._{time}_{rank}.pt`: the same dict, each record with
  `input_ids`, `positions`, `extend_seq_lens` and `topk_ids_of_layer` [L, tokens,
  slots] (physical ids, -1 in unused slots): see sglang_tokens.py.

Usage: python3 -m moescope_recorder.importers.sglang FILE... -o OUT.h5
"""

import argparse
import inspect
import math
import os
import sys

import numpy as np

from ..training_log import TrainingLog
from ..writer import DumpError, DumpWriter
from . import ImportFailure, warn

__all__ = ["convert", "load", "main"]

EXPECTED = (
    "a dict with `logical_count` [passes, layers, experts] (stat modes) or with `records` "
    "and `last_physical_to_logical_map` (per_pass and per_token modes)"
)


def describe(value):
    """A short description of a loaded object, for error messages."""
    if isinstance(value, dict):
        keys = sorted(str(k) for k in value)
        more = ", ..." if len(keys) > 8 else ""
        return f"a dict with keys [{', '.join(keys[:8])}{more}]"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {list(shape)} and type {getattr(value, 'dtype', '?')}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def load(path):
    """The object saved in `path`, loaded on the CPU with weights_only where torch has it.

    weights_only refuses pickled code and classes: SGLang's dumps hold only dicts,
    lists, numbers and tensors, so nothing else is needed to read them.
    """
    try:
        import torch
    except ImportError:
        raise ImportFailure(
            f"{path}: PyTorch is needed to read SGLang's torch.save files, and it is not installed "
            "for this Python (install the python3-torch package, or torch with pip)"
        ) from None
    kwargs = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:
        kwargs["weights_only"] = True
    try:
        return torch.load(path, **kwargs)
    except OSError as err:
        raise ImportFailure(f"{path}: cannot be read: {err.strerror or err}") from None
    except Exception as err:  # the unpickler raises many kinds for foreign or truncated input
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ImportFailure(f"{path}: not a torch.save file of plain data ({reason}); expected {EXPECTED}") from None


def int_array(path, where, value, ndim):
    """`value` (a tensor or nested lists) as an int64 array of `ndim` dimensions, or a clear error."""
    if hasattr(value, "detach"):
        arr = value.detach().cpu().numpy()
    elif isinstance(value, (list, tuple, np.ndarray)):
        try:
            arr = np.asarray(value)
        except ValueError:
            raise ImportFailure(f"{path}: {where}: expected integers of {ndim} dimensions, found ragged lists") from None
    else:
        raise ImportFailure(f"{path}: {where}: expected an integer tensor of {ndim} dimensions, found {describe(value)}")
    if arr.ndim != ndim or (arr.size and arr.dtype.kind not in "iu"):
        if not (arr.ndim == ndim and arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
            raise ImportFailure(
                f"{path}: {where}: expected an integer tensor of {ndim} dimensions, "
                f"found shape {list(arr.shape)} of type {arr.dtype}"
            )
    return arr.astype(np.int64)


def mode_of(path, obj):
    """'stat', 'per_pass' or 'per_token': which recorder mode wrote the loaded dict."""
    if not isinstance(obj, dict):
        raise ImportFailure(f"{path}: expected {EXPECTED}, found {describe(obj)}")
    if "logical_count" in obj:
        return "stat"
    if "records" in obj and "last_physical_to_logical_map" in obj:
        records = obj["records"]
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ImportFailure(f"{path}: `records`: expected a list of dicts, found {describe(records)}")
        if not records:
            raise ImportFailure(f"{path}: `records` is empty: nothing was recorded")
        if "topk_ids_of_layer" in records[0]:
            return "per_token"
        if "global_physical_count" in records[0]:
            return "per_pass"
        raise ImportFailure(
            f"{path}: record 0: expected `topk_ids_of_layer` (per_token mode) or "
            f"`global_physical_count` (per_pass mode), found {describe(records[0])}"
        )
    raise ImportFailure(f"{path}: expected {EXPECTED}, found {describe(obj)}")


def physical_map(path, obj, num_experts):
    """`last_physical_to_logical_map` [L, P] checked against num_experts (None: not known yet)."""
    m = int_array(path, "last_physical_to_logical_map", obj["last_physical_to_logical_map"], 2)
    if m.size == 0:
        raise ImportFailure(f"{path}: last_physical_to_logical_map is empty")
    if m.min() < 0 or (num_experts is not None and m.max() >= num_experts):
        bad = int(m.min()) if m.min() < 0 else int(m.max())
        raise ImportFailure(
            f"{path}: last_physical_to_logical_map: logical expert id {bad} is outside [0, "
            f"{num_experts if num_experts is not None else 'E'})"
        )
    return m


def experts_of(maps, num_experts):
    """E: the option, else 1 + the largest logical id in the maps (with a warning)."""
    if num_experts is not None:
        return num_experts
    e = 1 + max(int(m.max()) for _, m in maps)
    warn(f"the number of experts is not recorded; took {e} (1 + the largest logical expert id); "
         "give --num-experts if the model has more")
    return e


# ---------------------------------------------------------------- counts (stat, per_pass)


def stat_series(loaded):
    """[(step, counts [L, E])] of stat-mode files, passes in file order."""
    series, first = [], None
    for path, obj in loaded:
        lc = int_array(path, "logical_count", obj["logical_count"], 3)
        if lc.size and lc.min() < 0:
            raise ImportFailure(f"{path}: logical_count holds a negative count ({int(lc.min())})")
        if first is None:
            first = (path, lc.shape[1:])
        elif lc.shape[1:] != first[1]:
            raise ImportFailure(
                f"{path}: logical_count is [passes, {lc.shape[1]}, {lc.shape[2]}], but {first[0]} has "
                f"[passes, {first[1][0]}, {first[1][1]}]: the files disagree on layers or experts"
            )
        series.extend(lc)
    return [(i, c) for i, c in enumerate(series)]


def per_pass_series(loaded, num_experts):
    """[(forward pass id, counts [L, E])] of per_pass files, the ranks of one pass summed."""
    maps = [(path, physical_map(path, obj, num_experts)) for path, obj in loaded]
    e = experts_of(maps, num_experts)
    layers = maps[0][1].shape[0]
    by_pass = {}
    for (path, obj), (_, m) in zip(loaded, maps):
        if m.shape[0] != layers:
            raise ImportFailure(f"{path}: {m.shape[0]} layers, but {maps[0][0]} has {layers}")
        for i, rec in enumerate(obj["records"]):
            where = f"record {i}"
            if "global_physical_count" not in rec or "forward_pass_id" not in rec:
                raise ImportFailure(f"{path}: {where}: expected `forward_pass_id` and `global_physical_count`, "
                                    f"found {describe(rec)}")
            g = int_array(path, f"{where}: global_physical_count", rec["global_physical_count"], 2)
            if g.shape != m.shape:
                raise ImportFailure(f"{path}: {where}: global_physical_count is {list(g.shape)}, "
                                    f"the physical-to-logical map {list(m.shape)}")
            if g.size and g.min() < 0:
                raise ImportFailure(f"{path}: {where}: global_physical_count holds a negative count")
            logical = np.zeros((layers, e), dtype=np.int64)
            np.add.at(logical, (np.arange(layers)[:, None], m), g)
            fp = int(rec["forward_pass_id"])
            by_pass[fp] = by_pass.get(fp, 0) + logical
    return sorted(by_pass.items()), e


def layer_name(index, num_layers):
    return f"{index:0{max(2, len(str(num_layers - 1)))}d}"


def infer_top_k(sums, num_experts, what):
    """k from per-pass totals (each is tokens * k): their greatest common divisor, with a warning."""
    g = 0
    for s in sums:
        g = math.gcd(g, int(s))
    if not 1 <= g <= num_experts:
        raise ImportFailure(f"{what}: top_k is not recorded and cannot be told from the counts; give --top-k")
    warn(f"top_k is not recorded; took {g} (the greatest common divisor of the per-pass totals); "
         "give --top-k if the model chooses fewer experts")
    return g


def write_counts(out, steps_counts, num_experts, top_k, attrs, what):
    """A run log (one record per pass) plus the summed counts of each MoE layer."""
    steps = [s for s, _ in steps_counts]
    counts = np.stack([c for _, c in steps_counts]) if steps_counts else np.zeros((0, 0, 0), np.int64)
    if counts.size == 0 or counts.sum() == 0:
        raise ImportFailure(f"{what}: no expert was counted in any pass")
    if counts.shape[2] != num_experts:
        raise ImportFailure(f"{what}: the counts have {counts.shape[2]} experts, --num-experts says {num_experts}")
    filled = counts.sum(axis=(1, 2)) > 0
    if not filled.all():
        # SGLang's ring buffer returns every slot, used or not.
        warn(f"{what}: {int((~filled).sum())} of {len(filled)} passes counted nothing (unused buffer slots); left out")
        steps = [s for s, f in zip(steps, filled) if f]
        counts = counts[filled]
    moe = np.flatnonzero(counts.sum(axis=(0, 2)) > 0)  # dense layers have zero rows
    per_pass = counts[:, moe, :].sum(axis=2)
    k = top_k if top_k is not None else infer_top_k(per_pass.ravel(), num_experts, what)
    if not 1 <= k <= num_experts:
        raise ImportFailure(f"{what}: top_k {k} is outside 1..{num_experts}")
    total = counts[:, moe, :].sum(axis=0)  # [L_moe, E]
    num_tokens = max(1, int(round(total.sum(axis=1).max() / k)))

    log = TrainingLog(num_layers=len(moe), num_experts=num_experts)
    nan = np.full(len(moe), np.nan)
    for s, c in zip(steps, counts):
        log.record(s, nan, nan, c[moe])
    with DumpWriter(out, num_experts=num_experts, top_k=k, training_log=log, extra_attrs=attrs) as w:
        for position, layer in enumerate(moe):
            name = layer_name(int(layer), counts.shape[1])
            w.add_layer(name, index=int(layer))
            w.set_counts(name, total[position], num_tokens=num_tokens)
    return {"passes": len(steps), "layers": len(moe), "num_experts": num_experts, "top_k": k,
            "num_tokens": num_tokens}


# ---------------------------------------------------------------- command


def convert(files, out, num_experts=None, top_k=None, model=None):
    """Converts SGLang dump files (all of one mode) into the dump `out`; returns a summary dict."""
    if num_experts is not None and not 1 <= num_experts <= 4096:
        raise ImportFailure(f"--num-experts {num_experts} is outside 1..4096")
    loaded, modes = [], {}
    for path in files:
        obj = load(path)
        modes[path] = mode_of(path, obj)
        loaded.append((path, obj))
    kinds = sorted(set(modes.values()))
    if len(kinds) > 1:
        listing = "; ".join(f"{os.path.basename(p)}: {m}" for p, m in modes.items())
        raise ImportFailure(f"the files come from different recorder modes ({listing}); import each mode on its own")
    mode = kinds[0]
    what = files[0] if len(files) == 1 else f"{files[0]} (and {len(files) - 1} more)"
    attrs = {"source": "sglang", "source_layout": mode,
             "source_files": ", ".join(os.path.basename(p) for p in files)}
    if model is not None:
        attrs["model"] = str(model)
    if mode == "stat":
        series = stat_series(loaded)
        e = series[0][1].shape[1] if series else 0
        if num_experts is not None and num_experts != e:
            raise ImportFailure(f"{what}: logical_count has {e} experts, --num-experts says {num_experts}")
        return write_counts(out, series, e, top_k, attrs, what)
    if mode == "per_pass":
        series, e = per_pass_series(loaded, num_experts)
        return write_counts(out, series, e, top_k, attrs, what)
    from .sglang_tokens import convert_per_token

    return convert_per_token(loaded, out, num_experts, top_k, attrs)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 -m moescope_recorder.importers.sglang",
        description="Convert SGLang expert distribution dumps (torch.save .pt files) into a MoE Scope routing dump.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="the .pt files of one recording (per_token: one per rank)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.h5")
    parser.add_argument("--num-experts", type=int, help="E (default: taken from the files)")
    parser.add_argument("--top-k", type=int, help="k for the stat modes (default: told from the counts)")
    parser.add_argument("--model", help="free text stored as the dump's `model` attribute")
    args = parser.parse_args(argv)
    try:
        summary = convert(args.files, args.output, args.num_experts, args.top_k, args.model)
    except (ImportFailure, DumpError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: {args.output}: {err.strerror or err}", file=sys.stderr)
        return 1
    parts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary.items())
    print(f"wrote {args.output}: {parts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
