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
};

QTEST_GUILESS_MAIN(CliExportTest)
#include "CliExportTest.moc"
