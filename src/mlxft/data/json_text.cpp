#include "mlxft/data/json_text.h"

#include <cmath>

namespace mlxft {

namespace {

void write_float(double d, std::string& out) {
  if (std::isnan(d)) {
    out += "NaN";
  } else if (std::isinf(d)) {
    out += d > 0 ? "Infinity" : "-Infinity";
  } else {
    // nlohmann writes the shortest round-trip digits like Python's repr(); Python
    // switches to exponent form from 1e16 on, where nlohmann would too.
    out += OrderedJson(d).dump();
  }
}

void write(const OrderedJson& v, std::string& out) {
  switch (v.type()) {
    case OrderedJson::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.items()) {
        if (!first) out += ", ";
        first = false;
        out += OrderedJson(key).dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
        out += ": ";
        write(item, out);
      }
      out += '}';
      break;
    }
    case OrderedJson::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v) {
        if (!first) out += ", ";
        first = false;
        write(item, out);
      }
      out += ']';
      break;
    }
    case OrderedJson::value_t::number_float:
      write_float(v.get<double>(), out);
      break;
    default:  // strings, integers, booleans, null
      out += v.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
      break;
  }
}

}  // namespace

std::string python_json_dumps(const OrderedJson& value) {
  std::string out;
  write(value, out);
  return out;
}

}  // namespace mlxft
