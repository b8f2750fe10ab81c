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
