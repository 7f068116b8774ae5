#include "data_parallel.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace distributed {
namespace detail {

// One parameter's place in its bucket, and what this step has seen of it.
struct Slot {
  std::string name;
  std::size_t bucket = 0, offset = 0, count = 0;
  bool ready = false;     // its gradient of this step is in the bucket
  bool had_grad = false;  // it had a gradient before this step's sweep (accumulation)
};

struct Bucket {
  std::vector<std::size_t> slots;
  std::size_t ready = 0;
  MPI_Request request = MPI_REQUEST_NULL;
  bool started = false;
};

}  // namespace detail
using detail::Bucket;
using detail::Slot;

template <class T>
struct DataParallel<T>::State {
  MPI_Comm comm;
  std::size_t ranks;
  bool active = true;  // false once the DataParallel is gone: the hooks then do nothing
  std::vector<autodiff::Variable<T>> parameters;  // in bucket order: the last registered first
  std::vector<nn::NamedBuffer<T>> buffers;        // rank 0's go to all after every step
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  std::vector<std::vector<T>> local, sum;  // per bucket: this rank's gradients, then their sum over the ranks
  std::size_t next_to_start = 0;           // buckets start in order on every rank (MPI's rule for collectives)

  void start(std::size_t b) {
    Bucket& bucket = buckets[b];
    MPI_Iallreduce(local[b].data(), sum[b].data(), int(local[b].size()), mpi_type<T>(), MPI_SUM, comm, &bucket.request);
    bucket.started = true;
  }
  void start_ready_buckets() {
    while (next_to_start < buckets.size() && buckets[next_to_start].ready == buckets[next_to_start].slots.size())
      start(next_to_start++);
  }
  // Open MPI moves a non-blocking collective on only inside MPI calls: give it a turn.
  void progress() {
    for (std::size_t b = 0; b < next_to_start; ++b)
      if (buckets[b].request != MPI_REQUEST_NULL) {
        int done = 0;
        MPI_Test(&buckets[b].request, &done, MPI_STATUS_IGNORE);
      }
  }
  void gradient_ready(std::size_t i, const autodiff::Array<T>& gradient) {
    if (!active) return;
    Slot& slot = slots[i];
    if (slot.ready)
      throw std::logic_error("DataParallel: parameter '" + slot.name + "' got a second gradient before synchronize(); "
                             "call synchronize() after every backward() (nn::fit does)");
    std::copy(gradient.data(), gradient.data() + slot.count, local[slot.bucket].begin() + std::ptrdiff_t(slot.offset));
    slot.ready = true;
    slot.had_grad = parameters[i].has_grad();  // grad() adds this sweep's share only when the sweep ends
    ++buckets[slot.bucket].ready;
    start_ready_buckets();
    progress();
  }
};

namespace {

// Buckets of whole parameters in the given order, each up to its size in bytes (a
// parameter larger than that has a bucket of its own).
std::vector<Bucket> make_buckets(const std::vector<std::size_t>& counts, std::size_t value_bytes,
                                 const DataParallelOptions& options) {
  std::vector<Bucket> buckets;
  double bytes = 0;  // in the bucket being filled
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double cap = (buckets.size() == 1 ? options.first_bucket_megabytes : options.bucket_megabytes) * 1e6;
    const double size = double(counts[i] * value_bytes);
    if (buckets.empty() || (bytes > 0 && bytes + size > cap)) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().slots.push_back(i);
    bytes += size;
  }
  return buckets;
}

template <class T>
void broadcast_from_rank_0(nn::Module<T>& model, const Communicator& comm) {
  for (auto& parameter : model.parameters()) {
    autodiff::Array<T>& value = parameter.data();
    comm.broadcast(value.data(), value.size());
  }
  for (auto& buffer : model.named_buffers()) comm.broadcast(buffer.second->data(), buffer.second->size());
}

void check_options(const DataParallelOptions& options) {
  for (auto [name, value] : {std::pair{"bucket_megabytes", options.bucket_megabytes},
                             std::pair{"first_bucket_megabytes", options.first_bucket_megabytes}})
    if (!(value > 0)) {
      std::ostringstream message;
      message << "DataParallel: " << name << " " << value << " must be a size > 0 (megabytes)";
      throw std::invalid_argument(message.str());
    }
}

}  // namespace

template <class T>
DataParallel<T>::DataParallel(nn::Module<T>& model, const Communicator& comm, const DataParallelOptions& options)
    : comm_(comm), state_(std::make_shared<State>()) {
  check_options(options);
  auto named = model.named_parameters();
  if (named.empty())
    throw std::invalid_argument("DataParallel: the model (" + model.describe() + ") has no parameters");
  std::reverse(named.begin(), named.end());  // backward finishes the last layers first
  State& state = *state_;
  state.comm = comm.get();
  state.ranks = comm.size();
  std::vector<std::size_t> counts;
  for (auto& [name, parameter] : named) {
    state.parameters.push_back(parameter);
    state.slots.push_back(Slot{name});
    counts.push_back(parameter.size());
  }
  state.buckets = make_buckets(counts, sizeof(T), options);
  for (std::size_t b = 0; b < state.buckets.size(); ++b) {
    std::size_t offset = 0;
    for (std::size_t i : state.buckets[b].slots) {
      state.slots[i].bucket = b;
      state.slots[i].offset = offset;
      state.slots[i].count = counts[i];
      offset += counts[i];
    }
    state.local.emplace_back(offset);
    state.sum.emplace_back(offset);
  }
  broadcast_from_rank_0(model, comm_);
  std::weak_ptr<State> weak = state_;  // a hook must not keep the buckets alive
  for (std::size_t i = 0; i < state.parameters.size(); ++i)
    state.parameters[i].register_hook([weak, i](const autodiff::Array<T>& gradient) {
      if (auto alive = weak.lock()) alive->gradient_ready(i, gradient);
    });
  state.buffers = model.named_buffers();
}

template <class T>
DataParallel<T>::~DataParallel() {
  state_->active = false;
  // A step left half done (an exception on the way to MPI_Abort): MPI may still write into
  // the buckets, and waiting for the other ranks could hang, so the buckets are left alive.
  const bool in_flight = std::any_of(state_->buckets.begin(), state_->buckets.end(),
                                     [](const Bucket& b) { return b.request != MPI_REQUEST_NULL; });
  if (in_flight) new std::shared_ptr<State>(state_);  // a deliberate leak, on the error path only
}

template <class T>
void DataParallel<T>::synchronize() {
  State& state = *state_;
  // Buckets with a parameter that got no gradient in this step send zeros for it.
  for (std::size_t b = state.next_to_start; b < state.buckets.size(); ++b)
    for (std::size_t i : state.buckets[b].slots)
      if (!state.slots[i].ready) {
        std::fill_n(state.local[b].begin() + std::ptrdiff_t(state.slots[i].offset), state.slots[i].count, T(0));
        state.slots[i].had_grad = state.parameters[i].has_grad();
      }
  while (state.next_to_start < state.buckets.size()) state.start(state.next_to_start++);
  for (auto& bucket : state.buckets) MPI_Wait(&bucket.request, MPI_STATUS_IGNORE);
  const T ranks = T(state.ranks);
  for (std::size_t i = 0; i < state.parameters.size(); ++i) {
    Slot& slot = state.slots[i];
    const T* sum = state.sum[slot.bucket].data() + slot.offset;
    const T* local = state.local[slot.bucket].data() + slot.offset;
    autodiff::Node<T>& node = state.parameters[i].node();
    if (!node.grad) {  // no gradient here, but some rank may have had one
      node.grad = std::make_shared<autodiff::Node<T>>(autodiff::Array<T>::from_shape(node.value.shape()));
      node.grad->made_by_sweep = true;
      slot.had_grad = false;
    }
    T* gradient = node.grad->value.data();
    ++node.grad->version;  // as clip_grad_norm: a graph that used the old gradient would see the change
    if (slot.had_grad)  // accumulated over earlier steps: replace only this step's share by the mean
      for (std::size_t k = 0; k < slot.count; ++k) gradient[k] += sum[k] / ranks - local[k];
    else
      for (std::size_t k = 0; k < slot.count; ++k) gradient[k] = sum[k] / ranks;
    slot.ready = false;
  }
  for (auto& bucket : state.buckets) bucket.ready = 0, bucket.started = false;
  state.next_to_start = 0;
  for (auto& buffer : state.buffers) comm_.broadcast(buffer.second->data(), buffer.second->size());
}

template <class T>
double DataParallel<T>::mean(double local) {
  comm_.all_reduce_sum(&local, 1);
  return local / double(comm_.size());
}

template <class T>
bool DataParallel<T>::any(bool local) {
  double count = local ? 1 : 0;
  comm_.all_reduce_sum(&count, 1);
  return count > 0;
}

template <class T>
std::size_t DataParallel<T>::bucket_count() const {
  return state_->buckets.size();
}

template <class T>
std::size_t DataParallel<T>::buckets_started() const {
  return std::size_t(std::count_if(state_->buckets.begin(), state_->buckets.end(),
                                   [](const Bucket& b) { return b.started; }));
}

template <class T>
nn::History fit(nn::Module<T>& model, nn::Optimizer<T>& optimizer, const std::common_type_t<nn::LossFunction<T>>& loss,
                const nn::Dataset<T>& train, nn::FitOptions options, const Communicator& comm,
                const std::common_type_t<nn::FitHooks<T>>& hooks, const DataParallelOptions& parallel) {
  DataParallel<T> data_parallel(model, comm, parallel);
  options.distributed = &data_parallel;
  return nn::fit(model, optimizer, loss, train, options, hooks);
}

#define WENGERT_INSTANTIATE(T)                                                                                  \
  template class DataParallel<T>;                                                                               \
  template nn::History fit(nn::Module<T>&, nn::Optimizer<T>&, const std::common_type_t<nn::LossFunction<T>>&, \
                           const nn::Dataset<T>&, nn::FitOptions, const Communicator&,                        \
                           const std::common_type_t<nn::FitHooks<T>>&, const DataParallelOptions&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace distributed
