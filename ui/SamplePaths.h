#pragma once
// Where the bundled sample dumps are: $MOESCOPE_RESOURCES, next to an installed
// binary (../share/moescope in the GNU layout), or the source tree's resources/ for a
// build tree.
#include <QString>

namespace moescope::ui {

QString resourceDirectory();
QString balancedSamplePath();
QString collapsedSamplePath();

} // namespace moescope::ui
