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
    const QString installed = QCoreApplication::applicationDirPath() + "/../share/moescope";
    if (QFileInfo(installed + "/sample-balanced.h5").exists())
        return QDir::cleanPath(installed);
    return QStringLiteral(MOESCOPE_RESOURCE_DIR);
}

QString balancedSamplePath() { return resourceDirectory() + "/sample-balanced.h5"; }
QString collapsedSamplePath() { return resourceDirectory() + "/sample-collapsed.h5"; }

} // namespace moescope::ui
