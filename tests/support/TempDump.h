#pragma once
// A fixture written into a fresh temporary directory that the test owns.
#include "support/DumpFixture.h"

#include <QString>
#include <QTemporaryDir>

#include <memory>

namespace moescope::test {

class TempDump {
public:
    explicit TempDump(const DumpFixture &fixture, const StorageOptions &storage = {},
                      const QString &name = "dump.h5");
    std::string path() const { return m_path.toStdString(); }
    QString qpath() const { return m_path; }
    QString dir() const { return m_dir->path(); }

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_path;
};

} // namespace moescope::test
