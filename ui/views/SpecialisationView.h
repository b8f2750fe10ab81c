#pragma once
// What the selected layer's experts specialise in: the domain heatmap (label x expert,
// against the uniform k/E) above the token figures of analyses.md, each beside its
// chance baseline: locality (consecutive tokens at the same expert, Mixtral) and
// vocabulary specialisation (how faithfully a token id goes to one expert, OLMoE),
// for the layer and for the selected expert, with the minimum occurrences settable.
#include "DumpSnapshot.h"

#include <QWidget>

class QLabel;
class QSpinBox;

namespace moescope::ui {

class DomainPlot;
class SelectionModel;

class SpecialisationView : public QWidget {
    Q_OBJECT
public:
    SpecialisationView(SelectionModel *selection, QWidget *parent = nullptr);
    void setSnapshot(const DumpSnapshotPtr &snapshot);
    DomainPlot *plot() const { return m_plot; }
    QSpinBox *minCountBox() const { return m_minCount; }
    // The figures as shown (plain text), for tests.
    QString figuresText() const;

private:
    void showFigures();

    DumpSnapshotPtr m_snapshot;
    SelectionModel *m_selection;
    DomainPlot *m_plot;
    QLabel *m_figures;
    QSpinBox *m_minCount;
};

} // namespace moescope::ui
