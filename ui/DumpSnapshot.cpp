#include "DumpSnapshot.h"

#include "Format.h"
#include "io/OpenDump.h"

#include <algorithm>

namespace moescope::ui {

QString DumpSnapshot::layerName(int layer) const
{
    const LayerInfo &li = analysis.info.layers.at(std::size_t(layer));
    const QString name = QString::fromStdString(li.name);
    if (li.index && QString::number(*li.index) != name && name.toLongLong() != *li.index)
        return QStringLiteral("%1 (index %2)").arg(name).arg(*li.index);
    return name;
}

QString DumpSnapshot::tokenDisplay(std::int64_t position) const
{
    return visibleWhitespace(QString::fromStdString(analysis.textAt(position)));
}

QString DumpSnapshot::tokenIdDisplay(std::int64_t tokenId) const
{
    return visibleWhitespace(QString::fromStdString(tokenText(analysis.vocab, tokenId)));
}

QString DumpSnapshot::sequenceLabel(std::int64_t s) const
{
    const auto &labels = analysis.info.sequenceLabels;
    return s >= 0 && std::size_t(s) < labels.size() ? QString::fromStdString(labels[std::size_t(s)]) : QString();
}

int DumpSnapshot::busiestExpert(int layer) const
{
    const auto &counts = analysis.report.layers.at(std::size_t(layer)).counts;
    if (counts.empty())
        return 0;
    return int(std::max_element(counts.begin(), counts.end()) - counts.begin());
}

const TokenPositions &DumpSnapshot::tokenPositions() const
{
    std::call_once(m_tokenPositions.built, [this] { m_tokenPositions.index = TokenPositions(analysis.tokenIds); });
    return m_tokenPositions.index;
}

std::size_t layerMemoryBudget()
{
    bool ok = false;
    const qint64 mb = qEnvironmentVariableIntValue("MOESCOPE_LAYER_MEMORY_MB", &ok);
    return ok && mb > 0 ? std::size_t(mb) << 20 : LayerStore::kDefaultBudget;
}

DumpSnapshotPtr loadSnapshot(const QString &path, const Progress &progress)
{
    auto snapshot = std::make_shared<DumpSnapshot>();
    snapshot->path = path;
    auto dump = openDump(path.toStdString(), progress.part(0.0, 0.02));
    snapshot->analysis = analyzeDump(dump, {}, progress.part(0.02, 1.0), {}, layerMemoryBudget());
    snapshot->dump = std::move(dump);
    return snapshot;
}

} // namespace moescope::ui
