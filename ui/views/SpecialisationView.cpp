#include "SpecialisationView.h"

#include "Format.h"
#include "SelectionModel.h"
#include "plots/DomainPlot.h"
#include "stats/VocabularySpecialisation.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QRegularExpression>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

namespace moescope::ui {

SpecialisationView::SpecialisationView(SelectionModel *selection, QWidget *parent)
    : QWidget(parent), m_selection(selection), m_plot(new DomainPlot(this)), m_figures(new QLabel(this)),
      m_minCount(new QSpinBox(this))
{
    m_minCount->setRange(1, 1000000);
    m_minCount->setValue(int(kDefaultVocabularyMinCount));
    m_minCount->setToolTip(tr("Vocabulary specialisation counts only token ids occurring at least this often"));
    m_figures->setTextFormat(Qt::RichText);
    m_figures->setWordWrap(true);
    m_figures->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_figures->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto *controls = new QHBoxLayout;
    controls->setContentsMargins(6, 2, 6, 0);
    controls->addStretch();
    controls->addWidget(new QLabel(tr("Vocabulary: ids seen at least"), this));
    controls->addWidget(m_minCount);
    auto *figures = new QWidget(this);
    auto *figuresLayout = new QVBoxLayout(figures);
    figuresLayout->setContentsMargins(6, 0, 6, 4);
    figuresLayout->addLayout(controls);
    figuresLayout->addWidget(m_figures, 1);
    auto *split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_plot);
    split->addWidget(figures);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(split);

    connect(m_plot, &DomainPlot::expertClicked, m_selection, &SelectionModel::setExpert);
    connect(m_selection, &SelectionModel::changed, this, &SpecialisationView::showFigures);
    connect(m_minCount, &QSpinBox::valueChanged, this, &SpecialisationView::showFigures);
    showFigures();
}

void SpecialisationView::setSnapshot(const DumpSnapshotPtr &snapshot)
{
    m_snapshot = snapshot;
    showFigures();
}

QString SpecialisationView::figuresText() const
{
    QString text = m_figures->text();
    text.replace(QStringLiteral("<br>"), QStringLiteral("\n"));
    text.remove(QRegularExpression(QStringLiteral("<[^>]*>")));
    return text;
}

void SpecialisationView::showFigures()
{
    const Selection &s = m_selection->current();
    const int layer = s.layer;
    m_plot->showChart(m_snapshot, {std::max(0, layer), s.expert});
    if (!m_snapshot || m_snapshot->partial || layer < 0 || layer >= m_snapshot->numLayers()) {
        m_figures->clear();
        return;
    }
    const LayerReport &lr = m_snapshot->analysis.report.layers[std::size_t(layer)];
    const TokenLocality &loc = lr.locality;
    const auto pct = [](double v) { return formatPercent(v); };
    QString html = tr("<b>Token locality</b> (consecutive tokens of a sequence, %1 pairs)<br>"
                      "same first choice: <b>%2</b> &nbsp; chance: %3 uniform, %4 with this layer's loads")
                       .arg(formatCount(loc.pairs), pct(loc.first), pct(loc.firstUniform), pct(loc.firstLoadAware));
    if (loc.hasAny)
        html += tr("<br>any choice shared: <b>%1</b> &nbsp; chance: %2 uniform, %3 with this layer's loads")
                    .arg(pct(loc.any), pct(loc.anyUniform), pct(loc.anyLoadAware));

    // The report holds the default threshold; another one is counted here (one pass
    // over the layer's choices).
    const std::int64_t minCount = m_minCount->value();
    VocabularySpecialisation vocab;
    if (lr.vocabulary && lr.vocabulary->minCount == minCount)
        vocab = *lr.vocabulary;
    else
        vocab = vocabularySpecialisation(m_snapshot->analysis.pass(std::size_t(layer))->choices,
                                         m_snapshot->tokenPositions(), minCount);
    html += tr("<br><br><b>Vocabulary specialisation</b> (%1 token ids seen at least %2 times)<br>"
               "share of an id's occurrences at its most frequent expert: <b>%3</b> first choice (k = 1), "
               "<b>%4</b> any of the k choices")
                .arg(formatCount(vocab.ids))
                .arg(minCount)
                .arg(pct(vocab.top1.layer), pct(vocab.topK.layer));
    const int e = s.expert;
    if (e >= 0 && e < m_snapshot->numExperts())
        html += tr("<br>expert %1: %2 ids have it as their most frequent first choice (mean %3); "
                   "%4 ids over any choice (mean %5)")
                    .arg(e)
                    .arg(formatCount(vocab.top1.expertIds[std::size_t(e)]))
                    .arg(pct(vocab.top1.perExpert[std::size_t(e)]))
                    .arg(formatCount(vocab.topK.expertIds[std::size_t(e)]))
                    .arg(pct(vocab.topK.perExpert[std::size_t(e)]));
    m_figures->setText(html);
}

} // namespace moescope::ui
