// `moescope export FILE --chart NAME [--layer L] [--expert E] [--sequence S]
//  [--width W --height H --dpi D] -o OUT.{png,svg,pdf,csv}`, and for the checkpoint
// chart `moescope export A.h5 B.h5 [C.h5 ...] --chart saturation -o OUT`: loads the dump on this
// thread, sets up the named chart through the same showChart() the window's views call,
// and writes it atomically. Exit codes: 0 written, 1 a file refused (unreadable dump,
// nothing to draw, cannot write OUT), 2 bad arguments.
#include "cli/Arguments.h"
#include "cli/Commands.h"

#include "DesktopApp.h"
#include "CheckpointSeries.h"
#include "DumpSnapshot.h"
#include "PairMatrix.h"
#include "PlacementComparison.h"
#include "export/ChartExport.h"
#include "export/ReportWriter.h"
#include "plots/DomainPlot.h"
#include "plots/ExpertPairsPlot.h"
#include "plots/SaturationPlot.h"
#include "plots/LoadHeatmapPlot.h"
#include "plots/PlacementChart.h"
#include "plots/ProfilePlot.h"
#include "plots/TrainingPlot.h"
#include "plots/UtilizationPlot.h"
#include "routing/RoutingBackend.h"
#include "views/RoutingMapChart.h"

#include <QApplication>

#include <algorithm>
#include <climits>
#include <iostream>
#include <memory>

namespace moescope::cli {

namespace {

const std::vector<std::string> kChartNames = {"overview",      "utilization", "routing-map",
                                              "profile",       "training",    "co-activation",
                                              "adjacent-co-activation", "transitions", "domains",
                                              "saturation",    "placement",   "report"};

std::string chartList()
{
    std::string list;
    for (const std::string &name : kChartNames)
        list += (list.empty() ? "" : ", ") + name;
    return list;
}

void say(const QString &message) { std::cerr << "moescope export: " << message.toStdString() << "\n"; }

// The command line, checked before any file is opened.
struct ExportRequest {
    QString file, chart, output;
    QStringList files; // saturation: the checkpoints compared
    std::optional<long long> layer, expert, sequence;
    long long width = 0, height = 0, dpi = 96;
};

ExportRequest parseRequest(const Words &words)
{
    const Arguments args(words, {},
                         {"chart", "layer", "expert", "sequence", "output", "width", "height", "dpi"},
                         {{"o", "output"}});
    ExportRequest request;
    const auto chart = args.option("chart");
    if (chart && *chart == "saturation") {
        // Checkpoints of one run: two or more dumps.
        if (args.positional().size() < 2)
            throw ArgumentError("--chart saturation compares checkpoints: give two or more dumps");
        for (const std::string &file : args.positional())
            request.files << QString::fromStdString(file);
        request.file = request.files.first();
    } else {
        request.file = QString::fromStdString(args.file());
    }
    if (!chart)
        throw ArgumentError("--chart NAME is required (" + chartList() + ")");
    if (std::find(kChartNames.begin(), kChartNames.end(), *chart) == kChartNames.end())
        throw ArgumentError("unknown chart '" + *chart + "' (one of " + chartList() + ")");
    request.chart = QString::fromStdString(*chart);
    const auto output = args.option("output");
    if (!output)
        throw ArgumentError("-o OUT is required");
    request.output = QString::fromStdString(*output);
    const auto format = ui::exportFormatForPath(request.output);
    if (!format)
        throw ArgumentError("OUT must end in .png, .svg, .pdf or .csv: '" + *output + "'");
    if (request.chart == u"report" && format != ui::ExportFormat::Pdf)
        throw ArgumentError("the report is a PDF: OUT must end in .pdf");
    request.layer = args.integer("layer");
    request.expert = args.integer("expert");
    request.sequence = args.integer("sequence");
    request.width = args.integer("width").value_or(0);
    request.height = args.integer("height").value_or(0);
    request.dpi = args.integer("dpi").value_or(96);
    const auto badSide = [](long long side) { return side != 0 && (side < 16 || side > INT_MAX); };
    if (badSide(request.width) || badSide(request.height) || request.dpi < 24 || request.dpi > 1200)
        throw ArgumentError("--width/--height must be at least 16 and --dpi 24 to 1200");
    return request;
}

// The chart the request names, set up from the snapshot; null (with the reason said)
// when the dump has nothing to draw for it.
std::unique_ptr<ui::ChartSource> buildChart(const ExportRequest &request, const ui::DumpSnapshotPtr &snapshot,
                                            int layer, int expert, std::int64_t sequence)
{
    using namespace moescope::ui;
    // Marks only where asked for: an unmarked chart is the plain picture of the dump.
    const int markedLayer = request.layer ? layer : -1, markedExpert = request.expert ? expert : -1;
    if (request.chart == u"overview") {
        auto plot = std::make_unique<LoadHeatmapPlot>();
        plot->showChart(snapshot, request.layer || request.expert ? OverviewParameters{layer, expert} : OverviewParameters{});
        return plot;
    }
    if (request.chart == u"utilization") {
        auto plot = std::make_unique<UtilizationPlot>();
        plot->showChart(snapshot, {layer, markedExpert});
        return plot;
    }
    if (request.chart == u"routing-map") {
        RoutingMapParameters map;
        map.sequence = sequence;
        map.selection.layer = markedLayer;
        map.selection.expert = markedExpert;
        return std::make_unique<RoutingMapChart>(snapshot, map);
    }
    if (request.chart == u"profile") {
        auto plot = std::make_unique<ProfilePlot>();
        plot->showChart(snapshot, {layer, expertProfile(snapshot->analysis.pass(std::size_t(layer))->choices,
                                                        snapshot->analysis.tokenIds, expert)});
        return plot;
    }
    if (request.chart == u"training") {
        if (!snapshot->analysis.training) {
            say(QStringLiteral("%1: /training: the dump holds no training series").arg(request.file));
            return nullptr;
        }
        auto plot = std::make_unique<TrainingPlot>();
        plot->showChart(snapshot, {layer, -1});
        return plot;
    }
    if (request.chart == u"placement") {
        // The view's default settings: the export has no placement options.
        const auto comparison = std::make_shared<const PlacementComparison>(
            comparePlacements(*snapshot, defaultPlacementRequest(snapshot->numExperts())));
        return std::make_unique<PlacementChart>(PlacementParameters{comparison, layer, markedExpert});
    }
    if (request.chart == u"domains") {
        if (snapshot->info().sequenceLabels.empty()) {
            say(QStringLiteral("%1: /tokens/sequence_labels: the dump has no sequence labels").arg(request.file));
            return nullptr;
        }
        auto plot = std::make_unique<DomainPlot>();
        plot->showChart(snapshot, {layer, markedExpert});
        return plot;
    }
    // co-activation (either variant) or transitions
    const PairKind kind = request.chart == u"transitions"              ? PairKind::Transitions
                          : request.chart == u"adjacent-co-activation" ? PairKind::AdjacentCoActivation
                                                                       : PairKind::CoActivation;
    QString why;
    if (!pairsApply(*snapshot, kind, layer, &why)) {
        say(QStringLiteral("%1: layer %2: %3").arg(request.file, snapshot->layerName(layer), why));
        return nullptr;
    }
    auto plot = std::make_unique<ExpertPairsPlot>();
    plot->showChart(snapshot, {std::make_shared<const PairMatrix>(countPairs(*snapshot, kind, layer, *makeCpuBackend())),
                               markedExpert});
    return plot;
}

// The saturation heatmap of checkpoints compared (no single snapshot behind it).
int writeSaturation(const ExportRequest &request)
{
    using namespace moescope::ui;
    const CheckpointComparisonPtr comparison = compareFiles(request.files);
    for (const std::string &w : comparison->warnings)
        say(QStringLiteral("warning: %1").arg(QString::fromStdString(w)));
    const auto L = static_cast<long long>(comparison->layers.size());
    if (request.layer && (*request.layer < 0 || *request.layer >= L))
        throw ArgumentError("--layer must be 0 to " + std::to_string(L - 1) + " (the layers the dumps share)");
    SaturationPlot plot;
    plot.showChart(comparison, {int(request.layer.value_or(-1)), -1});
    if (!plot.hasChartData()) {
        say(QStringLiteral("the dumps share no layer: nothing to draw"));
        return 1;
    }
    ExportOptions options;
    if (request.width > 0 || request.height > 0) {
        const QSize preferred = plot.defaultExportSize();
        options.size = QSize(request.width > 0 ? int(request.width) : preferred.width(),
                             request.height > 0 ? int(request.height) : preferred.height());
    }
    options.dpi = int(request.dpi);
    const QString error = exportChart(plot, request.output, options);
    if (!error.isEmpty()) {
        say(error);
        return 1;
    }
    say(QStringLiteral("wrote %1").arg(request.output));
    return 0;
}

int writeExport(const ExportRequest &request)
{
    using namespace moescope::ui;
    if (request.chart == u"saturation")
        return writeSaturation(request);
    const DumpSnapshotPtr snapshot = loadSnapshot(request.file);
    for (const std::string &w : snapshot->info().warnings)
        say(QStringLiteral("warning: %1").arg(QString::fromStdString(w)));

    const int L = snapshot->numLayers(), E = snapshot->numExperts();
    const long long S = snapshot->numSequences();
    if (request.layer && (*request.layer < 0 || *request.layer >= L))
        throw ArgumentError("--layer must be 0 to " + std::to_string(L - 1) + " (the position in the ordered layer list)");
    if (request.expert && (*request.expert < 0 || *request.expert >= E))
        throw ArgumentError("--expert must be 0 to " + std::to_string(E - 1));
    if (request.sequence && (*request.sequence < 0 || *request.sequence >= S))
        throw ArgumentError("--sequence must be 0 to " + std::to_string(S - 1));
    const int layer = int(request.layer.value_or(0));
    // Without --expert: the layer's busiest expert, the one most worth a look.
    const int expert = int(request.expert.value_or(snapshot->busiestExpert(layer)));
    const std::int64_t sequence = request.sequence.value_or(0);

    QString error;
    if (request.chart == u"report") {
        ReportContent content;
        content.snapshot = snapshot;
        content.layer = layer;
        content.sequence = sequence;
        content.profiles = busiestExpertProfiles(*snapshot, layer);
        content.placement = std::make_shared<const PlacementComparison>(
            comparePlacements(*snapshot, defaultPlacementRequest(snapshot->numExperts())));
        error = writeReport(content, request.output);
    } else {
        const std::unique_ptr<ChartSource> chart = buildChart(request, snapshot, layer, expert, sequence);
        if (!chart)
            return 1;
        ExportOptions options;
        if (request.width > 0 || request.height > 0) {
            const QSize preferred = chart->defaultExportSize();
            options.size = QSize(request.width > 0 ? int(request.width) : preferred.width(),
                                 request.height > 0 ? int(request.height) : preferred.height());
        }
        options.dpi = int(request.dpi);
        error = exportChart(*chart, request.output, options);
    }
    if (!error.isEmpty()) {
        say(error);
        return 1;
    }
    say(QStringLiteral("wrote %1").arg(request.output));
    return 0;
}

} // namespace

int exportCommand(const Words &words)
{
    const ExportRequest request = parseRequest(words);
    // Headless: with no display to talk to, draw offscreen rather than fail.
    if (qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") &&
        qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    // Only the program name reaches QApplication, so none of our options is taken for one of Qt's.
    char programName[] = "moescope";
    int qtArgc = 1;
    char *qtArgv[] = {programName, nullptr};
    QApplication app(qtArgc, qtArgv);
    ui::setApplicationNames();
    return writeExport(request);
}

} // namespace moescope::cli
