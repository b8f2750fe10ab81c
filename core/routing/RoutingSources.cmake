# core/routing's sources beyond the three core/CMakeLists.txt lists (RowRouter,
# CpuBackend, BackendFactory), included from there so this area keeps its own list.
# The vector kernels need no per-file flags: their functions carry target attributes
# and run only where the processor has the instructions.
target_sources(core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/ThreadPool.cpp
  ${CMAKE_CURRENT_LIST_DIR}/CpuKernelAvx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/CpuKernelAvx512.cpp
  ${CMAKE_CURRENT_LIST_DIR}/CapacitySweep.cpp
)
target_sources(core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/ExpertChoice.cpp
  ${CMAKE_CURRENT_LIST_DIR}/BalanceSimulation.cpp
)

# The OpenCL backend: kernels embedded as a generated header, the Khronos C++ bindings
# on the ICD loader, which OpenClLoader.cpp opens at run time (headers only at build
# time). Editing the .cl file re-runs this step.
file(READ ${CMAKE_CURRENT_LIST_DIR}/RoutingKernels.cl MOESCOPE_ROUTING_KERNELS)
configure_file(${CMAKE_CURRENT_LIST_DIR}/RoutingKernelSource.h.in
               ${CMAKE_CURRENT_BINARY_DIR}/generated/routing/RoutingKernelSource.h @ONLY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/RoutingKernels.cl)
target_include_directories(core PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/generated)
target_sources(core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/OpenClLoader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/OpenClRuntime.cpp
  ${CMAKE_CURRENT_LIST_DIR}/OpenClBackend.cpp
  ${CMAKE_CURRENT_LIST_DIR}/OpenClPairs.cpp
)
target_include_directories(core PUBLIC ${OpenCL_INCLUDE_DIRS})
target_link_libraries(core PUBLIC ${CMAKE_DL_LIBS})
