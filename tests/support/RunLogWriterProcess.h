#pragma once
// The test run-log writer (RunLogWriterMain.cpp) as a child process: start it, wait
// until it says a step (or a half-written step) is flushed, SIGKILL it.
#include <QProcess>
#include <QProcessEnvironment>
#include <QStringList>
#include <QTest>

#include <csignal>

namespace moescope::test {

class RunLogWriterProcess {
public:
    RunLogWriterProcess(const QString &path, const QStringList &options)
    {
        // An ordinary (non-SWMR) writer appends while a reader has the file open.
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("HDF5_USE_FILE_LOCKING", "FALSE");
        m_process.setProcessEnvironment(env);
        m_process.start(qEnvironmentVariable("MOESCOPE_RUNLOG_WRITER"), QStringList{path} + options);
    }
    ~RunLogWriterProcess() { kill(); }

    // Waits (up to timeoutMs) for an output line equal to `line`; true when it came.
    bool waitForLine(const QString &line, int timeoutMs = 30000)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!deadline.hasExpired()) {
            while (m_process.canReadLine()) {
                const QString got = QString::fromUtf8(m_process.readLine()).trimmed();
                if (got == line)
                    return true;
            }
            if (m_process.state() == QProcess::NotRunning && !m_process.canReadLine())
                return false;
            m_process.waitForReadyRead(100);
        }
        return false;
    }
    bool waitForExit(int timeoutMs = 30000) { return m_process.waitForFinished(timeoutMs) && m_process.exitCode() == 0; }
    void kill()
    {
        if (m_process.state() != QProcess::NotRunning) {
            ::kill(pid_t(m_process.processId()), SIGKILL);
            m_process.waitForFinished(10000);
        }
    }

private:
    QProcess m_process;
};

} // namespace moescope::test
