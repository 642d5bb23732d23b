#include "mlxft/util/json_text.h"

#include <charconv>
#include <cmath>

namespace mlxft {

namespace {

// Python's repr(float): the shortest digits that round-trip, in positional
// form when the decimal exponent is in [-4, 16), else as d.ddde+XX.
void write_float(double d, std::string& out) {
  if (std::isnan(d)) {
    out += "NaN";
    return;
  }
  if (std::isinf(d)) {
    out += d > 0 ? "Infinity" : "-Infinity";
    return;
  }
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  const std::string sci(buf, res.ptr);  // e.g. "-1.5e-07", "1e+16"
  const size_t e_pos = sci.find('e');
  const bool negative = sci[0] == '-';
  std::string digits;
  for (size_t i = negative ? 1 : 0; i < e_pos; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  const int exp = std::stoi(sci.substr(e_pos + 1));
  if (negative) out += '-';
  if (exp >= -4 && exp < 16) {
    const int n = static_cast<int>(digits.size());
    if (exp < 0) {
      out.append("0.").append(static_cast<size_t>(-exp - 1), '0').append(digits);
    } else if (exp + 1 >= n) {
      out.append(digits).append(static_cast<size_t>(exp + 1 - n), '0').append(".0");
    } else {
      out.append(digits, 0, static_cast<size_t>(exp + 1))
          .append(".")
          .append(digits, static_cast<size_t>(exp + 1));
    }
  } else {
    out.append(digits, 0, 1);
    if (digits.size() > 1) out.append(".").append(digits, 1);
    out.append(exp < 0 ? "e-" : "e+");
    const int a = exp < 0 ? -exp : exp;
    if (a < 10) out += '0';
    out += std::to_string(a);
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
    case OrderedJson::value_t::number_float: write_float(v.get<double>(), out); break;
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
