#include "ExpertProfileView.h"

#include "Format.h"
#include "JobSlot.h"
#include "SelectionModel.h"
#include "models/ExpertProfileModel.h"
#include "models/TokenRoutingModel.h"
#include "plots/ProfilePlot.h"

#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

namespace moescope::ui {

namespace {
QTableView *makeTable(QWidget *parent, QAbstractItemModel *model, int sortColumn)
{
    auto *table = new QTableView(parent);
    table->setModel(model);
    table->setSortingEnabled(true);
    table->sortByColumn(sortColumn, Qt::DescendingOrder);
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->setSelectionMode(QAbstractItemView::SingleSelection);
    table->verticalHeader()->hide();
    table->verticalHeader()->setDefaultSectionSize(table->fontMetrics().height() + 6);
    table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch); // the token text
    // Columns fit the rows on screen, not the first thousand: sizing a thousand rows of
    // a busy expert's profile took tens of milliseconds of the GUI thread per profile.
    table->horizontalHeader()->setResizeContentsPrecision(0);
    table->setWordWrap(false);
    return table;
}
} // namespace

ExpertProfileView::ExpertProfileView(SelectionModel *selection, QWidget *parent)
    : QWidget(parent),
      m_selection(selection),
      m_title(new QLabel(this)),
      m_search(new QLineEdit(this)),
      m_plot(new ProfilePlot(this)),
      m_model(new ExpertProfileModel(this)),
      m_proxy(new ExpertProfileProxy(this)),
      m_routesTitle(new QLabel(this)),
      m_routes(new TokenRoutingModel(this)),
      m_routesProxy(new QSortFilterProxyModel(this)),
      m_searchTimer(new QTimer(this)),
      m_profileJob(new JobSlot(tr("Expert profile"), this)),
      m_searchJob(new JobSlot(tr("Token search"), this))
{
    m_title->setTextFormat(Qt::RichText);
    m_title->setWordWrap(true);
    m_search->setPlaceholderText(tr("Search a token, e.g. def: filters the table and shows where it is routed"));
    m_search->setClearButtonEnabled(true);
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(ExpertProfileModel::SortRole);
    m_proxy->setFilterRole(ExpertProfileModel::SearchRole);
    m_proxy->setFilterKeyColumn(ExpertProfileModel::TokenColumn);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_table = makeTable(this, m_proxy, ExpertProfileModel::InitialSortColumn);
    m_routesProxy->setSourceModel(m_routes);
    m_routesProxy->setSortRole(TokenRoutingModel::SortRole);
    m_routesTable = makeTable(this, m_routesProxy, TokenRoutingModel::InitialSortColumn);
    m_routesTitle->setWordWrap(true);
    m_routesTitle->setText(tr("Type a token above to see which experts receive it, at every layer."));
    m_routesTitle->setStyleSheet(QStringLiteral("color: #555"));
    m_searchTimer->setSingleShot(true);
    m_searchTimer->setInterval(kSearchDelayMs);

    auto *routesBox = new QWidget(this);
    auto *routesLayout = new QVBoxLayout(routesBox);
    routesLayout->setContentsMargins(0, 4, 0, 0);
    routesLayout->addWidget(m_routesTitle);
    routesLayout->addWidget(m_routesTable, 1);
    auto *split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_plot);
    split->addWidget(m_table);
    split->addWidget(routesBox);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 3);
    split->setStretchFactor(2, 3);
    split->setChildrenCollapsible(false);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 0);
    layout->addWidget(m_title);
    layout->addWidget(m_search);
    layout->addWidget(split, 1);

    connect(m_search, &QLineEdit::textChanged, m_searchTimer, qOverload<>(&QTimer::start));
    connect(m_searchTimer, &QTimer::timeout, this, &ExpertProfileView::applySearch);
    connect(m_selection, &SelectionModel::changed, this, [this](const Selection &s, const Selection &previous) {
        if (s.layer != previous.layer || s.expert != previous.expert)
            requestProfile();
    });
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex &current) {
        if (!m_syncing && current.isValid())
            m_selection->setTokenId(current.data(ExpertProfileModel::TokenIdRole).toLongLong());
    });
    connect(m_plot, &ProfilePlot::tokenClicked, m_selection, &SelectionModel::setTokenId);
    connect(m_routesTable, &QTableView::clicked, this, [this](const QModelIndex &index) {
        Selection s = m_selection->current();
        s.layer = index.data(TokenRoutingModel::LayerRole).toInt();
        s.expert = index.data(TokenRoutingModel::ExpertRole).toInt();
        s.tokenId = index.data(TokenRoutingModel::TokenIdRole).toLongLong();
        m_selection->select(s);
    });
}

void ExpertProfileView::setSnapshot(const DumpSnapshotPtr &snapshot)
{
    m_snapshot = snapshot;
    m_shownLayer = m_shownExpert = -1;
    m_model->clear();
    m_routes->clear();
    m_plot->clear();
    requestProfile();
    if (!m_search->text().isEmpty())
        applySearch();
}

void ExpertProfileView::requestProfile()
{
    const Selection s = m_selection->current();
    if (!m_snapshot || s.layer < 0 || s.expert < 0 || s.layer >= m_snapshot->numLayers() ||
        s.expert >= m_snapshot->numExperts()) {
        m_title->setText(tr("Select an expert in the overview or the histogram."));
        return;
    }
    if (s.layer == m_shownLayer && s.expert == m_shownExpert)
        return;
    m_title->setText(tr("<b>Expert %1</b> at layer %2: computing...").arg(s.expert).arg(m_snapshot->layerName(s.layer)));
    const DumpSnapshotPtr snapshot = m_snapshot;
    const int layer = s.layer, expert = s.expert;
    struct Shown {
        ExpertProfile profile;
        ExpertProfileModel::RowTexts texts; // the table's, made here off the GUI thread
    };
    m_profileJob->start<Shown>(
        [snapshot, layer, expert](const Progress &progress) {
            progress.checkCancelled();
            Shown shown;
            shown.profile = expertProfile(snapshot->analysis.pass(std::size_t(layer), progress)->choices,
                                          snapshot->analysis.tokenIds, expert);
            shown.texts = ExpertProfileModel::rowTexts(*snapshot, shown.profile);
            return shown;
        },
        [this, snapshot, layer, expert](Shown shown) {
            ExpertProfile &profile = shown.profile;
            if (snapshot != m_snapshot)
                return;
            m_shownLayer = layer;
            m_shownExpert = expert;
            const LayerReport &lr = snapshot->analysis.report.layers[std::size_t(layer)];
            m_title->setText(tr("<b>Expert %1</b> at layer %2: %3 tokens routed (%4 of the layer), %5 distinct tokens")
                                 .arg(expert)
                                 .arg(snapshot->layerName(layer).toHtmlEscaped(), formatCount(profile.routed),
                                      formatPercent(lr.load.share[std::size_t(expert)]),
                                      formatCount(std::int64_t(profile.tokens.size()))));
            m_plot->showChart(snapshot, {layer, profile});
            m_syncing = true;
            m_model->setProfile(snapshot, layer, std::move(profile), std::move(shown.texts));
            m_syncing = false;
            emit profileShown(layer, expert);
        });
}

void ExpertProfileView::applySearch()
{
    const QString query = m_search->text();
    m_proxy->setFilterFixedString(searchKey(query));
    if (!m_snapshot)
        return;
    if (searchKey(query).isEmpty()) {
        m_searchJob->discard();
        m_routes->clear();
        m_routesTitle->setText(tr("Type a token above to see which experts receive it, at every layer."));
        emit searchAnswered(query);
        return;
    }
    m_routesTitle->setText(tr("Where \u201c%1\u201d goes: searching...").arg(query.toHtmlEscaped()));
    const DumpSnapshotPtr snapshot = m_snapshot;
    // The vocabulary is matched on the worker too: comparing the query with each of a
    // large vocabulary's entries took tens of milliseconds of the GUI thread.
    struct Found {
        std::vector<std::int64_t> ids;
        std::vector<TokenRoute> routes;
    };
    m_searchJob->start<Found>(
        [snapshot, query](const Progress &progress) {
            Found found;
            found.ids = tokenIdsMatching(*snapshot, query);
            if (!found.ids.empty())
                found.routes = routesOfTokens(*snapshot, found.ids, progress);
            return found;
        },
        [this, snapshot, query](Found found) {
            if (snapshot != m_snapshot)
                return;
            if (found.ids.empty()) {
                m_routes->clear();
                m_routesTitle->setText(tr("No token \u201c%1\u201d in this dump's vocabulary.").arg(query.toHtmlEscaped()));
                emit searchAnswered(query);
                return;
            }
            const std::size_t n = found.routes.size();
            m_routes->setRoutes(snapshot, std::move(found.routes));
            m_routesTitle->setText(
                tr("Where \u201c%1\u201d goes: %2 (layer, expert) pairs receive it; Share = how faithfully. "
                   "Click a row to select it.")
                    .arg(query.toHtmlEscaped())
                    .arg(n));
            if (found.ids.size() == 1)
                m_selection->setTokenId(found.ids.front());
            emit searchAnswered(query);
        });
}

} // namespace moescope::ui
