// Reading files that come from strangers: model directories, GGUF files, tokenizers, adapters.
//
// Contract:
// - check_regular_file(path, what): stat() the path (links followed); a missing path, a directory,
//   a FIFO, a socket or a device is an error naming the path and saying what it is. Nothing is
//   opened, so a FIFO where config.json belongs cannot block the run. Every reader of a model file
//   calls this (or open_untrusted) before it, or a library it hands the path to, opens the file.
// - open_untrusted(path, what): check_regular_file, then open(O_RDONLY | O_NONBLOCK) and fstat()
//   the descriptor again (the path may be swapped between the two); returns the descriptor (closed
//   by the UntrustedFd) and the file's size.
// - read_untrusted_file(path, what, max_bytes): the whole file, refused before any allocation when it
//   is longer than max_bytes.
// - parse_untrusted_json(text, source) / read_untrusted_json(path, what, max_bytes): JSON whose
//   nesting is checked (at most kMaxJsonDepth levels) before nlohmann parses it, so no recursive code
//   (dump(), comparisons, messages) ever meets a deep value; syntax errors name `source`.
// - json_brief(value): a value for an error message, never recursive: numbers, booleans and null as
//   written, strings quoted and cut at 40 characters, "an object with N keys", "an array of N values" (up to 8 numbers, booleans or nulls are printed as
//   a list).
// - json_string / json_integer / json_number / json_boolean (object, key, source, fallback): a key of
//   a JSON object read with its type checked; absent or null gives the fallback, a value of another
//   type is an error at "source: key" saying the type it must have and what it is.
// Errors are mlxft::Error of `kind` (Model unless told), `where` = the path or "path: key".
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "mlxft/util/error.h"

namespace mlxft {

inline constexpr int kMaxJsonDepth = 64;

void check_regular_file(const std::filesystem::path& path, const std::string& what,
                        ErrorKind kind = ErrorKind::Model);

class UntrustedFd {
 public:
  UntrustedFd(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~UntrustedFd();
  UntrustedFd(const UntrustedFd&) = delete;
  UntrustedFd& operator=(const UntrustedFd&) = delete;
  UntrustedFd(UntrustedFd&& o) noexcept : fd_(o.fd_), size_(o.size_) { o.fd_ = -1; }
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }

 private:
  int fd_;
  uint64_t size_;
};

UntrustedFd open_untrusted(const std::filesystem::path& path, const std::string& what,
                           ErrorKind kind = ErrorKind::Model);

std::string read_untrusted_file(const std::filesystem::path& path, const std::string& what,
                                uint64_t max_bytes, ErrorKind kind = ErrorKind::Model);

// Depth of the deepest [ or { in `text` (strings skipped); stops counting past `limit` + 1.
int json_nesting_depth(std::string_view text, int limit = kMaxJsonDepth);

nlohmann::json parse_untrusted_json(std::string_view text, const std::string& source,
                                    ErrorKind kind = ErrorKind::Model);
nlohmann::json read_untrusted_json(const std::filesystem::path& path, const std::string& what,
                                   uint64_t max_bytes = 64ull << 20, ErrorKind kind = ErrorKind::Model);

std::string json_brief(const nlohmann::json& value);
std::string json_brief(const nlohmann::ordered_json& value);

std::string json_string(const nlohmann::json& object, const std::string& key, const std::string& source,
                        const std::string& fallback, ErrorKind kind = ErrorKind::Model);
int64_t json_integer(const nlohmann::json& object, const std::string& key, const std::string& source,
                     int64_t fallback, ErrorKind kind = ErrorKind::Model);
double json_number(const nlohmann::json& object, const std::string& key, const std::string& source,
                   double fallback, ErrorKind kind = ErrorKind::Model);
bool json_boolean(const nlohmann::json& object, const std::string& key, const std::string& source,
                  bool fallback, ErrorKind kind = ErrorKind::Model);

}  // namespace mlxft
