#pragma once
// The entry points of the Qt side of moescope, called from app/main.cpp.
namespace moescope::ui {

// Opens the main window on argv[1] or the bundled sample; returns the exit code.
int runDesktopApp(int argc, char **argv);

bool isExportCommand(const char *command);
// `moescope export ...` (cli.md): renders a chart headless; returns the exit code.
int runExportCommand(int argc, char **argv);

} // namespace moescope::ui
