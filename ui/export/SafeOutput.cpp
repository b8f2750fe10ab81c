#include "export/SafeOutput.h"

#include <QDir>
#include <QFileInfo>

namespace moescope::ui {

namespace {
QString problem(const QString &path, const QString &text) { return QStringLiteral("%1: %2").arg(path, text); }

// QSaveFile's own words for a failed write (else `fallback`), with what a user can do.
QString writeError(const QSaveFile &file, const QString &fallback = QStringLiteral("write error"))
{
    const QString reason = file.error() != QFileDevice::NoError && !file.errorString().isEmpty() ? file.errorString()
                                                                                                  : fallback;
    return QStringLiteral("cannot be written (%1; is the disk full?); any existing file is left as it was")
        .arg(reason);
}
} // namespace

QString openOutput(QSaveFile &file)
{
    const QString path = file.fileName();
    const QFileInfo info(path);
    if (info.isDir())
        return problem(path, QStringLiteral("is a directory; give the name of a file to write"));
    const QFileInfo folder(info.absolutePath());
    if (!folder.exists())
        return problem(path, QStringLiteral("cannot be written: the folder %1 does not exist").arg(folder.filePath()));
    if (!folder.isDir())
        return problem(path, QStringLiteral("cannot be written: %1 is not a folder").arg(folder.filePath()));
    if (!file.open(QIODevice::WriteOnly))
        return problem(path, QStringLiteral("cannot be written (%1)").arg(file.errorString()));
    return {};
}

QString commitOutput(QSaveFile &file)
{
    if (file.commit())
        return {};
    return problem(file.fileName(), writeError(file));
}

QString writeFailure(const QSaveFile &file, const QString &fallback)
{
    return problem(file.fileName(), writeError(file, fallback));
}

} // namespace moescope::ui
