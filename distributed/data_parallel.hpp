// Data-parallel training over MPI, as PyTorch's DistributedDataParallel: every
// rank holds the whole model, trains on its own part of each batch, and after
// backward() the gradients are averaged over the ranks, so that every rank takes
// the same optimizer step and the models stay equal.
//
//   distributed::DataParallel<float> ddp(model, world);   // rank 0's parameters everywhere
//   options.distributed = &ddp;                           // nn::fit shards, syncs, prints on rank 0
//   nn::fit(model, optimizer, loss, train, options);
//
// The averaging overlaps the backward sweep: the parameters are cut into buckets
// of a few MB, in the reverse of their registration order (the order in which the
// sweep finishes their gradients), and a gradient hook on each parameter copies its
// gradient into its bucket; the bucket's MPI_Iallreduce starts as soon as its last
// gradient is in, while the sweep goes on to earlier layers. synchronize() waits
// for all buckets and writes the means into the gradients.
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>

#include <nn/train.hpp>

#include "communicator.hpp"

namespace distributed {

struct DataParallelOptions {
  double bucket_megabytes = 25;       // PyTorch's bucket_cap_mb
  double first_bucket_megabytes = 1;  // the first (last layers') bucket smaller, so that sending starts early
};

template <class T>
class DataParallel final : public nn::GradientSync {
 public:
  // Broadcasts rank 0's parameters and buffers to every rank (so that all start
  // alike, whatever their seeds) and registers the gradient hooks. The model must
  // outlive this object; its parameters keep the (then idle) hooks after it is gone.
  DataParallel(nn::Module<T>& model, const Communicator& comm, const DataParallelOptions& options = {});
  ~DataParallel() override;
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  std::size_t rank() const override { return comm_.rank(); }
  std::size_t size() const override { return comm_.size(); }
  // After each backward(): waits for every bucket and leaves each gradient the mean
  // over the ranks (a parameter no rank used gets a zero gradient); then broadcasts
  // rank 0's buffers (BatchNorm's running statistics), as DDP's broadcast_buffers.
  // A second backward() before synchronize() is a std::logic_error naming the parameter.
  void synchronize() override;
  double mean(double local) override;
  bool any(bool local) override;

  std::size_t bucket_count() const;
  // Buckets whose all-reduce has started since the last synchronize() (a test of the overlap).
  std::size_t buckets_started() const;

  struct State;  // the buckets, shared with the hooks

 private:
  const Communicator comm_;
  std::shared_ptr<State> state_;
};

// nn::fit over the ranks of `comm`: a DataParallel for the call, then
// nn::fit with FitOptions::distributed set. batch_size is each rank's.
template <class T>
nn::History fit(nn::Module<T>& model, nn::Optimizer<T>& optimizer, const std::common_type_t<nn::LossFunction<T>>& loss,
                const nn::Dataset<T>& train, nn::FitOptions options, const Communicator& comm,
                const std::common_type_t<nn::FitHooks<T>>& hooks = {}, const DataParallelOptions& parallel = {});

extern template class DataParallel<float>;
extern template class DataParallel<double>;

}  // namespace distributed
