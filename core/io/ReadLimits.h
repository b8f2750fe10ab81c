#pragma once
// Limits of what MoE Scope reads from a dump, whatever the file declares.
namespace moescope {

// The most experts per token (top_k, route's --top-k): the analyses of expert pairs
// grow with k^2 per token and their tables with k x E, so k = E = 4096 would take
// gigabytes and minutes for a few tokens. Real models choose 1 to 16.
inline constexpr int kMaxTopK = 64;

} // namespace moescope
