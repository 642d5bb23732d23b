// Safetensors header validation, loading through MLX, atomic saving (see safetensors.h).
#include "mlxft/formats/safetensors.h"

#include <fmt/format.h>
#include <mlx/io/load.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "mlxft/util/durable_file.h"
#include "mlxft/util/address_space.h"
#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100ULL * 1000 * 1000;

// Bytes per element of every dtype MLX can load from safetensors.
const std::map<std::string, uint64_t>& itemsizes() {
  static const std::map<std::string, uint64_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"U16", 2}, {"I16", 2}, {"F16", 2}, {"BF16", 2},
      {"U32", 4},  {"I32", 4}, {"F32", 4}, {"U64", 8}, {"I64", 8}, {"F64", 8}};
  return sizes;
}

Error bad(const std::string& source, const std::string& what, const std::string& tensor = {}) {
  return Error(ErrorKind::Model, tensor.empty() ? source : source + ": tensor '" + tensor + "'", what,
               "the file is corrupt or not safetensors; re-download or re-export it");
}

uint64_t read_u64_le(const std::string& bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  return n;
}

SafetensorsEntry parse_entry(const std::string& name, const nlohmann::json& v, uint64_t data_size,
                             const std::string& source) {
  if (!v.is_object()) throw bad(source, "header entry is not an object", name);
  SafetensorsEntry e;
  if (!v.contains("dtype") || !v["dtype"].is_string()) throw bad(source, "has no dtype", name);
  e.dtype = v["dtype"].get<std::string>();
  const auto size_it = itemsizes().find(e.dtype);
  if (size_it == itemsizes().end()) throw bad(source, "unknown or unsupported dtype '" + e.dtype + "'", name);

  if (!v.contains("shape") || !v["shape"].is_array()) throw bad(source, "has no shape list", name);
  uint64_t numel = 1;
  for (const auto& d : v["shape"]) {
    if (!d.is_number_unsigned() ||
        d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      throw bad(source, "shape " + json_brief(v["shape"]) + " is not a list of non-negative 32-bit sizes", name);
    }
    const uint64_t dim = d.get<uint64_t>();
    if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 8 / dim) {
      throw bad(source, "shape " + json_brief(v["shape"]) + " overflows", name);
    }
    numel *= dim;
    e.shape.push_back(static_cast<int32_t>(dim));
  }

  const auto& off = v.contains("data_offsets") ? v["data_offsets"] : nlohmann::json();
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
    throw bad(source, "data_offsets must be two non-negative integers", name);
  }
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.begin > e.end || e.end > data_size) {
    throw bad(source,
              "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  ") lie outside the data region of " + std::to_string(data_size) + " bytes",
              name);
  }
  const uint64_t expected = numel * size_it->second;
  if (e.end - e.begin != expected) {
    throw bad(source,
              "holds " + std::to_string(e.end - e.begin) + " bytes but dtype " + e.dtype + " and shape " +
                  json_brief(v["shape"]) + " need " + std::to_string(expected),
              name);
  }
  return e;
}

// The tensors must tile [0, data_size) in offset order.
void check_tiling(const SafetensorsHeader& h, uint64_t data_size, const std::string& source) {
  std::vector<std::pair<uint64_t, std::string>> order;  // (begin, name), non-empty tensors
  for (const auto& [name, e] : h.tensors) {
    if (e.end > e.begin) order.emplace_back(e.begin, name);
  }
  std::sort(order.begin(), order.end());
  uint64_t pos = 0;
  for (const auto& [begin, name] : order) {
    if (begin < pos)
      throw bad(source, "overlaps the tensor before it (starts at byte " + std::to_string(begin) + ")", name);
    if (begin > pos) {
      throw bad(source, "leaves a gap of " + std::to_string(begin - pos) + " bytes before it", name);
    }
    pos = h.tensors.at(name).end;
  }
  if (pos != data_size) {
    throw bad(source, "the tensors end at data byte " + std::to_string(pos) + " but the file has " +
                          std::to_string(data_size) + " data bytes");
  }
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const std::string& bytes, uint64_t file_size,
                                           const std::string& source) {
  if (file_size < 8 || bytes.size() < 8) throw bad(source, "too short to be safetensors (no header length)");
  const uint64_t n = read_u64_le(bytes);
  if (n > kMaxHeaderBytes) {
    throw bad(source, "header length " + std::to_string(n) + " exceeds the 100 MB limit");
  }
  if (n > file_size - 8) {
    throw bad(source, "header length " + std::to_string(n) + " is longer than the file (" +
                          std::to_string(file_size) + " bytes): truncated?");
  }
  if (bytes.size() < 8 + n) throw bad(source, "header is truncated");
  const nlohmann::json j = parse_untrusted_json(std::string_view(bytes).substr(8, n), source);
  if (!j.is_object()) throw bad(source, "header is not a JSON object");

  const uint64_t data_size = file_size - 8 - n;
  SafetensorsHeader h;
  for (const auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      if (v.is_null()) continue;  // what MLX's save_safetensors writes without metadata (mlx-lm adapters)
      if (!v.is_object()) throw bad(source, "__metadata__ is not an object");
      for (const auto& [k, s] : v.items()) {
        if (!s.is_string()) throw bad(source, "__metadata__ value of '" + k + "' is not a string");
        h.metadata[k] = s.get<std::string>();
      }
      continue;
    }
    h.tensors.emplace(name, parse_entry(name, v, data_size, source));
  }
  check_tiling(h, data_size, source);
  return h;
}

SafetensorsHeader read_safetensors_header(const std::filesystem::path& file) {
  const UntrustedFd fd = open_untrusted(file, "weights file");  // never a FIFO or a directory
  const uint64_t size = fd.size();
  const auto read_at = [&](char* to, uint64_t n, uint64_t at) {
    uint64_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd.fd(), to + done, n - done, static_cast<off_t>(at + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw Error(ErrorKind::Model, file.string(), "could not read the safetensors header");
      done += static_cast<uint64_t>(got);
    }
  };
  std::string bytes(std::min<uint64_t>(size, 8), '\0');
  read_at(bytes.data(), bytes.size(), 0);
  if (bytes.size() == 8) {
    const uint64_t n = read_u64_le(bytes);
    if (n <= kMaxHeaderBytes && n <= size - 8) {  // checked against the file before allocating
      bytes.resize(8 + n);
      read_at(bytes.data() + 8, n, 8);
    }
  }
  return parse_safetensors_header(bytes, size, file.string());
}

std::unordered_map<std::string, mx::array> load_safetensors(const std::filesystem::path& file) {
  (void)read_safetensors_header(file);
  try {
    return mx::load_safetensors(file.string()).first;
  } catch (const std::exception& e) {
    if (is_allocation_failure(e)) throw;  // out of memory, not a bad file: main says so
    throw Error(ErrorKind::Model, file.string(), std::string("MLX could not load it: ") + e.what());
  }
}

void save_safetensors(const std::filesystem::path& file,
                      const std::unordered_map<std::string, mx::array>& tensors,
                      const std::unordered_map<std::string, std::string>& metadata) {
  try {
    write_file_via(file, [&](const std::filesystem::path& temp) {
      // The stream form writes exactly `temp` (the path form appends ".safetensors" to it).
      mx::save_safetensors(std::make_shared<mx::io::FileWriter>(temp.string()), tensors, metadata);
    });
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    if (is_allocation_failure(e)) throw;  // out of memory, not a bad file: main says so
    throw Error(ErrorKind::Io, file.string(), fmt::format("could not write safetensors: {}", e.what()),
                "check free disk space and permissions");
  }
}

}  // namespace mlxft
