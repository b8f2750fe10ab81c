// `moescope export` run as users run it: a separate process with no display at all
// (DISPLAY, WAYLAND_DISPLAY and QT_QPA_PLATFORM unset), checking exit codes 0/1/2,
// the messages, and that the files load back.
#include "UiFixture.h"

#include <QFile>
#include <QImage>
#include <QProcess>
#include <QProcessEnvironment>
#include <QSvgRenderer>
#include <QTest>

#include <map>

using namespace moescope;

class CliExportTest : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        m_bin = qEnvironmentVariable("MOESCOPE_BIN");
        QVERIFY2(QFile::exists(m_bin), "MOESCOPE_BIN must name the moescope binary");
        m_dump = std::make_unique<test::TempDump>(test::uiFixture(600, 8, 2, 3));
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
            if (output == u"report.pdf")
                QVERIFY(pdf.count("/Type /Page\n") + pdf.count("/Type /Page ") + pdf.count("/Type /Page/") >= 5);
        } else {
            QFile f(path);
            QVERIFY(f.open(QIODevice::ReadOnly));
            QVERIFY(f.readAll().count('\n') > 3);
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
    std::unique_ptr<test::TempDump> m_dump, m_plain;
    long long m_validTokens = 0;
};

QTEST_GUILESS_MAIN(CliExportTest)
#include "CliExportTest.moc"
