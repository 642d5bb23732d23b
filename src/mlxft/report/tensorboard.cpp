#include "mlxft/report/tensorboard.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {

namespace {

constexpr std::string_view kPrefix = "events.out.tfevents.";

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The timestamp in an event file's name (events.out.tfevents.<seconds>.<host>...), 0 if none.
int64_t name_seconds(const fs::path& file) {
  const std::string name = file.filename().string();
  int64_t seconds = 0;
  for (size_t i = kPrefix.size(); i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i)
    seconds = seconds * 10 + (name[i] - '0');
  return seconds;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

std::vector<fs::path> event_files(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().filename().string().rfind(kPrefix, 0) == 0)
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TensorBoardSink::TensorBoardSink(fs::path dir) : dir_(std::move(dir)) {}

void TensorBoardSink::open_new_file() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec)
    throw Error(ErrorKind::Io, dir_.string(),
                fmt::format("cannot create the TensorBoard directory: {}", ec.message()),
                "check that output.output_dir is writable");
  // Named to sort after every file already there: TensorBoard reads a directory's files in name order.
  auto seconds = static_cast<int64_t>(now_seconds());
  for (const fs::path& f : event_files(dir_)) seconds = std::max(seconds, name_seconds(f) + 1);
  path_ = dir_ / fmt::format("{}{:010d}.{}.{}", kPrefix, seconds, host_name(), ::getpid());
  out_ = std::make_unique<AppendFile>(path_, AppendFile::Mode::Truncate);
  Event version;
  version.wall_time = now_seconds();
  version.file_version = "brain.Event:2";
  out_->append(frame_record(encode_event(version)));
}

void TensorBoardSink::on_resume(int64_t step) {
  for (const fs::path& f : event_files(dir_)) {
    const EventFile file = read_event_file(f);
    std::string kept;
    bool dropped = !file.complete;
    for (const Event& e : file.events) {
      if (!e.scalars.empty() && e.step > step) {
        dropped = true;
        continue;
      }
      kept += frame_record(encode_event(e));
    }
    if (dropped) write_file_atomic(f, kept);
  }
  out_.reset();
  open_new_file();
}

void TensorBoardSink::write(int64_t step, std::vector<ScalarValue> scalars) {
  if (!out_) {
    // A fresh run: the files of an earlier run in this directory would mix with this one's steps.
    for (const fs::path& f : event_files(dir_)) fs::remove(f);
    open_new_file();
  }
  Event e;
  e.wall_time = now_seconds();
  e.step = step;
  e.scalars = std::move(scalars);
  out_->append(frame_record(encode_event(e)));
}

void TensorBoardSink::on_train(const TrainMetrics& m) {
  std::vector<ScalarValue> s = {{"train/loss", static_cast<float>(m.loss)},
                                {"train/learning_rate", static_cast<float>(m.learning_rate)},
                                {"train/gradient_norm", static_cast<float>(m.gradient_norm)},
                                {"train/tokens_per_second", static_cast<float>(m.tokens_per_second)},
                                {"train/trained_tokens", static_cast<float>(m.trained_tokens)},
                                {"system/memory_gb", static_cast<float>(m.memory_gb)},
                                {"system/peak_memory_gb", static_cast<float>(m.peak_memory_gb)},
                                {"time_s", static_cast<float>(m.time_s)},
                                {"train/epoch", static_cast<float>(m.epoch)}};
  for (const auto& [name, v] : m.extra) s.push_back({"train/" + name, static_cast<float>(v)});
  write(m.step, std::move(s));
}

void TensorBoardSink::on_eval(const EvalMetrics& m) {
  std::vector<ScalarValue> s = {{"eval/loss", static_cast<float>(m.loss)},
                                {"eval/perplexity", static_cast<float>(m.perplexity)},
                                {"eval/tokens", static_cast<float>(m.tokens)},
                                {"eval/epoch", static_cast<float>(m.epoch)},
                                {"eval/best", m.best ? 1.0F : 0.0F}};
  for (const auto& [name, v] : m.extra) s.push_back({"eval/" + name, static_cast<float>(v)});
  write(m.step, std::move(s));
}

void TensorBoardSink::on_skip(const SkipMetrics& m) {
  write(m.step, {{"train/skipped", 1.0F}});
}

}  // namespace mlxft
