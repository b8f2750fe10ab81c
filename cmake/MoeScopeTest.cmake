# Registers one Qt Test executable as a CTest test that runs without a display.
#   moescope_add_test(NAME name SOURCES a.cpp b.cpp LIBS lib... [LABELS l...])
function(moescope_add_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  set_target_properties(${T_NAME} PROPERTIES AUTOMOC ON)
  target_link_libraries(${T_NAME} PRIVATE Qt6::Test ${T_LIBS})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  moescope_warnings(${T_NAME})
  add_dependencies(${T_NAME} moescope-preflight moescope-test-runlog-writer) # dumps are opened through the first; the second writes live run logs
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES
    ENVIRONMENT "QT_QPA_PLATFORM=offscreen;MOESCOPE_CACHE_DIR=${CMAKE_BINARY_DIR}/test-summary-cache;MOESCOPE_BIN=$<TARGET_FILE:moescope>;MOESCOPE_RESOURCES=${MOESCOPE_RESOURCE_DIR};MOESCOPE_RUNLOG_WRITER=$<TARGET_FILE:moescope-test-runlog-writer>"
    TIMEOUT 600 LABELS "${T_LABELS}")
endfunction()
