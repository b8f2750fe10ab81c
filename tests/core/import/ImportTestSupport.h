#pragma once
// What the importer tests share: running an import into a fresh folder, and checking
// that a refused source names the file, the line and the problem and leaves no file.
#include "import/ImportFormats.h"
#include "io/DumpError.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <string>

namespace moescope::test {

inline import::ImportResult runImport(const std::string &formatName, const QString &source, const QString &out,
                                      const import::ImportOptions &options = {})
{
    const import::ImportFormat *format = import::findImportFormat(formatName);
    if (!format)
        qFatal("no import format %s", formatName.c_str());
    return import::importSource(*format, source.toStdString(), out.toStdString(), options);
}

// The import must throw a DumpError whose message holds every fragment, and leave the
// output folder empty (no dump, no temporary file).
inline bool refused(const std::string &formatName, const QString &source, const QStringList &fragments,
                    const import::ImportOptions &options = {})
{
    QTemporaryDir outDir;
    const QString out = outDir.path() + "/out.h5";
    QString message;
    try {
        runImport(formatName, source, out, options);
        qWarning("the import was not refused");
        return false;
    } catch (const DumpError &e) {
        message = QString::fromStdString(e.what());
    }
    for (const QString &f : fragments)
        if (!message.contains(f)) {
            qWarning("message '%s' lacks '%s'", qPrintable(message), qPrintable(f));
            return false;
        }
    const QStringList left = QDir(outDir.path()).entryList(QDir::Files | QDir::Hidden | QDir::NoDotAndDotDot);
    if (!left.isEmpty()) {
        qWarning("files left behind: %s", qPrintable(left.join(", ")));
        return false;
    }
    return true;
}

} // namespace moescope::test
