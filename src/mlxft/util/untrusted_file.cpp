// Opening and parsing files from strangers (see untrusted_file.h for the contract).
#include "mlxft/util/untrusted_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <climits>
#include <cstring>

namespace fs = std::filesystem;
using nlohmann::json;

namespace mlxft {
namespace {

const char* file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

Error not_regular(const fs::path& path, const std::string& what, mode_t mode, ErrorKind kind) {
  return Error(kind, path.string(), std::string("is ") + file_type_name(mode) + ", not a regular file",
               "the " + what + " must be a regular file");
}

template <class Json>
std::string brief(const Json& v) {
  switch (v.type()) {
    case Json::value_t::object: return "an object with " + std::to_string(v.size()) + " keys";
    case Json::value_t::array: {
      bool flat = v.size() <= 8;
      for (const auto& e : v) flat = flat && !e.is_structured() && !e.is_string();
      if (flat) return v.dump();  // a short list of numbers, e.g. a shape: depth 1
      return "an array of " + std::to_string(v.size()) + " values";
    }
    case Json::value_t::string: {
      const std::string& s = v.template get_ref<const std::string&>();
      if (s.size() <= 40) return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
      return Json(s.substr(0, 40)).dump(-1, ' ', false, Json::error_handler_t::replace) + "...";
    }
    default: return v.dump();  // a scalar: no recursion
  }
}

const json* member(const json& object, const std::string& key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

Error type_error(const std::string& source, const std::string& key, const char* type, const json& v,
                 ErrorKind kind) {
  return Error(kind, source + ": " + key, std::string("must be ") + type + ", got " + brief(v));
}

}  // namespace

void check_regular_file(const fs::path& path, const std::string& what, ErrorKind kind) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    throw Error(kind, path.string(),
                err == ENOENT ? "the " + what + " is missing (no such file)"
                              : "cannot read the " + what + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) throw not_regular(path, what, st.st_mode, kind);
}

UntrustedFd::~UntrustedFd() {
  if (fd_ >= 0) ::close(fd_);
}

UntrustedFd open_untrusted(const fs::path& path, const std::string& what, ErrorKind kind) {
  check_regular_file(path, what, kind);
  // O_NONBLOCK: were the path swapped for a FIFO after the check, open() still returns at once.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    throw Error(kind, path.string(), "cannot open the " + what + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(kind, path.string(), "cannot stat the " + what + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw not_regular(path, what, st.st_mode, kind);
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return UntrustedFd(fd, static_cast<uint64_t>(st.st_size));
}

std::string read_untrusted_file(const fs::path& path, const std::string& what, uint64_t max_bytes,
                                ErrorKind kind) {
  const UntrustedFd file = open_untrusted(path, what, kind);
  if (file.size() > max_bytes) {
    throw Error(kind, path.string(),
                "the " + what + " is " + std::to_string(file.size()) + " bytes, more than the " +
                    std::to_string(max_bytes) + "-byte limit for it",
                "is this the right file?");
  }
  std::string text(file.size(), '\0');
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(file.fd(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(kind, path.string(), "cannot read the " + what + ": " + std::strerror(errno));
    if (n == 0) break;  // shrank while read
    done += static_cast<size_t>(n);
  }
  text.resize(done);
  return text;
}

int json_nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

json parse_untrusted_json(std::string_view text, const std::string& source, ErrorKind kind) {
  if (json_nesting_depth(text) > kMaxJsonDepth) {
    throw Error(kind, source,
                "JSON nested more than " + std::to_string(kMaxJsonDepth) + " levels deep; refused unread",
                "no model or tokenizer file nests that deep: the file is damaged or hostile");
  }
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(kind, source, std::string("not valid JSON: ") + e.what());
  }
}

json read_untrusted_json(const fs::path& path, const std::string& what, uint64_t max_bytes, ErrorKind kind) {
  return parse_untrusted_json(read_untrusted_file(path, what, max_bytes, kind), path.string(), kind);
}

std::string json_brief(const json& value) { return brief(value); }
std::string json_brief(const nlohmann::ordered_json& value) { return brief(value); }

std::string json_string(const json& object, const std::string& key, const std::string& source,
                        const std::string& fallback, ErrorKind kind) {
  const json* v = member(object, key);
  if (!v) return fallback;
  if (!v->is_string()) throw type_error(source, key, "a string", *v, kind);
  return v->get<std::string>();
}

int64_t json_integer(const json& object, const std::string& key, const std::string& source, int64_t fallback,
                     ErrorKind kind) {
  const json* v = member(object, key);
  if (!v) return fallback;
  if (!v->is_number_integer()) throw type_error(source, key, "an integer", *v, kind);
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    throw type_error(source, key, "an integer below 2^63", *v, kind);
  }
  return v->get<int64_t>();
}

double json_number(const json& object, const std::string& key, const std::string& source, double fallback,
                   ErrorKind kind) {
  const json* v = member(object, key);
  if (!v) return fallback;
  if (!v->is_number()) throw type_error(source, key, "a number", *v, kind);
  return v->get<double>();
}

bool json_boolean(const json& object, const std::string& key, const std::string& source, bool fallback,
                  ErrorKind kind) {
  const json* v = member(object, key);
  if (!v) return fallback;
  if (!v->is_boolean()) throw type_error(source, key, "true or false", *v, kind);
  return v->get<bool>();
}

}  // namespace mlxft
