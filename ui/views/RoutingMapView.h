#pragma once
// The routing map with its controls: which sequence (with its label), zoom, and
// whether experts other than the selected one are dimmed.
#include "DumpSnapshot.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;

namespace moescope::ui {

class RoutingMapCanvas;
class SelectionModel;

class RoutingMapView : public QWidget {
    Q_OBJECT
public:
    RoutingMapView(SelectionModel *selection, QWidget *parent = nullptr);
    void setSnapshot(const DumpSnapshotPtr &snapshot);
    RoutingMapCanvas *canvas() const { return m_canvas; }
    QComboBox *sequenceBox() const { return m_sequences; }

private:
    void updateInfo();

    SelectionModel *m_selection;
    DumpSnapshotPtr m_snapshot;
    RoutingMapCanvas *m_canvas;
    QComboBox *m_sequences;
    QCheckBox *m_dim;
    QLabel *m_info;
};

} // namespace moescope::ui
