#include "mlxft/train/distributed.h"

#include <fmt/format.h>
#include <mlx/distributed/distributed.h>
#include <mlx/distributed/ops.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "mlxft/util/error.h"

namespace mlxft {

namespace {

using Clock = std::chrono::steady_clock;

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? 0 : std::atoi(v);
}

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

}  // namespace

// The group and the watchdog that bounds every exchange: armed with a deadline while a collective
// runs, it ends the process when the deadline passes (the blocked exchange cannot be interrupted).
struct DistributedGroup::Impl {
  mx::distributed::Group group;
  mx::StreamOrDevice stream;
  double timeout_s = 600.0;
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Clock::time_point> deadline;
  std::string pending;  // the exchange in progress, for the error
  std::string lost;     // the lost-rank text of the error
  std::string where;
  bool quit = false;
  std::thread watchdog;

  explicit Impl(mx::distributed::Group g) : group(std::move(g)) {}

  void watch() {
    std::unique_lock lock(mu);
    while (!quit) {
      if (!deadline) {
        cv.wait(lock);
        continue;
      }
      if (cv.wait_until(lock, *deadline) == std::cv_status::timeout && deadline &&
          Clock::now() >= *deadline) {
        const Error e(ErrorKind::Training, where,
                      fmt::format("the {} got no answer within {:.0f} s: {} is lost or stuck", pending,
                                  timeout_s, lost),
                      "look at the other ranks' output; system.distributed_timeout_s sets this limit");
        std::fflush(stdout);
        std::fprintf(stderr, "mlxft: %s\n", e.what());
        std::fflush(stderr);
        std::_Exit(1);
      }
    }
  }

  void arm(const std::string& what) {
    std::lock_guard lock(mu);
    pending = what;
    deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000.0));
    cv.notify_all();
  }

  void disarm() {
    std::lock_guard lock(mu);
    deadline.reset();
    cv.notify_all();
  }

  ~Impl() {
    {
      std::lock_guard lock(mu);
      quit = true;
      cv.notify_all();
    }
    if (watchdog.joinable()) watchdog.join();
  }
};

DistributedGroup::DistributedGroup() = default;
DistributedGroup::~DistributedGroup() = default;
DistributedGroup::DistributedGroup(DistributedGroup&&) noexcept = default;
DistributedGroup& DistributedGroup::operator=(DistributedGroup&&) noexcept = default;

std::string DistributedGroup::launcher_backend() {
  if (env_set("MLX_RANK") && env_set("MLX_HOSTFILE")) return "ring";
  if (env_int("OMPI_COMM_WORLD_SIZE") > 1 || env_int("PMI_SIZE") > 1) return "mpi";
  if (env_int("MLX_WORLD_SIZE") > 1 && env_set("NCCL_HOST_IP")) return "nccl";
  return {};
}

DistributedGroup DistributedGroup::join(const std::string& mode, double timeout_s) {
  DistributedGroup g;
  const std::string backend = mode == "off" ? std::string() : launcher_backend();
  if (backend.empty()) return g;
  std::optional<mx::distributed::Group> group;
  try {
    group = mx::distributed::init(true, backend);
  } catch (const std::exception& e) {
    throw Error(ErrorKind::Config, "system.distributed",
                fmt::format("the launcher's environment asks for MLX's {} backend, which did not start: {}",
                            backend, e.what()),
                "check the hostfile (MLX_HOSTFILE) or the MPI installation, or set system.distributed: off");
  }
  if (group->size() <= 1) return g;
  g.rank_ = group->rank();
  g.size_ = group->size();
  g.backend_ = backend;
  g.impl_ = std::make_unique<Impl>(*group);
  g.impl_->stream = backend == "nccl" ? mx::StreamOrDevice{} : mx::StreamOrDevice{mx::Device::cpu};
  g.impl_->timeout_s = timeout_s;
  g.impl_->lost = g.lost_peer_text();
  g.impl_->where = fmt::format("rank {} of {} ({} backend)", g.rank_, g.size_, backend);
  g.impl_->watchdog = std::thread([impl = g.impl_.get()] { impl->watch(); });
  return g;
}

std::string DistributedGroup::lost_peer_text() const {
  if (size_ == 2) return fmt::format("rank {}", 1 - rank_);
  return fmt::format("a rank of the {} (the ring neighbours of rank {} are {} and {})", size_, rank_,
                     (rank_ + size_ - 1) % size_, (rank_ + 1) % size_);
}

std::vector<int64_t> DistributedGroup::shard_of(const std::vector<int64_t>& rows, int rank, int size) {
  const size_t n = rows.size();
  const size_t begin = n * static_cast<size_t>(rank) / static_cast<size_t>(size);
  const size_t end = n * static_cast<size_t>(rank + 1) / static_cast<size_t>(size);
  return {rows.begin() + static_cast<std::ptrdiff_t>(begin), rows.begin() + static_cast<std::ptrdiff_t>(end)};
}

std::vector<mx::array> DistributedGroup::exchange(const std::vector<mx::array>& xs,
                                                  const std::string& what) const {
  if (!active()) return xs;
  std::vector<mx::array> out;
  impl_->arm(what);
  try {
    for (const auto& x : xs) out.push_back(mx::distributed::all_sum(x, impl_->group, impl_->stream));
    mx::eval(out);
  } catch (const std::exception& e) {
    impl_->disarm();
    throw Error(ErrorKind::Training, impl_->where,
                fmt::format("the {} failed ({}): {} is lost", what, e.what(), impl_->lost),
                "look at the other ranks' output; resume every rank with --resume latest");
  }
  impl_->disarm();
  return out;
}

std::vector<mx::array> DistributedGroup::sum(const std::vector<mx::array>& xs,
                                             const std::string& what) const {
  if (!active() || xs.empty()) return xs;
  // One exchange for all: the arrays flattened into one float32 vector.
  std::vector<mx::array> flat;
  for (const auto& x : xs) flat.push_back(mx::reshape(mx::astype(x, mx::float32), {-1}));
  const mx::array total = exchange({mx::concatenate(flat, 0)}, what)[0];
  std::vector<mx::array> out;
  int offset = 0;
  for (const auto& x : xs) {
    const int n = static_cast<int>(x.size());
    out.push_back(mx::astype(mx::reshape(mx::slice(total, {offset}, {offset + n}), x.shape()), x.dtype()));
    offset += n;
  }
  mx::eval(out);
  return out;
}

std::vector<double> DistributedGroup::sum(const std::vector<double>& values, const std::string& what) const {
  if (!active() || values.empty()) return values;
  const mx::array a(values.data(), {static_cast<int>(values.size())}, mx::float64);
  const mx::array total = exchange({a}, what)[0];
  const double* p = total.data<double>();
  return {p, p + values.size()};
}

bool DistributedGroup::any(bool flag, const std::string& what) const {
  return sum(std::vector<double>{flag ? 1.0 : 0.0}, what)[0] > 0.0;
}

nlohmann::json DistributedGroup::broadcast(const nlohmann::json& value, const std::string& what) const {
  if (!active()) return value;
  const std::string text = is_main() ? value.dump() : std::string();
  const auto n = static_cast<int>(sum(std::vector<double>{static_cast<double>(text.size())}, what)[0]);
  std::vector<uint8_t> bytes(static_cast<size_t>(n), 0);
  if (is_main()) std::memcpy(bytes.data(), text.data(), text.size());
  const mx::array a(bytes.data(), {n}, mx::uint8);
  const mx::array total = exchange({a}, what)[0];
  const auto* p = total.data<uint8_t>();
  return nlohmann::json::parse(std::string(p, p + n));
}

std::vector<mx::array> DistributedGroup::broadcast(const std::vector<mx::array>& xs,
                                                   const std::string& what) const {
  if (!active()) return xs;
  std::vector<mx::array> mine;
  for (const auto& x : xs) mine.push_back(is_main() ? x : mx::zeros_like(x));
  return sum(mine, what);
}

}  // namespace mlxft
