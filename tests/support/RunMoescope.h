#pragma once
// Runs the moescope program ($MOESCOPE_BIN) headless, as a script would: no display,
// no platform hint. For the command-line tests.
#include <QByteArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStringList>

namespace moescope::test {

struct Run {
    int exitCode = -1; // -1 when it did not exit normally
    QByteArray out, err;
    QJsonObject json() const { return QJsonDocument::fromJson(out).object(); }
};

// preflightSeconds: MOESCOPE_PREFLIGHT_SECONDS for this run (empty: the default).
inline Run runMoescope(const QStringList &args, const QString &preflightSeconds = {})
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    if (!preflightSeconds.isEmpty())
        env.insert("MOESCOPE_PREFLIGHT_SECONDS", preflightSeconds);
    env.remove("DISPLAY");
    env.remove("WAYLAND_DISPLAY");
    env.remove("QT_QPA_PLATFORM");
    p.setProcessEnvironment(env);
    p.start(qEnvironmentVariable("MOESCOPE_BIN"), args);
    if (!p.waitForFinished(120000))
        qFatal("moescope did not finish");
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

} // namespace moescope::test
