// Data-parallel training on MLX's distributed layer (mlx::core::distributed): joining the group a
// launcher started, summing a step's gradients across ranks, sharing the stop decision and the
// resumed checkpoint, and bounding every wait. No communication code of its own: every exchange is
// an mx::distributed::all_sum.
//
// Contract:
// - DistributedGroup::join("auto") joins when the environment says a launcher started this process:
//   MLX_RANK and MLX_HOSTFILE (the ring backend, as mlx.launch sets them), OMPI_COMM_WORLD_SIZE or
//   PMI_SIZE > 1 (MPI, mpirun), MLX_WORLD_SIZE > 1 with NCCL_HOST_IP (NCCL). "off", or no launcher: a
//   group of one, whose operations are identities and cost nothing. A launcher environment whose
//   backend does not start is a Config error naming system.distributed.
// - Every rank calls the collectives in the same order with the same shapes (the trainer's loop is
//   the same on every rank). They run on the CPU stream (ring, MPI) or the default stream (NCCL).
// - A collective that fails (the ring reports a lost connection when a peer process dies) is a
//   Training error naming the lost rank; one that waits longer than timeout_s (a peer stuck or
//   unreachable) prints that error from a watchdog thread and ends the process with status 1, since
//   a blocked exchange cannot be interrupted. So a survivor never hangs.
// - shard(rows): the part of a global micro-batch this rank trains, rows [r*n/N, (r+1)*n/N).
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mlxft {

namespace mx = mlx::core;

class DistributedGroup {
 public:
  // A group of one (no communication).
  DistributedGroup();
  ~DistributedGroup();
  DistributedGroup(DistributedGroup&&) noexcept;
  DistributedGroup& operator=(DistributedGroup&&) noexcept;

  // mode: "auto" | "off" (system.distributed); timeout_s: system.distributed_timeout_s.
  static DistributedGroup join(const std::string& mode, double timeout_s);
  // The backend a launcher environment asks for ("ring", "mpi", "nccl"), or "" when none.
  static std::string launcher_backend();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool active() const { return size_ > 1; }
  bool is_main() const { return rank_ == 0; }
  const std::string& backend() const { return backend_; }

  // The rows of a global micro-batch that this rank trains (possibly none).
  std::vector<int64_t> shard(const std::vector<int64_t>& rows) const { return shard_of(rows, rank_, size_); }
  // Rank `rank`'s part of `rows` among `size` ranks: rows [rank*n/size, (rank+1)*n/size).
  static std::vector<int64_t> shard_of(const std::vector<int64_t>& rows, int rank, int size);

  // Sums the arrays across ranks, evaluated; the shapes must agree on every rank. `what` names the
  // exchange in errors.
  std::vector<mx::array> sum(const std::vector<mx::array>& xs, const std::string& what) const;
  // Sums float64 values across ranks.
  std::vector<double> sum(const std::vector<double>& values, const std::string& what) const;
  // True on every rank when `flag` is true on any.
  bool any(bool flag, const std::string& what) const;
  // Rank 0's value on every rank (the others' arguments only give the size for arrays).
  nlohmann::json broadcast(const nlohmann::json& value, const std::string& what) const;
  std::vector<mx::array> broadcast(const std::vector<mx::array>& xs, const std::string& what) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0;
  int size_ = 1;
  std::string backend_;
  std::string lost_peer_text() const;
  std::vector<mx::array> exchange(const std::vector<mx::array>& xs, const std::string& what) const;
};

}  // namespace mlxft
