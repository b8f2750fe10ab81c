#pragma once
// Damage that HDF5 itself cannot survive: one byte of a dump's global heap (where its
// variable-length strings live) set to 0xff. With Debian 12's HDF5 1.10.8, offset 25
// past the heap's signature (a string's size) makes it crash and offset 24 (the
// heap's first byte) makes it loop; the programs must report either as a damaged file.
#include <QByteArray>
#include <QFile>
#include <QString>

namespace moescope::test {

// Writes a copy of the dump at `source` to `target` with that damage at `offset`.
// False when `source` has no global heap or a file cannot be read or written.
inline bool writeDamagedHeapCopy(const QString &source, const QString &target, int offset)
{
    QFile in(source);
    if (!in.open(QIODevice::ReadOnly))
        return false;
    QByteArray bytes = in.readAll();
    const qsizetype heap = bytes.indexOf("GCOL");
    if (heap <= 0 || heap + offset >= bytes.size())
        return false;
    bytes[heap + offset] = char(0xff);
    QFile out(target);
    return out.open(QIODevice::WriteOnly) && out.write(bytes) == bytes.size();
}

} // namespace moescope::test
