#pragma once
// The entry points of the Qt side of moescope, called from app/main.cpp.
namespace moescope::ui {

// Opens the main window on argv[1] or the bundled sample; returns the exit code.
int runDesktopApp(int argc, char **argv);

// The names QSettings and the about box use; call once a Q(Gui)Application exists.
void setApplicationNames();

} // namespace moescope::ui
