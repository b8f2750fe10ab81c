"""`moescope import` on vLLM routed experts saved the way users save them.

vLLM hands out prompt_routed_experts [prompt_len, L, k] and routed_experts [gen_len,
L, k] as int16 numpy arrays (int32 in some versions), and its OpenAI-compatible
server returns them as nested lists or base64 of the raw little-endian bytes. The
fixtures are written with numpy's own np.save / np.savez / np.savez_compressed and
Python's json, the writers users have. Expected tokens, choices and counts come from
the arrays drawn here. Runs only when MOESCOPE_BIN names the binary.
"""

import base64
import json
import os
import subprocess
import unittest

import h5py
import numpy as np

from .support import TempDirTestCase

L, K, E = 3, 2, 8


def moescope(*args):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([os.environ["MOESCOPE_BIN"], *args], capture_output=True, text=True, env=env, timeout=120)


def routed(rng, tokens, dtype=np.int16):
    """[tokens, L, K] distinct experts per token and layer."""
    return np.argsort(rng.random((tokens, L, E)), axis=2)[:, :, :K].astype(dtype)


def text(values):
    return [v.decode() if isinstance(v, bytes) else v for v in values]


@unittest.skipUnless(os.environ.get("MOESCOPE_BIN"), "MOESCOPE_BIN is not set")
class VllmImportTest(TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.rng = np.random.default_rng(11)

    def imported(self, source, *options):
        out = self.path("out.h5")
        proc = moescope("import", source, "-o", out, *options)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return out, proc.stderr

    def check(self, out, requests, ids=None, labels=None, layout=None):
        """requests: [tokens, L, K] per sequence; ids: token ids per sequence (None: zeros)."""
        with h5py.File(out, "r") as f:
            self.assertEqual(f.attrs["source"], "vllm")
            if layout:
                self.assertEqual(f.attrs["source_layout"], layout)
            self.assertEqual(int(f.attrs["top_k"]), K)
            self.assertEqual(sorted(f["layers"]), [f"{l:02d}" for l in range(L)])
            offsets = np.cumsum([0] + [len(r) for r in requests])
            np.testing.assert_array_equal(f["tokens/sequence_offsets"][()], offsets)
            if ids is not None:
                np.testing.assert_array_equal(f["tokens/ids"][()], np.concatenate(ids))
            if labels is not None:
                self.assertEqual(text(f["tokens/sequence_labels"][()]), labels)
            for l in range(L):
                want = np.concatenate([r[:, l, :] for r in requests])
                np.testing.assert_array_equal(f[f"layers/{l:02d}/topk_ids"][()], want)
        stats = json.loads(moescope("stats", out, "--json").stdout)
        for l, layer in enumerate(stats["layers"]):
            want = np.concatenate([r[:, l, :] for r in requests]).ravel()
            self.assertEqual(layer["counts"], np.bincount(want, minlength=int(stats["num_experts"])).tolist())

    def test_npy_one_request(self):
        r = routed(self.rng, 7)
        np.save(self.path("req.npy"), r)
        out, err = self.imported(self.path("req.npy"), "--num-experts", str(E))
        self.check(out, [r], layout="npy")
        self.assertNotIn("not recorded", err)

    def test_npz_prompt_and_gen_with_token_ids(self):
        prompt, gen = routed(self.rng, 5), routed(self.rng, 3, np.int32)
        prompt_ids = self.rng.integers(0, 1000, 5)
        gen_ids = self.rng.integers(0, 1000, 4)  # the last generated token has no routing
        np.savez_compressed(self.path("r.npz"), prompt=prompt, gen=gen, prompt_token_ids=prompt_ids,
                            token_ids=gen_ids)
        out, err = self.imported(self.path("r.npz"))
        self.assertIn("not recorded", err)  # E taken from the ids seen
        self.check(out, [np.concatenate([prompt, gen])], ids=[np.concatenate([prompt_ids, gen_ids[:3]])],
                   layout="npz prompt/gen")

    def test_npz_one_array_per_request(self):
        a, b = routed(self.rng, 4), routed(self.rng, 6)
        np.savez(self.path("many.npz"), alpha=a, beta=b, beta_token_ids=np.arange(6))
        out, _ = self.imported(self.path("many.npz"), "--num-experts", str(E))
        self.check(out, [a, b], labels=["alpha", "beta"], layout="npz per request")

    def test_json_response_nested_lists(self):
        prompt, gen = routed(self.rng, 4), routed(self.rng, 2)
        response = {"id": "cmpl-1", "prompt_routed_experts": prompt.tolist(), "prompt_token_ids": [5, 6, 7, 8],
                    "choices": [{"index": 0, "text": "hi", "routed_experts": gen.tolist(), "token_ids": [9, 10, 11]}]}
        with open(self.path("resp.json"), "w") as fh:
            json.dump(response, fh)
        out, _ = self.imported(self.path("resp.json"), "--num-experts", str(E), "--format", "vllm")
        self.check(out, [np.concatenate([prompt, gen])], ids=[[5, 6, 7, 8, 9, 10]], layout="json nested lists")

    def test_json_base64(self):
        prompt, gen = routed(self.rng, 3), routed(self.rng, 5)
        encode = lambda a: base64.b64encode(a.astype("<i2").tobytes()).decode()  # noqa: E731
        response = {"prompt_routed_experts": {"encoding": "base64", "dtype": "int16", "shape": list(prompt.shape),
                                              "data": encode(prompt)},
                    "choices": [{"routed_experts": encode(gen)}]}  # bare base64: L and k from the prompt
        with open(self.path("b64.json"), "w") as fh:
            json.dump(response, fh)
        out, _ = self.imported(self.path("b64.json"), "--num-experts", str(E))
        self.check(out, [np.concatenate([prompt, gen])], layout="json base64")

    def test_jsonl_one_response_per_line(self):
        parts = [(routed(self.rng, 3), routed(self.rng, 2)), (routed(self.rng, 4), routed(self.rng, 1))]
        with open(self.path("many.jsonl"), "w") as fh:
            for prompt, gen in parts:
                fh.write(json.dumps({"prompt_routed_experts": prompt.tolist(),
                                     "choices": [{"routed_experts": gen.tolist()}]}) + "\n")
        out, _ = self.imported(self.path("many.jsonl"), "--num-experts", str(E))
        self.check(out, [np.concatenate(p) for p in parts], labels=["request 0", "request 1"])

    def refused(self, name, *fragments, options=()):
        out = self.path("refused.h5")
        proc = moescope("import", self.path(name), "-o", out, "--format", "vllm", *options)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        for fragment in (self.path(name),) + fragments:
            self.assertIn(fragment, proc.stderr)
        self.assertFalse([n for n in os.listdir(self.dir) if n.startswith(".refused") or n == "refused.h5"])

    def test_npz_without_the_expected_arrays(self):
        np.savez(self.path("odd.npz"), weights=np.zeros((4, 4), np.int32), token_ids=np.arange(3))
        self.refused("odd.npz", "holds no routed-experts array", "weights [4, 4]")

    def test_expert_id_outside_e(self):
        r = routed(self.rng, 4)
        r[2, 1, 0] = E + 3
        np.save(self.path("big.npy"), r)
        self.refused("big.npy", "token 2, layer 1", f"expert id {E + 3} is not below E = {E}",
                     options=("--num-experts", str(E)))

    def test_negative_expert_id(self):
        r = routed(self.rng, 4)
        r[3, 0, 1] = -1
        np.save(self.path("neg.npy"), r)
        self.refused("neg.npy", "token 3, layer 0", "expert id -1 is negative")

    def test_top_k_that_differs_between_parts(self):
        np.savez(self.path("k.npz"), prompt=routed(self.rng, 3), gen=routed(self.rng, 2)[:, :, :1])
        self.refused("k.npz", "array 'gen'", "top-k differ")


if __name__ == "__main__":
    unittest.main()
