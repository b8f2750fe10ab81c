#include "support/TempDump.h"

namespace moescope::test {

TempDump::TempDump(const DumpFixture &fixture, const StorageOptions &storage, const QString &name)
    : m_dir(std::make_unique<QTemporaryDir>())
{
    m_path = m_dir->filePath(name);
    fixture.write(m_path.toStdString(), storage);
}

} // namespace moescope::test
