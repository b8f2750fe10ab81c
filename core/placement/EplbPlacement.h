#pragma once
// DeepSeek's expert-parallel load balancer (EPLB, `rebalance_experts`), written from
// its description: pack expert groups onto nodes, replicate the heaviest experts
// within each node, then pack each node's physical experts onto its ranks. Greedy
// steps break ties as the reference does: the first (lowest-numbered) pack or expert
// among equals. Like the reference, every decision compares loads in single
// precision (float), so that near-equal loads resolve as there; the loads this
// placement then carries are summed in double by rankLoads.
#include <vector>

namespace moescope::eplb {

// Balanced packing: items (weight[i]) into `packs` packs of exactly n / packs items
// each, heaviest item first, each into the lightest pack that still has room (the
// lowest-numbered among equally light ones). With one item per pack, item i goes to
// pack i. Returns the pack of each item; `slotInPack` (when given) receives each
// item's position within its pack, in order of arrival.
std::vector<int> balancedPacking(const std::vector<double> &weight, int packs, std::vector<int> *slotInPack = nullptr);

// Adds replicas one at a time, each to the expert with the largest load per replica
// (the lowest id among equals), until there are `physical` slots. Returns the
// logical expert of each physical slot: slots 0..E-1 are the experts themselves, then
// the added replicas in the order they were added. `replicas` receives the count per
// expert.
std::vector<int> replicateExperts(const std::vector<double> &weight, int physical, std::vector<int> &replicas);

// The whole balancer for one layer: the logical expert of each of the P physical
// slots, slot s on rank s / (P / R). Hierarchical (groups packed on nodes) when G is a
// multiple of N, else global (one group, one node). Preconditions as checked by
// placementRuleBroken.
std::vector<int> rebalance(const std::vector<double> &load, int physical, int groups, int nodes, int ranks);

} // namespace moescope::eplb
