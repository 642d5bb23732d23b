#include "mlxft/data/synthetic.h"

#include <nlohmann/json.hpp>

#include <array>
#include <functional>

#include "mlxft/util/prng.h"

namespace mlxft {
namespace {

using ordered_json = nlohmann::ordered_json;

// Picks with the project's platform-independent PRNG (util/prng.h).
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  int below(int n) { return static_cast<int>(gen_.below(static_cast<uint64_t>(n))); }
  template <typename T, size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[static_cast<size_t>(below(static_cast<int>(N)))];
  }

 private:
  SplitMix64 gen_;
};

ordered_json tool(const std::string& name, const std::string& description, ordered_json properties,
                  ordered_json required) {
  ordered_json params = {{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}};
  return {{"type", "function"},
          {"function", {{"name", name}, {"description", description}, {"parameters", std::move(params)}}}};
}

ordered_json toolset() {
  ordered_json s = ordered_json::object({{"type", "string"}});
  ordered_json n = ordered_json::object({{"type", "number"}});
  return ordered_json::array({
      tool("get_weather", "Get the current weather for a city", {{"city", s}}, {"city"}),
      tool("convert_currency", "Convert an amount between currencies",
           {{"amount", n}, {"from", s}, {"to", s}}, {"amount", "from", "to"}),
      tool("search_notes", "Search the user's notes for a phrase", {{"query", s}}, {"query"}),
      tool("create_event", "Add an event to the calendar", {{"title", s}, {"date", s}}, {"title", "date"}),
  });
}

constexpr std::array<const char*, 8> kCities = {"Paris", "Lyon",  "Berlin", "Madrid",
                                                "Tokyo", "Lagos", "Lima",   "Oslo"};
constexpr std::array<const char*, 4> kSkies = {"sunny", "cloudy", "rainy", "windy"};
constexpr std::array<const char*, 5> kCurrencies = {"EUR", "USD", "GBP", "JPY", "CHF"};
constexpr std::array<const char*, 6> kTopics = {"budget", "garden", "travel plans", "recipes", "meeting notes",
                                                "reading list"};
constexpr std::array<const char*, 5> kEvents = {"Dentist", "Team lunch", "Yoga class", "Call with Sam",
                                                "Book club"};
constexpr std::array<const char*, 5> kDates = {"2025-03-04", "2025-04-18", "2025-05-02", "2025-06-21",
                                               "2025-07-09"};

std::string call_id(Rng& rng) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string id;
  for (int i = 0; i < 9; ++i) id += kAlphabet[rng.below(62)];
  return id;
}

struct Exchange {
  std::string request;
  std::string tool;
  ordered_json arguments;
  ordered_json result;
  std::string reply;
};

Exchange weather(Rng& rng) {
  const std::string city = rng.pick(kCities);
  const int temp = 5 + rng.below(25);
  const std::string sky = rng.pick(kSkies);
  return {"What is the weather in " + city + " right now?", "get_weather", {{"city", city}},
          {{"temp_c", temp}, {"sky", sky}},
          "It is " + std::to_string(temp) + " degrees and " + sky + " in " + city + "."};
}

Exchange currency(Rng& rng) {
  const int amount = 10 * (1 + rng.below(50));
  const std::string from = rng.pick(kCurrencies);
  std::string to = rng.pick(kCurrencies);
  if (to == from) to = from == "EUR" ? "USD" : "EUR";
  const int converted = amount * (50 + rng.below(100)) / 100;
  return {"Convert " + std::to_string(amount) + " " + from + " to " + to + ", please.", "convert_currency",
          {{"amount", amount}, {"from", from}, {"to", to}}, {{"amount", converted}, {"currency", to}},
          std::to_string(amount) + " " + from + " is about " + std::to_string(converted) + " " + to + "."};
}

Exchange notes(Rng& rng) {
  const std::string topic = rng.pick(kTopics);
  const int hits = 1 + rng.below(5);
  return {"Find my notes about " + topic + ".", "search_notes", {{"query", topic}},
          {{"matches", hits}, {"top", topic + " (" + std::to_string(hits) + ")"}},
          "I found " + std::to_string(hits) + " notes about " + topic + "."};
}

Exchange event(Rng& rng) {
  const std::string title = rng.pick(kEvents);
  const std::string date = rng.pick(kDates);
  return {"Put " + title + " on my calendar for " + date + ".", "create_event",
          {{"title", title}, {"date", date}}, {{"created", true}, {"date", date}},
          "Done: " + title + " is on your calendar for " + date + "."};
}

}  // namespace

std::vector<std::string> synthesize_tool_conversations(int count, uint64_t seed) {
  static const std::array<std::function<Exchange(Rng&)>, 4> kMakers = {weather, currency, notes, event};
  Rng rng(seed);
  const ordered_json tools = toolset();
  std::vector<std::string> lines;
  lines.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const Exchange ex = kMakers[static_cast<size_t>(rng.below(4))](rng);
    const std::string id = call_id(rng);
    ordered_json call = {{"id", id}, {"type", "function"},
                         {"function", {{"name", ex.tool}, {"arguments", ex.arguments}}}};
    ordered_json messages = ordered_json::array({
        {{"role", "system"}, {"content", "You are a helpful assistant with access to tools."}},
        {{"role", "user"}, {"content", ex.request}},
        {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", ordered_json::array({call})}},
        {{"role", "tool"}, {"tool_call_id", id}, {"name", ex.tool}, {"content", ex.result.dump()}},
        {{"role", "assistant"}, {"content", ex.reply}},
    });
    ordered_json record = {{"messages", std::move(messages)}, {"tools", tools}, {"label", true}};
    lines.push_back(record.dump());
  }
  return lines;
}

}  // namespace mlxft
