#pragma once
// What if the router ran with other settings? Scoring, top-k, capacity factor, drop
// policy, capacity group, bias balancing rate and device (CPU or OpenCL GPU) re-route
// the dump's logits in
// the background (progress, cancel), then the table compares drops and hot/cold
// experts per layer before (the recorded choices) and after.
#include "DumpSnapshot.h"
#include "routing/BackendFactory.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableView;

namespace moescope::ui {

class JobSlot;
class SelectionModel;
class WhatIfModel;

struct WhatIfSettings {
    Scoring scoring = Scoring::Softmax;
    int topK = 1;
    double capacityFactor = 1.25;
    DropPolicy policy = DropPolicy::TokenOrder;
    CapacityGroup group = CapacityGroup::Dump;
    Device device = Device::Cpu;
    double balanceRate = 0;            // bias balancing update rate u; 0: no replay
    int balanceBatchTokens = 4096;     // B, tokens per balancing batch
    bool expertChoice = false;         // also route by expert choice (who is left out)
};

class WhatIfView : public QWidget {
    Q_OBJECT
public:
    WhatIfView(SelectionModel *selection, QWidget *parent = nullptr);
    void setSnapshot(const DumpSnapshotPtr &snapshot);

    WhatIfSettings settings() const;
    void setSettings(const WhatIfSettings &settings);
    void run();
    JobSlot *job() const { return m_job; }
    WhatIfModel *model() const { return m_model; }

signals:
    void finished();
    void failed(const QString &message);

private:
    SelectionModel *m_selection;
    DumpSnapshotPtr m_snapshot;
    QComboBox *m_scoring, *m_policy, *m_group, *m_device;
    QSpinBox *m_topK, *m_batchTokens;
    QCheckBox *m_expertChoice;
    QDoubleSpinBox *m_capacity, *m_balanceRate;
    QPushButton *m_run, *m_cancel;
    QProgressBar *m_progress;
    QLabel *m_status;
    WhatIfModel *m_model;
    QTableView *m_table;
    JobSlot *m_job;
};

} // namespace moescope::ui
