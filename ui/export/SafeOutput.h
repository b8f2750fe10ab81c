#pragma once
// Opening and finishing the file an export or a report writes. Every output goes
// through a QSaveFile: the bytes go to a temporary file in the same folder, which
// replaces the target only once whole (a rename), so a failure at any point leaves an
// existing file as it was and nothing else behind. These say why, in words.
#include <QSaveFile>
#include <QString>

namespace moescope::ui {

// Checks `file`'s path (not a directory, in a folder that exists) and opens it for
// writing. Returns "" when open, else the message: "PATH: problem".
QString openOutput(QSaveFile &file);

// Finishes `file` (QSaveFile::commit). Returns "" when the target now holds the new
// bytes, else the message, which also says the existing file was kept.
QString commitOutput(QSaveFile &file);

// The message for a write to `file` that failed midway (the file is then discarded).
QString writeFailure(const QSaveFile &file, const QString &fallback);

} // namespace moescope::ui
