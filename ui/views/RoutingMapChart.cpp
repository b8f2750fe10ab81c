#include "RoutingMapChart.h"

#include "ExpertPalette.h"
#include "RoutingMapBins.h"
#include "RoutingMapPainter.h"
#include "export/Csv.h"

#include <QPainter>
#include <QTextStream>

#include <algorithm>
#include <cmath>

namespace moescope::ui {

void renderRoutingMap(const DumpSnapshot &snapshot, const RoutingMapParameters &parameters, QPainter &painter,
                      const QSize &size)
{
    const ExpertPalette palette(snapshot.numExperts());
    RoutingMapScene scene;
    scene.snapshot = &snapshot;
    scene.sequence = parameters.sequence;
    scene.selection = parameters.selection;
    scene.dimOthers = parameters.dimOthers;
    scene.palette = &palette;
    if (parameters.selection.tokenId >= 0)
        scene.tokenPositions = snapshot.tokenPositions().of(parameters.selection.tokenId);
    scene.font = parameters.font;
    scene.withTitle = parameters.withTitle;
    double begin = parameters.begin, count = parameters.count;
    if (count <= 0) {
        begin = 0;
        count = double(RoutingMapPainter::sequenceLength(&snapshot, parameters.sequence));
    }
    // The header is taller once token text fits, so the width per token is found
    // from a first layout and then fixed by the second.
    double ppt = RoutingMapPainter::layout(&snapshot, scene.font, size, 1.0, scene.withTitle).map.width() /
                 std::max(count, 1.0);
    const RoutingMapPainter::Layout lay =
        RoutingMapPainter::layout(&snapshot, scene.font, size, ppt, scene.withTitle);
    ppt = lay.map.width() / std::max(count, 1.0);
    const RoutingWindow window =
        binRoutingMap(snapshot, routingMapRequest(snapshot, parameters.sequence, begin, ppt, lay.map.width(),
                                                  parameters.selection.expert));
    scene.begin = begin;
    scene.pixelsPerToken = ppt;
    scene.window = &window;
    RoutingMapPainter::paint(painter, scene, size);
}

void writeRoutingMapCsv(const DumpSnapshot *snapshot, const RoutingMapParameters &parameters,
                        QTextStream &out)
{
    QStringList header = {"position", "sequence", "position_in_sequence", "token_id", "token"};
    if (!snapshot) {
        writeCsvRow(out, header);
        return;
    }
    const auto &a = snapshot->analysis;
    for (int l = 0; l < snapshot->numLayers(); ++l)
        header << QStringLiteral("layer_%1").arg(QString::fromStdString(a.info.layers[std::size_t(l)].name));
    writeCsvRow(out, header);
    const std::int64_t sequence = parameters.sequence;
    const std::int64_t seqBegin = snapshot->sequenceBegin(sequence);
    std::int64_t first = 0, last = RoutingMapPainter::sequenceLength(snapshot, sequence);
    if (parameters.count > 0) {
        first = std::int64_t(std::floor(parameters.begin));
        last = std::min(last, std::int64_t(std::ceil(parameters.begin + parameters.count)));
    }
    // Each layer's cells first, one layer in memory at a time (a dump's layers need
    // not all fit), then the rows.
    std::vector<QStringList> cells(std::size_t(snapshot->numLayers()));
    for (std::size_t l = 0; l < cells.size(); ++l) {
        const LayerPassPtr pass = a.pass(l);
        const LayerChoices &c = pass->choices;
        for (std::int64_t position = seqBegin + first; position < seqBegin + last; ++position) {
            QStringList ids;
            if (c.valid[std::size_t(position)])
                for (int j = 0; j < c.topK; ++j)
                    ids << QString::number(c.ids[std::size_t(position) * std::size_t(c.topK) + std::size_t(j)]);
            cells[l] << ids.join(u' ');
        }
    }
    for (std::int64_t t = first; t < last; ++t) {
        const std::int64_t position = seqBegin + t;
        QStringList row = {QString::number(position), QString::number(sequence), QString::number(t),
                           QString::number(a.tokenIds[std::size_t(position)]),
                           QString::fromStdString(a.textAt(position))};
        for (const QStringList &layer : cells)
            row << layer[qsizetype(t - first)];
        writeCsvRow(out, row);
    }
}

QSize routingMapExportSize(const DumpSnapshot *snapshot)
{
    const int L = snapshot ? snapshot->numLayers() : 8;
    const int rowHeight = std::clamp(640 / std::max(L, 1), 8, 28);
    return {1400, 140 + L * rowHeight};
}

void RoutingMapChart::renderChart(QPainter &painter, const QSize &size)
{
    if (m_snapshot) {
        renderRoutingMap(*m_snapshot, m_parameters, painter, size);
        return;
    }
    RoutingMapScene empty;
    empty.font = m_parameters.font;
    RoutingMapPainter::paint(painter, empty, size);
}

} // namespace moescope::ui
