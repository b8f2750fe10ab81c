// `moescope export` writes only the file it was asked for, and atomically: an output
// path that is a directory, lies in a missing folder or under a file, in a folder it
// may not write, or on a full disk (RLIMIT_FSIZE with SIGXFSZ ignored: writes fail
// with EFBIG as on a full disk) exits 1 with a message naming the path and the
// problem, and leaves an existing file and the folder exactly as they were. Every
// output kind: PNG, SVG and CSV charts, the PDF report.
#include "support/UiFixture.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

using namespace moescope;

namespace {

struct Run {
    int exitCode = -1;
    QString err;
};

// `moescope export DUMP --chart CHART -o OUT`, the child's files capped at
// `fileLimit` bytes when given.
Run exportTo(const QString &dump, const QString &chart, const QString &out, rlim_t fileLimit = RLIM_INFINITY)
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove("DISPLAY");
    env.remove("WAYLAND_DISPLAY");
    env.remove("QT_QPA_PLATFORM");
    env.insert("MOESCOPE_NO_CACHE", "1");
    p.setProcessEnvironment(env);
    p.setChildProcessModifier([fileLimit] {
        if (fileLimit == RLIM_INFINITY)
            return;
        signal(SIGXFSZ, SIG_IGN);
        rlimit cap{};
        getrlimit(RLIMIT_FSIZE, &cap);
        cap.rlim_cur = fileLimit;
        setrlimit(RLIMIT_FSIZE, &cap);
    });
    p.start(qEnvironmentVariable("MOESCOPE_BIN"), {"export", dump, "--chart", chart, "-o", out});
    if (!p.waitForFinished(120000))
        qFatal("moescope did not finish");
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardError())};
}

QByteArray bytesOf(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

void writeFile(const QString &path, const QByteArray &bytes)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(bytes);
}

// The names in `dir`, hidden ones included: a temporary file left behind shows here.
QStringList namesIn(const QString &dir)
{
    return QDir(dir).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot, QDir::Name);
}

} // namespace

class CliWriteErrorsTest : public QObject {
    Q_OBJECT

    test::TempDump m_dump{test::uiFixture(300, 8, 2, 2)};

    static void addOutputs()
    {
        QTest::addColumn<QString>("chart");
        QTest::addColumn<QString>("name");
        QTest::newRow("png") << "utilization" << "out.png";
        QTest::newRow("svg") << "overview" << "out.svg";
        QTest::newRow("csv") << "utilization" << "out.csv";
        QTest::newRow("report") << "report" << "out.pdf";
    }

    // Exit 1, the message names `path` and holds `problem`.
    static void expectRefused(const Run &run, const QString &path, const QString &problem)
    {
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains(path), qPrintable(run.err));
        QVERIFY2(run.err.contains(problem, Qt::CaseInsensitive), qPrintable(run.err));
    }

private slots:
    void initTestCase() { QVERIFY(!qEnvironmentVariable("MOESCOPE_BIN").isEmpty()); }

    void aWorkingDiskReplacesTheFile_data() { addOutputs(); }
    void aWorkingDiskReplacesTheFile()
    {
        QFETCH(QString, chart);
        QFETCH(QString, name);
        QTemporaryDir dir;
        const QString out = dir.filePath(name);
        writeFile(out, "old");
        const Run run = exportTo(m_dump.qpath(), chart, out);
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        QVERIFY(bytesOf(out).size() > 100);
        QCOMPARE(namesIn(dir.path()), QStringList{name});
    }

    void aPathThatIsADirectory_data() { addOutputs(); }
    void aPathThatIsADirectory()
    {
        QFETCH(QString, chart);
        QFETCH(QString, name);
        QTemporaryDir dir;
        const QString out = dir.filePath(name);
        QVERIFY(QDir(dir.path()).mkdir(name));
        writeFile(out + "/inside", "kept");
        expectRefused(exportTo(m_dump.qpath(), chart, out), out, "is a directory");
        QVERIFY(QFileInfo(out).isDir());
        QCOMPARE(namesIn(out), QStringList{"inside"});
        QCOMPARE(bytesOf(out + "/inside"), QByteArray("kept"));
        QCOMPARE(namesIn(dir.path()), QStringList{name});
    }

    void aMissingFolder_data() { addOutputs(); }
    void aMissingFolder()
    {
        QFETCH(QString, chart);
        QFETCH(QString, name);
        QTemporaryDir dir;
        const QString out = dir.filePath("missing/" + name);
        expectRefused(exportTo(m_dump.qpath(), chart, out), out, "folder");
        QVERIFY(namesIn(dir.path()).isEmpty());
    }

    void aFolderThatIsAFile_data() { addOutputs(); }
    void aFolderThatIsAFile()
    {
        QFETCH(QString, chart);
        QFETCH(QString, name);
        QTemporaryDir dir;
        writeFile(dir.filePath("file"), "kept");
        const QString out = dir.filePath("file/" + name);
        expectRefused(exportTo(m_dump.qpath(), chart, out), out, "not a folder");
        QCOMPARE(bytesOf(dir.filePath("file")), QByteArray("kept"));
        QCOMPARE(namesIn(dir.path()), QStringList{"file"});
    }

    void anUnwritableFolder_data() { addOutputs(); }
    void anUnwritableFolder()
    {
        QFETCH(QString, chart);
        QFETCH(QString, name);
        if (geteuid() == 0)
            QSKIP("running as root, which writes into a read-only folder anyway; the full-disk case covers a "
                  "refused write");
        QTemporaryDir dir;
        const QString out = dir.filePath(name);
        writeFile(out, "old");
        QVERIFY(QFile::setPermissions(dir.path(), QFile::ReadOwner | QFile::ExeOwner));
        const Run run = exportTo(m_dump.qpath(), chart, out);
        QVERIFY(QFile::setPermissions(dir.path(), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
        expectRefused(run, out, "permission");
        QCOMPARE(bytesOf(out), QByteArray("old"));
        QCOMPARE(namesIn(dir.path()), QStringList{name});
    }

    void aFullDisk_data() { addOutputs(); }
    void aFullDisk()
    {
        QFETCH(QString, chart);
        QFETCH(QString, name);
        QTemporaryDir dir;
        const QString out = dir.filePath(name);
        writeFile(out, "old");
        expectRefused(exportTo(m_dump.qpath(), chart, out, 64), out, "disk");
        QCOMPARE(bytesOf(out), QByteArray("old"));
        QCOMPARE(namesIn(dir.path()), QStringList{name});
    }
};

QTEST_GUILESS_MAIN(CliWriteErrorsTest)
#include "CliWriteErrorsTest.moc"
