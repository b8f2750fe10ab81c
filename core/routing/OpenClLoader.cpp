// The OpenCL entry points the Khronos C++ bindings call, defined here and forwarded
// to the ICD loader (libOpenCL), which is opened on first use instead of linked:
// without it the program would not start at all, while OpenCL is only ever an
// option (`--device auto` falls back to the CPU). When the loader is missing,
// clGetPlatformIDs reports no platform, as an empty loader does, and nothing else is
// reached (nothing can be created without a platform).
#define CL_TARGET_OPENCL_VERSION 120
#include "routing/OpenClLoader.h"

#include <CL/cl.h>
#include <dlfcn.h>

#include <cstdlib>
#include <vector>

namespace moescope::opencl {

namespace {

struct Loader {
    void *handle = nullptr;
    std::string problem;
    Loader()
    {
        // MOESCOPE_OPENCL_LIBRARY names another loader (a vendor's, say) to use instead.
        const char *chosen = std::getenv("MOESCOPE_OPENCL_LIBRARY");
        std::vector<const char *> names{"libOpenCL.so.1", "libOpenCL.so",
                                        "/System/Library/Frameworks/OpenCL.framework/OpenCL"};
        if (chosen && *chosen)
            names = {chosen};
        std::string first; // the reason the first name failed: the one worth showing
        for (const char *name : names) {
            if ((handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
                return;
            if (const char *why = dlerror(); why && first.empty())
                first = why;
        }
        problem = std::string("the OpenCL loader (") + names.front() +
                  (chosen && *chosen ? ", from MOESCOPE_OPENCL_LIBRARY" : ", Debian package ocl-icd-libopencl1") +
                  ") cannot be loaded" + (first.empty() ? std::string() : ": " + first);
    }
};

const Loader &loader()
{
    static const Loader l; // thread-safe once
    return l;
}

template <typename Fn>
Fn resolve(const char *name)
{
    return loader().handle ? reinterpret_cast<Fn>(dlsym(loader().handle, name)) : nullptr;
}

// What a call returns when its entry point is missing; objects also set *errcode.
template <typename T>
T missingObject(cl_int *errcode)
{
    if (errcode)
        *errcode = CL_INVALID_OPERATION;
    return nullptr;
}

} // namespace

std::string loaderProblem() { return loader().problem; }

} // namespace moescope::opencl

using moescope::opencl::missingObject;
using moescope::opencl::resolve;

// One forwarder: resolved once, then a plain indirect call.
#define MOESCOPE_CL_FORWARD(ret, name, params, args, fallback)                                                        \
    extern "C" CL_API_ENTRY ret CL_API_CALL name params                                                              \
    {                                                                                                                \
        using Fn = ret(CL_API_CALL *) params;                                                                        \
        static const Fn f = resolve<Fn>(#name);                                                                      \
        return f ? f args : fallback;                                                                                \
    }

extern "C" CL_API_ENTRY cl_int CL_API_CALL clGetPlatformIDs(cl_uint num_entries, cl_platform_id *platforms,
                                                          cl_uint *num_platforms)
{
    using Fn = cl_int(CL_API_CALL *)(cl_uint, cl_platform_id *, cl_uint *);
    static const Fn f = resolve<Fn>("clGetPlatformIDs");
    if (f)
        return f(num_entries, platforms, num_platforms);
    if (num_platforms)
        *num_platforms = 0;
    return -1001; // CL_PLATFORM_NOT_FOUND_KHR: what a loader without platforms says
}

MOESCOPE_CL_FORWARD(cl_int, clGetPlatformInfo,
                    (cl_platform_id platform, cl_platform_info param_name, size_t param_value_size, void *param_value,
                     size_t *param_value_size_ret),
                    (platform, param_name, param_value_size, param_value, param_value_size_ret), CL_INVALID_PLATFORM)
MOESCOPE_CL_FORWARD(cl_int, clGetDeviceIDs,
                    (cl_platform_id platform, cl_device_type device_type, cl_uint num_entries, cl_device_id *devices,
                     cl_uint *num_devices),
                    (platform, device_type, num_entries, devices, num_devices), CL_INVALID_PLATFORM)
MOESCOPE_CL_FORWARD(cl_int, clGetDeviceInfo,
                    (cl_device_id device, cl_device_info param_name, size_t param_value_size, void *param_value,
                     size_t *param_value_size_ret),
                    (device, param_name, param_value_size, param_value, param_value_size_ret), CL_INVALID_DEVICE)
MOESCOPE_CL_FORWARD(cl_int, clRetainDevice, (cl_device_id device), (device), CL_INVALID_DEVICE)
MOESCOPE_CL_FORWARD(cl_int, clReleaseDevice, (cl_device_id device), (device), CL_INVALID_DEVICE)
MOESCOPE_CL_FORWARD(cl_context, clCreateContext,
                    (const cl_context_properties *properties, cl_uint num_devices, const cl_device_id *devices,
                     void(CL_CALLBACK *pfn_notify)(const char *, const void *, size_t, void *), void *user_data,
                     cl_int *errcode_ret),
                    (properties, num_devices, devices, pfn_notify, user_data, errcode_ret),
                    missingObject<cl_context>(errcode_ret))
MOESCOPE_CL_FORWARD(cl_int, clReleaseContext, (cl_context context), (context), CL_INVALID_CONTEXT)
MOESCOPE_CL_FORWARD(cl_command_queue, clCreateCommandQueue,
                    (cl_context context, cl_device_id device, cl_command_queue_properties properties,
                     cl_int *errcode_ret),
                    (context, device, properties, errcode_ret), missingObject<cl_command_queue>(errcode_ret))
MOESCOPE_CL_FORWARD(cl_int, clReleaseCommandQueue, (cl_command_queue command_queue), (command_queue),
                    CL_INVALID_COMMAND_QUEUE)
MOESCOPE_CL_FORWARD(cl_mem, clCreateBuffer,
                    (cl_context context, cl_mem_flags flags, size_t size, void *host_ptr, cl_int *errcode_ret),
                    (context, flags, size, host_ptr, errcode_ret), missingObject<cl_mem>(errcode_ret))
MOESCOPE_CL_FORWARD(cl_int, clRetainMemObject, (cl_mem memobj), (memobj), CL_INVALID_MEM_OBJECT)
MOESCOPE_CL_FORWARD(cl_int, clReleaseMemObject, (cl_mem memobj), (memobj), CL_INVALID_MEM_OBJECT)
MOESCOPE_CL_FORWARD(cl_program, clCreateProgramWithSource,
                    (cl_context context, cl_uint count, const char **strings, const size_t *lengths,
                     cl_int *errcode_ret),
                    (context, count, strings, lengths, errcode_ret), missingObject<cl_program>(errcode_ret))
MOESCOPE_CL_FORWARD(cl_int, clBuildProgram,
                    (cl_program program, cl_uint num_devices, const cl_device_id *device_list, const char *options,
                     void(CL_CALLBACK *pfn_notify)(cl_program, void *), void *user_data),
                    (program, num_devices, device_list, options, pfn_notify, user_data), CL_INVALID_PROGRAM)
MOESCOPE_CL_FORWARD(cl_int, clGetProgramInfo,
                    (cl_program program, cl_program_info param_name, size_t param_value_size, void *param_value,
                     size_t *param_value_size_ret),
                    (program, param_name, param_value_size, param_value, param_value_size_ret), CL_INVALID_PROGRAM)
MOESCOPE_CL_FORWARD(cl_int, clGetProgramBuildInfo,
                    (cl_program program, cl_device_id device, cl_program_build_info param_name,
                     size_t param_value_size, void *param_value, size_t *param_value_size_ret),
                    (program, device, param_name, param_value_size, param_value, param_value_size_ret),
                    CL_INVALID_PROGRAM)
MOESCOPE_CL_FORWARD(cl_int, clReleaseProgram, (cl_program program), (program), CL_INVALID_PROGRAM)
MOESCOPE_CL_FORWARD(cl_kernel, clCreateKernel, (cl_program program, const char *kernel_name, cl_int *errcode_ret),
                    (program, kernel_name, errcode_ret), missingObject<cl_kernel>(errcode_ret))
MOESCOPE_CL_FORWARD(cl_int, clSetKernelArg,
                    (cl_kernel kernel, cl_uint arg_index, size_t arg_size, const void *arg_value),
                    (kernel, arg_index, arg_size, arg_value), CL_INVALID_KERNEL)
MOESCOPE_CL_FORWARD(cl_int, clReleaseKernel, (cl_kernel kernel), (kernel), CL_INVALID_KERNEL)
MOESCOPE_CL_FORWARD(cl_int, clGetKernelWorkGroupInfo,
                    (cl_kernel kernel, cl_device_id device, cl_kernel_work_group_info param_name,
                     size_t param_value_size, void *param_value, size_t *param_value_size_ret),
                    (kernel, device, param_name, param_value_size, param_value, param_value_size_ret),
                    CL_INVALID_KERNEL)
MOESCOPE_CL_FORWARD(cl_int, clEnqueueNDRangeKernel,
                    (cl_command_queue command_queue, cl_kernel kernel, cl_uint work_dim,
                     const size_t *global_work_offset, const size_t *global_work_size, const size_t *local_work_size,
                     cl_uint num_events_in_wait_list, const cl_event *event_wait_list, cl_event *event),
                    (command_queue, kernel, work_dim, global_work_offset, global_work_size, local_work_size,
                     num_events_in_wait_list, event_wait_list, event),
                    CL_INVALID_COMMAND_QUEUE)
MOESCOPE_CL_FORWARD(cl_int, clEnqueueReadBuffer,
                    (cl_command_queue command_queue, cl_mem buffer, cl_bool blocking_read, size_t offset, size_t size,
                     void *ptr, cl_uint num_events_in_wait_list, const cl_event *event_wait_list, cl_event *event),
                    (command_queue, buffer, blocking_read, offset, size, ptr, num_events_in_wait_list,
                     event_wait_list, event),
                    CL_INVALID_COMMAND_QUEUE)
MOESCOPE_CL_FORWARD(cl_int, clEnqueueWriteBuffer,
                    (cl_command_queue command_queue, cl_mem buffer, cl_bool blocking_write, size_t offset,
                     size_t size, const void *ptr, cl_uint num_events_in_wait_list, const cl_event *event_wait_list,
                     cl_event *event),
                    (command_queue, buffer, blocking_write, offset, size, ptr, num_events_in_wait_list,
                     event_wait_list, event),
                    CL_INVALID_COMMAND_QUEUE)
MOESCOPE_CL_FORWARD(cl_int, clEnqueueFillBuffer,
                    (cl_command_queue command_queue, cl_mem buffer, const void *pattern, size_t pattern_size,
                     size_t offset, size_t size, cl_uint num_events_in_wait_list, const cl_event *event_wait_list,
                     cl_event *event),
                    (command_queue, buffer, pattern, pattern_size, offset, size, num_events_in_wait_list,
                     event_wait_list, event),
                    CL_INVALID_COMMAND_QUEUE)
MOESCOPE_CL_FORWARD(cl_int, clFlush, (cl_command_queue command_queue), (command_queue), CL_INVALID_COMMAND_QUEUE)
MOESCOPE_CL_FORWARD(cl_int, clFinish, (cl_command_queue command_queue), (command_queue), CL_INVALID_COMMAND_QUEUE)
