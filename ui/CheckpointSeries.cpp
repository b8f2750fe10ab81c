#include "CheckpointSeries.h"

#include "io/OpenDump.h"

#include <QFileInfo>

namespace moescope::ui {

CheckpointComparisonPtr compareFiles(const QStringList &paths, const Progress &progress)
{
    std::vector<std::shared_ptr<const RoutingDump>> opened;
    std::vector<const RoutingDump *> dumps;
    const Progress opening = progress.part(0, 0.1);
    for (int i = 0; i < paths.size(); ++i) {
        opened.push_back(openDump(paths[i].toStdString()));
        dumps.push_back(opened.back().get());
        opening.report(double(i + 1) / double(paths.size()));
    }
    return std::make_shared<const CheckpointComparison>(compareCheckpoints(dumps, {}, progress.part(0.1, 1.0)));
}

QString checkpointLabel(const CheckpointComparison &comparison, std::size_t checkpoint)
{
    const auto &step = comparison.steps.at(checkpoint);
    if (step)
        return QStringLiteral("step %1").arg(*step);
    return QFileInfo(QString::fromStdString(comparison.files.at(checkpoint))).fileName();
}

} // namespace moescope::ui
