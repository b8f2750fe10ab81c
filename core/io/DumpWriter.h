#pragma once
// Writes an imported record (import/ImportedRecord.h) as a routing dump
// (docs/dump-format.md, version 1) with the HDF5 C API. Every rule of the format is
// checked before the file is made. The dump is written to a temporary file in the
// target's folder and renamed onto the target only when it is complete: on any error
// (or cancellation) the temporary file is removed, no output appears and an earlier
// file of that name is left untouched.
#include "import/ImportedRecord.h"
#include "io/Progress.h"

#include <string>

namespace moescope {

// Throws DumpError naming `path` and the object (e.g. "/layers/decoder.3/topk_ids")
// when the record breaks a rule or the file cannot be written; Cancelled. Returns E
// and the warnings as the record's choice stream (if any) settled them.
import::StreamedFacts writeImportedDump(const import::ImportedRecord &record, const std::string &path,
                                        const Progress &progress = {});

} // namespace moescope
