#pragma once
// The fuzz targets' entry functions: one per kind of untrusted input MoE Scope reads.
// Each takes arbitrary bytes, runs the real reader on them and must return normally
// (a refusal is a DumpError, caught here); anything else (a crash, a sanitizer
// report, a hang, an unbounded allocation) is a finding. The same functions are
// linked into libFuzzer targets (FuzzMain.cpp) and into the replay program that
// ctest runs over the kept findings and the seed corpora (ReplayMain.cpp).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

namespace moescope::fuzz {

using Entry = int (*)(const std::uint8_t *data, std::size_t size);

// A routing dump: the bytes are an HDF5 file image, opened in memory (the schema
// check on opening, then vocab, token ids, every layer's rows and /training).
int dumpImage(const std::uint8_t *data, std::size_t size);
// A run log (/training series) as an HDF5 file image.
int runLogImage(const std::uint8_t *data, std::size_t size);
// One compressed chunk: the first 8 bytes choose the layout (value size, chunk shape,
// filters and HDF5's filter mask), the rest is the chunk as stored.
int compressedChunk(const std::uint8_t *data, std::size_t size);

// The importers (ImportEntry.cpp), each through its format's whole read: JSON Lines
// as a Megatron router trace and as a tokens-per-expert log; .npy (or, starting with
// "PK", .npz) and JSON as vLLM routed experts; GGUF as a llama.cpp imatrix.
int importJsonl(const std::uint8_t *data, std::size_t size);
int importNpy(const std::uint8_t *data, std::size_t size);
int importJson(const std::uint8_t *data, std::size_t size);
int importGguf(const std::uint8_t *data, std::size_t size);

// Says why an input was refused, on stderr, when MOESCOPE_FUZZ_VERBOSE is set (to
// check that seeds open, and to triage); silent otherwise, for speed.
void refused(const std::exception &error);

// The entry of a target by its name ("dump", "runlog", "chunk", "import-jsonl", ...);
// null when unknown.
Entry entryNamed(std::string_view target);

// A name for in-memory images that names no file (HDF5's core driver refuses to
// open an image under the name of an existing file).
inline constexpr const char *kImageName = "/nonexistent-moescope-fuzz/input.h5";

} // namespace moescope::fuzz
