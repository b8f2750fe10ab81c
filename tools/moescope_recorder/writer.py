"""Incremental, atomic writer of routing dumps (dump-format.md, version 1).

Everything goes to a temporary file next to the target; only a dump that was
finished without error is renamed onto the final name, so a crashed or
interrupted recording never leaves a half-written file that looks like a dump.
"""

import os
import secrets
import weakref

import h5py
import numpy as np

from .columns import _Column

__all__ = ["DumpWriter", "DumpError", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "moe-routing"
FORMAT_VERSION = 1

_UTF8 = h5py.string_dtype("utf-8")
_LAYER_FIELDS = ("logits", "topk_ids", "topk_weights")


class DumpError(ValueError):
    """The data handed to the writer would break dump-format.md."""


class _Layer:
    def __init__(self, name, index, group):
        self.name = name
        self.index = index
        self.group = group
        self.columns = {}  # field -> _Column, fixed by the first append
        self.counts = None  # [E] tokens per expert of the appended topk_ids
        self.load_counts = None  # [E] given counts of a load-only layer (set_counts)

    @property
    def rows(self):
        return next(iter(self.columns.values())).rows if self.columns else 0


def _discard(h5file, tmp_path):
    """Close and delete an unfinished temporary file (also run by the finalizer)."""
    try:
        if h5file.id.valid:
            h5file.close()
    except Exception:
        pass
    try:
        os.unlink(tmp_path)
    except FileNotFoundError:
        pass


class DumpWriter:
    """Writes one routing dump, appending tokens and router outputs as they come.

    Typical use::

        with DumpWriter("run.h5", num_experts=8, top_k=2, vocab=vocab) as w:
            w.append_sequence(ids, "python", layers={"00": dict(logits=z0, topk_ids=i0,
                                                                 topk_weights=g0)})

    The file appears under its final name only when close() (or the end of the
    with-block) succeeds. An exception inside the with-block, or abort(), deletes
    the temporary file and leaves any earlier file with the final name untouched.
    """

    def __init__(
        self,
        path,
        num_experts,
        top_k,
        scoring="softmax",
        normalize_topk=1,
        model=None,
        checkpoint=None,
        checkpoint_step=None,
        capacity_factor=None,
        vocab=None,
        routed_scaling_factor=None,
        n_group=None,
        topk_group=None,
        logits_dtype="float16",
        compression_level=4,
        training_log=None,
        extra_attrs=None,
    ):
        num_experts = int(num_experts)
        top_k = int(top_k)
        if not 1 <= num_experts <= 4096:
            raise DumpError(f"num_experts must be in 1..4096, got {num_experts}")
        if not 1 <= top_k <= num_experts:
            raise DumpError(f"top_k must be in 1..{num_experts}, got {top_k}")
        if scoring not in ("softmax", "sigmoid"):
            raise DumpError(f"scoring must be 'softmax' or 'sigmoid', got {scoring!r}")
        logits_dtype = np.dtype(logits_dtype)
        if logits_dtype not in (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)):
            raise DumpError(f"logits_dtype must be float16, float32 or float64, got {logits_dtype}")
        if n_group is not None:
            if num_experts % int(n_group):
                raise DumpError(f"{num_experts} experts do not split into {n_group} equal groups")
            if topk_group is None or not 1 <= int(topk_group) <= int(n_group):
                raise DumpError(f"topk_group must be in 1..{n_group} with n_group")

        self.path = os.path.abspath(os.fspath(path))
        self.num_experts = num_experts
        self.top_k = top_k
        self.logits_dtype = logits_dtype
        self.compression_level = int(compression_level)
        self.training_log = training_log
        self.vocab_size = None if vocab is None else len(vocab)
        self._closed = False
        self._num_tokens = None  # T of a load-only dump (set_counts)
        self._layers = {}  # name -> _Layer, in creation order
        self._offsets = [0]
        self._labels = []  # one per sequence, None when not given
        self._id_dtype = np.dtype(np.int16 if num_experts <= np.iinfo(np.int16).max else np.int32)

        directory, base = os.path.split(self.path)
        self._tmp_path = self._create_temp(directory, base)
        try:
            # libver 'earliest' keeps the file readable by HDF5 1.10 (dump-format.md).
            self._h5 = h5py.File(self._tmp_path, "w", libver="earliest")
        except Exception:
            os.unlink(self._tmp_path)
            raise
        self._finalizer = weakref.finalize(self, _discard, self._h5, self._tmp_path)

        try:
            a = self._h5.attrs
            a["format"] = FORMAT_NAME
            a["format_version"] = np.int64(FORMAT_VERSION)
            a["num_experts"] = np.int64(num_experts)
            a["top_k"] = np.int64(top_k)
            a["scoring"] = scoring
            a["normalize_topk"] = np.int64(1 if normalize_topk else 0)
            if routed_scaling_factor is not None:
                a["routed_scaling_factor"] = np.float64(routed_scaling_factor)
            if n_group is not None:
                a["n_group"] = np.int64(n_group)
                a["topk_group"] = np.int64(topk_group)
            if capacity_factor is not None:
                a["capacity_factor"] = np.float64(capacity_factor)
            if model is not None:
                a["model"] = str(model)
            if checkpoint is not None:
                a["checkpoint"] = str(checkpoint)
            if checkpoint_step is not None:
                a["checkpoint_step"] = np.int64(checkpoint_step)
            for key, value in (extra_attrs or {}).items():
                a[key] = value

            tokens = self._h5.create_group("tokens")
            self._ids = _Column(tokens, "ids", np.int32, (), self.compression_level)
            if vocab is not None:
                texts = [str(v) for v in vocab]
                tokens.create_dataset(
                    "vocab",
                    data=np.array(texts, dtype=object),
                    dtype=_UTF8,
                    chunks=(min(len(texts), 4096),) if texts else None,
                    compression="gzip" if texts else None,
                    compression_opts=self.compression_level if texts else None,
                )
            self._h5.create_group("layers")
        except Exception:
            self.abort()
            raise

    @staticmethod
    def _create_temp(directory, base):
        # O_EXCL with mode 0666 honours the umask, so the finished dump gets the
        # same permissions as any other new file (mkstemp would force 0600).
        for _ in range(100):
            candidate = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            os.close(fd)
            return candidate
        raise OSError(f"could not create a temporary file in {directory}")

    # ------------------------------------------------------------------ layers

    @property
    def tokens(self):
        """T: tokens appended so far."""
        return self._ids.rows

    @property
    def layer_names(self):
        return [l.name for l in sorted(self._layers.values(), key=lambda l: l.index)]

    def add_layer(self, name, index=None):
        """Declares a MoE layer; index is the model's own layer number.

        Layers not declared are created on first use, numbered in order of
        appearance after the highest index in use.
        """
        self._check_open()
        name = str(name)
        if not name or "/" in name or name in (".", ".."):
            raise DumpError(f"invalid layer name {name!r}")
        if name in self._layers:
            if index is not None and self._layers[name].index != int(index):
                raise DumpError(f"layer {name!r} already has index {self._layers[name].index}")
            return self._layers[name]
        if index is None:
            index = 1 + max((l.index for l in self._layers.values()), default=-1)
        index = int(index)
        if any(l.index == index for l in self._layers.values()):
            raise DumpError(f"layer index {index} is already used")
        group = self._h5["layers"].create_group(name)
        group.attrs["index"] = np.int64(index)
        layer = _Layer(name, index, group)
        self._layers[name] = layer
        return layer

    def set_expert_bias(self, layer, bias):
        """Stores the load-balancing bias [E] in effect at this layer (may be repeated)."""
        self._check_open()
        bias = np.asarray(bias, dtype=np.float32).reshape(-1)
        if bias.shape != (self.num_experts,):
            raise DumpError(f"expert_bias of layer {layer!r} must have shape ({self.num_experts},), got {bias.shape}")
        group = self.add_layer(layer).group
        if "expert_bias" in group:
            group["expert_bias"][...] = bias
        else:
            group.create_dataset("expert_bias", data=bias)

    def set_counts(self, layer, counts, num_tokens=None):
        """Makes `layer` load-only: counts [E] are the tokens that chose each expert.

        For sources that record load, not choices (dump-format.md, load-only dumps).
        Such a dump holds no /tokens; num_tokens (T, given here once for the dump)
        becomes the root attribute `num_tokens`.
        """
        self._check_open()
        c = np.asarray(counts).reshape(-1)
        if c.shape != (self.num_experts,):
            raise DumpError(f"counts of layer {layer!r} must have shape ({self.num_experts},), got {c.shape}")
        if not (np.issubdtype(c.dtype, np.integer) or np.issubdtype(c.dtype, np.floating)):
            raise DumpError(f"counts of layer {layer!r} must be numbers, got {c.dtype}")
        if c.size and (not np.all(np.isfinite(c)) or c.min() < 0):
            raise DumpError(f"counts of layer {layer!r} must be finite and non-negative")
        if num_tokens is not None:
            if int(num_tokens) < 1:
                raise DumpError(f"num_tokens must be at least 1, got {num_tokens}")
            self._num_tokens = int(num_tokens)
        self.add_layer(layer).load_counts = c.astype(np.int64 if np.issubdtype(c.dtype, np.integer) else np.float64)

    # ------------------------------------------------------------------ appends

    def append_tokens(self, token_ids, label=None):
        """Appends one sequence of token ids; its layer rows follow via append_layer."""
        self._check_open()
        ids = np.asarray(token_ids)
        if ids.ndim != 1:
            raise DumpError(f"token_ids must be 1-D, got shape {ids.shape}")
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise DumpError(f"token_ids must be integers, got {ids.dtype}")
        if ids.size:
            lo, hi = int(ids.min()), int(ids.max())
            if lo < 0:
                raise DumpError(f"token id {lo} is negative")
            if self.vocab_size is not None and hi >= self.vocab_size:
                raise DumpError(f"token id {hi} is outside the vocabulary of {self.vocab_size}")
            if hi > np.iinfo(np.int32).max:
                raise DumpError(f"token id {hi} does not fit in int32")
        if label is not None and not isinstance(label, str):
            raise DumpError(f"sequence label must be a string, got {type(label).__name__}")
        self._ids.append(ids.astype(np.int32, copy=False))
        self._offsets.append(self._ids.rows)
        self._labels.append(label)

    def append_layer(self, name, logits=None, topk_ids=None, topk_weights=None):
        """Appends rows [n, ...] of one layer, in the same token order as append_tokens."""
        self._check_open()
        fields = {}
        n = None
        e, k = self.num_experts, self.top_k

        def rows_of(field, arr, width):
            nonlocal n
            if arr.ndim != 2 or arr.shape[1] != width:
                raise DumpError(f"layer {name!r}: {field} must be [n, {width}], got shape {arr.shape}")
            if n is not None and arr.shape[0] != n:
                raise DumpError(f"layer {name!r}: {field} has {arr.shape[0]} rows, expected {n}")
            n = arr.shape[0]

        if logits is not None:
            z = np.asarray(logits)
            rows_of("logits", z, e)
            if z.size and not np.issubdtype(z.dtype, np.floating):
                z = z.astype(np.float64)
            with np.errstate(over="ignore"):
                stored = z.astype(self.logits_dtype)
            overflow = np.isfinite(z) & ~np.isfinite(stored)
            if overflow.any():
                raise DumpError(
                    f"layer {name!r}: logits exceed the range of {self.logits_dtype}; "
                    "use logits_dtype='float32'"
                )
            fields["logits"] = stored
        if topk_ids is not None:
            ids = np.asarray(topk_ids)
            rows_of("topk_ids", ids, k)
            if ids.size:
                if not np.issubdtype(ids.dtype, np.integer):
                    raise DumpError(f"layer {name!r}: topk_ids must be integers, got {ids.dtype}")
                if ids.min() < 0 or ids.max() >= e:
                    raise DumpError(f"layer {name!r}: expert id outside [0, {e})")
                if k > 1 and (np.diff(np.sort(ids, axis=1), axis=1) == 0).any():
                    raise DumpError(f"layer {name!r}: a token chose the same expert twice")
            fields["topk_ids"] = ids.astype(self._id_dtype)
        if topk_weights is not None:
            if topk_ids is None:
                raise DumpError(f"layer {name!r}: topk_weights need topk_ids")
            w = np.asarray(topk_weights, dtype=np.float32)
            rows_of("topk_weights", w, k)
            fields["topk_weights"] = w
        if not fields:
            raise DumpError(f"layer {name!r}: give logits or topk_ids (or both)")

        layer = self.add_layer(name)
        if not layer.columns:
            for field in _LAYER_FIELDS:
                if field in fields:
                    width = e if field == "logits" else k
                    layer.columns[field] = _Column(
                        layer.group, field, fields[field].dtype, (width,), self.compression_level
                    )
        elif set(fields) != set(layer.columns):
            raise DumpError(
                f"layer {name!r}: every append must give the same fields "
                f"({sorted(layer.columns)}), got {sorted(fields)}"
            )
        if layer.rows + n > self.tokens:
            raise DumpError(
                f"layer {name!r}: {layer.rows + n} rows would exceed the {self.tokens} tokens appended"
            )
        for field, arr in fields.items():
            layer.columns[field].append(arr)
        if "topk_ids" in fields:  # the layer's summary, so a reader can paint before reading choices
            added = np.bincount(fields["topk_ids"].ravel().astype(np.int64), minlength=e)
            layer.counts = added if layer.counts is None else layer.counts + added

    def append_sequence(self, token_ids, label=None, layers=None):
        """Appends one sequence and, for each layer, its rows.

        layers maps a layer name to a dict (or object) with any of logits [n, E],
        topk_ids [n, k], topk_weights [n, k], n = len(token_ids).
        """
        self.append_tokens(token_ids, label)
        for name, data in (layers or {}).items():
            if isinstance(data, dict):
                get = data.get
            else:
                get = lambda f, d=data: getattr(d, f, None)
            self.append_layer(name, **{f: get(f) for f in _LAYER_FIELDS})

    # ------------------------------------------------------------------ finish

    def _check_open(self):
        if self._closed:
            raise DumpError(f"{self.path}: the writer is already closed")

    def _finish(self):
        if not self._layers:
            raise DumpError(f"{self.path}: a dump needs at least one layer")
        t = self.tokens
        load_only = [l.name for l in self._layers.values() if l.load_counts is not None]
        if load_only:
            self._finish_load_only(load_only)
            return
        for layer in self._layers.values():
            if not layer.columns:
                raise DumpError(f"layer {layer.name!r} holds neither logits nor topk_ids")
            if layer.rows != t:
                raise DumpError(f"layer {layer.name!r} has {layer.rows} rows for {t} tokens")
        self._ids.flush()
        for layer in self._layers.values():
            for column in layer.columns.values():
                column.flush()
            if layer.counts is not None:
                layer.group.create_dataset("counts", data=layer.counts.astype(np.int64))

        tokens = self._h5["tokens"]
        tokens.create_dataset("sequence_offsets", data=np.asarray(self._offsets, dtype=np.int64))
        given = [l is not None for l in self._labels]
        if any(given):
            if not all(given):
                raise DumpError("either every sequence has a label or none has")
            tokens.create_dataset(
                "sequence_labels", data=np.array(self._labels, dtype=object), dtype=_UTF8
            )
        self._write_training()

    def _finish_load_only(self, load_only):
        if len(load_only) != len(self._layers) or self.tokens:
            raise DumpError(
                f"{self.path}: a load-only dump holds counts in every layer and no tokens "
                f"(layers with counts: {load_only}, tokens: {self.tokens})"
            )
        if self._num_tokens is None:
            raise DumpError(f"{self.path}: a load-only dump needs num_tokens")
        del self._h5["tokens"]
        self._h5.attrs["num_tokens"] = np.int64(self._num_tokens)
        for layer in self._layers.values():
            layer.group.create_dataset("counts", data=layer.load_counts)
        self._write_training()

    def _write_training(self):
        if self.training_log is not None and len(self.training_log):
            group = self.training_log.write_to(self._h5, num_layers=len(self._layers), num_experts=self.num_experts)
            # The series' columns follow the layer order; name them so a reader can match them.
            group.create_dataset("layer_names", data=np.array(self.layer_names, dtype=object), dtype=_UTF8)

    def close(self):
        """Finishes the dump and moves it onto its final name. Safe to call twice."""
        if self._closed:
            return
        try:
            self._finish()
            self._h5.close()
            with open(self._tmp_path, "rb") as f:
                os.fsync(f.fileno())
            os.replace(self._tmp_path, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        self._finalizer.detach()
        self._sync_directory()

    def abort(self):
        """Drops the unfinished dump: no file with the final name is created."""
        self._closed = True
        if self._finalizer.alive:
            self._finalizer()

    def _sync_directory(self):
        # The rename itself must reach the disk for the dump to survive a crash.
        try:
            fd = os.open(os.path.dirname(self.path), os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False
