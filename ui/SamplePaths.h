#pragma once
// Where the bundled sample dumps are: $MOESCOPE_RESOURCES, next to an installed
// binary (../share/moescope in the GNU layout), or the source tree's resources/ for a
// build tree.
#include <QString>
#include <QStringList>

namespace moescope::ui {

QString resourceDirectory();
QString balancedSamplePath();
QString collapsedSamplePath();
// The bundled checkpoint series of one training run ("balanced" or "collapsed"): the
// dumps series/<run>-step*.h5, in step order; empty when they are missing.
QStringList sampleSeries(const QString &run);

} // namespace moescope::ui
