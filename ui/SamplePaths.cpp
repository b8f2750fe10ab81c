#include "SamplePaths.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace moescope::ui {

QString resourceDirectory()
{
    const QString fromEnv = qEnvironmentVariable("MOESCOPE_RESOURCES");
    if (!fromEnv.isEmpty() && QFileInfo(fromEnv).isDir())
        return fromEnv;
    // MOESCOPE_DATA_FROM_BINDIR is where the install rules put the samples, as seen from
    // the installed binary's folder, so a moved or DESTDIR tree finds its own copy.
    const QString installed = QCoreApplication::applicationDirPath() + "/" MOESCOPE_DATA_FROM_BINDIR;
    if (QFileInfo(installed + "/sample-balanced.h5").exists())
        return QDir::cleanPath(installed);
    return QStringLiteral(MOESCOPE_RESOURCE_DIR);
}

QString balancedSamplePath() { return resourceDirectory() + "/sample-balanced.h5"; }
QString collapsedSamplePath() { return resourceDirectory() + "/sample-collapsed.h5"; }

QStringList sampleSeries(const QString &run)
{
    // Zero-padded steps: name order is step order.
    const QDir dir(resourceDirectory() + QStringLiteral("/series"));
    QStringList paths;
    for (const QString &name : dir.entryList({run + QStringLiteral("-step*.h5")}, QDir::Files, QDir::Name))
        paths << dir.filePath(name);
    return paths;
}

} // namespace moescope::ui
