"""Record router outputs of a PyTorch model into a routing dump.

RoutingRecorder hooks the router modules of any model: a router module is one whose
forward output holds the router logits ([tokens, E] or [batch, seq, E]), and may also
hold the model's real choice (see `default_extract`). When the model's choice is not
visible, it is derived from the logits by the rules of routing.md.

record_hf_router_logits (hf.py) covers Hugging Face style models that return
`router_logits` when called with `output_router_logits=True` (Mixtral, Qwen-MoE,
OLMoE, gpt-oss, ...).
"""

import re

import numpy as np
import torch

from . import routing

__all__ = [
    "RoutingRecorder",
    "record_hf_router_logits",
    "default_extract",
    "stable_topk",
    "DEFAULT_ROUTER_PATTERN",
]

# Matches the usual names of router modules: `...router` (Switch, many research
# codes) and `...gate` (Mixtral, Qwen-MoE, OLMoE, DeepSeek).
DEFAULT_ROUTER_PATTERN = r"(^|\.)(router|gate)$"

_LOGIT_KEYS = ("logits", "router_logits", "gate_logits")
_ID_KEYS = ("topk_ids", "topk_idx", "selected_experts", "expert_ids", "expert_index", "indices")
_WEIGHT_KEYS = ("topk_weights", "topk_weight", "routing_weights", "expert_weights", "weights")


def stable_topk(scores, k):
    """(values, indices) of the k largest scores along the last dim, ties to the lower index.

    torch.topk does not promise any order among equal values, so a model that wants
    the tie rule of routing.md (and a recorder that wants to agree with it) sorts
    the negated scores with a stable sort instead: equal values keep index order.
    """
    order = torch.sort(-scores, dim=-1, stable=True).indices[..., :k]
    return scores.gather(-1, order), order


def _lookup(output, keys):
    for key in keys:
        if isinstance(output, dict):
            value = output.get(key)
        else:
            value = getattr(output, key, None)
        if torch.is_tensor(value):
            return value
    return None


def default_extract(output):
    """(logits, topk_ids, topk_weights) from a router module's forward output.

    - a tensor: the logits;
    - a dict or an object with named fields (e.g. a NamedTuple): `logits` /
      `router_logits`, `topk_ids` / `selected_experts` / ..., `topk_weights` / ...;
    - a plain tuple or list: the first integer tensor is the choice, a float tensor
      of the same shape the gate weights, the first other float tensor with at least
      two dimensions the logits (scalars such as an auxiliary loss are ignored).
    Missing parts are None.
    """
    if torch.is_tensor(output):
        return output, None, None
    named = _lookup(output, _LOGIT_KEYS + _ID_KEYS + _WEIGHT_KEYS)
    if named is not None:
        return _lookup(output, _LOGIT_KEYS), _lookup(output, _ID_KEYS), _lookup(output, _WEIGHT_KEYS)
    if isinstance(output, (tuple, list)):
        tensors = [t for t in output if torch.is_tensor(t) and t.dim() >= 1]
        ids = next((t for t in tensors if not t.is_floating_point()), None)
        weights = None
        if ids is not None:
            weights = next((t for t in tensors if t.is_floating_point() and t.shape == ids.shape), None)
        logits = next(
            (t for t in tensors if t.is_floating_point() and t is not weights and t.dim() >= 2), None
        )
        return logits, ids, weights
    raise TypeError(f"cannot find router logits in an output of type {type(output).__name__}")


def _rows(t, width=None):
    """A tensor [..., width] as a 2-D numpy array, rows in row-major token order."""
    a = t.detach()
    if a.is_floating_point():
        a = a.float()
    a = a.cpu().numpy()
    if a.ndim == 1 and width is None:
        a = a[:, None]
    return a.reshape(-1, a.shape[-1] if width is None else width)


class RoutingRecorder:
    """Forward hooks on the router modules of a model.

    Every forward call of a hooked module adds rows to that layer's buffer; write_to()
    then moves the buffered rows into a DumpWriter together with the token ids they
    belong to. Example::

        rec = RoutingRecorder(model, top_k=2)            # finds `...router` / `...gate`
        with DumpWriter("out.h5", num_experts=8, top_k=2, vocab=vocab) as w:
            for ids, label in batches:                    # ids: [batch, seq]
                with torch.no_grad():
                    model(ids)
                rec.write_to(w, ids, label)
        rec.remove()

    Layers are the hooked modules in the model's own module order; their `index` in
    the dump is that position. Layer names are the module names unless layer_names
    (a dict from module name, a list in layer order, or a callable(name, position))
    says otherwise.

    record_model_choice: when the router's output carries the model's choice, record
    it (and its gate weights if given) rather than deriving one. Derived choices
    follow routing.md (top_k, scoring, normalize_topk, expert bias, groups); the
    expert bias is read from the module attribute `bias_attr` when it is a tensor,
    and stored in the dump. store_derived_choices=False keeps derived choices out of
    the dump (logits only: the reader derives them itself and can then report
    tokens with NaN or infinite logits, which have no choice to store).
    """

    def __init__(
        self,
        model,
        modules=None,
        name_pattern=None,
        top_k=None,
        num_experts=None,
        scoring="softmax",
        normalize_topk=True,
        layer_names=None,
        extract=None,
        record_model_choice=True,
        store_logits=True,
        store_derived_choices=True,
        bias_attr="expert_bias",
        n_group=None,
        topk_group=None,
        routed_scaling_factor=1.0,
    ):
        self.top_k = top_k
        self.num_experts = num_experts
        self.rule = dict(
            scoring=scoring,
            normalize_topk=normalize_topk,
            n_group=n_group,
            topk_group=topk_group,
            routed_scaling_factor=routed_scaling_factor,
        )
        self.extract = extract or default_extract
        self.record_model_choice = record_model_choice
        self.store_logits = store_logits
        self.store_derived_choices = store_derived_choices
        self.bias_attr = bias_attr
        self.enabled = True

        found = self._find_modules(model, modules, name_pattern)
        if not found:
            raise ValueError(
                "no router module found: pass modules=[...] or a name_pattern that matches "
                f"the router modules (default {DEFAULT_ROUTER_PATTERN!r})"
            )
        self._layers = []  # (layer name, module name, module)
        for position, (qual, module) in enumerate(found):
            self._layers.append((self._layer_name(layer_names, qual, position), qual, module))
        names = [n for n, _, _ in self._layers]
        if len(set(names)) != len(names):
            raise ValueError(f"layer names are not unique: {names}")
        self._buffers = {n: [] for n in names}
        self._handles = [
            module.register_forward_hook(self._hook(name, module)) for name, _, module in self._layers
        ]

    # ------------------------------------------------------------------ setup

    @staticmethod
    def _find_modules(model, modules, name_pattern):
        named = list(model.named_modules())
        if modules is None:
            rx = re.compile(name_pattern or DEFAULT_ROUTER_PATTERN)
            return [(q, m) for q, m in named if q and rx.search(q)]
        wanted_names = {m for m in modules if isinstance(m, str)}
        wanted_ids = {id(m) for m in modules if not isinstance(m, str)}
        chosen = [(q, m) for q, m in named if q in wanted_names or id(m) in wanted_ids]
        missing = wanted_names - {q for q, _ in chosen}
        if missing or len(chosen) != len(wanted_names) + len(wanted_ids):
            raise ValueError(f"some router modules are not part of the model: {sorted(missing) or '(objects)'}")
        return chosen

    @staticmethod
    def _layer_name(layer_names, qual, position):
        if layer_names is None:
            return qual
        if callable(layer_names):
            return str(layer_names(qual, position))
        if isinstance(layer_names, dict):
            return str(layer_names.get(qual, qual))
        return str(list(layer_names)[position])

    @property
    def layer_names(self):
        return [n for n, _, _ in self._layers]

    @property
    def module_names(self):
        return {n: q for n, q, _ in self._layers}

    def _bias_of(self, module):
        b = getattr(module, self.bias_attr, None) if self.bias_attr else None
        return b.detach().float().cpu().numpy().reshape(-1) if torch.is_tensor(b) else None

    # ------------------------------------------------------------------ capture

    def _hook(self, name, module):
        def hook(mod, inputs, output):
            if self.enabled:
                self._buffers[name].append(self._capture(name, module, output))

        return hook

    def _capture(self, name, module, output):
        logits, ids, weights = self.extract(output)
        if not self.record_model_choice:
            ids, weights = None, None
        if logits is None and ids is None:
            raise RuntimeError(f"router {name!r}: its output holds neither logits nor a choice")
        rec = {}
        if logits is not None:
            rec["logits"] = _rows(logits).astype(np.float32)
        if ids is not None:
            k = ids.shape[-1] if ids.dim() >= 1 else 1
            rec["topk_ids"] = _rows(ids, k).astype(np.int64)
            if weights is not None:
                rec["topk_weights"] = _rows(weights, k).astype(np.float32)
        else:
            if self.top_k is None:
                raise RuntimeError(f"router {name!r}: top_k is needed to derive the choice from logits")
            chosen, gates, valid = routing.choose(
                rec["logits"], self.top_k, expert_bias=self._bias_of(module), **self.rule
            )
            rec["topk_ids"] = chosen
            rec["topk_weights"] = gates.astype(np.float32)
            rec["invalid"] = ~valid
        return rec

    def pop(self):
        """Everything captured since the last pop: {layer: dict(logits, topk_ids, topk_weights)}."""
        out = {}
        for name, parts in self._buffers.items():
            if not parts:
                continue
            merged = {}
            for key in parts[0]:
                merged[key] = np.concatenate([p[key] for p in parts], axis=0)
            out[name] = merged
            parts.clear()
        return out

    def clear(self):
        for parts in self._buffers.values():
            parts.clear()

    # ------------------------------------------------------------------ output

    def declare_layers(self, writer):
        for position, (name, _, _) in enumerate(self._layers):
            writer.add_layer(name, index=position)

    def write_to(self, writer, token_ids, labels=None, attention_mask=None):
        """Moves the captured rows into writer, one dump sequence per row of token_ids.

        token_ids: [seq] or [batch, seq] (tensor or array), in the order the routers
        saw the tokens. labels: one string for all sequences or one per sequence.
        attention_mask: [batch, seq]; positions with 0 (padding) are left out. A router
        that saw only the unmasked tokens (rows = mask.sum()) is accepted as well.
        """
        ids = token_ids.detach().cpu().numpy() if torch.is_tensor(token_ids) else np.asarray(token_ids)
        if ids.ndim == 1:
            ids = ids[None]
        batch, seq = ids.shape
        if labels is None or isinstance(labels, str):
            labels = [labels] * batch
        labels = list(labels)
        if len(labels) != batch:
            raise ValueError(f"{len(labels)} labels for {batch} sequences")
        if attention_mask is None:
            keep = np.ones((batch, seq), dtype=bool)
        else:
            m = attention_mask.detach().cpu().numpy() if torch.is_tensor(attention_mask) else np.asarray(attention_mask)
            keep = m.reshape(batch, seq).astype(bool)

        captured = self.pop()
        for name in self.layer_names:
            if name not in captured:
                raise RuntimeError(f"router {name!r} did not run since the last write")
            rows = next(iter(captured[name].values())).shape[0]
            if rows == keep.sum() and rows != batch * seq:
                # The model routed only the real tokens: spread them back over the grid.
                full = {}
                for key, arr in captured[name].items():
                    grid = np.zeros((batch * seq,) + arr.shape[1:], dtype=arr.dtype)
                    grid[keep.reshape(-1)] = arr
                    full[key] = grid
                captured[name] = full
            elif rows != batch * seq:
                raise RuntimeError(
                    f"router {name!r} saw {rows} tokens since the last write, but {batch}x{seq} token ids were given"
                )
            invalid = captured[name].pop("invalid", None)
            if invalid is not None and not self.store_derived_choices:
                captured[name].pop("topk_ids")
                captured[name].pop("topk_weights")
            elif invalid is not None and (invalid & keep.reshape(-1)).any():
                raise RuntimeError(
                    f"router {name!r} produced NaN or infinite logits, so those tokens have no "
                    "choice to store; pass store_derived_choices=False to record the logits only"
                )
            if not self.store_logits:
                captured[name].pop("logits", None)
                if not captured[name]:
                    raise RuntimeError(f"router {name!r}: nothing left to store without logits")

        self.declare_layers(writer)
        for b in range(batch):
            k = keep[b]
            writer.append_tokens(ids[b][k], labels[b])
            lo, hi = b * seq, (b + 1) * seq
            for name in self.layer_names:
                fields = {key: arr[lo:hi][k] for key, arr in captured[name].items()}
                writer.append_layer(name, **fields)
        for name, _, module in self._layers:
            bias = self._bias_of(module)
            if bias is not None:
                writer.set_expert_bias(name, bias)

    # ------------------------------------------------------------------ teardown

    def remove(self):
        for h in self._handles:
            h.remove()
        self._handles = []
        self.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


# Kept here for existing imports; the Hugging Face helper lives in hf.py.
from .hf import record_hf_router_logits  # noqa: E402
