"""Record Hugging Face style MoE models (`output_router_logits=True`).

What such a model returns under the name `router_logits` is not always logits, and
the tuple is not always one entry per layer. record_hf_router_logits recognises the
cases that break a naive recorder:

- probabilities: rows that are non-negative and sum to one (model code or exporters
  that soft-max before returning). They are stored as log-probabilities, whose
  softmax gives the probabilities back, with a warning.
- router scores (gpt-oss in transformers 4.55 and 4.56): [tokens, E] zeros except
  for the k chosen experts, which hold their gate weights. They are recorded as the
  choice and its weights, not as logits (the logits are not in the output).
- only the sparse layers: Qwen-MoE configs (`decoder_sparse_step`,
  `mlp_only_layers`) and DeepSeek ones (`first_k_dense_replace`, `moe_layer_freq`)
  have dense layers that return nothing, so the tuple's positions are not layer
  numbers. Names and indices then come from the config's sparse-layer rule.
- padding: positions whose attention_mask is 0 are left out of the dump and of the
  checks above; a model that routed only the real tokens (rows = mask.sum()) is
  accepted as well.
"""

import warnings

import numpy as np
import torch

from . import routing

__all__ = ["record_hf_router_logits", "sparse_layers", "classify_router_output"]

# How far from one a row sum may be and still count as a probability row: bfloat16
# keeps 8 bits of mantissa, so a sum over many experts drifts by about 1e-2.
_SUM_TOLERANCE = 2e-2
# log(0) would be -inf, which a reader counts as an invalid token: floor it here.
_LOG_FLOOR = float(np.finfo(np.float32).tiny)


def _config_value(config, names, default=None):
    for n in names:
        v = getattr(config, n, None)
        if v is not None:
            return v
    return default


def sparse_layers(config):
    """Model layer numbers that have experts by the config's rule, or None if it has none."""
    n = getattr(config, "num_hidden_layers", None)
    if n is None:
        return None
    n = int(n)
    if getattr(config, "decoder_sparse_step", None) is not None or getattr(config, "mlp_only_layers", None) is not None:
        # Qwen-MoE: layer i is sparse unless listed in mlp_only_layers, and only every step-th one.
        if int(_config_value(config, ("num_experts",), 1)) <= 0:
            return []
        step = int(_config_value(config, ("decoder_sparse_step",), 1)) or 1
        dense = {int(i) for i in (getattr(config, "mlp_only_layers", None) or [])}
        return [i for i in range(n) if i not in dense and (i + 1) % step == 0]
    if getattr(config, "first_k_dense_replace", None) is not None:
        # DeepSeek: the first k layers are dense, then every moe_layer_freq-th one has experts.
        first = int(config.first_k_dense_replace)
        freq = int(_config_value(config, ("moe_layer_freq",), 1)) or 1
        return [i for i in range(n) if i >= first and i % freq == 0]
    return None


def classify_router_output(z, top_k):
    """'scores', 'probabilities' or 'logits' for rows z [n, E] (padding already left out)."""
    if z.size == 0 or not np.all(np.isfinite(z)) or z.min() < 0:
        return "logits"
    nonzero = (z != 0).sum(axis=1)
    if z.shape[1] > top_k and nonzero.max() <= top_k and nonzero.max() > 0:
        return "scores"
    if np.all(np.abs(z.sum(axis=1) - 1.0) <= _SUM_TOLERANCE):
        return "probabilities"
    return "logits"


def _rows(t):
    a = t.detach()
    if a.is_floating_point():
        a = a.float()
    a = a.cpu().numpy()
    return a.reshape(-1, a.shape[-1])


def _as_numpy(x):
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


def _layer_names(router_logits, config, layer_names):
    """(tuple position, name, index) of each entry that holds a layer's output."""
    present = [p for p, e in enumerate(router_logits) if e is not None and not (isinstance(e, (tuple, list)) and not e)]
    if isinstance(layer_names, (list, tuple)) and len(layer_names) < len(router_logits):
        layer_names = dict(zip((f"{n:02d}" for n in present), layer_names))  # one name per present entry
    sparse = sparse_layers(config)
    if sparse is not None and len(router_logits) != getattr(config, "num_hidden_layers", -1):
        if len(present) == len(sparse):
            numbers = sparse
        else:
            warnings.warn(
                f"the config's sparse-layer rule gives {len(sparse)} MoE layers, the model returned "
                f"{len(present)} router outputs: layers are named by their position instead", stacklevel=3)
            numbers = present
    else:
        numbers = present  # one entry per layer (None for dense ones): position = layer number
    out = []
    for position, number in zip(present, numbers):
        name = f"{number:02d}"
        if layer_names is not None:
            if callable(layer_names):
                name = str(layer_names(name, number))
            elif isinstance(layer_names, dict):
                name = str(layer_names.get(name, name))
            else:
                name = str(list(layer_names)[position])
        out.append((position, name, number))
    return out


def record_hf_router_logits(
    model,
    input_ids,
    writer=None,
    labels=None,
    attention_mask=None,
    top_k=None,
    normalize_topk=None,
    scoring="softmax",
    layer_names=None,
    **forward_kwargs,
):
    """Runs a Hugging Face style MoE model once and records its routers.

    The model is called with output_router_logits=True and must return
    `router_logits`: a tuple with one entry per MoE layer ([batch*seq, E] or
    [batch, seq, E]; None entries, e.g. for dense layers, are skipped; (logits, ...)
    pairs use their first element). What each entry holds is recognised (see the
    module docstring). The choice is derived by routing.md from logits with top_k
    (default config.num_experts_per_tok) and normalize_topk (default
    config.norm_topk_prob, else 1 as in Mixtral).

    Layers are named by the model's layer number (`00`, `01`, ...; from the config's
    sparse-layer rule when the tuple holds only the sparse layers) unless layer_names
    gives them (a list in tuple order, or one per non-None entry; a dict from the
    default name; a callable (default name, number)); index is that number. With a writer, each row of
    input_ids becomes one sequence, padding left out by attention_mask. Returns
    {layer name: dict(logits, topk_ids, topk_weights)} over all batch*seq positions
    (no logits for layers that returned router scores).
    """
    config = getattr(model, "config", None)
    if top_k is None:
        top_k = _config_value(config, ("num_experts_per_tok", "moe_top_k", "num_selected_experts", "top_k"))
        if top_k is None:
            raise ValueError("top_k is not given and the model config does not say it")
    top_k = int(top_k)
    if normalize_topk is None:
        normalize_topk = bool(_config_value(config, ("norm_topk_prob",), True))

    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=attention_mask, output_router_logits=True, **forward_kwargs)
    router_logits = out["router_logits"] if isinstance(out, dict) else getattr(out, "router_logits", None)
    if router_logits is None:
        raise ValueError("the model returned no router_logits; is it a MoE model?")

    ids = _as_numpy(input_ids)
    if ids.ndim == 1:
        ids = ids[None]
    batch, seq = ids.shape
    keep = np.ones((batch, seq), dtype=bool)
    if attention_mask is not None:
        keep = _as_numpy(attention_mask).reshape(batch, seq).astype(bool)
    flat_keep = keep.reshape(-1)

    result, kinds = {}, {"probabilities": [], "scores": []}
    for position, name, number in _layer_names(router_logits, config, layer_names):
        entry = router_logits[position]
        if isinstance(entry, (tuple, list)):
            entry = entry[0]
        z = _rows(entry).astype(np.float32)
        if z.shape[0] == flat_keep.sum() and z.shape[0] != batch * seq:
            grid = np.zeros((batch * seq, z.shape[1]), dtype=z.dtype)  # routed the real tokens only
            grid[flat_keep] = z
            z = grid
        if z.shape[0] != batch * seq:
            raise ValueError(f"router_logits[{position}] has {z.shape[0]} rows for {batch}x{seq} tokens")
        kind = classify_router_output(z[flat_keep], top_k)
        r = dict(index=number)
        if kind == "scores":
            kinds["scores"].append(name)
            order = np.argsort(-z, axis=1, kind="stable")[:, :top_k]  # best first, ties to the lower id
            r["topk_ids"] = order
            r["topk_weights"] = np.take_along_axis(z, order, axis=1)
            r["valid"] = np.ones(z.shape[0], dtype=bool)
            short = ((z[flat_keep] != 0).sum(axis=1) < top_k).sum()
            if short:
                warnings.warn(f"layer {name!r}: {short} tokens have fewer than {top_k} non-zero router scores; "
                              "their remaining choices are the lowest expert ids", stacklevel=2)
        else:
            if kind == "probabilities":
                kinds["probabilities"].append(name)
                z = np.log(np.maximum(z, _LOG_FLOOR))
            chosen, gates, valid = routing.choose(z, top_k, scoring=scoring, normalize_topk=normalize_topk)
            r.update(logits=z, topk_ids=chosen, topk_weights=gates.astype(np.float32), valid=valid)
        result[name] = r
    if kinds["probabilities"]:
        warnings.warn(f"router_logits of layers {kinds['probabilities']} hold probabilities (rows sum to one), "
                      "not logits: stored as log-probabilities", stacklevel=2)
    if kinds["scores"]:
        warnings.warn(f"router_logits of layers {kinds['scores']} hold router scores (zeros outside the top-{top_k}, "
                      "as gpt-oss returns them): recorded as choices and weights, without logits", stacklevel=2)

    if writer is not None:
        _write(writer, result, ids, keep, labels)
    fields = ("logits", "topk_ids", "topk_weights")
    return {n: {k: v for k, v in r.items() if k in fields} for n, r in result.items()}


def _write(writer, result, ids, keep, labels):
    batch, seq = ids.shape
    if isinstance(labels, str) or labels is None:
        labels = [labels] * batch
    for name, r in result.items():
        if not r["valid"][keep.reshape(-1)].all():
            raise RuntimeError(f"router layer {name!r} produced NaN or infinite logits")
        writer.add_layer(name, index=r["index"])
    for b in range(batch):
        k = keep[b]
        writer.append_tokens(ids[b][k], labels[b])
        lo, hi = b * seq, (b + 1) * seq
        for name, r in result.items():
            writer.append_layer(name, **{f: r[f][lo:hi][k] for f in ("logits", "topk_ids", "topk_weights") if f in r})
