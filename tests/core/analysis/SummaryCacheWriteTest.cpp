// The summary cache writes only inside its directory, each entry atomically (a
// temporary file in the same directory, then a rename): a cache directory that is a
// file, lies under a file, cannot be written, or sits on a full disk leaves every
// existing file as it was, no temporary file behind, and the analysis unharmed.
#include "analysis/SummaryCache.h"
#include "io/RoutingDump.h"
#include "support/FileSizeLimit.h"
#include "support/UiFixture.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <unistd.h>

using namespace moescope;

namespace {

AnalysisRequest plainRequest()
{
    AnalysisRequest r;
    r.drops.policy = DropPolicy::TokenOrder;
    return r;
}

QByteArray bytesOf(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Every file under `dir` with its bytes, to compare before and after.
QMap<QString, QByteArray> contents(const QString &dir)
{
    QMap<QString, QByteArray> all;
    for (const QString &name : QDir(dir).entryList(QDir::Files | QDir::Hidden))
        all[name] = bytesOf(QDir(dir).filePath(name));
    return all;
}

} // namespace

class SummaryCacheWriteTest : public QObject {
    Q_OBJECT

    test::TempDump m_file{test::uiFixture(300, 8, 2, 2)};
    DumpInfo m_info;
    DumpReport m_report;

private slots:
    void initTestCase()
    {
        const RoutingDump dump(m_file.path());
        m_info = dump.info();
        m_report = buildReport(dump, plainRequest());
    }

    void aCacheDirectoryThatIsAFile()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath("cache");
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("not a directory");
        f.close();
        const SummaryCache cache{path.toStdString()};
        cache.store(m_file.path(), plainRequest(), m_info, m_report);
        QCOMPARE(bytesOf(path), QByteArray("not a directory"));
        QVERIFY(!cache.load(m_file.path(), plainRequest()));
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Dirs | QDir::NoDotAndDotDot),
                 QStringList{"cache"});
    }

    void aCacheDirectoryUnderAFile()
    {
        QTemporaryDir dir;
        const QString file = dir.filePath("file");
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("x");
        f.close();
        const SummaryCache cache{(file + "/summaries").toStdString()};
        cache.store(m_file.path(), plainRequest(), m_info, m_report);
        QCOMPARE(bytesOf(file), QByteArray("x"));
        QVERIFY(!cache.load(m_file.path(), plainRequest()));
    }

    void anUnwritableCacheDirectory()
    {
        if (geteuid() == 0)
            QSKIP("running as root, which writes into a read-only directory anyway; the full-disk case covers a "
                  "refused write");
        QTemporaryDir dir;
        QVERIFY(QFile::setPermissions(dir.path(), QFile::ReadOwner | QFile::ExeOwner));
        const SummaryCache cache{dir.path().toStdString()};
        cache.store(m_file.path(), plainRequest(), m_info, m_report);
        QVERIFY(QFile::setPermissions(dir.path(), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
        QVERIFY(QDir(dir.path()).isEmpty(QDir::Files | QDir::Hidden));
    }

    void aFullDiskLeavesTheEntryAsItWas()
    {
        QTemporaryDir dir;
        const SummaryCache cache{dir.path().toStdString()};
        cache.store(m_file.path(), plainRequest(), m_info, m_report);
        const auto before = contents(dir.path());
        QCOMPARE(before.size(), 1);
        // Another report under the same key: on a working disk it would replace the entry.
        DumpReport other = m_report;
        other.capacityFactor += 1;
        {
            const test::FileSizeLimit full(64);
            cache.store(m_file.path(), plainRequest(), m_info, other);
        }
        QCOMPARE(contents(dir.path()), before);
        const auto back = cache.load(m_file.path(), plainRequest());
        QVERIFY(back.has_value());
        QCOMPARE(back->report.capacityFactor, m_report.capacityFactor);
        // And the disk back: the new report replaces the entry whole.
        cache.store(m_file.path(), plainRequest(), m_info, other);
        QCOMPARE(cache.load(m_file.path(), plainRequest())->report.capacityFactor, other.capacityFactor);
        QCOMPARE(contents(dir.path()).size(), 1);
    }
};

QTEST_GUILESS_MAIN(SummaryCacheWriteTest)
#include "SummaryCacheWriteTest.moc"
