#include "mlxft/data/tool_catalogue.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "mlxft/data/tool_text.h"
#include "mlxft/util/error.h"
#include "mlxft/util/prng.h"

namespace mlxft {

namespace {

// What was seen at one place of the arguments (the arguments object itself, a property, array items).
struct Shape {
  std::vector<std::string> types;  // in order of first appearance
  int64_t objects = 0;             // object values seen here
  std::vector<std::string> keys;   // their keys, first appearance first
  std::map<std::string, int64_t> present;
  std::map<std::string, std::unique_ptr<Shape>> properties;
  std::unique_ptr<Shape> items;  // array elements
};

std::string type_of(const OrderedJson& v) {
  if (v.is_object()) return "object";
  if (v.is_array()) return "array";
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_float()) return "number";
  if (v.is_number()) return "integer";
  return "null";
}

void observe(Shape& s, const OrderedJson& v) {
  const std::string t = type_of(v);
  if (std::find(s.types.begin(), s.types.end(), t) == s.types.end()) s.types.push_back(t);
  if (v.is_object()) {
    ++s.objects;
    for (const auto& [key, value] : v.items()) {
      auto& p = s.properties[key];
      if (!p) {
        p = std::make_unique<Shape>();
        s.keys.push_back(key);
      }
      ++s.present[key];
      observe(*p, value);
    }
  } else if (v.is_array()) {
    for (const auto& element : v) {
      if (!s.items) s.items = std::make_unique<Shape>();
      observe(*s.items, element);
    }
  }
}

OrderedJson schema_of(const Shape& s) {
  std::vector<std::string> types = s.types;
  const bool has_number = std::find(types.begin(), types.end(), "number") != types.end();
  if (has_number) types.erase(std::remove(types.begin(), types.end(), "integer"), types.end());
  OrderedJson out = OrderedJson::object();
  out["type"] = types.size() == 1 ? OrderedJson(types.front()) : OrderedJson(types);
  if (s.objects > 0) {
    OrderedJson props = OrderedJson::object();
    OrderedJson required = OrderedJson::array();
    for (const auto& key : s.keys) {
      props[key] = schema_of(*s.properties.at(key));
      if (s.present.at(key) == s.objects) required.push_back(key);
    }
    out["properties"] = std::move(props);
    if (!required.empty()) out["required"] = std::move(required);
  }
  if (s.items) out["items"] = schema_of(*s.items);
  return out;
}

// Every (name, arguments) an assistant message calls: native calls, else the seed's text blocks.
template <typename F>
void for_each_call(const Conversation& c, F&& f) {
  for (const auto& m : c.messages) {
    if (m.role != Role::Assistant) continue;
    for (const auto& call : m.tool_calls) f(call.name, call.arguments);
    if (!m.tool_calls.empty()) continue;
    for (const auto& block : parse_tool_text(m.content))
      if (block.arguments) f(block.name, *block.arguments);
  }
}

[[noreturn]] void bad_catalogue(const std::filesystem::path& path, const std::string& what) {
  throw Error(ErrorKind::Config, path.string(), what,
              "give a JSON list of {\"type\": \"function\", \"function\": {\"name\", \"description\", "
              "\"parameters\"}} (mlxft data tools DATA.jsonl --out tools.json writes one)");
}

}  // namespace

std::filesystem::path adapter_catalogue(const std::filesystem::path& adapter_dir) {
  if (adapter_dir.empty()) return {};
  std::error_code ec;
  const auto path = adapter_dir / kAdapterCatalogueFile;
  return std::filesystem::is_regular_file(path, ec) ? path : std::filesystem::path();
}

OrderedJson infer_tool_catalogue(const std::vector<Conversation>& conversations) {
  std::vector<std::string> names;
  std::map<std::string, Shape> shapes;
  for (const auto& c : conversations) {
    for_each_call(c, [&](const std::string& name, const OrderedJson& arguments) {
      if (!shapes.count(name)) names.push_back(name);
      observe(shapes[name], arguments);
    });
  }
  OrderedJson catalogue = OrderedJson::array();
  for (const auto& name : names) {
    OrderedJson parameters = schema_of(shapes.at(name));
    if (!parameters.contains("properties")) parameters["properties"] = OrderedJson::object();
    catalogue.push_back(OrderedJson{
        {"type", "function"},
        {"function",
         OrderedJson{{"name", name}, {"description", ""}, {"parameters", std::move(parameters)}}}});
  }
  return catalogue;
}

OrderedJson compact_tool_catalogue(const OrderedJson& catalogue) {
  OrderedJson out = OrderedJson::array();
  for (const auto& tool : catalogue) {
    OrderedJson t = tool;
    OrderedJson& f = t["function"];
    if (f.contains("description") && f["description"].is_string() &&
        f["description"].get<std::string>().empty())
      f.erase("description");
    if (f.contains("parameters") && f["parameters"].contains("properties") &&
        f["parameters"]["properties"].is_object()) {
      for (auto& [key, schema] : f["parameters"]["properties"].items()) {
        if (!schema.is_object() || !schema.contains("type")) continue;
        schema = OrderedJson{{"type", schema["type"]}};
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

OrderedJson load_tool_catalogue(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    bad_catalogue(path, "the tool catalogue is not a readable file");
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) bad_catalogue(path, "cannot read the tool catalogue");
  const OrderedJson j = OrderedJson::parse(text.str(), nullptr, false);
  if (j.is_discarded()) bad_catalogue(path, "the tool catalogue is not valid JSON");
  if (!j.is_array() || j.empty()) bad_catalogue(path, "the tool catalogue must be a non-empty JSON list");
  std::set<std::string> seen;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& t = j[i];
    const std::string where = fmt::format("entry {}", i + 1);
    if (!t.is_object() || !t.contains("function") || !t["function"].is_object())
      bad_catalogue(path, where + " is not {\"type\": \"function\", \"function\": {...}}");
    const auto& f = t["function"];
    if (!f.contains("name") || !f["name"].is_string() || f["name"].get<std::string>().empty())
      bad_catalogue(path, where + ": the function has no name");
    if (!seen.insert(f["name"].get<std::string>()).second)
      bad_catalogue(path,
                    fmt::format("{}: the name '{}' appears twice", where, f["name"].get<std::string>()));
    if (f.contains("description") && !f["description"].is_string())
      bad_catalogue(path, where + ": description must be a string");
    if (f.contains("parameters") && !f["parameters"].is_object())
      bad_catalogue(path, where + ": parameters must be an object");
  }
  return j;
}

std::vector<std::string> called_tool_names(const Conversation& conversation) {
  std::vector<std::string> names;
  for_each_call(conversation, [&](const std::string& name, const OrderedJson&) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  });
  return names;
}

OrderedJson tools_for_prompt(const OrderedJson& catalogue, const Conversation& conversation, int per_prompt,
                             uint64_t seed) {
  const size_t n = catalogue.size();
  if (per_prompt <= 0 || static_cast<size_t>(per_prompt) >= n) return catalogue;
  const std::vector<std::string> called = called_tool_names(conversation);
  std::vector<bool> keep(n, false);
  std::vector<size_t> others;
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto& name = catalogue[i]["function"]["name"];
    if (name.is_string() &&
        std::find(called.begin(), called.end(), name.get<std::string>()) != called.end()) {
      keep[i] = true;
      ++kept;
    } else {
      others.push_back(i);
    }
  }
  SplitMix64 rng(seed);
  while (kept < static_cast<size_t>(per_prompt) && !others.empty()) {
    const size_t k = static_cast<size_t>(rng.below(others.size()));
    keep[others[k]] = true;
    others.erase(others.begin() + static_cast<std::ptrdiff_t>(k));
    ++kept;
  }
  OrderedJson out = OrderedJson::array();
  for (size_t i = 0; i < n; ++i)
    if (keep[i]) out.push_back(catalogue[i]);
  return out;
}

}  // namespace mlxft
