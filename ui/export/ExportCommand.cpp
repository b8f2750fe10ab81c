#include "ExportCommand.h"

#include "ChartExport.h"
#include "DumpSnapshot.h"
#include "ReportWriter.h"
#include "io/DumpError.h"
#include "routing/RoutingBackend.h"
#include "PairMatrix.h"
#include "plots/ExpertPairsPlot.h"
#include "plots/LoadHeatmapPlot.h"
#include "plots/ProfilePlot.h"
#include "plots/TrainingPlot.h"
#include "plots/UtilizationPlot.h"
#include "views/RoutingMapChart.h"

#include <iostream>
#include <memory>

namespace moescope::ui {

namespace {

std::optional<long long> integerValue(const QString &text, bool &ok)
{
    const long long v = text.toLongLong(&ok);
    return ok ? std::optional<long long>(v) : std::nullopt;
}

void say(const QString &message) { std::cerr << "moescope export: " << message.toStdString() << "\n"; }

} // namespace

std::optional<ExportArguments> parseExportArguments(const QStringList &words, QString &error)
{
    ExportArguments args;
    for (qsizetype i = 0; i < words.size(); ++i) {
        QString word = words[i];
        QString value;
        bool hasInlineValue = false;
        if (word.startsWith(QStringLiteral("--")) && word.contains(u'=')) {
            value = word.section(u'=', 1);
            word = word.section(u'=', 0, 0);
            hasInlineValue = true;
        }
        const bool isOption = word.startsWith(u'-') && word.size() > 1;
        if (!isOption) {
            if (!args.file.isEmpty()) {
                error = QStringLiteral("unexpected argument '%1' (one FILE only)").arg(word);
                return std::nullopt;
            }
            args.file = word;
            continue;
        }
        static const QStringList known = {"--chart", "--layer", "--expert", "--sequence", "-o", "--output",
                                          "--width", "--height", "--dpi"};
        if (!known.contains(word)) {
            error = QStringLiteral("unknown option '%1'").arg(word);
            return std::nullopt;
        }
        if (!hasInlineValue) {
            if (i + 1 >= words.size()) {
                error = QStringLiteral("%1 needs a value").arg(word);
                return std::nullopt;
            }
            value = words[++i];
        }
        bool ok = true;
        if (word == u"--chart")
            args.chart = value;
        else if (word == u"-o" || word == u"--output")
            args.output = value;
        else if (word == u"--layer")
            args.layer = integerValue(value, ok);
        else if (word == u"--expert")
            args.expert = integerValue(value, ok);
        else if (word == u"--sequence")
            args.sequence = integerValue(value, ok);
        else if (word == u"--width")
            args.width = value.toInt(&ok);
        else if (word == u"--height")
            args.height = value.toInt(&ok);
        else if (word == u"--dpi")
            args.dpi = value.toInt(&ok);
        if (!ok) {
            error = QStringLiteral("%1 takes an integer, not '%2'").arg(word, value);
            return std::nullopt;
        }
    }
    if (args.file.isEmpty())
        error = QStringLiteral("FILE is required");
    else if (args.chart.isEmpty())
        error = QStringLiteral("--chart NAME is required (%1)").arg(exportChartNames().join(QStringLiteral(", ")));
    else if (!exportChartNames().contains(args.chart))
        error = QStringLiteral("unknown chart '%1' (one of %2)").arg(args.chart, exportChartNames().join(QStringLiteral(", ")));
    else if (args.output.isEmpty())
        error = QStringLiteral("-o OUT is required");
    else if (!exportFormatForPath(args.output))
        error = QStringLiteral("OUT must end in .png, .svg, .pdf or .csv: '%1'").arg(args.output);
    else if (args.chart == u"report" && exportFormatForPath(args.output) != ExportFormat::Pdf)
        error = QStringLiteral("the report is a PDF: OUT must end in .pdf");
    else if ((args.width && args.width < 16) || (args.height && args.height < 16) || args.dpi < 24 || args.dpi > 1200)
        error = QStringLiteral("--width/--height must be at least 16 and --dpi 24 to 1200");
    if (!error.isEmpty())
        return std::nullopt;
    return args;
}

int runExport(const ExportArguments &args)
{
    DumpSnapshotPtr snapshot;
    try {
        snapshot = loadSnapshot(args.file);
    } catch (const std::exception &e) {
        say(QString::fromStdString(e.what()));
        return 1;
    }
    for (const std::string &w : snapshot->info().warnings)
        say(QStringLiteral("warning: %1").arg(QString::fromStdString(w)));

    const int L = snapshot->numLayers(), E = snapshot->numExperts();
    const long long S = snapshot->numSequences();
    if (args.layer && (*args.layer < 0 || *args.layer >= L)) {
        say(QStringLiteral("--layer must be 0 to %1 (the position in the ordered layer list)").arg(L - 1));
        return 2;
    }
    if (args.expert && (*args.expert < 0 || *args.expert >= E)) {
        say(QStringLiteral("--expert must be 0 to %1").arg(E - 1));
        return 2;
    }
    if (args.sequence && (*args.sequence < 0 || *args.sequence >= S)) {
        say(QStringLiteral("--sequence must be 0 to %1").arg(S - 1));
        return 2;
    }
    const int layer = int(args.layer.value_or(0));
    // Without --expert: the layer's busiest expert, the one most worth a look.
    const int expert = int(args.expert.value_or(snapshot->busiestExpert(layer)));
    const std::int64_t sequence = args.sequence.value_or(0);

    QString error;
    if (args.chart == u"report") {
        ReportContent content;
        content.snapshot = snapshot;
        content.layer = layer;
        content.sequence = sequence;
        content.profiles = busiestExpertProfiles(*snapshot, layer);
        error = writeReport(content, args.output);
    } else {
        std::unique_ptr<ChartSource> chart;
        if (args.chart == u"overview") {
            auto plot = std::make_unique<LoadHeatmapPlot>();
            plot->setSnapshot(snapshot);
            if (args.layer || args.expert)
                plot->setSelection(layer, expert);
            chart = std::move(plot);
        } else if (args.chart == u"utilization") {
            auto plot = std::make_unique<UtilizationPlot>();
            plot->setSnapshot(snapshot);
            plot->setLayer(layer);
            if (args.expert)
                plot->setSelectedExpert(expert);
            chart = std::move(plot);
        } else if (args.chart == u"routing-map") {
            RoutingMapParameters map;
            map.sequence = sequence;
            map.selection.layer = args.layer ? layer : -1;
            map.selection.expert = args.expert ? expert : -1;
            chart = std::make_unique<RoutingMapChart>(snapshot, map);
        } else if (args.chart == u"profile") {
            auto plot = std::make_unique<ProfilePlot>();
            plot->setProfile(snapshot, layer,
                             expertProfile(snapshot->analysis.passes[std::size_t(layer)].choices,
                                           snapshot->analysis.tokenIds, expert));
            chart = std::move(plot);
        } else if (args.chart == u"training") {
            if (!snapshot->analysis.training) {
                say(QStringLiteral("%1: /training: the dump holds no training series").arg(args.file));
                return 1;
            }
            auto plot = std::make_unique<TrainingPlot>();
            plot->setSnapshot(snapshot);
            plot->setLayer(layer);
            chart = std::move(plot);
        } else if (args.chart == u"co-activation" || args.chart == u"transitions") {
            const PairKind kind = args.chart == u"transitions" ? PairKind::Transitions : PairKind::CoActivation;
            QString why;
            if (!pairsApply(*snapshot, kind, layer, &why)) {
                say(QStringLiteral("%1: layer %2: %3").arg(args.file, snapshot->layerName(layer), why));
                return 1;
            }
            auto plot = std::make_unique<ExpertPairsPlot>();
            plot->setPairs(snapshot, countPairs(*snapshot, kind, layer, *makeCpuBackend()));
            if (args.expert)
                plot->setSelectedExpert(expert);
            chart = std::move(plot);
        }
        ExportOptions options;
        if (args.width > 0 || args.height > 0) {
            const QSize preferred = chart->defaultExportSize();
            options.size = QSize(args.width > 0 ? args.width : preferred.width(),
                                 args.height > 0 ? args.height : preferred.height());
        }
        options.dpi = args.dpi;
        error = exportChart(*chart, args.output, options);
    }
    if (!error.isEmpty()) {
        say(error);
        return 1;
    }
    say(QStringLiteral("wrote %1").arg(args.output));
    return 0;
}

} // namespace moescope::ui
