#pragma once
// Expert pairs for the selected layer: co-activation (which experts a token's k
// choices combine) or transitions (where a token's best expert goes at the next
// layer), counted in the background on the device the user picks. Clicking a cell
// follows the pair: the partner expert, or the next layer's expert.
#include "DumpSnapshot.h"
#include "PairMatrix.h"
#include "routing/BackendFactory.h"

#include <QWidget>

#include <memory>
#include <optional>

class QComboBox;
class QLabel;

namespace moescope::ui {

class ExpertPairsPlot;
class JobSlot;
class SelectionModel;

class ExpertPairsView : public QWidget {
    Q_OBJECT
public:
    ExpertPairsView(SelectionModel *selection, QWidget *parent = nullptr);
    void setSnapshot(const DumpSnapshotPtr &snapshot);
    ExpertPairsPlot *plot() const { return m_plot; }
    JobSlot *job() const { return m_job; }
    void setKind(PairKind kind);
    void setDevice(Device device);
    // Whether the view is on screen: a dock behind another tab still counts as visible
    // to Qt, so the window says when its tab is in front (QDockWidget::visibilityChanged).
    // Pairs are counted only for a view on screen.
    void setOnScreen(bool onScreen);
    bool isOnScreen() const { return m_onScreen; }

signals:
    void counted(); // new pairs are on screen (tests wait for it)

private:
    // Counts the pairs the controls and the selection ask for, unless they are on
    // screen already; hidden views wait until they are shown.
    void refresh();

    SelectionModel *m_selection;
    ExpertPairsPlot *m_plot;
    QComboBox *m_kind;
    QComboBox *m_device;
    QLabel *m_status;
    JobSlot *m_job;
    DumpSnapshotPtr m_snapshot;
    std::shared_ptr<const PairMatrix> m_shownPairs; // what the plot shows; null while it shows a note
    // What the plot holds and what the running job counts: snapshot, kind, layer, device.
    // What a count is of: the pairs shown, and the count under way.
    struct CountKey {
        DumpSnapshotPtr snapshot;
        PairKind kind = PairKind::CoActivation;
        int layer = -1;
        Device device = Device::Cpu;
        bool operator==(const CountKey &) const = default;
    };
    std::optional<CountKey> m_shownKey, m_pendingKey;
    bool m_onScreen = false;
};

} // namespace moescope::ui
