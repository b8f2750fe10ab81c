#pragma once
// vLLM's routed experts (`--enable-return-routed-experts`) as users save them:
// RequestOutput.prompt_routed_experts [prompt_len, L, k] and
// CompletionOutput.routed_experts [gen_len, L, k] (int16, int32 in some versions).
//
// - .npy: one request;
// - .npz: arrays `prompt` and `gen` (one request, prompt first), optionally with
//   `prompt_token_ids` / `token_ids`; or one [tokens, L, k] array per request, with
//   `NAME_token_ids` (or `token_ids` when there is a single request);
// - JSON (a document, or JSON Lines with one request per line): the nested lists, or
//   base64 of raw little-endian int16/int32 ({"data", "shape", "dtype"} or a bare
//   string), in a vLLM response (`prompt_routed_experts`, `prompt_token_ids`,
//   `choices[i].routed_experts`, `choices[i].token_ids`; `outputs` for a saved
//   RequestOutput), in an object of named requests, or as a bare array.
// Generated tokens: vLLM routes every generated token but the last, so gen ids one
// longer than the gen rows lose their last id.
#include <cstdint>
#include <string>
#include <vector>

namespace moescope::import {

struct RoutedRequest {
    std::string name;                   // the sequence label: array or key name, "choice 0", ...
    std::int64_t rows = 0;              // tokens
    std::vector<std::int64_t> experts;  // [rows * L * k], as saved (not checked against E)
    std::vector<std::int64_t> tokenIds; // [rows], or empty when the source has none
};

struct RoutedExperts {
    std::int64_t layers = 0, topK = 0; // L and k, the same for every request
    std::vector<RoutedRequest> requests;
    std::string layout; // "npy", "npz prompt/gen", "npz per request", "json nested lists", "json base64"
    std::vector<std::string> warnings;
};

// Reads `path` by its extension (.npy, .npz, .json, .jsonl) or, failing that, its
// first bytes. Throws DumpError naming the file, the array or request, and the problem.
RoutedExperts readVllmRoutedExperts(const std::string &path);

// Whether `path` looks like a vLLM record this reader takes (by extension).
bool looksLikeVllmRoutedExperts(const std::string &path);

} // namespace moescope::import
