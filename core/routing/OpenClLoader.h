#pragma once
// The OpenCL ICD loader is opened at run time (OpenClLoader.cpp), not linked, so
// MoE Scope starts and routes on the CPU where no OpenCL is installed at all.
#include <string>

namespace moescope::opencl {

// Empty when the loader library is open; otherwise why it is not (for messages).
std::string loaderProblem();

} // namespace moescope::opencl
