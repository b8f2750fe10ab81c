// openDump, the one door to a user's dump: the look at the file in a separate
// program (moescope-preflight, started with posix_spawn, never a fork of this
// multithreaded process), its time limit, cancel, and the errors that name the file.
#include "io/DumpPreflight.h"
#include "io/Hdf5Door.h"
#include "io/OpenDump.h"
#include "support/DamagedDump.h"
#include "support/TempDump.h"

#include <QtTest>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <thread>

using namespace moescope;
using namespace moescope::test;

namespace {
DumpFixture smallFixture() { return randomFixture(40, 4, 2, 2, 7); }

// A stand-in for the helper program: a shell script with the given body.
QString writeScript(const QTemporaryDir &dir, const QString &name, const QByteArray &body)
{
    const QString path = dir.filePath(name);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return {};
    f.write("#!/bin/sh\n" + body + "\n");
    f.close();
    f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    return path;
}

// Sets an environment variable for one scope.
class ScopedEnv {
public:
    ScopedEnv(const char *name, const QByteArray &value) : m_name(name), m_old(qgetenv(name)), m_had(qEnvironmentVariableIsSet(name))
    {
        qputenv(name, value);
    }
    ~ScopedEnv()
    {
        if (m_had)
            qputenv(m_name, m_old);
        else
            qunsetenv(m_name);
    }

private:
    const char *m_name;
    QByteArray m_old;
    bool m_had;
};

QString errorOf(const std::function<void()> &f)
{
    try {
        f();
    } catch (const DumpError &e) {
        return QString::fromStdString(e.what());
    }
    return {};
}
} // namespace

class OpenDumpTest : public QObject {
    Q_OBJECT

private slots:
    void opensAWellFormedDump()
    {
        QVERIFY2(!io::preflightProgram().empty(), "moescope-preflight not found from the build tree");
        const TempDump file(smallFixture());
        double last = -1;
        const Progress progress([&last](double f) { last = f; }, nullptr);
        const auto dump = openDump(file.path(), progress);
        QCOMPARE(dump->info().numTokens, 40);
        QCOMPARE(int(dump->info().layers.size()), 2);
        QCOMPARE(last, 1.0);
    }

    void refusedFileNamesFileAndObject()
    {
        DumpFixture f = smallFixture();
        f.layers[1].logits.resize(f.layers[1].logits.size() - 4 * 3); // three rows short of T
        const TempDump file(f);
        const QString message = errorOf([&] { openDump(file.path()); });
        QVERIFY2(message.startsWith(file.qpath() + ": /layers/" + QString::fromStdString(f.layers[1].name) + "/logits"),
                 qPrintable(message));

        QTemporaryDir dir;
        const QString text = dir.filePath("notes.h5");
        QFile t(text);
        QVERIFY(t.open(QIODevice::WriteOnly));
        t.write("hello");
        t.close();
        const QString notHdf5 = errorOf([&] { openDump(text.toStdString()); });
        QVERIFY2(notHdf5.startsWith(text + ":") && notHdf5.contains("not an HDF5 file"), qPrintable(notHdf5));
    }

    // The helper really is a program of its own, given the path as its argument.
    void helperIsASeparateProgram()
    {
        QTemporaryDir dir;
        const QString record = dir.filePath("args.txt");
        const QString script = writeScript(dir, "look", "echo \"$1\" > '" + record.toUtf8() + "'\nexit 0");
        const ScopedEnv env("MOESCOPE_PREFLIGHT_PROGRAM", script.toUtf8());
        const TempDump file(smallFixture());
        const auto dump = openDump(file.path());
        QVERIFY(dump);
        QFile r(record);
        QVERIFY(r.open(QIODevice::ReadOnly));
        QCOMPARE(QString::fromUtf8(r.readAll()).trimmed(), file.qpath());
    }

    // The helper inherits none of this process's files (HDF5 opens them without
    // close-on-exec): a hanging helper must not hold the user's other dumps open.
    void helperInheritsNoOpenFiles()
    {
        const TempDump held(smallFixture(), {}, "held.h5");
        const auto open = openDump(held.path()); // this process holds it open now
        QTemporaryDir dir;
        const QString record = dir.filePath("fds.txt");
        const QString script = writeScript(dir, "fds", "ls -l /proc/$$/fd > '" + record.toUtf8() + "'\nexit 0");
        const ScopedEnv env("MOESCOPE_PREFLIGHT_PROGRAM", script.toUtf8());
        const TempDump file(smallFixture());
        QVERIFY(openDump(file.path()));
        QFile r(record);
        QVERIFY(r.open(QIODevice::ReadOnly));
        const QByteArray fds = r.readAll();
        QVERIFY2(fds.contains("/dev/null"), fds.constData());
        QVERIFY2(!fds.contains("held.h5"), fds.constData());
    }

    void helperThatCrashesOrHangsIsReported()
    {
        QTemporaryDir dir;
        const TempDump file(smallFixture());
        {
            const ScopedEnv env("MOESCOPE_PREFLIGHT_PROGRAM", writeScript(dir, "crash", "kill -SEGV $$").toUtf8());
            const QString message = errorOf([&] { openDump(file.path()); });
            QVERIFY2(message.startsWith(file.qpath() + ": HDF5 crashed"), qPrintable(message));
            QVERIFY2(message.contains("damaged"), qPrintable(message));
        }
        {
            const ScopedEnv env("MOESCOPE_PREFLIGHT_PROGRAM", writeScript(dir, "hang", "exec sleep 30").toUtf8());
            const ScopedEnv limit("MOESCOPE_PREFLIGHT_SECONDS", "1");
            QElapsedTimer clock;
            clock.start();
            const QString message = errorOf([&] { openDump(file.path()); });
            QVERIFY2(message.contains("did not finish in 1 s"), qPrintable(message));
            QVERIFY2(message.contains(file.qpath()), qPrintable(message));
            QVERIFY(clock.elapsed() < 10000);
        }
        {
            // A crash some runtime turned into an exit status (AddressSanitizer exits 1
            // on SIGSEGV) is a crash, not a refusal this process should look into.
            const ScopedEnv env("MOESCOPE_PREFLIGHT_PROGRAM", writeScript(dir, "asan", "exit 1").toUtf8());
            const QString message = errorOf([&] { openDump(file.path()); });
            QVERIFY2(message.startsWith(file.qpath() + ": HDF5 failed") && message.contains("status 1"),
                     qPrintable(message));
        }
        {
            const ScopedEnv env("MOESCOPE_PREFLIGHT_PROGRAM", dir.filePath("absent").toUtf8());
            const QString message = errorOf([&] { openDump(file.path()); });
            QVERIFY2(message.contains(file.qpath()) && message.contains("could not start"), qPrintable(message));
        }
    }

    // Cancelling while the helper runs: Cancelled comes back at once and the helper
    // is gone (killed and reaped, not left behind).
    void cancelKillsTheHelper()
    {
        QTemporaryDir dir;
        const QString pidFile = dir.filePath("pid");
        const QString script = writeScript(dir, "slow", "echo $$ > '" + pidFile.toUtf8() + "'\nexec sleep 30");
        const ScopedEnv env("MOESCOPE_PREFLIGHT_PROGRAM", script.toUtf8());
        const TempDump file(smallFixture());
        std::atomic<bool> cancel{false};
        std::thread canceller([&] {
            for (int i = 0; i < 500 && !QFile::exists(pidFile); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            cancel = true;
        });
        QElapsedTimer clock;
        clock.start();
        bool cancelled = false;
        try {
            openDump(file.path(), Progress({}, &cancel));
        } catch (const Cancelled &) {
            cancelled = true;
        }
        canceller.join();
        QVERIFY(cancelled);
        QVERIFY(clock.elapsed() < 10000);
        QFile f(pidFile);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const pid_t pid = pid_t(f.readAll().trimmed().toLongLong());
        QVERIFY(pid > 0);
        QCOMPARE(::kill(pid, 0), -1); // no such process any more
    }

    // Another thread of this process holds locks while a dump is opened: the HDF5
    // door (a long read in progress) and the standard error stream. A forked copy of
    // this process would inherit them held and hang until the time limit, reporting a
    // sound file as "probably damaged"; the helper program is a fresh process, so the
    // look finishes at once and the open proceeds when the door is free again.
    void locksHeldByAnotherThreadDoNotHangTheLook()
    {
        const TempDump file(smallFixture());
        const ScopedEnv limit("MOESCOPE_PREFLIGHT_SECONDS", "1");
        std::atomic<bool> holding{false};
        std::thread holder([&] {
            auto door = io::hdf5Lock();
            flockfile(stderr);
            holding = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(1500));
            funlockfile(stderr);
        });
        while (!holding)
            std::this_thread::yield();
        QString message;
        std::shared_ptr<const RoutingDump> dump;
        message = errorOf([&] { dump = openDump(file.path()); });
        holder.join();
        QVERIFY2(message.isEmpty(), qPrintable(message));
        QVERIFY(dump);
        QCOMPARE(dump->info().numTokens, 40);
    }

    // A global heap damaged under a variable-length string makes HDF5 1.10 crash (its
    // object size garbled) or loop (its first byte): the helper takes the blow.
    void damagedHeapIsReportedNotSuffered()
    {
        const TempDump file(smallFixture());
        const ScopedEnv limit("MOESCOPE_PREFLIGHT_SECONDS", "2");
        for (int offset : {24, 25}) {
            const QString path = file.dir() + QString("/damaged%1.h5").arg(offset);
            QVERIFY(writeDamagedHeapCopy(file.qpath(), path, offset));
            QElapsedTimer clock;
            clock.start();
            const QString message = errorOf([&] { openDump(path.toStdString()); });
            QVERIFY2(message.startsWith(path + ":"), qPrintable(message));
            QVERIFY(clock.elapsed() < 20000);
        }
    }
};

QTEST_GUILESS_MAIN(OpenDumpTest)
#include "OpenDumpTest.moc"
