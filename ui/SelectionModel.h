#pragma once
// The one shared selection (layer, expert, token position, token id) that every view
// follows, with a browser-like history: each change is a step that Back/Forward
// (Alt+Left/Alt+Right) walk through. Views call the setters; they never keep a copy
// that could drift from this one.
#include "Selection.h"

#include <QObject>

#include <vector>

class QAction;

namespace moescope::ui {

class SelectionModel : public QObject {
    Q_OBJECT
public:
    explicit SelectionModel(QObject *parent = nullptr);

    const Selection &current() const { return m_current; }

    // Each setter records a history step when the selection really changes.
    void select(const Selection &selection);
    void setLayer(int layer);
    void setExpert(int expert);
    void setLayerAndExpert(int layer, int expert);
    // A clicked token: its position, its id, and where it was clicked.
    void setPosition(std::int64_t position, std::int64_t tokenId, int layer, int expert);
    void setTokenId(std::int64_t tokenId);

    // A new dump: the selection starts over with an empty history.
    void reset(const Selection &selection);

    bool canGoBack() const { return !m_back.empty(); }
    bool canGoForward() const { return !m_forward.empty(); }
    void back();
    void forward();
    QAction *backAction() const { return m_backAction; }
    QAction *forwardAction() const { return m_forwardAction; }

signals:
    void changed(const moescope::ui::Selection &current, const moescope::ui::Selection &previous);

private:
    void moveTo(const Selection &selection);
    void updateActions();

    Selection m_current;
    std::vector<Selection> m_back, m_forward;
    QAction *m_backAction;
    QAction *m_forwardAction;
};

} // namespace moescope::ui
