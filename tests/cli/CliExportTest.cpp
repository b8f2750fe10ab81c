// `moescope export` run as users run it: a separate process with no display at all
// (DISPLAY, WAYLAND_DISPLAY and QT_QPA_PLATFORM unset), checking exit codes 0/1/2,
// the messages, that the files load back, and what they hold: CSV numbers against
// counts taken from the fixture's own logits, titles and axis labels in SVG and PDF.
#include "support/UiFixture.h"
#include "ui/export/ExportedText.h"

#include <QFile>
#include <QImage>
#include <QProcess>
#include <QProcessEnvironment>
#include <QSvgRenderer>
#include <QTest>

#include <algorithm>
#include <map>
#include <numeric>

using namespace moescope;

namespace {
// For each layer, the experts each token chose: the k largest logits (softmax keeps
// the order), worked out here from the fixture and not by the program under test.
std::vector<std::vector<std::vector<int>>> choicesOf(const test::DumpFixture &f)
{
    const int E = f.numExperts, T = int(f.tokenIds.size());
    std::vector<std::vector<std::vector<int>>> choices;
    for (const test::FixtureLayer &layer : f.layers) {
        auto &perToken = choices.emplace_back(std::size_t(T));
        for (int t = 0; t < T; ++t) {
            std::vector<int> experts(static_cast<std::size_t>(E));
            std::iota(experts.begin(), experts.end(), 0);
            const float *row = layer.logits.data() + std::size_t(t) * std::size_t(E);
            std::partial_sort(experts.begin(), experts.begin() + f.topK, experts.end(),
                              [row](int a, int b) { return row[a] > row[b]; });
            perToken[std::size_t(t)].assign(experts.begin(), experts.begin() + f.topK);
        }
    }
    return choices;
}

// The rows of a CSV file without its header, split at commas (the fields checked
// here hold none).
QList<QStringList> csvRows(const QString &path, QString *header = nullptr)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly | QIODevice::Text))
        return {};
    QStringList lines = QString::fromUtf8(f.readAll()).split(u'\n', Qt::SkipEmptyParts);
    if (header && !lines.isEmpty())
        *header = lines.front();
    QList<QStringList> rows;
    for (qsizetype i = 1; i < lines.size(); ++i)
        rows << lines[i].split(u',');
    return rows;
}
} // namespace

class CliExportTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        m_bin = qEnvironmentVariable("MOESCOPE_BIN");
        QVERIFY2(QFile::exists(m_bin), "MOESCOPE_BIN must name the moescope binary");
        m_fixture = test::uiFixture(600, 8, 2, 3);
        m_dump = std::make_unique<test::TempDump>(m_fixture);
        m_choices = choicesOf(m_fixture);
        m_plain = std::make_unique<test::TempDump>(test::uiFixture(300, 4, 1, 2, false));
        m_validTokens = 600; // randomFixture writes finite logits only: every token is valid
        QFile junk(m_out.filePath(QStringLiteral("junk.h5")));
        QVERIFY(junk.open(QIODevice::WriteOnly));
        junk.write("this is not an HDF5 file at all\n");
    }

    void exports_data()
    {
        QTest::addColumn<QStringList>("options");
        QTest::addColumn<QString>("output");
        QTest::newRow("overview png") << QStringList{"--chart", "overview"} << "overview.png";
        QTest::newRow("utilization svg") << QStringList{"--chart", "utilization", "--layer", "1"} << "util.svg";
        QTest::newRow("routing map pdf") << QStringList{"--chart", "routing-map", "--sequence", "2", "--expert", "3"} << "map.pdf";
        QTest::newRow("routing map csv") << QStringList{"--chart", "routing-map", "--sequence", "1"} << "map.csv";
        QTest::newRow("profile csv") << QStringList{"--chart", "profile", "--layer", "0", "--expert", "3"} << "profile.csv";
        QTest::newRow("training png") << QStringList{"--chart=training", "--layer=2"} << "training.png";
        QTest::newRow("co-activation svg") << QStringList{"--chart", "co-activation", "--layer", "1", "--expert", "2"} << "pairs.svg";
        QTest::newRow("transitions png") << QStringList{"--chart", "transitions", "--layer", "0"} << "transitions.png";
        QTest::newRow("placement png") << QStringList{"--chart", "placement", "--layer", "1", "--expert", "2"} << "placement.png";
        QTest::newRow("placement csv") << QStringList{"--chart", "placement"} << "placement.csv";
        QTest::newRow("report pdf") << QStringList{"--chart", "report", "--layer", "1"} << "report.pdf";
    }

    void exports()
    {
        QFETCH(QStringList, options);
        QFETCH(QString, output);
        const QString path = m_out.filePath(output);
        const auto [code, err] = run(QStringList{m_dump->qpath()} + options + QStringList{"-o", path});
        QVERIFY2(code == 0, qPrintable(err));
        QVERIFY(QFile::exists(path));
        if (output.endsWith(u".png")) {
            QVERIFY(!QImage(path).isNull());
        } else if (output.endsWith(u".svg")) {
            QVERIFY(QSvgRenderer(path).isValid());
        } else if (output.endsWith(u".pdf")) {
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QByteArray pdf = f.readAll();
            QVERIFY(pdf.startsWith("%PDF-"));
            if (output == u"report.pdf") {
                QVERIFY(pdf.count("/Type /Page\n") + pdf.count("/Type /Page ") + pdf.count("/Type /Page/") >= 5);
                const QString text = test::pdfText(path);
                for (const char *heading : {"MoE Scope report", "Layer health", "Utilization by layer", "Routing map",
                                            "Expert-parallel placement", "Busiest experts of layer layer1 (index 1)", "tokens per expert", "tokens routed"})
                    QVERIFY2(text.contains(QLatin1String(heading)), qPrintable(heading + (": " + text.left(2000))));
            }
        } else {
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            QVERIFY(f.readAll().count('\n') > 3);
        }
    }

    // Each expert's count per layer, in the overview and in the histogram, equals the
    // fixture's; shares and means follow from it (k T routings spread over E experts).
    void loadCsvHoldsTheDumpsCounts()
    {
        const int T = int(m_fixture.tokenIds.size()), E = m_fixture.numExperts, k = m_fixture.topK;
        const int L = int(m_fixture.layers.size());
        std::vector<std::vector<long long>> counts(static_cast<std::size_t>(L), std::vector<long long>(static_cast<std::size_t>(E)));
        for (int l = 0; l < L; ++l)
            for (const auto &chosen : m_choices[std::size_t(l)])
                for (int e : chosen)
                    ++counts[std::size_t(l)][std::size_t(e)];
        const double mean = double(k) * T / E;

        const QString overview = m_out.filePath(QStringLiteral("counts-overview.csv"));
        auto [code, err] = run({m_dump->qpath(), "--chart", "overview", "-o", overview});
        QVERIFY2(code == 0, qPrintable(err));
        QString header;
        const QList<QStringList> cells = csvRows(overview, &header);
        QCOMPARE(header, QStringLiteral("layer,layer_name,expert,count,share,load_over_mean,state"));
        QCOMPARE(cells.size(), L * E);
        for (const QStringList &cell : cells) {
            const int l = cell[0].toInt(), e = cell[2].toInt();
            QCOMPARE(cell[1], QString::fromStdString(m_fixture.layers[std::size_t(l)].name));
            QCOMPARE(cell[3].toLongLong(), counts[std::size_t(l)][std::size_t(e)]);
            // CSV numbers carry 10 significant digits.
            QVERIFY(qAbs(cell[4].toDouble() / (double(cell[3].toLongLong()) / (double(k) * T)) - 1) < 1e-9);
            QVERIFY(qAbs(cell[5].toDouble() / (double(cell[3].toLongLong()) / mean) - 1) < 1e-9);
        }

        const QString histogram = m_out.filePath(QStringLiteral("counts-utilization.csv"));
        std::tie(code, err) = run({m_dump->qpath(), "--chart", "utilization", "--layer", "2", "-o", histogram});
        QVERIFY2(code == 0, qPrintable(err));
        const QList<QStringList> bars = csvRows(histogram, &header);
        QCOMPARE(header, QStringLiteral("layer,expert,count,share,mean,capacity,state"));
        QCOMPARE(bars.size(), E);
        for (int e = 0; e < E; ++e) {
            const QStringList &bar = bars[e];
            QCOMPARE(bar[0], QStringLiteral("layer2"));
            QCOMPARE(bar[1].toInt(), e);
            QCOMPARE(bar[2].toLongLong(), counts[2][std::size_t(e)]);
            QVERIFY(qAbs(bar[4].toDouble() / mean - 1) < 1e-9);
            // hot: above the capacity; cold: under a tenth of the mean (the defaults).
            const QString state = counts[2][std::size_t(e)] > bar[5].toDouble() ? "hot"
                                  : counts[2][std::size_t(e)] < 0.1 * mean     ? "cold"
                                                                               : "";
            QCOMPARE(bar.value(6), state);
        }
    }

    // The profile of expert 3 at layer 0: for each token id, how many of its positions
    // chose expert 3; together, every routing to expert 3.
    void profileCsvHoldsTheExpertsTokens()
    {
        const int expert = 3;
        std::map<long long, long long> perToken;
        long long routed = 0;
        for (std::size_t t = 0; t < m_fixture.tokenIds.size(); ++t) {
            const auto &chosen = m_choices[0][t];
            if (std::find(chosen.begin(), chosen.end(), expert) != chosen.end()) {
                ++perToken[m_fixture.tokenIds[t]];
                ++routed;
            }
        }
        const QString path = m_out.filePath(QStringLiteral("counts-profile.csv"));
        const auto [code, err] = run({m_dump->qpath(), "--chart", "profile", "--layer", "0", "--expert", "3", "-o", path});
        QVERIFY2(code == 0, qPrintable(err));
        QString header;
        const QList<QStringList> rows = csvRows(path, &header);
        QCOMPARE(header, QStringLiteral("layer,expert,token_id,token,count,share,lift"));
        QCOMPARE(std::size_t(rows.size()), perToken.size());
        long long total = 0;
        for (const QStringList &row : rows) {
            QCOMPARE(row[0], QStringLiteral("layer0"));
            QCOMPARE(row[1].toInt(), expert);
            const long long id = row[2].toLongLong();
            QCOMPARE(row[3], QStringLiteral("tok%1").arg(id));
            QCOMPARE(row[4].toLongLong(), perToken[id]);
            total += row[4].toLongLong();
        }
        QCOMPARE(total, routed);
    }

    // The words a reader sees: each chart's title and axis labels are in its SVG (as
    // text, not outlines) and in its PDF's text layer.
    void svgAndPdfHoldTitleAndLabels_data()
    {
        QTest::addColumn<QStringList>("options");
        QTest::addColumn<QStringList>("words");
        QTest::newRow("overview") << QStringList{"--chart", "overview"}
                                  << QStringList{"expert", "layer", "expert load / layer mean"};
        QTest::newRow("utilization") << QStringList{"--chart", "utilization", "--layer", "1"}
                                     << QStringList{"Layer layer1 (index 1): tokens per expert (k \u00b7 T = 1,200", "expert",
                                                    "tokens routed", "balanced mean 150"};
        QTest::newRow("profile") << QStringList{"--chart", "profile", "--layer", "0", "--expert", "3"}
                                 << QStringList{"Layer layer0, expert 3: top tokens", "tokens routed to the expert"};
        QTest::newRow("training") << QStringList{"--chart", "training", "--layer", "2"}
                                  << QStringList{"Router health over training", "load-balancing loss", "router z-loss",
                                                 "training step", "expert at layer layer2"};
        QTest::newRow("co-activation") << QStringList{"--chart", "co-activation", "--layer", "1"}
                                       << QStringList{"Layer layer1 (index 1) co-activation", "expert chosen with it (e2)",
                                                      "expert (e1), layer layer1 (index 1)", "% of the row's tokens"};
        QTest::newRow("transitions") << QStringList{"--chart", "transitions", "--layer", "0"}
                                     << QStringList{"Layer layer0 \u2192 layer1 (index 1)", "best expert at layer layer1 (index 1) (e2)",
                                                    "best expert at layer layer0 (e1)"};
        QTest::newRow("routing map") << QStringList{"--chart", "routing-map", "--sequence", "1"}
                                     << QStringList{"Routing map: sequence 1", "best expert:"};
    }

    void svgAndPdfHoldTitleAndLabels()
    {
        QFETCH(QStringList, options);
        QFETCH(QStringList, words);
        const QString chart = options[1];
        const QString svgPath = m_out.filePath(QStringLiteral("words-%1.svg").arg(chart));
        const QString pdfPath = m_out.filePath(QStringLiteral("words-%1.pdf").arg(chart));
        for (const QString &path : {svgPath, pdfPath}) {
            const auto [code, err] = run(QStringList{m_dump->qpath()} + options + QStringList{"-o", path});
            QVERIFY2(code == 0, qPrintable(err));
        }
        const QString svg = test::svgText(svgPath), pdf = test::pdfText(pdfPath);
        QVERIFY2(svg.startsWith(QStringLiteral("MoE Scope: ") + chart), qPrintable(svg.left(200)));
        for (const QString &word : words) {
            QVERIFY2(svg.contains(word), qPrintable(QStringLiteral("SVG lacks '%1':\n%2").arg(word, svg)));
            QVERIFY2(pdf.contains(word), qPrintable(QStringLiteral("PDF lacks '%1':\n%2").arg(word, pdf)));
        }
    }

    // The pair matrices as CSV: every cell once; co-activation is symmetric and its
    // diagonal holds c[e], which sums to k T; transitions hold each valid token once.
    void pairCsvHoldsEveryCell()
    {
        for (const QString &chart : {QStringLiteral("co-activation"), QStringLiteral("transitions")}) {
            const QString path = m_out.filePath(chart + QStringLiteral(".csv"));
            const auto [code, err] = run({m_dump->qpath(), "--chart", chart, "--layer", "1", "-o", path});
            QVERIFY2(code == 0, qPrintable(err));
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
            const QStringList lines = QString::fromUtf8(f.readAll()).split(u'\n', Qt::SkipEmptyParts);
            QCOMPARE(lines.size(), 1 + 8 * 8);
            const int first = chart == u"co-activation" ? 1 : 2; // the e1 column
            std::map<std::pair<int, int>, long long> cells;
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const QStringList fields = lines[i].split(u',');
                cells[{fields[first].toInt(), fields[first + 1].toInt()}] = fields[first + 2].toLongLong();
            }
            QCOMPARE(cells.size(), std::size_t(64));
            long long total = 0;
            for (const auto &[cell, n] : cells) {
                if (chart == u"co-activation") {
                    QCOMPARE(n, (cells[{cell.second, cell.first}]));
                    total += cell.first == cell.second ? n : 0;
                } else {
                    total += n;
                }
            }
            QCOMPARE(total, chart == u"co-activation" ? 2 * m_validTokens : m_validTokens);
        }
    }

    void refusals_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("message");
        const QString dump = m_dump->qpath();
        const QString out = m_out.filePath(QStringLiteral("refused.png"));
        QTest::newRow("no chart") << QStringList{dump, "-o", out} << 2 << "--chart";
        QTest::newRow("unknown chart") << QStringList{dump, "--chart", "pie", "-o", out} << 2 << "unknown chart";
        QTest::newRow("no output") << QStringList{dump, "--chart", "overview"} << 2 << "-o OUT";
        QTest::newRow("bad suffix") << QStringList{dump, "--chart", "overview", "-o", m_out.filePath("x.jpg")} << 2 << ".png";
        QTest::newRow("report not pdf") << QStringList{dump, "--chart", "report", "-o", out} << 2 << "PDF";
        QTest::newRow("layer out of range") << QStringList{dump, "--chart", "utilization", "--layer", "9", "-o", out} << 2 << "--layer";
        QTest::newRow("layer not a number") << QStringList{dump, "--chart", "utilization", "--layer", "x", "-o", out} << 2 << "integer";
        QTest::newRow("unknown option") << QStringList{dump, "--chart", "overview", "--colour", "red", "-o", out} << 2 << "unknown option";
        QTest::newRow("not hdf5") << QStringList{m_out.filePath("junk.h5"), "--chart", "overview", "-o", out} << 1 << "junk.h5";
        QTest::newRow("missing file") << QStringList{m_out.filePath("absent.h5"), "--chart", "overview", "-o", out} << 1 << "absent.h5";
        QTest::newRow("no training") << QStringList{m_plain->qpath(), "--chart", "training", "-o", out} << 1 << "/training";
        QTest::newRow("transitions from the last layer") << QStringList{dump, "--chart", "transitions", "--layer", "2", "-o", out} << 1 << "last layer";
        QTest::newRow("co-activation with k = 1") << QStringList{m_plain->qpath(), "--chart", "co-activation", "-o", out} << 1 << "k = 1";
        QTest::newRow("unwritable") << QStringList{dump, "--chart", "overview", "-o", m_out.filePath("no/dir/x.png")} << 1 << "x.png";
    }

    void refusals()
    {
        QFETCH(QStringList, arguments);
        QFETCH(int, exitCode);
        QFETCH(QString, message);
        const auto [code, err] = run(arguments);
        QVERIFY2(err.contains(message), qPrintable(err));
        QCOMPARE(code, exitCode);
        QVERIFY(!QFile::exists(m_out.filePath(QStringLiteral("refused.png"))));
    }

private:
    std::pair<int, QString> run(const QStringList &arguments)
    {
        QProcess process;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(QStringLiteral("DISPLAY"));
        env.remove(QStringLiteral("WAYLAND_DISPLAY"));
        env.remove(QStringLiteral("QT_QPA_PLATFORM"));
        process.setProcessEnvironment(env);
        process.start(m_bin, QStringList{"export"} + arguments);
        if (!process.waitForFinished(60000))
            return {-1, QStringLiteral("timed out")};
        return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2,
                QString::fromLocal8Bit(process.readAllStandardError())};
    }

    QString m_bin;
    QTemporaryDir m_out;
    test::DumpFixture m_fixture;
    std::vector<std::vector<std::vector<int>>> m_choices; // [layer][token]: the experts chosen
    std::unique_ptr<test::TempDump> m_dump, m_plain;
    long long m_validTokens = 0;
};

QTEST_GUILESS_MAIN(CliExportTest)
#include "CliExportTest.moc"
