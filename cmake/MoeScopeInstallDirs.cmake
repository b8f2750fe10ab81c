# Where an installed MoE Scope keeps its files (GNU layout under the install prefix).
# The program finds its samples (and its helper programs) relative to its own binary,
# so an installed tree works from any prefix, under a DESTDIR, or moved elsewhere.
include(GNUInstallDirs)

set(MOESCOPE_INSTALL_DATADIR ${CMAKE_INSTALL_DATADIR}/moescope)       # the sample dumps
set(MOESCOPE_INSTALL_LIBEXECDIR ${CMAKE_INSTALL_LIBEXECDIR}/moescope) # helper programs

# The same places as seen from the installed binary's folder (e.g. ../share/moescope),
# compiled into the program.
file(RELATIVE_PATH MOESCOPE_DATA_FROM_BINDIR ${CMAKE_INSTALL_FULL_BINDIR}
     ${CMAKE_INSTALL_FULL_DATADIR}/moescope)
file(RELATIVE_PATH MOESCOPE_LIBEXEC_FROM_BINDIR ${CMAKE_INSTALL_FULL_BINDIR}
     ${CMAKE_INSTALL_FULL_LIBEXECDIR}/moescope)
