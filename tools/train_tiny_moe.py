#!/usr/bin/env python3
"""Train a tiny Mixture-of-Experts language model twice and record routing dumps.

The corpus comes from files every Debian system has: Python standard library
sources (code), manual pages, licence and copyright texts (English), and German
manual pages plus the German message catalogues of installed programs. A word-level
tokenizer is learned from it, so the tokens in a dump read as words and symbols.

Two variants share data, initial weights and seed:
  balanced   Switch load-balancing loss (coefficient 0.01) plus router z-loss (0.001)
  collapsed  no balancing term at all, and router weights initialised 4x larger
             (--collapse-nudge) so that collapse shows within a short run

At four checkpoints each variant records a dump of held-out text (labels python,
english, german) with the model's real choices, float16 logits and the /training
series so far. Usage:

    nice -n 10 python3 tools/train_tiny_moe.py --out-dir /tmp/moe-train \\
        [--steps N] [--seed S] [--samples-dir resources]
"""

import argparse
import collections
import glob
import gzip
import math
import os
import random
import re
import shutil
import struct
import sys
import time
import typing
import zlib

# Set before torch loads its OpenMP runtime: on a machine shared with other jobs,
# spinning worker threads slow everything down; passive waiting does not.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from moescope_recorder import DumpWriter, RunLog, TrainingLog  # noqa: E402
from moescope_recorder.hooks import RoutingRecorder, stable_topk  # noqa: E402

SOURCES = ("python", "english", "german")

# ---------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------

_ROFF_CHARS = {
    "em": "\u2014", "en": "\u2013", "hy": "-", "mi": "-", "aq": "'", "dq": '"',
    "lq": "\u201c", "rq": "\u201d", "oq": "\u2018", "cq": "\u2019", "bu": "\u2022",
    "co": "\u00a9", "rg": "\u00ae", "ga": "`", "ti": "~", "ha": "^", "rs": "\\",
    "lB": "[", "rB": "]", "lC": "{", "rC": "}", "la": "<", "ra": ">", "Fo": "\u00ab",
    "Fc": "\u00bb", "ss": "\u00df", ':a': "\u00e4", ':o': "\u00f6", ':u': "\u00fc",
    ':A': "\u00c4", ':O': "\u00d6", ':U': "\u00dc", "fo": "\u2039", "fc": "\u203a",
    "->": "\u2192", "<-": "\u2190", "de": "\u00b0", "mu": "\u00d7", "tm": "\u2122",
}
_ROFF_SUBS = [
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\s(\[[^\]]*\]|\(\d\d|[+-]?\d)"), ""),  # point size
    (re.compile(r"\\\*(\[[^\]]*\]|\(..|.)"), ""),  # string registers
    (re.compile(r"\\n(\[[^\]]*\]|\(..|.)"), ""),  # number registers
    (re.compile(r"\\\((..)"), lambda m: _ROFF_CHARS.get(m.group(1), "")),
    (re.compile(r"\\\[([^\]]*)\]"), lambda m: _ROFF_CHARS.get(m.group(1), "")),
    (re.compile(r"\\[&|^c%:,/)]"), ""),
    (re.compile(r"\\[ ~0]"), " "),
    (re.compile(r"\\-"), "-"),
    (re.compile(r"\\e"), "\\\\"),
    (re.compile(r"\\(.)"), r"\1"),
]
# Macros whose arguments are running text (man and mdoc); other requests only format.
_TEXT_MACROS = {"B", "I", "SB", "SM", "IP", "SH", "SS", "Sh", "Ss", "Nm", "Nd", "Ar", "Op",
                "Xr", "Pa", "It", "Em", "Dq", "Ql", "Sy", "Li", "Cm", "Ev", "Va", "Fn", "Dv",
                "Er", "Ic", "Ad", "Pq", "Sq", "Aq", "Fa", "Ft", "D1", "Dl", "Fl", "Tn", "Ux"}
_ALTERNATING = {"BR", "BI", "IB", "IR", "RB", "RI"}
_MDOC_WORDS = _TEXT_MACROS | {"Ns", "No", "Oo", "Oc", "Op", "Pf", "Ta", "Bro", "Brc", "Qq", "Ek"}
_BLOCKS = {"TS": "TE", "EQ": "EN", "de": "..", "ig": "..", "PS": "PE"}
_ARG = re.compile(r'"([^"]*)"|(\S+)')


def roff_to_text(src):
    """Running text of a man page: macro lines reduced to their words, escapes resolved."""
    out = []
    end_of_block = None
    for line in src.splitlines():
        if end_of_block:
            if line.strip().startswith("." + end_of_block) or line.strip() == end_of_block:
                end_of_block = None
            continue
        if line.startswith((".\\\"", "'\\\"", ".\\#")):
            continue
        if line.startswith((".", "'")):
            parts = line[1:].strip().split(None, 1)
            if not parts:
                continue
            name, args = parts[0], parts[1] if len(parts) > 1 else ""
            if name in _BLOCKS:
                end_of_block = _BLOCKS[name]
                continue
            words = [a or b for a, b in _ARG.findall(args)]
            if name in _ALTERNATING:
                out.append("".join(words))
            elif name in _TEXT_MACROS:
                if name in ("SH", "SS", "Sh", "Ss"):
                    out.append("")
                out.append(" ".join(w for w in words if w not in _MDOC_WORDS))
            continue
        out.append(line)
    text = "\n".join(out)
    for rx, rep in _ROFF_SUBS:
        text = rx.sub(rep, text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def mo_messages(path):
    """The translated strings of a gettext .mo catalogue, decoded by its declared charset."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 28:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if order is None:
        return []
    _, count, orig_at, trans_at = struct.unpack(order + "4I", data[4:20])
    charset = "utf-8"
    raw = []
    for i in range(count):
        olen, _ = struct.unpack(order + "2I", data[orig_at + 8 * i : orig_at + 8 * i + 8])
        tlen, toff = struct.unpack(order + "2I", data[trans_at + 8 * i : trans_at + 8 * i + 8])
        msgstr = data[toff : toff + tlen]
        if olen == 0:  # the header entry names the charset
            m = re.search(rb"charset=([\w.-]+)", msgstr)
            if m:
                charset = m.group(1).decode("ascii", "replace")
            continue
        raw.extend(msgstr.split(b"\0"))
    messages = []
    for r in raw:
        try:
            text = r.decode(charset, "replace")
        except LookupError:
            text = r.decode("utf-8", "replace")
        text = re.sub(r"(?<!\w)_(?=\w)", "", text)  # GTK mnemonic markers
        if len(re.findall(r"[^\W\d_]{2,}", text)) >= 3:
            messages.append(text.strip())
    return messages


def _read_gz_text(path):
    with gzip.open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def _capped(docs, limit_chars):
    """Documents in a fixed shuffled order until limit_chars are collected."""
    docs = sorted(docs)
    random.Random(20240601).shuffle(docs)
    taken, total = [], 0
    for name, loader in docs:
        try:
            text = loader(name)
        except (OSError, EOFError, ValueError):
            continue
        if len(text) < 200:
            continue
        taken.append((name, text))
        total += len(text)
        if total >= limit_chars:
            break
    return taken


def gather_corpus(limit_chars):
    """{source: [(document name, text)]} from files on this machine."""
    def read_text(p):
        with open(p, encoding="utf-8", errors="replace") as f:
            return f.read()

    python = [(p, read_text) for p in glob.glob("/usr/lib/python3*/*.py")]
    # The Google Cloud SDK alone installs some 16,000 near-identical pages; leave them out.
    man_en = [
        (p, lambda p: roff_to_text(_read_gz_text(p)))
        for p in glob.glob("/usr/share/man/man[1-8]/*.gz")
        if not os.path.basename(p).startswith(("gcloud", "bq."))
    ]
    licences = [(p, read_text) for p in glob.glob("/usr/share/common-licenses/*") if os.path.isfile(p)]
    copyright = [(p, read_text) for p in glob.glob("/usr/share/doc/*/copyright")]
    man_de = [(p, lambda p: roff_to_text(_read_gz_text(p))) for p in glob.glob("/usr/share/man/de/man[1-8]/*.gz")]
    mo_de = [
        (p, lambda p: "\n".join(dict.fromkeys(mo_messages(p))))
        for p in glob.glob("/usr/share/locale/de/LC_MESSAGES/*.mo")
        if not os.path.basename(p).startswith("iso_")  # country and script name lists, not prose
    ]
    corpus = {
        "python": _capped(python, limit_chars),
        # Manual pages carry most of the English; licences and copyright files add legal prose.
        "english": _capped(man_en, limit_chars * 0.7)
        + _capped(licences, limit_chars * 0.1)
        + _capped(copyright, limit_chars * 0.2),
        "german": _capped(man_de, limit_chars * 0.5) + _capped(mo_de, limit_chars * 0.5),
    }
    for source, docs in corpus.items():
        if not docs:
            raise SystemExit(f"no {source} text found on this machine")
    return corpus


def is_held_out(name):
    # By document, with a hash independent of the seed: held-out text is never trained on.
    return zlib.crc32(name.encode()) % 8 == 0


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------

# Newline and four-space indentation are tokens (code structure); other whitespace
# only separates. Identifiers split at underscores so that their parts are words.
_TOKEN_RE = re.compile(r"\n|    |[^\W\d_]+|\d+|==|!=|<=|>=|->|\*\*|//|\+=|-=|:=|\.\.\.|\S")
DOC = "<doc>"
UNK = "<unk>"


class WordTokenizer:
    """Whole words and symbols, with learned word pieces for the rarer words.

    Most of the vocabulary is the commonest words of each source, taken in turn so
    that every language gets its share however much text it has. The rest are word
    pieces (frequent parts of the words left out), which spell the remaining words
    with as few tokens as possible; single characters catch the rest.
    """

    def __init__(self, vocab):
        self.vocab = list(vocab)
        self.index = {t: i for i, t in enumerate(self.vocab)}
        self.longest = max(len(t) for t in self.vocab)
        self._cache = {}

    @classmethod
    def learn(cls, texts_by_source, size, piece_share=0.25, min_char_count=20, max_piece=7):
        counts = {s: collections.Counter() for s in texts_by_source}
        for source, texts in texts_by_source.items():
            for text in texts:
                counts[source].update(_TOKEN_RE.findall(text))
        chars = collections.Counter()
        for c in counts.values():
            for piece, n in c.items():
                for ch in piece:
                    if not ch.isspace():
                        chars[ch] += n
        vocab = [UNK, DOC, "\n", "    "]
        vocab += sorted(ch for ch, n in chars.items() if n >= min_char_count)
        seen = set(vocab)
        word_budget = size - int(size * piece_share)
        ranked = [[p for p, _ in c.most_common() if len(p) > 1] for c in counts.values()]
        pos = [0] * len(ranked)
        while len(vocab) < word_budget and any(pos[i] < len(r) for i, r in enumerate(ranked)):
            for i, r in enumerate(ranked):
                while pos[i] < len(r) and r[pos[i]] in seen:
                    pos[i] += 1
                if pos[i] < len(r) and len(vocab) < word_budget:
                    vocab.append(r[pos[i]])
                    seen.add(r[pos[i]])
                    pos[i] += 1
        # Word pieces from the words left out, weighted by how often those words occur
        # and by the characters a piece saves. Capitalised and all-capitals words get
        # their own pieces, in proportion to how often they occur, since pieces of
        # lower-case words cannot spell them.
        left_out = collections.Counter()
        for c in counts.values():
            for piece, n in c.items():
                if len(piece) > 2 and piece not in seen and piece[0].isalpha():
                    left_out[piece] += n
        gains = {"lower": collections.Counter(), "title": collections.Counter(), "upper": collections.Counter()}
        mass = collections.Counter()
        for word, n in left_out.items():
            if n < 2:
                continue
            kind = "upper" if word.isupper() else "title" if word[0].isupper() else "lower"
            mass[kind] += n
            gain = gains[kind]
            for i in range(len(word)):
                for j in range(i + 2, min(len(word), i + max_piece) + 1):
                    gain[word[i:j]] += n * (j - i - 1)
        room = size - len(vocab)
        total = sum(mass.values()) or 1
        for kind, gain in gains.items():
            quota = len(vocab) + round(room * mass[kind] / total)
            for piece, _ in gain.most_common():
                if len(vocab) >= min(size, quota):
                    break
                if piece not in seen:
                    vocab.append(piece)
                    seen.add(piece)
        return cls(vocab)

    def _spell(self, word):
        """The fewest vocabulary entries that spell word (ties: the longer last piece)."""
        idx, n = self.index, len(word)
        cost = [0] + [n + 1] * n
        back = [0] * (n + 1)
        for j in range(1, n + 1):
            for i in range(max(0, j - self.longest), j):
                if cost[i] + 1 < cost[j] and word[i:j] in idx:
                    cost[j] = cost[i] + 1
                    back[j] = i
            if cost[j] > n:  # a character outside the vocabulary
                cost[j], back[j] = cost[j - 1] + 1, j - 1
        out, j = [], n
        while j > 0:
            out.append(idx.get(word[back[j] : j], idx[UNK]))
            j = back[j]
        return out[::-1]

    def encode(self, text):
        ids = []
        idx, cache = self.index, self._cache
        for piece in _TOKEN_RE.findall(text):
            i = idx.get(piece)
            if i is not None:
                ids.append(i)
                continue
            sub = cache.get(piece)
            if sub is None:
                sub = cache[piece] = self._spell(piece)
            ids.extend(sub)
        return ids


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


def dense(x, weight, bias=None):
    """x [..., in] @ weight[out, in].T (+ bias), computed as a 1x1 convolution.

    Debian's torch is built against the reference BLAS, which runs matrix products
    at a few GFLOPS on one core; its convolutions go through oneDNN instead, which
    is 7 to 30 times faster here. A 1x1 convolution over a [1, in, n, 1] image is
    the same product.
    """
    shape = x.shape
    n = x.numel() // shape[-1]
    y = F.conv2d(x.reshape(n, shape[-1]).T.reshape(1, shape[-1], n, 1),
                 weight.reshape(weight.shape[0], weight.shape[1], 1, 1), bias)
    return y.reshape(weight.shape[0], n).T.reshape(*shape[:-1], weight.shape[0])


class Dense(nn.Linear):
    def forward(self, x):
        return dense(x, self.weight, self.bias)


class RouterOutput(typing.NamedTuple):
    logits: torch.Tensor  # [T, E] before scoring
    topk_ids: torch.Tensor  # [T, k] best first, ties to the lower id
    topk_weights: torch.Tensor  # [T, k] softmax probabilities renormalised over the k


class Router(nn.Module):
    """Softmax top-k router; returns its logits and the choice the layer will use."""

    def __init__(self, d_model, num_experts, top_k):
        super().__init__()
        self.proj = Dense(d_model, num_experts, bias=False)
        self.top_k = top_k

    def forward(self, x):
        logits = self.proj(x)
        probs = torch.softmax(logits.float(), dim=-1)
        weights, ids = stable_topk(probs, self.top_k)
        return RouterOutput(logits, ids, weights / weights.sum(-1, keepdim=True))


class MoEFeedForward(nn.Module):
    """Dropless token-choice MoE FFN; keeps its routing statistics of the last call."""

    def __init__(self, d_model, d_ff, num_experts, top_k, n_layers):
        super().__init__()
        self.num_experts = num_experts
        self.top_k = top_k
        self.router = Router(d_model, num_experts, top_k)
        # Stored [E, out, in] for dense().
        self.w_in = nn.Parameter(torch.randn(num_experts, d_ff, d_model) / math.sqrt(d_model))
        self.w_out = nn.Parameter(torch.randn(num_experts, d_model, d_ff) / math.sqrt(d_ff * 2 * n_layers))
        self.last = None

    def forward(self, x):
        shape = x.shape
        h = x.reshape(-1, shape[-1])
        t = h.shape[0]
        r = self.router(h)
        flat_ids = r.topk_ids.reshape(-1)
        flat_w = r.topk_weights.reshape(-1)
        token = torch.arange(t, device=h.device).repeat_interleave(self.top_k)
        order = torch.argsort(flat_ids, stable=True)
        counts = torch.bincount(flat_ids, minlength=self.num_experts)
        out = torch.zeros_like(h)
        start = 0
        for e, n in enumerate(counts.tolist()):
            if n == 0:
                continue
            sel = order[start : start + n]
            start += n
            rows = token[sel]
            y = dense(F.gelu(dense(h[rows], self.w_in[e])), self.w_out[e])
            out.index_add_(0, rows, y * flat_w[sel].unsqueeze(1).to(y.dtype))
        # routing.md: lb = E * sum_e (c[e] / T) * P[e]; z = mean logsumexp^2.
        logits = r.logits.float()
        big_p = torch.softmax(logits, dim=-1).mean(0)
        lb = self.num_experts * torch.sum(counts.float() / t * big_p)
        z = torch.logsumexp(logits, dim=-1).pow(2).mean()
        self.last = (lb, z, counts.detach())
        return out.reshape(shape)


class Block(nn.Module):
    def __init__(self, d_model, n_heads, d_ff, num_experts, top_k, n_layers):
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = Dense(d_model, 3 * d_model)
        self.proj = Dense(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.moe = MoEFeedForward(d_model, d_ff, num_experts, top_k, n_layers)

    def forward(self, x, causal_mask):
        b, s, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (t.view(b, s, self.n_heads, d // self.n_heads).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.n_heads)
        att = torch.softmax(att.masked_fill(causal_mask[:s, :s], float("-inf")), dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, s, d))
        return x + self.moe(self.ln2(x))


class TinyMoE(nn.Module):
    def __init__(self, vocab_size, d_model=128, n_layers=4, n_heads=4, d_ff=256, num_experts=8,
                 top_k=2, context=128):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Parameter(torch.zeros(context, d_model))
        self.blocks = nn.ModuleList(
            Block(d_model, n_heads, d_ff, num_experts, top_k, n_layers) for _ in range(n_layers)
        )
        self.ln = nn.LayerNorm(d_model)
        nn.init.normal_(self.embed.weight, std=0.02)
        nn.init.normal_(self.pos, std=0.01)
        self.register_buffer("causal", torch.triu(torch.ones(context, context, dtype=torch.bool), 1),
                             persistent=False)

    def forward(self, ids):
        x = self.embed(ids) + self.pos[: ids.shape[1]]
        for block in self.blocks:
            x = block(x, self.causal)
        return dense(self.ln(x), self.embed.weight)  # tied output head

    def routing_stats(self):
        """Per layer (lb_loss, z_loss, counts) of the last forward pass."""
        return [b.moe.last for b in self.blocks]


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def make_streams(corpus, tok):
    """Token streams per source for training and held out, documents joined by <doc>."""
    doc = tok.index[DOC]
    train, held = {}, {}
    for source, docs in corpus.items():
        tr, ho = [], []
        for name, text in docs:
            (ho if is_held_out(name) else tr).extend(tok.encode(text) + [doc])
        train[source] = np.asarray(tr, dtype=np.int64)
        held[source] = np.asarray(ho, dtype=np.int64)
    return train, held


def held_out_sequences(held, per_source, context):
    """per_source windows of context+1 tokens spread evenly over each held-out stream."""
    seqs, labels = [], []
    for source in SOURCES:
        stream = held[source]
        n_windows = len(stream) // (context + 1)
        if n_windows < per_source:
            raise SystemExit(f"only {n_windows} held-out windows of {source} text")
        picks = np.linspace(0, n_windows - 1, per_source).round().astype(int)
        for p in picks:
            seqs.append(stream[p * (context + 1) : (p + 1) * (context + 1)])
            labels.append(source)
    return np.stack(seqs), labels


def sample_batch(rng, train, batch, context):
    rows = []
    for i in range(batch):
        stream = train[SOURCES[i % len(SOURCES)]]  # equal share for each source
        start = rng.integers(0, len(stream) - context - 1)
        rows.append(stream[start : start + context + 1])
    return torch.from_numpy(np.stack(rows))


def record_dump(path, model, tok, held_seqs, held_labels, step, variant, log, args):
    """Runs the held-out sequences and writes one checkpoint dump; returns CE per label."""
    model.eval()
    names = [f"{i:02d}" for i in range(len(model.blocks))]
    rec = RoutingRecorder(model, top_k=args.top_k, layer_names=lambda q, pos: names[pos])
    losses = collections.defaultdict(list)
    description = (
        f"tiny-moe-{variant}: {args.layers} MoE layers, {args.experts} experts, top-{args.top_k}, "
        f"d_model {args.d_model}, vocab {len(tok.vocab)}, seed {args.seed}"
    )
    with DumpWriter(
        path, args.experts, args.top_k, scoring="softmax", normalize_topk=1, model=description,
        checkpoint=f"{variant} step {step}", checkpoint_step=step, vocab=tok.vocab, training_log=log,
    ) as writer:
        with torch.no_grad():
            for lo in range(0, len(held_seqs), 32):
                chunk = torch.from_numpy(held_seqs[lo : lo + 32])
                inputs, targets = chunk[:, :-1], chunk[:, 1:]
                logits = model(inputs)
                ce = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none").mean(1)
                labels = held_labels[lo : lo + 32]
                for label, value in zip(labels, ce.tolist()):
                    losses[label].append(value)
                rec.write_to(writer, inputs, labels)
    rec.remove()
    model.train()
    return {label: float(np.mean(v)) for label, v in losses.items()}


def train_variant(variant, corpus_data, args):
    tok, train, held_seqs, held_labels = corpus_data
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = TinyMoE(len(tok.vocab), args.d_model, args.layers, 4, args.d_ff, args.experts, args.top_k,
                    args.context)
    if variant == "collapsed" and args.collapse_nudge:
        # The nudge (documented in README-recorder.md): a router that starts out
        # confident, so that early random preferences are reinforced instead of washed
        # out. Nothing pushes towards any particular expert.
        with torch.no_grad():
            for block in model.blocks:
                block.moe.router.proj.weight.mul_(args.collapse_nudge)
    balanced = variant == "balanced"
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.01)
    warmup = max(1, args.steps // 20)

    def lr_at(step):
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, args.steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    log = TrainingLog(num_layers=args.layers, num_experts=args.experts)
    checkpoints = sorted({max(1, round(args.steps * q / 4)) for q in range(1, 5)})
    if args.checkpoint_steps:
        # A checkpoint series (the bundled one): dumps of the same held-out tokens at
        # these steps, early ones included to show the router settling.
        checkpoints = sorted({int(s) for s in args.checkpoint_steps.split(",")} | {args.steps})
    os.makedirs(args.out_dir, exist_ok=True)
    t0 = time.time()
    dumps = []
    ce_ema = None
    run_log, log_seconds = None, 0.0
    if args.run_log:  # the live run log `moescope watch` and the window follow
        run_log = RunLog(run_log_path(args, variant), args.layers, args.experts, top_k=args.top_k,
                         expert_bias=False, model=f"tiny-moe-{variant}, seed {args.seed}")
    for step in range(1, args.steps + 1):
        batch = sample_batch(rng, train, args.batch, args.context)
        logits = model(batch[:, :-1])
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        stats = model.routing_stats()
        lb = torch.stack([s[0] for s in stats])
        z = torch.stack([s[1] for s in stats])
        loss = ce
        if balanced:
            loss = loss + args.lb_coef * lb.sum() + args.z_coef * z.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        log.record(step, lb.detach().numpy(), z.detach().numpy(), torch.stack([s[2] for s in stats]).numpy())
        if run_log is not None:
            t_log = time.perf_counter()
            run_log.record(step, counts=torch.stack([s[2] for s in stats]), lb_loss=lb, z_loss=z)
            log_seconds += time.perf_counter() - t_log
        ce_ema = ce.item() if ce_ema is None else 0.9 * ce_ema + 0.1 * ce.item()
        if step % args.print_every == 0 or step == 1:
            counts = torch.stack([s[2] for s in stats]).float()
            top_share = (counts.max(1).values / counts.sum(1)).max().item()
            print(f"[{variant}] step {step:4d}  ce {ce.item():.3f} (ema {ce_ema:.3f})  "
                  f"lb {lb.mean().item():.3f}  z {z.mean().item():.2f}  "
                  f"busiest expert {top_share:.0%} of a layer's slots  {time.time() - t0:.0f}s",
                  flush=True)
        if step in checkpoints:
            path = os.path.join(args.out_dir, f"{variant}-step{step:05d}.h5")
            held_ce = record_dump(path, model, tok, held_seqs, held_labels, step, variant, log, args)
            dumps.append(path)
            print(f"[{variant}] checkpoint {step}: held-out ce "
                  + ", ".join(f"{k} {v:.3f}" for k, v in held_ce.items())
                  + f"  -> {path} ({os.path.getsize(path) / 1e6:.2f} MB)", flush=True)
    if run_log is not None:
        run_log.close()
        print(f"[{variant}] run log {run_log.path}: {1e3 * log_seconds / args.steps:.2f} ms per step "
              f"({100 * log_seconds / (time.time() - t0):.2f}% of the training time)", flush=True)
    a = log.arrays()
    tail = slice(-max(1, args.steps // 20), None)
    final = dict(
        ce=ce_ema,
        lb=float(a["lb_loss"][tail].mean()),
        z=float(a["z_loss"][tail].mean()),
        held=held_ce,
        seconds=time.time() - t0,
        dump=dumps[-1],
    )
    return final


def run_log_path(args, variant):
    """--run-log PATH as is for one variant, else PATH with -<variant> before .h5."""
    if len(args.variants.split(",")) == 1:
        return args.run_log
    root, ext = os.path.splitext(args.run_log)
    return f"{root}-{variant}{ext or '.h5'}"
def save_corpus_cache(path, tok, train, held):
    arrays = {f"train_{s}": train[s] for s in SOURCES}
    arrays.update({f"held_{s}": held[s] for s in SOURCES})
    np.savez_compressed(path, vocab=np.asarray(tok.vocab, dtype=str), **arrays)


def load_corpus_cache(path):
    data = np.load(path)
    tok = WordTokenizer([str(t) for t in data["vocab"]])
    return (tok, {s: data[f"train_{s}"] for s in SOURCES}, {s: data[f"held_{s}"] for s in SOURCES})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", required=True, help="where the checkpoint dumps go")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--samples-dir", help="also copy the final dumps here as sample-<variant>.h5")
    ap.add_argument("--variants", default="balanced,collapsed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--d-ff", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--experts", type=int, default=8)
    ap.add_argument("--top-k", type=int, default=2)
    ap.add_argument("--vocab-size", type=int, default=8000)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--lb-coef", type=float, default=0.01)
    ap.add_argument("--z-coef", type=float, default=0.001)
    ap.add_argument("--collapse-nudge", type=float, default=4.0,
                    help="collapsed variant only: scale the initial router weights by this (0 or 1: no nudge)")
    ap.add_argument("--held-out-per-source", type=int, default=32)
    ap.add_argument("--corpus-chars", type=float, default=3e6, help="characters of text per source")
    ap.add_argument("--print-every", type=int, default=50)
    ap.add_argument("--run-log", help="also stream every step into this live run log (one variant: "
                    "this path; several: -<variant> added before .h5)")
    ap.add_argument("--corpus-cache", help="token streams and vocabulary (.npz): read when the file exists, "
                    "else written after gathering, so another machine can train on the same tokens")
    ap.add_argument("--checkpoint-steps", help="comma-separated steps at which to write checkpoint dumps "
                    "(the last step is always one); default: every quarter of --steps")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    start = time.time()
    if args.corpus_cache and os.path.exists(args.corpus_cache):
        tok, train, held = load_corpus_cache(args.corpus_cache)
        corpus = {s: [] for s in SOURCES}
    else:
        corpus = gather_corpus(int(args.corpus_chars))
        train_texts = {s: [t for n, t in docs if not is_held_out(n)] for s, docs in corpus.items()}
        tok = WordTokenizer.learn(train_texts, args.vocab_size)
        train, held = make_streams(corpus, tok)
        if args.corpus_cache:
            save_corpus_cache(args.corpus_cache, tok, train, held)
    held_seqs, held_labels = held_out_sequences(held, args.held_out_per_source, args.context)
    unk = tok.index[UNK]
    print(f"corpus and tokenizer: {time.time() - start:.0f}s, vocab {len(tok.vocab)}")
    for s in SOURCES:
        print(f"  {s:8s} {len(corpus[s]):5d} documents, {len(train[s]):8d} training tokens, "
              f"{len(held[s]):7d} held out, unknown {np.mean(train[s] == unk):.2%}")

    results = {}
    for variant in args.variants.split(","):
        results[variant] = train_variant(variant, (tok, train, held_seqs, held_labels), args)

    print()
    for variant, r in results.items():
        print(f"{variant}: final train ce {r['ce']:.3f}, lb_loss {r['lb']:.3f} (k = {args.top_k} is balanced), "
              f"z_loss {r['z']:.2f}; held-out ce "
              + ", ".join(f"{k} {v:.3f}" for k, v in r["held"].items())
              + f"; {r['seconds']:.0f}s")
        if args.samples_dir:
            os.makedirs(args.samples_dir, exist_ok=True)
            target = os.path.join(args.samples_dir, f"sample-{variant}.h5")
            tmp = target + ".part"
            shutil.copyfile(r["dump"], tmp)
            os.replace(tmp, target)
            print(f"  -> {target}")
    print(f"wall time {time.time() - start:.0f}s")


if __name__ == "__main__":
    main()
