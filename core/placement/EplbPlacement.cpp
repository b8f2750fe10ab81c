#include "placement/EplbPlacement.h"

#include <algorithm>
#include <numeric>

namespace moescope::eplb {

std::vector<int> balancedPacking(const std::vector<double> &weight, int packs, std::vector<int> *slotInPack)
{
    const int n = int(weight.size());
    const int perPack = n / packs;
    std::vector<int> pack(n, 0), slot(n, 0);
    if (perPack == 1) {
        std::iota(pack.begin(), pack.end(), 0);
    } else {
        std::vector<int> order(n);
        std::iota(order.begin(), order.end(), 0);
        // Heaviest first; equal weights keep id order (any order of equal items gives
        // the same pack loads).
        std::stable_sort(order.begin(), order.end(),
                         [&](int a, int b) { return float(weight[a]) > float(weight[b]); });
        std::vector<float> packWeight(packs, 0.0f);
        std::vector<int> packItems(packs, 0);
        for (int item : order) {
            int best = -1;
            for (int p = 0; p < packs; ++p)
                if (packItems[p] < perPack && (best < 0 || packWeight[p] < packWeight[best]))
                    best = p;
            pack[item] = best;
            slot[item] = packItems[best]++;
            packWeight[best] += float(weight[item]);
        }
    }
    if (slotInPack)
        *slotInPack = std::move(slot);
    return pack;
}

std::vector<int> replicateExperts(const std::vector<double> &weight, int physical, std::vector<int> &replicas)
{
    const int n = int(weight.size());
    std::vector<int> slotExpert(physical);
    std::iota(slotExpert.begin(), slotExpert.begin() + n, 0);
    replicas.assign(n, 1);
    for (int s = n; s < physical; ++s) {
        int best = 0;
        for (int e = 1; e < n; ++e)
            if (float(weight[e]) / float(replicas[e]) > float(weight[best]) / float(replicas[best]))
                best = e;
        slotExpert[s] = best;
        ++replicas[best];
    }
    return slotExpert;
}

std::vector<int> rebalance(const std::vector<double> &load, int physical, int groups, int nodes, int ranks)
{
    if (groups % nodes != 0)
        groups = nodes = 1; // the global policy: one group on one node
    const int E = int(load.size());
    const int groupSize = E / groups, groupsPerNode = groups / nodes;
    const int expertsPerNode = E / nodes, slotsPerNode = physical / nodes;
    const int ranksPerNode = ranks / nodes, slotsPerRank = physical / ranks;

    // (1) Groups onto nodes; the experts renumbered node by node ("node-major" ids).
    std::vector<double> groupLoad(groups, 0.0);
    for (int e = 0; e < E; ++e)
        groupLoad[e / groupSize] += double(float(load[e]));
    std::vector<int> groupSlot;
    const std::vector<int> groupNode = balancedPacking(groupLoad, nodes, &groupSlot);
    std::vector<int> nodeMajorToExpert(E);
    for (int e = 0; e < E; ++e) {
        const int g = e / groupSize;
        nodeMajorToExpert[(groupNode[g] * groupsPerNode + groupSlot[g]) * groupSize + e % groupSize] = e;
    }

    std::vector<int> slotExpert(physical);
    for (int node = 0; node < nodes; ++node) {
        // (2) Replicas within the node.
        std::vector<double> nodeLoad(expertsPerNode);
        for (int i = 0; i < expertsPerNode; ++i)
            nodeLoad[i] = load[nodeMajorToExpert[node * expertsPerNode + i]];
        std::vector<int> replicas;
        const std::vector<int> physToLocal = replicateExperts(nodeLoad, slotsPerNode, replicas);
        // (3) The node's physical experts onto its ranks, by load per replica.
        std::vector<double> perReplica(slotsPerNode);
        for (int p = 0; p < slotsPerNode; ++p)
            perReplica[p] = float(nodeLoad[physToLocal[p]]) / float(replicas[physToLocal[p]]);
        std::vector<int> slotInRank;
        const std::vector<int> rankInNode = balancedPacking(perReplica, ranksPerNode, &slotInRank);
        for (int p = 0; p < slotsPerNode; ++p) {
            const int slot = node * slotsPerNode + rankInNode[p] * slotsPerRank + slotInRank[p];
            slotExpert[slot] = nodeMajorToExpert[node * expertsPerNode + physToLocal[p]];
        }
    }
    return slotExpert;
}

} // namespace moescope::eplb
