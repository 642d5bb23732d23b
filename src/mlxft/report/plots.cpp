#include "mlxft/report/plots.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "mlxft/util/durable_file.h"
namespace fs = std::filesystem;

namespace mlxft {
namespace {

// A value for a gnuplot data file; NaN marks a missing point.
std::string cell(double v) {
  return std::isfinite(v) ? fmt::format("{}", v) : "NaN";
}

// A string literal for a gnuplot script.
std::string quoted(const fs::path& p) {
  std::string out = "'";
  for (char c : p.string()) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// Runs `program script`, its output into `log`. Returns the exit status (-1 if it could not run).
int run_gnuplot(const fs::path& program, const fs::path& script, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    ::execl(program.c_str(), program.c_str(), script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct Plot {
  std::string name;
  std::string title;
  std::string ylabel;
  std::string commands;  // the plot command(s), with TRAIN and EVAL standing for the data files
};

double extra(const std::map<std::string, double>& m, const char* name) {
  const auto it = m.find(name);
  return it != m.end() ? it->second : std::nan("");
}

bool is_kto(const RunMetrics& metrics) {
  for (const auto& t : metrics.train) {
    if (t.extra.count("kl") != 0) return true;
  }
  return false;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

bool has_tool_calls(const RunMetrics& metrics) {
  for (const auto& e : metrics.eval)
    if (!std::isnan(e.extra_value("tool_name_accuracy"))) return true;
  return false;
}

// The plots of a run: loss, learning rate, gradient norm, memory; tool calls and KTO when present.
std::vector<Plot> plot_list(const RunMetrics& metrics) {
  const bool kto = is_kto(metrics);
  std::vector<Plot> plots = {
      kto ? Plot{"loss", "Loss", "KTO loss (train, per sequence); NLL per token (validation)",
                 "TRAIN using 1:2 with lines lw 2 title 'train (KTO)', EVAL using 1:2 with linespoints lw 2 "
                 "pt 7 "
                 "title 'validation, desirable', EVAL using 1:3 with linespoints lw 2 pt 5 title "
                 "'validation, "
                 "undesirable'"}
          : Plot{"loss", "Loss", "loss (per target token)",
                 "TRAIN using 1:2 with lines lw 2 title 'train', EVAL using 1:2 with linespoints lw 2 pt 7 "
                 "title "
                 "'validation'"},
      {"learning_rate", "Learning rate", "learning rate",
       "TRAIN using 1:3 with lines lw 2 title 'learning rate'"},
      {"gradient_norm", "Gradient norm (before clipping)", "global L2 norm",
       "TRAIN using 1:4 with lines lw 2 title 'gradient norm'"},
      {"memory", "Memory", "GB",
       "TRAIN using 1:5 with lines lw 2 title 'in use', TRAIN using 1:6 with lines lw 2 dt 2 title 'peak'"},
  };
  if (has_tool_calls(metrics)) {
    plots.push_back(
        {"tool_calls", "Tool calls (validation, greedy; step 0: before training)", "share of call turns",
         "EVAL using 1:4 with linespoints lw 2 pt 7 title 'name accuracy', EVAL using 1:5 with "
         "linespoints lw 2 pt 5 title 'arguments exact', EVAL using 1:6 with linespoints lw 2 pt 9 "
         "title 'arguments match'"});
  }
  if (kto) {
    plots.push_back(
        {"kto", "KTO rewards (beta x log-ratio to the reference) and KL reference point", "nats x beta",
         "TRAIN using 1:8 with lines lw 2 title 'reward, desirable', TRAIN using 1:9 with lines lw 2 "
         "title 'reward, undesirable', TRAIN using 1:10 with lines lw 2 dt 2 title 'margin', TRAIN "
         "using 1:7 with lines lw 2 title 'KL (nats)'"});
  }
  return plots;
}

// The gnuplot data file of the train lines.
std::string train_data(const RunMetrics& metrics) {
  std::string out =
      "# step loss learning_rate gradient_norm memory_gb peak_memory_gb kl rewards_chosen "
      "rewards_rejected rewards_margin\n";
  for (const auto& t : metrics.train) {
    out += fmt::format("{} {} {} {} {} {} {} {} {} {}\n", t.step, cell(t.loss), cell(t.learning_rate),
                       cell(t.gradient_norm), cell(t.memory_gb), cell(t.peak_memory_gb),
                       cell(extra(t.extra, "kl")), cell(extra(t.extra, "rewards_chosen")),
                       cell(extra(t.extra, "rewards_rejected")), cell(extra(t.extra, "rewards_margin")));
  }
  return out;
}

// The gnuplot data file of the eval lines.
std::string eval_data(const RunMetrics& metrics) {
  std::string out = "# step loss loss_undesirable tool_name_accuracy tool_arguments_exact tool_arguments_match\n";
  for (const auto& e : metrics.eval) {
    out += fmt::format("{} {} {} {} {} {}\n", e.step, cell(e.loss), cell(e.extra_value("loss_undesirable")),
                       cell(e.extra_value("tool_name_accuracy")), cell(e.extra_value("tool_arguments_exact")),
                       cell(e.extra_value("tool_arguments_match")));
  }
  // gnuplot cannot plot a file without points; a lone NaN row keeps the command valid.
  if (metrics.eval.empty()) out += "NaN NaN NaN NaN NaN NaN\n";
  return out;
}

std::string plot_script(const std::vector<Plot>& plots, const std::string& terminal, const std::string& ext,
                        const fs::path& work, const fs::path& train_file, const fs::path& eval_file) {
  std::string script = "set terminal " + terminal +
                       "\nset datafile missing 'NaN'\nset grid\nset key top right\n"
                       "set xlabel 'optimizer step'\nset format y '%g'\n";
  for (const auto& p : plots) {
    script += "set output " + quoted(work / (p.name + "." + ext)) + "\nset title '" + p.title +
              "'\nset ylabel '" + p.ylabel + "'\nplot " +
              replace_all(replace_all(p.commands, "TRAIN", quoted(train_file)), "EVAL", quoted(eval_file)) +
              "\nunset output\n";
  }
  return script;
}

// Runs gnuplot on work/plots.gp and moves each drawn plot into `dir` (durably); returns them.
std::vector<fs::path> draw_and_publish(const fs::path& gnuplot, const std::vector<Plot>& plots,
                                       const std::string& ext, const fs::path& work, const fs::path& dir) {
  std::vector<fs::path> written;
  const fs::path log = work / "gnuplot.log";
  const int status = run_gnuplot(gnuplot, work / "plots.gp", log);
  if (status != 0) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    spdlog::warn("gnuplot failed (status {}); skipping plots: {}", status, text.str());
    return written;
  }
  std::error_code ec;
  for (const auto& p : plots) {
    const fs::path drawn = work / (p.name + "." + ext), target = dir / (p.name + "." + ext);
    if (!fs::exists(drawn, ec) || fs::file_size(drawn, ec) == 0) continue;
    if (tolerate_write_failure([&] { publish_written_file(drawn, target); }, "the previous plot stays"))
      written.push_back(target);
  }
  return written;
}

}  // namespace

fs::path find_program(const std::string& name) {
  if (name.find('/') != std::string::npos)
    return ::access(name.c_str(), X_OK) == 0 ? fs::path(name) : fs::path();
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0 && fs::is_regular_file(candidate)) return candidate;
  }
  return {};
}

std::vector<fs::path> write_plots(const RunMetrics& metrics, const fs::path& dir,
                                  const PlotOptions& options) {
  std::vector<fs::path> written;
  if (metrics.train.empty()) return written;
  const fs::path gnuplot = find_program(options.gnuplot);
  if (gnuplot.empty()) {
    spdlog::warn("gnuplot not found ('{}'); skipping plots (on Debian: apt-get install gnuplot-nox)",
                 options.gnuplot);
    return written;
  }
  const std::string ext = options.format == "svg" ? "svg" : "png";
  const std::string terminal =
      ext == "svg" ? "svg size 800,450 dynamic background rgb 'white'" : "pngcairo size 800,450";

  const fs::path work = dir / ".plots.tmp";
  std::error_code ec;
  fs::create_directories(work, ec);
  const fs::path train_file = work / "train.dat", eval_file = work / "eval.dat";
  const std::vector<Plot> plots = plot_list(metrics);
  const fs::path script_file = work / "plots.gp";
  const bool ok = tolerate_write_failure(
      [&] {
        write_staged_file(train_file, train_data(metrics));
        write_staged_file(eval_file, eval_data(metrics));
        write_staged_file(script_file, plot_script(plots, terminal, ext, work, train_file, eval_file));
      },
      "no plots this time");
  if (ok) written = draw_and_publish(gnuplot, plots, ext, work, dir);
  fs::remove_all(work, ec);
  return written;
}

}  // namespace mlxft
