// Errors that reach the user.
//
// Contract: every failure the user can cause (bad flag, bad config key, bad
// data line, bad model file, a training or checkpoint problem, not enough
// memory) is thrown as mlxft::Error. It carries its kind, *where* it happened
// (a file, file:line, a config key or a tensor name), *what* is wrong and,
// when known, a hint on what to do. The CLI prints it as one or two lines and
// maps the kind to an exit code: 2 for usage and configuration errors, 1 for
// everything else. Nothing else in the program prints a stack trace.
#pragma once

#include <stdexcept>
#include <string>

namespace mlxft {

enum class ErrorKind { Usage, Config, Data, Model, Training, Checkpoint, Memory, Io };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string where, std::string what, std::string hint = {});

  ErrorKind kind() const { return kind_; }
  const std::string& where() const { return where_; }
  const std::string& detail() const { return detail_; }
  const std::string& hint() const { return hint_; }
  // Exit status for the CLI: 2 for Usage/Config, 1 otherwise.
  int exit_code() const;

 private:
  ErrorKind kind_;
  std::string where_;
  std::string detail_;
  std::string hint_;
};

// Human name of an error kind ("configuration error", "data error", ...).
const char* to_string(ErrorKind kind);

}  // namespace mlxft
