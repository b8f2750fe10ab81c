#include "placement/ExpertPlacement.h"

#include "placement/EplbPlacement.h"

#include <stdexcept>

namespace moescope {

const char *placementPolicyName(PlacementPolicy policy)
{
    switch (policy) {
    case PlacementPolicy::Contiguous: return "contiguous";
    case PlacementPolicy::RoundRobin: return "round-robin";
    case PlacementPolicy::Eplb: return "eplb";
    }
    return "?";
}

std::vector<int> ExpertPlacement::ranksOf(int expert) const
{
    std::vector<int> out;
    for (int s = 0; s < int(slotExpert.size()); ++s)
        if (slotExpert[s] == expert)
            out.push_back(rankOfSlot(s));
    return out;
}

std::string placementRuleBroken(const PlacementSettings &s, int E)
{
    const std::string e = std::to_string(E), r = std::to_string(s.ranks);
    if (s.ranks < 1)
        return "the number of ranks R must be at least 1 (got " + r + ")";
    if (E < 1)
        return "the layer has no experts";
    const int P = s.physicalExperts > 0 ? s.physicalExperts : E;
    if (s.policy != PlacementPolicy::Eplb && P != E)
        return "redundant replicas (P = " + std::to_string(P) + " > E = " + e + ") need the eplb policy";
    if (P == E && E % s.ranks != 0)
        return "E = " + e + " experts must be a multiple of R = " + r + " ranks without redundant replicas";
    if (P < E)
        return "P = " + std::to_string(P) + " physical experts must be at least E = " + e;
    if (P % s.ranks != 0)
        return "P = " + std::to_string(P) + " physical experts must be a multiple of R = " + r + " ranks";
    if (s.policy == PlacementPolicy::Eplb) {
        if (s.groups < 1 || E % s.groups != 0)
            return "G = " + std::to_string(s.groups) + " expert groups must divide E = " + e;
        if (s.nodes < 1 || s.ranks % s.nodes != 0)
            return "N = " + std::to_string(s.nodes) + " nodes must divide R = " + r + " ranks";
    }
    return {};
}

ExpertPlacement placeExperts(const PlacementSettings &settings, const std::vector<double> &planLoad)
{
    const int E = int(planLoad.size());
    const std::string broken = placementRuleBroken(settings, E);
    if (!broken.empty())
        throw std::invalid_argument(broken);
    ExpertPlacement p;
    p.numExperts = E;
    p.ranks = settings.ranks;
    const int perRank = E / settings.ranks;
    switch (settings.policy) {
    case PlacementPolicy::Contiguous:
        for (int e = 0; e < E; ++e)
            p.slotExpert.push_back(e); // rank e / (E / R)
        break;
    case PlacementPolicy::RoundRobin:
        for (int r = 0; r < settings.ranks; ++r)
            for (int j = 0; j < perRank; ++j)
                p.slotExpert.push_back(r + j * settings.ranks); // rank e mod R
        break;
    case PlacementPolicy::Eplb: {
        const int P = settings.physicalExperts > 0 ? settings.physicalExperts : E;
        p.slotExpert = eplb::rebalance(planLoad, P, settings.groups, settings.nodes, settings.ranks);
        break;
    }
    }
    p.replicas.assign(E, 0);
    for (int e : p.slotExpert)
        ++p.replicas[e];
    return p;
}

} // namespace moescope
