# What `cmake --install` puts where, and the Debian package `cpack -G DEB` makes of it.
# Included last, once every target exists. Only the program and its data are installed:
# tests, benchmarks and their support libraries have no install rules.

install(TARGETS moescope RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Helper programs the app starts itself go under libexec, out of the user's PATH.
if(TARGET moescope-preflight)
  install(TARGETS moescope-preflight RUNTIME DESTINATION ${MOESCOPE_INSTALL_LIBEXECDIR})
endif()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/resources/ DESTINATION ${MOESCOPE_INSTALL_DATADIR}
        FILES_MATCHING PATTERN "*.h5")

# Desktop integration: menu entry, icon, software-centre metadata, all named by the
# application id so that desktops match the running window to them.
set(MOESCOPE_APP_ID io.moescope.MoEScope)
set(packaging_dir ${PROJECT_SOURCE_DIR}/packaging)
install(FILES ${packaging_dir}/${MOESCOPE_APP_ID}.desktop DESTINATION ${CMAKE_INSTALL_DATADIR}/applications)
install(FILES ${packaging_dir}/${MOESCOPE_APP_ID}.svg
        DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps)
install(FILES ${packaging_dir}/${MOESCOPE_APP_ID}.metainfo.xml DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/moescope
        RENAME copyright)

# --- cpack -G DEB ---------------------------------------------------------------------
set(MOESCOPE_PACKAGE_MAINTAINER "MoE Scope maintainers <moescope@example.org>"
    CACHE STRING "Maintainer named in the packages cpack makes")

set(CPACK_PACKAGE_NAME moescope)
set(CPACK_PACKAGE_VENDOR "MoE Scope")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${MOESCOPE_PACKAGE_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
# Lines of the long description (a list joined by newlines; cpack indents them).
set(description_lines
    "MoE Scope opens a checkpoint's routing dump (HDF5) and shows whether every"
    "expert works and what each one has learned: utilization, routing maps,"
    "per-expert token profiles, auxiliary losses over training, and what-if"
    "re-routing on the CPU or an OpenCL GPU. The same numbers are available"
    "headless, as JSON, for scripts and CI.")
string(JOIN "\n" CPACK_PACKAGE_DESCRIPTION ${description_lines})
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # moescope_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${MOESCOPE_PACKAGE_MAINTAINER})
# dpkg-shlibdeps names the libraries the binary links (Qt 6, HDF5, QCustomPlot,
# libdeflate, ...). The OpenCL loader is opened at run time, so it is invisible there
# and named here; a driver (ICD) is only recommended, as the CPU does everything too.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "ocl-icd-libopencl1 | libopencl1")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "pocl-opencl-icd | opencl-icd")
include(CPack)
