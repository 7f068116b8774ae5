// One-file checkpoints: a model, its optimizer, optionally a scheduler and a
// data loader, the thread's random generators and a few numbers (the epoch), in
// one .npz file (a zip of .npy files, as numpy.savez writes), so that training
// resumes exactly where it stopped:
//
//   nn::save_checkpoint("run.npz", model, optimizer, {.scheduler = &schedule, .loader = &loader,
//                                                     .scalars = {{"epoch", double(epoch)}}});
//   ...  // later, in a fresh program with the objects built as before
//   auto scalars = nn::load_checkpoint("run.npz", model, optimizer, {.scheduler = &schedule, .loader = &loader});
//   std::size_t epoch = std::size_t(scalars.at("epoch"));
//
// The members are named "model/0.weight.npy", "optimizer/state.0.exp_avg.npy",
// "scheduler/...", "loader/...", "rng/..." and "scalars/epoch.npy": each part's
// state_dict() under its prefix; numpy.load("run.npz")["model/0.weight"] reads one.
#pragma once

#include <map>
#include <string>

#include "data.hpp"
#include "io.hpp"
#include "module.hpp"
#include "optim.hpp"
#include "scheduler.hpp"
#include "state.hpp"

namespace nn {

// The optional parts of a checkpoint; a part left null is neither saved nor loaded.
template <class T = float>
struct CheckpointParts {
  LRScheduler<T>* scheduler = nullptr;
  ReduceLROnPlateau<T>* plateau = nullptr;
  DataLoader<T>* loader = nullptr;
  std::map<std::string, double> scalars = {};  // saved as "scalars/<name>.npy"; load_checkpoint returns them
};

// The generators of get_rng_state() as a StateDict ("autodiff_seed",
// "autodiff_counter", "engine") and back (a StateError, nothing changed, if not valid).
StateDict rng_state_dict();
void load_rng_state_dict(const StateDict& state);

// Writes the checkpoint beside `path` and renames it into place: a failed save
// leaves no half-written file. A write that fails is a FileError naming the file.
template <class T>
void save_checkpoint(const std::string& path, const Module<T>& model, const Optimizer<T>& optimizer,
                     const CheckpointParts<T>& parts = {});

// Restores the model (strictly: every key and shape must match), the optimizer,
// the parts given and the generators, and returns the saved scalars. A missing,
// truncated or corrupt file, a member that is not a valid .npy file, or a
// checkpoint of another model, optimizer or scheduler (keys, shapes, kinds) is a
// FileError naming the file and the key; on any error the model, the optimizer,
// the parts and the generators are all unchanged.
template <class T>
std::map<std::string, double> load_checkpoint(const std::string& path, Module<T>& model, Optimizer<T>& optimizer,
                                              const CheckpointParts<T>& parts = {});

// The whole checkpoint as one StateDict (keys without ".npy"), without
// changing anything: to look into one. The same FileErrors as load_checkpoint.
StateDict read_checkpoint(const std::string& path);

}  // namespace nn
