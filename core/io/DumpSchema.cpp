// Opening a routing dump: every rule of the schema checked (docs/dump-format.md),
// the small parts read. Each failure names the file, the object and the problem.
#include "io/RoutingDumpImpl.h"

#include "io/Float16.h"
#include "io/ReadLimits.h"

#include <algorithm>
#include <cmath>
#include <fstream>

namespace moescope {

using io::Handle;
using io::Site;

namespace {

constexpr std::uint64_t kScanRows = 1 << 20; // rows per read when validating ids

std::int64_t integerAttribute(hid_t obj, const Site &site, const char *name, std::int64_t fallback,
                              bool required)
{
    const auto value = io::numberAttribute(obj, site, name);
    if (!value) {
        if (required)
            site.fail(std::string("required attribute '") + name + "' is missing");
        return fallback;
    }
    if (!std::isfinite(*value) || std::floor(*value) != *value)
        site.fail(std::string("attribute '") + name + "' must be an integer");
    // Compared as a double before the conversion, which is undefined out of range
    // (found by fuzzing: 3.7e19).
    if (*value < -9223372036854775808.0 || *value >= 9223372036854775808.0)
        site.fail(std::string("attribute '") + name + "' is " + std::to_string(*value) + ", out of range");
    return std::int64_t(*value);
}

void checkFileBasics(const std::string &path)
{
    std::ifstream probe(path, std::ios::binary | std::ios::ate);
    if (!probe)
        throw DumpError(path, "", "cannot be opened for reading (missing or no permission)");
    if (probe.tellg() == 0)
        throw DumpError(path, "", "is empty, not an HDF5 file");
    auto lock = io::hdf5Lock();
    const htri_t isHdf5 = H5Fis_hdf5(path.c_str());
    H5Eclear2(H5E_DEFAULT);
    if (isHdf5 <= 0)
        throw DumpError(path, "", "is not an HDF5 file");
}

LogitsType logitsTypeOfSize(std::size_t size)
{
    return size == 2 ? LogitsType::Float16 : size == 4 ? LogitsType::Float32 : LogitsType::Float64;
}

// The spec's float16 is IEEE binary16; anything else of size 2 is refused.
void checkHalfLayout(hid_t dataset, const Site &site)
{
    const Handle type = io::typeOf(dataset, site);
    std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
    if (H5Tget_fields(type.get(), &spos, &epos, &esize, &mpos, &msize) < 0)
        site.fail("cannot read the layout of its 16-bit floats (" + io::lastHdf5Message() + ")");
    if (spos != 15 || epos != 10 || esize != 5 || mpos != 0 || msize != 10 || H5Tget_ebias(type.get()) != 15)
        site.fail("16-bit floats that are not IEEE half precision are not supported");
}

// A layer's optional [T, k] dataset of recorded choices (topk_ids, topk_weights):
// invalid when absent; refused when its shape or class is wrong.
Handle openChoices(hid_t group, const Site &layerSite, const char *name, H5T_class_t typeClass, const char *holds,
                   hsize_t T, int k)
{
    const Site site = layerSite.child(name);
    Handle dataset = io::openMember(group, layerSite, name, H5I_DATASET);
    if (dataset.valid()) {
        const auto dims = io::shapeOf(dataset.get(), site);
        if (dims.size() != 2 || dims[0] != T || dims[1] != hsize_t(k))
            site.fail("must have shape [T, k] = [" + std::to_string(T) + ", " + std::to_string(k) + "]");
        if (io::typeClassOf(dataset.get(), site) != typeClass)
            site.fail(std::string("must hold ") + holds);
    }
    return dataset;
}

} // namespace

void RoutingDump::Impl::openFile(const std::string &path)
{
    info.path = path;
    checkFileBasics(path);
    auto lock = io::hdf5Lock();
    file = Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    if (!file.valid()) {
        const std::string reason = io::lastHdf5Message();
        throw DumpError(path, "", "cannot be opened as HDF5 (" +
                                      (reason.empty() ? std::string("truncated or corrupt file") : reason) + ")");
    }
}

void RoutingDump::Impl::openImage(const std::string &name, FileImage image)
{
    info.path = name;
    if (image.size == 0)
        throw DumpError(name, "", "is empty, not an HDF5 file");
    auto lock = io::hdf5Lock();
    file = Handle(io::openFileImage(name, image.data, image.size));
    if (!file.valid()) {
        const std::string reason = io::lastHdf5Message();
        throw DumpError(name, "", "cannot be opened as HDF5 (" +
                                      (reason.empty() ? std::string("truncated or corrupt file") : reason) + ")");
    }
}

void RoutingDump::Impl::readRootAttributes()
{
    const Site site = root();
    const hid_t f = file.get();
    const auto format = io::stringAttribute(f, site, "format");
    if (!format)
        site.fail("required attribute 'format' is missing: not a routing dump");
    if (*format != "moe-routing")
        site.fail("attribute 'format' is '" + *format + "', expected 'moe-routing'");
    info.formatVersion = int(integerAttribute(f, site, "format_version", 0, true));
    if (info.formatVersion > 1)
        site.fail("format_version " + std::to_string(info.formatVersion) +
                  " is newer than this MoE Scope understands (1); please update MoE Scope");
    if (info.formatVersion < 1)
        site.fail("format_version " + std::to_string(info.formatVersion) + " is not valid (expected 1)");

    const std::int64_t e = integerAttribute(f, site, "num_experts", 0, true);
    if (e < 1 || e > 4096)
        site.fail("num_experts is " + std::to_string(e) + ", must be 1 to 4096");
    info.numExperts = int(e);
    const std::int64_t k = integerAttribute(f, site, "top_k", 0, true);
    if (k < 1 || k > e)
        site.fail("top_k is " + std::to_string(k) + ", must be 1 to num_experts (" + std::to_string(e) + ")");
    if (k > kMaxTopK)
        site.fail("top_k is " + std::to_string(k) + "; MoE Scope reads at most " + std::to_string(kMaxTopK) +
                  " experts per token (its analyses of expert pairs grow with k^2 per token)");
    info.topK = int(k);

    if (const auto scoring = io::stringAttribute(f, site, "scoring")) {
        if (*scoring == "softmax")
            info.scoring = Scoring::Softmax;
        else if (*scoring == "sigmoid")
            info.scoring = Scoring::Sigmoid;
        else
            site.fail("attribute 'scoring' is '" + *scoring + "', expected 'softmax' or 'sigmoid'");
    }
    const std::int64_t normalize = integerAttribute(f, site, "normalize_topk", 1, false);
    if (normalize != 0 && normalize != 1)
        site.fail("attribute 'normalize_topk' must be 0 or 1, is " + std::to_string(normalize));
    info.normalizeTopK = normalize == 1;

    const std::int64_t groups = integerAttribute(f, site, "n_group", 0, false);
    const std::int64_t topGroups = integerAttribute(f, site, "topk_group", 0, false);
    if (groups > e || topGroups > e || topGroups < 0) // before narrowing them to int
        site.fail("n_group and topk_group must be 0 to num_experts (" + std::to_string(e) + ")");
    info.numGroups = int(groups);
    info.topKGroups = int(topGroups);
    if (info.numGroups > 1) {
        if (info.numExperts % info.numGroups != 0)
            site.fail("n_group " + std::to_string(info.numGroups) + " does not divide num_experts " +
                      std::to_string(info.numExperts));
        if (info.topKGroups < 1 || info.topKGroups > info.numGroups)
            site.fail("topk_group must be 1 to n_group (" + std::to_string(info.numGroups) + ")");
        if (info.topKGroups * (info.numExperts / info.numGroups) < info.topK)
            site.fail("topk_group groups hold fewer experts than top_k");
    } else if (info.numGroups < 0) {
        site.fail("n_group must not be negative");
    }
    if (const auto scale = io::numberAttribute(f, site, "routed_scaling_factor")) {
        if (!std::isfinite(*scale))
            site.fail("routed_scaling_factor must be finite");
        info.routedScalingFactor = *scale;
    }
    if (const auto cf = io::numberAttribute(f, site, "capacity_factor")) {
        if (!std::isfinite(*cf) || *cf < 0)
            site.fail("capacity_factor must be a non-negative number");
        info.capacityFactor = *cf;
    }
    info.model = io::stringAttribute(f, site, "model").value_or("");
    info.checkpoint = io::stringAttribute(f, site, "checkpoint").value_or("");
    if (io::numberAttribute(f, site, "checkpoint_step"))
        info.checkpointStep = integerAttribute(f, site, "checkpoint_step", 0, false);
}

void RoutingDump::Impl::readTokens()
{
    const Site tokensSite = root().child("tokens");
    Handle tokens = io::openMember(file.get(), root(), "tokens", H5I_GROUP);
    if (!tokens.valid()) {
        // A load-only dump may leave /tokens out and give T as a root attribute.
        if (!io::numberAttribute(file.get(), root(), "num_tokens"))
            root().fail("required group '/tokens' is missing (a load-only dump without it needs the root attribute 'num_tokens')");
        info.numTokens = integerAttribute(file.get(), root(), "num_tokens", 0, true);
        if (info.numTokens < 1)
            root().fail("attribute 'num_tokens' is " + std::to_string(info.numTokens) + ", must be at least 1");
        info.hasTokens = false;
        info.sequenceOffsets = {0, info.numTokens};
        return;
    }

    idsSite = tokensSite.child("ids");
    tokenIds = io::openMember(tokens.get(), tokensSite, "ids", H5I_DATASET);
    if (!tokenIds.valid())
        idsSite.fail("required dataset is missing");
    const auto dims = io::shapeOf(tokenIds.get(), idsSite);
    if (dims.size() != 1)
        idsSite.fail("must be one-dimensional [T], has rank " + std::to_string(dims.size()));
    if (io::typeClassOf(tokenIds.get(), idsSite) != H5T_INTEGER)
        idsSite.fail("must hold integers");
    idsColumn = io::integerColumn(tokenIds.get(), idsSite);
    info.numTokens = std::int64_t(dims[0]);
    if (info.numTokens == 0)
        idsSite.fail("holds no tokens (T = 0): nothing to analyse");

    vocabSite = tokensSite.child("vocab");
    vocab = io::openMember(tokens.get(), tokensSite, "vocab", H5I_DATASET);
    if (vocab.valid()) {
        const auto vdims = io::shapeOf(vocab.get(), vocabSite);
        if (vdims.size() != 1)
            vocabSite.fail("must be one-dimensional [V], has rank " + std::to_string(vdims.size()));
        if (io::typeClassOf(vocab.get(), vocabSite) != H5T_STRING)
            vocabSite.fail("must hold strings");
        info.vocabSize = std::int64_t(vdims[0]);
        // Every token id must name a vocab entry; scan in bounded chunks.
        std::vector<std::int64_t> ids;
        for (std::uint64_t begin = 0; begin < std::uint64_t(info.numTokens); begin += kScanRows) {
            const std::uint64_t n = std::min<std::uint64_t>(kScanRows, info.numTokens - begin);
            ids.resize(n);
            io::readIntegerColumn(idsColumn, idsSite, begin, n, ids.data());
            for (std::uint64_t i = 0; i < n; ++i)
                if (ids[i] < 0 || ids[i] >= info.vocabSize)
                    idsSite.fail("token id " + std::to_string(ids[i]) + " at position " +
                                 std::to_string(begin + i) + " is outside the vocab [0, " +
                                 std::to_string(info.vocabSize) + ")");
        }
    }

    const Site offsetsSite = tokensSite.child("sequence_offsets");
    Handle offsets = io::openMember(tokens.get(), tokensSite, "sequence_offsets", H5I_DATASET);
    if (offsets.valid()) {
        if (io::shapeOf(offsets.get(), offsetsSite).size() != 1)
            offsetsSite.fail("must be one-dimensional [S+1]");
        info.sequenceOffsets = io::readAllIntegers(offsets.get(), offsetsSite);
        const auto &o = info.sequenceOffsets;
        if (o.size() < 2)
            offsetsSite.fail("must hold at least two entries (0 and T)");
        if (o.front() != 0)
            offsetsSite.fail("first entry is " + std::to_string(o.front()) + ", must be 0");
        if (o.back() != info.numTokens)
            offsetsSite.fail("last entry is " + std::to_string(o.back()) + ", must be T = " +
                             std::to_string(info.numTokens));
        for (std::size_t i = 1; i < o.size(); ++i)
            if (o[i] < o[i - 1])
                offsetsSite.fail("entries decrease at position " + std::to_string(i) + " (" +
                                 std::to_string(o[i - 1]) + " then " + std::to_string(o[i]) + ")");
    } else {
        info.sequenceOffsets = {0, info.numTokens};
    }

    const Site labelsSite = tokensSite.child("sequence_labels");
    Handle labels = io::openMember(tokens.get(), tokensSite, "sequence_labels", H5I_DATASET);
    if (labels.valid()) {
        // The count first: the extent is the file's word, and a wrong one is refused
        // before anything is read by it.
        const auto ldims = io::shapeOf(labels.get(), labelsSite);
        if (ldims.size() == 1 && ldims[0] != hsize_t(info.numSequences()))
            labelsSite.fail("holds " + std::to_string(ldims[0]) + " labels for " +
                            std::to_string(info.numSequences()) + " sequences");
        info.sequenceLabels = io::readStrings(labels.get(), labelsSite);
    }
}

void RoutingDump::Impl::readLayer(const std::string &name, const Handle &group, LayerInfo &layer,
                                  LayerHandles &h)
{
    const Site site = root().child("layers").child(name);
    const auto T = hsize_t(info.numTokens);
    layer.name = name;
    if (io::numberAttribute(group.get(), site, "index"))
        layer.index = integerAttribute(group.get(), site, "index", 0, false);

    h.logitsSite = site.child("logits");
    h.logits = io::openMember(group.get(), site, "logits", H5I_DATASET);
    if (h.logits.valid()) {
        const auto dims = io::shapeOf(h.logits.get(), h.logitsSite);
        if (dims.size() != 2 || dims[0] != T || dims[1] != hsize_t(info.numExperts))
            h.logitsSite.fail("must have shape [T, E] = [" + std::to_string(T) + ", " +
                              std::to_string(info.numExperts) + "]");
        if (io::typeClassOf(h.logits.get(), h.logitsSite) != H5T_FLOAT)
            h.logitsSite.fail("must hold floating-point numbers");
        const std::size_t size = io::typeSizeOf(h.logits.get(), h.logitsSite);
        if (size != 2 && size != 4 && size != 8)
            h.logitsSite.fail(std::to_string(size * 8) + "-bit floats are not supported");
        if (size == 2)
            checkHalfLayout(h.logits.get(), h.logitsSite);
        const Handle type = io::typeOf(h.logits.get(), h.logitsSite);
        h.logitsOrder = H5Tget_order(type.get());
        if (h.logitsOrder != H5T_ORDER_LE && h.logitsOrder != H5T_ORDER_BE)
            h.logitsSite.fail("floats of neither little- nor big-endian byte order are not supported");
        // Chunks decoded past HDF5 hand back the stored bytes, so only IEEE numbers
        // (halves are checked above) may take that way; others keep HDF5's conversion.
        const bool ieee = size == 2 || H5Tequal(type.get(), H5T_IEEE_F32LE) > 0 ||
                          H5Tequal(type.get(), H5T_IEEE_F32BE) > 0 || H5Tequal(type.get(), H5T_IEEE_F64LE) > 0 ||
                          H5Tequal(type.get(), H5T_IEEE_F64BE) > 0;
        if (ieee)
            h.logitsChunks = io::compressedLayout(h.logits.get());
        layer.logitsStorage = io::storageSummary(h.logits.get(), h.logitsChunks.has_value());
        layer.logitsChunkRows = io::chunkRowsOf(h.logits.get());
        layer.hasLogits = true;
        layer.logitsType = logitsTypeOfSize(size);
    }

    h.idsSite = site.child("topk_ids");
    h.topkIds = openChoices(group.get(), site, "topk_ids", H5T_INTEGER, "integers", T, info.topK);
    layer.hasTopkIds = h.topkIds.valid();
    if (layer.hasTopkIds) {
        const Handle type = io::typeOf(h.topkIds.get(), h.idsSite);
        h.idsWidth = H5Tget_size(type.get());
        h.idsSigned = H5Tget_sign(type.get()) != H5T_SGN_NONE;
        h.idsOrder = H5Tget_order(type.get());
        if (h.idsWidth != 1 && h.idsWidth != 2 && h.idsWidth != 4 && h.idsWidth != 8)
            h.idsSite.fail(std::to_string(h.idsWidth * 8) + "-bit integers are not supported");
        if (h.idsWidth > 1 && h.idsOrder != H5T_ORDER_LE && h.idsOrder != H5T_ORDER_BE)
            h.idsSite.fail("integers of neither little- nor big-endian byte order are not supported");
        h.idsChunks = io::compressedLayout(h.topkIds.get());
        layer.topkIdsChunkRows = io::chunkRowsOf(h.topkIds.get());
    }
    h.weightsSite = site.child("topk_weights");
    h.topkWeights = openChoices(group.get(), site, "topk_weights", H5T_FLOAT, "floating-point numbers", T, info.topK);
    layer.hasTopkWeights = h.topkWeights.valid();

    const Site biasSite = site.child("expert_bias");
    Handle bias = io::openMember(group.get(), site, "expert_bias", H5I_DATASET);
    if (bias.valid()) {
        const auto dims = io::shapeOf(bias.get(), biasSite);
        if (dims.size() != 1 || dims[0] != hsize_t(info.numExperts))
            biasSite.fail("must have shape [E] = [" + std::to_string(info.numExperts) + "]");
        layer.expertBias = io::readAllDoubles(bias.get(), biasSite);
        for (double b : layer.expertBias)
            if (!std::isfinite(b))
                biasSite.fail("holds a value that is not finite");
        layer.hasExpertBias = true;
    }

    // The recorder's summary beside the choices: tokens per expert.
    const Site countsSite = site.child("counts");
    Handle counts = io::openMember(group.get(), site, "counts", H5I_DATASET);
    if (counts.valid()) {
        const auto dims = io::shapeOf(counts.get(), countsSite);
        if (dims.size() != 1 || dims[0] != hsize_t(info.numExperts))
            countsSite.fail("must have shape [E] = [" + std::to_string(info.numExperts) + "]");
        const H5T_class_t cls = io::typeClassOf(counts.get(), countsSite);
        if (cls != H5T_INTEGER && cls != H5T_FLOAT)
            countsSite.fail("must hold integers or floating-point numbers");
        layer.storedCounts = io::readAllDoubles(counts.get(), countsSite);
        for (std::size_t e = 0; e < layer.storedCounts.size(); ++e)
            if (!std::isfinite(layer.storedCounts[e]) || layer.storedCounts[e] < 0)
                countsSite.fail("count of expert " + std::to_string(e) + " is " +
                                std::to_string(layer.storedCounts[e]) + ", must be a finite non-negative number");
        layer.hasCounts = true;
    }

    if (!layer.hasLogits && !layer.hasTopkIds && !layer.hasCounts)
        site.fail("holds neither 'logits' nor 'topk_ids' nor 'counts'; a layer needs at least one");
    if (!info.hasTokens && (layer.hasLogits || layer.hasTopkIds))
        site.fail("holds per-token data but the dump has no '/tokens' (only load-only dumps may omit it)");
}

void RoutingDump::Impl::readLayers()
{
    const Site site = root().child("layers");
    Handle layersGroup = io::openMember(file.get(), root(), "layers", H5I_GROUP);
    if (!layersGroup.valid())
        root().fail("required group '/layers' is missing");
    std::vector<std::pair<LayerInfo, LayerHandles>> found;
    for (const std::string &name : io::memberNames(layersGroup.get(), site)) {
        Handle member = io::openMember(layersGroup.get(), site, name, H5I_BADID);
        if (H5Iget_type(member.get()) != H5I_GROUP)
            continue; // unknown non-group objects are ignored (forward compatibility)
        LayerInfo layer;
        LayerHandles handles;
        readLayer(name, member, layer, handles);
        handles.group = std::move(member);
        found.emplace_back(std::move(layer), std::move(handles));
    }
    if (found.empty())
        site.fail("holds no layer groups; at least one is required");
    // Model order: by `index` when every layer has one, else by name.
    const bool allIndexed = std::all_of(found.begin(), found.end(),
                                        [](const auto &l) { return l.first.index.has_value(); });
    if (allIndexed)
        std::stable_sort(found.begin(), found.end(),
                         [](const auto &a, const auto &b) { return *a.first.index < *b.first.index; });
    for (auto &[layer, handles] : found) {
        info.layers.push_back(std::move(layer));
        layers.push_back(std::move(handles));
    }
}

void RoutingDump::Impl::checkTraining()
{
    const Site site = root().child("training");
    training = io::openMember(file.get(), root(), "training", H5I_GROUP);
    if (!training.valid())
        return;
    info.hasTraining = true;
    Handle steps = io::openMember(training.get(), site, "step", H5I_DATASET);
    if (!steps.valid())
        site.child("step").fail("is missing; /training needs the step of each record");
    const auto sdims = io::shapeOf(steps.get(), site.child("step"));
    if (sdims.size() != 1)
        site.child("step").fail("must be one-dimensional [N]");
    const hsize_t n = sdims[0], l = info.layers.size(), e = hsize_t(info.numExperts);
    auto checkShape = [&](const char *name, std::vector<hsize_t> want, const std::string &text) {
        Handle ds = io::openMember(training.get(), site, name, H5I_DATASET);
        if (ds.valid() && io::shapeOf(ds.get(), site.child(name)) != want)
            site.child(name).fail("must have shape " + text);
    };
    const std::string nl = "[N, L] = [" + std::to_string(n) + ", " + std::to_string(l) + "]";
    checkShape("lb_loss", {n, l}, nl);
    checkShape("z_loss", {n, l}, nl);
    checkShape("tokens_per_expert", {n, l, e},
               "[N, L, E] = [" + std::to_string(n) + ", " + std::to_string(l) + ", " + std::to_string(e) + "]");
}

void RoutingDump::Impl::detectProbabilities(std::size_t layer)
{
    LayerInfo &li = info.layers[layer];
    if (!li.hasLogits)
        return;
    const std::uint64_t rows = std::min<std::uint64_t>(info.numTokens, 4096);
    const std::size_t E = info.numExperts;
    const double tolerance = li.logitsType == LogitsType::Float16 ? 2e-2 : 1e-4;
    std::uint64_t checked = 0;
    // A few rows first: real logits are told apart by their first negative value,
    // with no need to read 4096 rows of every layer on opening. The rest in one read
    // (a compressed chunk is decoded whole for every read).
    constexpr std::uint64_t kFirstRows = 64;
    std::vector<double> values;
    for (std::uint64_t from = 0; from < rows;) {
        const std::uint64_t n = from == 0 ? std::min(kFirstRows, rows) : rows - from;
        values.resize(n * E);
        readLogitsDouble(layer, from, n, values.data());
        for (std::uint64_t r = 0; r < n; ++r) {
            double sum = 0;
            bool finite = true;
            for (std::size_t e = 0; e < E; ++e) {
                const double v = values[r * E + e];
                if (!std::isfinite(v)) {
                    finite = false;
                    break;
                }
                if (v < 0)
                    return; // a negative value: these are logits
                sum += v;
            }
            if (!finite)
                continue;
            if (std::abs(sum - 1.0) > tolerance)
                return;
            ++checked;
        }
        from += n;
    }
    if (checked == 0)
        return;
    li.logitsAreProbabilities = true;
    info.warnings.push_back(layers[layer].logitsSite.object + ": holds probabilities (rows are non-negative and sum to 1), not logits; treating them as probabilities");
}

} // namespace moescope
