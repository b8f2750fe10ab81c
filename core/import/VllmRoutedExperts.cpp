#include "import/VllmRoutedExperts.h"

#include "import/BinaryFile.h"
#include "import/JsonTree.h"
#include "import/NpyArray.h"
#include "io/DumpError.h"

#include <algorithm>
#include <filesystem>

namespace moescope::import {

namespace {

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

std::string extensionOf(const std::string &path)
{
    return lower(std::filesystem::path(path).extension().string());
}

std::string shapeText(const std::vector<std::int64_t> &shape)
{
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// Gathers the parts of requests (prompt, then generation) and checks that every one
// has the same L and k.
class Builder {
public:
    explicit Builder(std::string file) : m_file(std::move(file)) {}

    // A [rows, L, k] part; `what` names it in errors ("array 'gen'", "request 2: prompt_routed_experts").
    void part(RoutedRequest &r, const std::string &what, std::int64_t rows, std::int64_t layers,
              std::int64_t k, std::vector<std::int64_t> experts, const std::vector<std::int64_t> *ids,
              bool generated)
    {
        if (layers <= 0 || k <= 0)
            throw DumpError(m_file, what,
                            "has no layers or no expert slots (shape " + shapeText({rows, layers, k}) + ")");
        if (out.layers == 0)
            out.layers = layers, out.topK = k;
        else if (layers != out.layers || k != out.topK)
            throw DumpError(m_file, what,
                            "is [tokens, " + std::to_string(layers) + ", " + std::to_string(k) +
                                "] but earlier parts are [tokens, " + std::to_string(out.layers) + ", " +
                                std::to_string(out.topK) + "]: layers or top-k differ");
        if (ids) {
            const auto n = std::int64_t(ids->size());
            // vLLM routes every generated token but the last one.
            if (n != rows && !(generated && n == rows + 1))
                throw DumpError(m_file, what,
                                "has " + std::to_string(rows) + " tokens but " + std::to_string(n) +
                                    " token ids go with it");
            r.tokenIds.insert(r.tokenIds.end(), ids->begin(), ids->begin() + rows);
        }
        m_partsWithoutIds += ids ? 0 : 1;
        r.rows += rows;
        if (r.experts.empty())
            r.experts = std::move(experts);
        else
            r.experts.insert(r.experts.end(), experts.begin(), experts.end());
    }

    void finish(RoutedRequest r)
    {
        if (!r.tokenIds.empty() && m_partsWithoutIds > 0) {
            out.warnings.push_back(
                m_file + ": request '" + r.name +
                "' has token ids for only some of its parts; its ids are left out (written as 0)");
            r.tokenIds.clear();
        }
        m_partsWithoutIds = 0;
        if (r.rows > 0)
            out.requests.push_back(std::move(r));
    }

    RoutedExperts out;

private:
    std::string m_file;
    int m_partsWithoutIds = 0;
};

// ------------------------------------------------------------------ numpy

// Moves the array's values into the request (the arrays can be large; they are read once).
void npyPart(Builder &b, RoutedRequest &r, const std::string &file, NpyArray &a, const NpyArray *ids,
             bool generated)
{
    const std::string what = a.name.empty() ? std::string() : "array '" + a.name + "'";
    if (a.shape.size() != 3)
        throw DumpError(file, what,
                        "has shape " + shapeText(a.shape) + "; routed experts are [tokens, layers, k]");
    for (const NpyArray *x : {static_cast<const NpyArray *>(&a), ids})
        if (x && !x->integer)
            throw DumpError(file, "array '" + x->name + "'",
                            "holds " + x->dtype + " values; integers are expected");
    if (ids && ids->shape.size() != 1)
        throw DumpError(file, "array '" + ids->name + "'",
                        "has shape " + shapeText(ids->shape) + "; token ids are [n]");
    b.part(r, what, a.shape[0], a.shape[1], a.shape[2], std::move(a.values), ids ? &ids->values : nullptr,
           generated);
}

RoutedExperts fromNpz(const std::string &path)
{
    std::vector<NpyArray> arrays = readNpz(path);
    const auto named = [&](std::initializer_list<const char *> names) -> NpyArray * {
        for (const char *n : names)
            for (NpyArray &a : arrays)
                if (a.name == n)
                    return &a;
        return nullptr;
    };
    Builder b(path);
    NpyArray *prompt = named({"prompt", "prompt_routed_experts"});
    NpyArray *gen = named({"gen", "routed_experts"});
    if (prompt || gen) {
        RoutedRequest r;
        r.name = std::filesystem::path(path).stem().string();
        const NpyArray *promptIds = named({"prompt_token_ids"});
        const NpyArray *genIds = named({"token_ids", "gen_token_ids"});
        // token_ids covering prompt and generation together belong to the whole request.
        if (prompt && gen && genIds && !promptIds && genIds->shape.size() == 1 &&
            genIds->shape[0] >= prompt->shape[0] + (gen->shape.empty() ? 0 : gen->shape[0]) &&
            prompt->shape.size() == 3) {
            NpyArray head = *genIds, tail = *genIds;
            head.values.assign(genIds->values.begin(), genIds->values.begin() + prompt->shape[0]);
            head.shape = {prompt->shape[0]};
            tail.values.erase(tail.values.begin(), tail.values.begin() + prompt->shape[0]);
            tail.shape = {std::int64_t(tail.values.size())};
            npyPart(b, r, path, *prompt, &head, false);
            npyPart(b, r, path, *gen, &tail, true);
        } else {
            if (prompt)
                npyPart(b, r, path, *prompt, promptIds, false);
            if (gen)
                npyPart(b, r, path, *gen, genIds, true);
        }
        b.finish(std::move(r));
        b.out.layout = "npz prompt/gen";
        return b.out;
    }
    std::string found;
    std::vector<NpyArray *> requests;
    for (NpyArray &a : arrays) {
        found += (found.empty() ? "" : ", ") + a.name + " " + shapeText(a.shape) +
                 (a.integer ? "" : " " + a.dtype);
        const bool idArray =
            a.name == "token_ids" || a.name == "prompt_token_ids" ||
            (a.name.size() > 10 && a.name.compare(a.name.size() - 10, 10, "_token_ids") == 0);
        if (!idArray && a.shape.size() == 3 && a.integer)
            requests.push_back(&a);
        else if (!idArray)
            b.out.warnings.push_back(path + ": array '" + a.name + "' " + shapeText(a.shape) +
                                     " is not [tokens, layers, k]; left out");
    }
    if (requests.empty())
        throw DumpError(path, "",
                        "holds no routed-experts array: expected `prompt` and/or `gen`, or one "
                        "[tokens, layers, k] array per request; found " +
                            (found.empty() ? std::string("no arrays") : found));
    for (NpyArray *a : requests) {
        const NpyArray *ids = named({(a->name + "_token_ids").c_str()});
        if (!ids && requests.size() == 1)
            ids = named({"token_ids", "prompt_token_ids"});
        RoutedRequest r;
        r.name = a->name;
        npyPart(b, r, path, *a, ids, false);
        b.finish(std::move(r));
    }
    b.out.layout = "npz per request";
    return b.out;
}

// ------------------------------------------------------------------ JSON

struct JsonPart {
    std::int64_t rows = 0, layers = 0, k = 0;
    std::vector<std::int64_t> experts;
    bool base64 = false;
};

// [[[e, ...] per layer] per token], or base64 ({"data", "shape", "dtype"} or a bare
// string whose L and k come from `like`).
JsonPart jsonPart(const JsonNode &v, const std::string &file, const std::string &what, const JsonPart *like,
                  std::int64_t knownRows)
{
    JsonPart p;
    if (v.isArray()) {
        p.rows = std::int64_t(v.length());
        for (std::size_t t = 0; t < v.items.size(); ++t) {
            const JsonNode &token = v.items[t];
            const std::string at = what + ", token " + std::to_string(t);
            if (token.kind != JsonNode::Kind::Array)
                throw DumpError(file, at,
                                "is not a list of layers (nested lists [tokens][layers][k] expected)");
            if (t == 0)
                p.layers = std::int64_t(token.items.size());
            if (std::int64_t(token.items.size()) != p.layers)
                throw DumpError(file, at,
                                "has " + std::to_string(token.items.size()) + " layers, token 0 has " +
                                    std::to_string(p.layers));
            for (std::size_t l = 0; l < token.items.size(); ++l) {
                const JsonNode &slots = token.items[l];
                if (slots.kind != JsonNode::Kind::IntArray)
                    throw DumpError(file, at + ", layer " + std::to_string(l), "is not a list of expert ids");
                if (t == 0 && l == 0)
                    p.k = std::int64_t(slots.integers.size());
                if (std::int64_t(slots.integers.size()) != p.k)
                    throw DumpError(file, at + ", layer " + std::to_string(l),
                                    "has " + std::to_string(slots.integers.size()) +
                                        " experts, the first has " + std::to_string(p.k) + ": top-k differs");
                p.experts.insert(p.experts.end(), slots.integers.begin(), slots.integers.end());
            }
        }
        if (v.kind == JsonNode::Kind::IntArray && !v.integers.empty())
            throw DumpError(file, what,
                            "is a flat list of numbers; nested lists [tokens][layers][k] expected");
        return p;
    }
    const JsonNode *data = &v;
    std::vector<std::int64_t> shape;
    int width = 0;
    if (v.kind == JsonNode::Kind::Object) {
        data = v.find("data") ? v.find("data") : v.find("content_base64");
        const JsonNode *s = v.find("shape");
        if (!data || data->kind != JsonNode::Kind::String || !s || s->kind != JsonNode::Kind::IntArray)
            throw DumpError(file, what, "is an object without base64 `data` and a `shape`");
        shape = s->integers;
        if (const JsonNode *d = v.find("dtype"); d && d->kind == JsonNode::Kind::String) {
            const std::string t = lower(d->text);
            width = t == "int16" || t == "<i2" || t == "i2"   ? 2
                    : t == "int32" || t == "<i4" || t == "i4" ? 4
                                                              : -1;
            if (width < 0)
                throw DumpError(file, what, "has dtype '" + d->text + "'; int16 or int32 expected");
        }
    } else if (v.kind != JsonNode::Kind::String) {
        throw DumpError(file, what, "is neither nested lists nor base64 text");
    }
    std::string raw;
    if (!decodeBase64(data->text, raw))
        throw DumpError(file, what, "is not valid base64");
    p.base64 = true;
    if (shape.empty()) {
        if (!like)
            throw DumpError(file, what,
                            "is bare base64 with no shape, and no other part of the record gives the "
                            "layers and top-k; save it as {\"data\", \"shape\", \"dtype\"}");
        shape = {-1, like->layers, like->k};
    }
    if (shape.size() != 3 || shape[1] <= 0 || shape[2] <= 0)
        throw DumpError(file, what, "has shape " + shapeText(shape) + "; [tokens, layers, k] expected");
    // Layers and k are bounded (k <= E <= 4096) so that their products cannot overflow;
    // the token count is compared by division for the same reason.
    if (shape[1] > (1 << 20) || shape[2] > 4096)
        throw DumpError(file, what,
                        "has shape " + shapeText(shape) + "; at most 2^20 layers and k = 4096 are read");
    const std::int64_t perRow = shape[1] * shape[2];
    const auto rowsOf = [&](int w) {
        const auto n = std::int64_t(raw.size());
        return n % (perRow * w) == 0 ? n / (perRow * w) : -1;
    };
    if (width == 0) { // int16 as vLLM writes it, unless the token count says int32
        width = 2;
        if (shape[0] >= 0 && rowsOf(4) == shape[0])
            width = 4;
        else if (shape[0] < 0 && knownRows > 0 && rowsOf(4) == knownRows)
            width = 4;
    }
    if (raw.size() % std::size_t(perRow * width) != 0)
        throw DumpError(file, what,
                        std::to_string(raw.size()) + " bytes are not whole rows of " +
                            std::to_string(perRow) + " int" + std::to_string(8 * width) + " values");
    p.rows = std::int64_t(raw.size()) / (perRow * width);
    if (shape[0] >= 0 && shape[0] != p.rows)
        throw DumpError(file, what,
                        "holds " + std::to_string(p.rows) + " rows but its shape says " +
                            std::to_string(shape[0]));
    p.layers = shape[1], p.k = shape[2];
    const ByteReader r(raw, file);
    p.experts.resize(std::size_t(p.rows * perRow));
    for (std::size_t i = 0; i < p.experts.size(); ++i) {
        const std::uint64_t u = r.le(i * std::size_t(width), width);
        p.experts[i] = width == 2 ? std::int64_t(std::int16_t(u)) : std::int64_t(std::int32_t(u));
    }
    return p;
}

const std::vector<std::int64_t> *tokenIdsOf(const JsonNode &o, std::initializer_list<const char *> keys,
                                            const std::string &file, const std::string &what)
{
    for (const char *key : keys)
        if (const JsonNode *n = o.find(key); n && n->kind != JsonNode::Kind::Null) {
            if (n->kind != JsonNode::Kind::IntArray)
                throw DumpError(file, what + ": " + key, "is not a list of integers");
            return &n->integers;
        }
    return nullptr;
}

class JsonReader {
public:
    JsonReader(const std::string &file) : m_file(file), m_builder(file) {}

    // A response object: prompt part, then each choice's generation.
    bool response(const JsonNode &o, const std::string &name)
    {
        const JsonNode *prompt = o.find("prompt_routed_experts");
        const JsonNode *choices = o.find("choices") ? o.find("choices") : o.find("outputs");
        const JsonNode *gen = o.find("routed_experts");
        if (!prompt && !choices && !gen)
            return false;
        const bool hasPrompt = prompt && prompt->kind != JsonNode::Kind::Null;
        JsonPart promptPart;
        if (hasPrompt)
            promptPart = part(*prompt, name + ": prompt_routed_experts", nullptr,
                              tokenIdsOf(o, {"prompt_token_ids"}, m_file, name));
        const auto request = [&](const JsonNode *g, const JsonNode &holder, const std::string &label) {
            RoutedRequest r;
            r.name = label;
            if (hasPrompt)
                add(r, promptPart, name + ": prompt_routed_experts",
                    tokenIdsOf(o, {"prompt_token_ids"}, m_file, name), false);
            if (g && g->kind != JsonNode::Kind::Null) {
                const std::string what = label + ": routed_experts";
                const auto *ids = tokenIdsOf(holder, {"token_ids"}, m_file, label);
                add(r, part(*g, what, hasPrompt ? &promptPart : nullptr, ids), what, ids, true);
            }
            m_builder.finish(std::move(r));
        };
        if (choices && choices->kind == JsonNode::Kind::Array && !choices->items.empty()) {
            for (std::size_t i = 0; i < choices->items.size(); ++i) {
                const JsonNode &c = choices->items[i];
                const std::string label =
                    choices->items.size() == 1 ? name : name + " choice " + std::to_string(i);
                request(c.kind == JsonNode::Kind::Object ? c.find("routed_experts") : nullptr, c, label);
            }
        } else {
            request(gen, o, name);
        }
        return true;
    }

    void named(const JsonNode &o)
    {
        for (const auto &[key, value] : o.members) {
            if (key.size() > 10 && key.compare(key.size() - 10, 10, "_token_ids") == 0)
                continue;
            if (value.kind == JsonNode::Kind::Object && response(value, key))
                continue;
            RoutedRequest r;
            r.name = key;
            const auto *ids = tokenIdsOf(o, {(key + "_token_ids").c_str()}, m_file, key);
            add(r, part(value, key, nullptr, ids), key, ids, false);
            m_builder.finish(std::move(r));
        }
    }

    void top(const JsonNode &v, std::size_t index, std::size_t count)
    {
        const std::string name = "request " + std::to_string(index);
        if (v.kind == JsonNode::Kind::Object) {
            if (!response(v, count == 1 ? std::string("request") : name))
                named(v);
            return;
        }
        if (v.kind == JsonNode::Kind::Array && !v.items.empty() &&
            v.items[0].kind == JsonNode::Kind::Object) {
            for (std::size_t i = 0; i < v.items.size(); ++i)
                top(v.items[i], i, v.items.size() + 1);
            return;
        }
        // [tokens][layers][k], or a list of those (one per request).
        const bool many = v.kind == JsonNode::Kind::Array && !v.items.empty() &&
                          v.items[0].kind == JsonNode::Kind::Array && !v.items[0].items.empty() &&
                          v.items[0].items[0].kind == JsonNode::Kind::Array;
        if (many) {
            for (std::size_t i = 0; i < v.items.size(); ++i) {
                RoutedRequest r;
                r.name = "request " + std::to_string(i);
                add(r, part(v.items[i], r.name, nullptr, nullptr), r.name, nullptr, false);
                m_builder.finish(std::move(r));
            }
            return;
        }
        RoutedRequest r;
        r.name = count == 1 ? std::string("request") : name;
        add(r, part(v, r.name, nullptr, nullptr), r.name, nullptr, false);
        m_builder.finish(std::move(r));
    }

    RoutedExperts done()
    {
        m_builder.out.layout = m_base64 ? "json base64" : "json nested lists";
        return std::move(m_builder.out);
    }

private:
    JsonPart part(const JsonNode &v, const std::string &what, const JsonPart *like,
                  const std::vector<std::int64_t> *ids)
    {
        const JsonPart p =
            jsonPart(v, m_file, what, like ? like : (m_builder.out.layers ? &m_shape : nullptr),
                     ids ? std::int64_t(ids->size()) : 0);
        m_base64 = m_base64 || p.base64;
        m_shape.layers = p.layers, m_shape.k = p.k;
        return p;
    }
    void add(RoutedRequest &r, const JsonPart &p, const std::string &what,
             const std::vector<std::int64_t> *ids, bool generated)
    {
        m_builder.part(r, what, p.rows, p.layers, p.k, p.experts, ids, generated);
    }

    const std::string &m_file;
    Builder m_builder;
    JsonPart m_shape;
    bool m_base64 = false;
};

RoutedExperts fromJson(const std::string &path)
{
    const std::string text = readBinaryFile(path);
    const std::vector<JsonNode> values = parseJsonValues(text, path);
    JsonReader reader(path);
    for (std::size_t i = 0; i < values.size(); ++i)
        reader.top(values[i], i, values.size());
    RoutedExperts out = reader.done();
    if (out.requests.empty())
        throw DumpError(path, "",
                        "holds no routed experts (prompt_routed_experts, routed_experts or nested lists "
                        "[tokens][layers][k])");
    return out;
}

} // namespace

bool looksLikeVllmRoutedExperts(const std::string &path)
{
    const std::string ext = extensionOf(path);
    return ext == ".npy" || ext == ".npz" || ext == ".json" || ext == ".jsonl";
}

RoutedExperts readVllmRoutedExperts(const std::string &path)
{
    std::string ext = extensionOf(path);
    if (ext != ".npy" && ext != ".npz" && ext != ".json" && ext != ".jsonl") {
        const std::string head = readBinaryFile(path).substr(0, 6);
        ext = head.rfind("\x93NUMPY", 0) == 0 ? ".npy" : head.rfind("PK", 0) == 0 ? ".npz" : ".json";
    }
    if (ext == ".npy") {
        Builder b(path);
        RoutedRequest r;
        r.name = std::filesystem::path(path).stem().string();
        NpyArray a = readNpy(path);
        npyPart(b, r, path, a, nullptr, false);
        b.finish(std::move(r));
        if (b.out.requests.empty())
            throw DumpError(path, "", "holds no tokens");
        b.out.layout = "npy";
        return b.out;
    }
    if (ext == ".npz") {
        RoutedExperts out = fromNpz(path);
        if (out.requests.empty())
            throw DumpError(path, "", "holds no tokens");
        return out;
    }
    return fromJson(path);
}

} // namespace moescope::import
