#include "mlxft/util/error.h"

namespace mlxft {
namespace {

std::string compose(ErrorKind kind, const std::string& where, const std::string& what,
                    const std::string& hint) {
  std::string msg = to_string(kind);
  msg += ": ";
  if (!where.empty()) msg += where + ": ";
  msg += what;
  if (!hint.empty()) msg += "\n  hint: " + hint;
  return msg;
}

}  // namespace

Error::Error(ErrorKind kind, std::string where, std::string what, std::string hint)
    : std::runtime_error(compose(kind, where, what, hint)),
      kind_(kind),
      where_(std::move(where)),
      detail_(std::move(what)),
      hint_(std::move(hint)) {}

int Error::exit_code() const {
  return (kind_ == ErrorKind::Usage || kind_ == ErrorKind::Config) ? 2 : 1;
}

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Usage: return "usage error";
    case ErrorKind::Config: return "configuration error";
    case ErrorKind::Data: return "data error";
    case ErrorKind::Model: return "model error";
    case ErrorKind::Training: return "training error";
    case ErrorKind::Checkpoint: return "checkpoint error";
    case ErrorKind::Memory: return "memory error";
    case ErrorKind::Io: return "i/o error";
  }
  return "error";
}

}  // namespace mlxft
