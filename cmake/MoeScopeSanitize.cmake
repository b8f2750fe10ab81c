# MOESCOPE_SANITIZE=ON compiles and links every target with AddressSanitizer (which
# includes LeakSanitizer) and UndefinedBehaviorSanitizer. Any finding aborts the
# program (-fno-sanitize-recover), so a test that trips one fails. -O1 keeps the
# instrumented tests quick enough for CI while leaving stack traces readable; it comes
# after the build type's -O flag, so it wins.
if(MOESCOPE_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "MOESCOPE_SANITIZE needs GCC or Clang")
  endif()
  set(MOESCOPE_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all)
  add_compile_options(${MOESCOPE_SANITIZER_FLAGS} -fno-omit-frame-pointer -O1 -g)
  add_link_options(${MOESCOPE_SANITIZER_FLAGS})
endif()

# MOESCOPE_FUZZ=ON: every source gets libFuzzer's coverage instrumentation
# (fuzzer-no-link; the targets link the fuzzer itself, tests/fuzz/CMakeLists.txt),
# with AddressSanitizer and UndefinedBehaviorSanitizer. Any UBSan finding aborts, so
# libFuzzer records it as a crash with its input.
if(MOESCOPE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "MOESCOPE_FUZZ needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang")
  endif()
  set(MOESCOPE_FUZZ_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)
  add_compile_options(${MOESCOPE_FUZZ_FLAGS} -fno-omit-frame-pointer -O1 -g)
  add_link_options(-fsanitize=address,undefined)
endif()
