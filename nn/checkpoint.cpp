#include "checkpoint.hpp"

#include <zip.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "init.hpp"

namespace nn {

// ---- the generators ------------------------------------------------------------------

StateDict rng_state_dict() {
  const RngState rng = get_rng_state();
  StateDict state;
  state.set("autodiff_seed", Array<std::uint64_t>(rng.autodiff.seed));
  state.set("autodiff_counter", Array<std::uint64_t>(rng.autodiff.counter));
  Array<std::uint64_t> engine = Array<std::uint64_t>::from_shape({rng.engine.size()});
  std::copy(rng.engine.begin(), rng.engine.end(), engine.begin());
  state.set("engine", std::move(engine));
  return state;
}

void load_rng_state_dict(const StateDict& state) {
  auto one = [&](const std::string& key) {
    const Array<std::uint64_t>& a = state.get<std::uint64_t>(key);
    if (a.size() != 1)
      throw StateError("load_rng_state_dict: key '" + key + "' has shape " + autodiff::to_string(shape_of(a)) +
                       " where one number is expected");
    return a.data()[0];
  };
  try {
    RngState rng;
    rng.autodiff = {one("autodiff_seed"), one("autodiff_counter")};
    const Array<std::uint64_t>& engine = state.get<std::uint64_t>("engine");
    rng.engine.assign(engine.begin(), engine.end());
    set_rng_state(rng);
  } catch (const StateError& e) {
    const std::string what = e.what(), inner = "StateDict: ";
    if (what.rfind(inner, 0) != 0) throw;
    throw StateError("load_rng_state_dict: " + what.substr(inner.size()));
  }
}

// ---- the .npz container (libzip) ----------------------------------------------------------

namespace {

std::string zip_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

// Every member's name and bytes, into a zip at `path` (written beside it, then renamed).
void write_npz(const std::string& path, const StateDict& state) {
  std::vector<std::string> members;  // libzip reads the buffers at zip_close
  for (const auto& [name, value] : state)
    members.push_back(std::visit([](const auto& a) { return detail::npy_bytes(a); }, value));
  const std::string temporary = path + ".tmp";
  int code = 0;
  zip_t* archive = zip_open(temporary.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (!archive) throw FileError(path + ": cannot write the checkpoint (" + zip_message(code) + ")");
  std::size_t i = 0;
  for (const auto& [name, value] : state) {
    const std::string& bytes = members[i++];
    zip_source_t* source = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    const std::string member = name + ".npy";
    const zip_int64_t index = source ? zip_file_add(archive, member.c_str(), source, ZIP_FL_ENC_UTF_8) : -1;
    // Stored, not deflated, as numpy.savez (parameters hardly compress).
    if (index < 0 || zip_set_file_compression(archive, zip_uint64_t(index), ZIP_CM_STORE, 0) < 0) {
      const std::string message = zip_strerror(archive);
      if (source && index < 0) zip_source_free(source);
      zip_discard(archive);
      std::filesystem::remove(temporary);
      throw FileError(path + ": cannot add member '" + member + "' (" + message + ")");
    }
  }
  if (zip_close(archive) < 0) {
    const std::string message = zip_strerror(archive);
    zip_discard(archive);
    std::filesystem::remove(temporary);
    throw FileError(path + ": cannot write the checkpoint (" + message + ")");
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary);
    throw FileError(path + ": cannot write the checkpoint (" + error.message() + ")");
  }
}

}  // namespace

StateDict read_checkpoint(const std::string& path) {
  if (!std::filesystem::exists(path)) throw FileError(path + ": no such file");
  int code = 0;
  // ZIP_CHECKCONS: a truncated file or one whose directory disagrees with its entries is an error here.
  zip_t* archive = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (!archive) throw FileError(path + ": not a readable .npz checkpoint (" + zip_message(code) + ")");
  std::unique_ptr<zip_t, void (*)(zip_t*)> closing(archive, [](zip_t* z) { zip_discard(z); });
  StateDict state;
  const zip_int64_t count = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t stat;
    if (zip_stat_index(archive, zip_uint64_t(i), 0, &stat) < 0)
      throw FileError(path + ": member " + std::to_string(i) + " is unreadable (" + zip_strerror(archive) + ")");
    const std::string member = stat.name;
    const std::string where = path + ", member '" + member + "'";
    if (member.size() < 4 || member.compare(member.size() - 4, 4, ".npy") != 0)
      throw FileError(where + ": not a .npy member (a checkpoint holds only .npy files)");
    zip_file_t* file = zip_fopen_index(archive, zip_uint64_t(i), 0);
    if (!file) throw FileError(where + ": cannot open (" + zip_strerror(archive) + ")");
    // Read to the end: libzip checks the CRC when a read finds no more data, and
    // reports a mismatch in the read after the last bytes.
    std::string bytes(stat.size, '\0');
    zip_uint64_t total = 0;
    zip_int64_t read = 0;
    char probe = 0;
    while (total < stat.size && (read = zip_fread(file, bytes.data() + total, stat.size - total)) > 0)
      total += zip_uint64_t(read);
    if (read >= 0 && total == stat.size) read = zip_fread(file, &probe, 1);  // 0 at the end, -1 on a bad CRC
    const std::string message = read < 0 ? zip_file_strerror(file) : "";
    zip_fclose(file);
    if (read != 0 || total != stat.size)  // a CRC mismatch shows here: a corrupt member
      throw FileError(where + ": corrupt or truncated (" +
                      (read < 0 ? message : std::to_string(total) + " of " + std::to_string(stat.size) + " bytes") +
                      ")");
    state.set(member.substr(0, member.size() - 4), detail::npy_value(where, std::move(bytes)));
  }
  return state;
}

template <class T>
void save_checkpoint(const std::string& path, const Module<T>& model, const Optimizer<T>& optimizer,
                     const CheckpointParts<T>& parts) {
  StateDict state;
  state.add_section("model", model.state_dict());
  state.add_section("optimizer", optimizer.state_dict());
  if (parts.scheduler) state.add_section("scheduler", parts.scheduler->state_dict());
  if (parts.plateau) state.add_section("plateau", parts.plateau->state_dict());
  if (parts.loader) state.add_section("loader", parts.loader->state_dict());
  state.add_section("rng", rng_state_dict());
  for (const auto& [name, value] : parts.scalars) {
    if (name.empty() || name.find('/') != std::string::npos)
      throw std::invalid_argument("save_checkpoint: scalar name '" + name + "' must be non-empty and without '/'");
    state.set_scalar("scalars/" + name, value);
  }
  write_npz(path, state);
}

template <class T>
std::map<std::string, double> load_checkpoint(const std::string& path, Module<T>& model, Optimizer<T>& optimizer,
                                              const CheckpointParts<T>& parts) {
  const StateDict state = read_checkpoint(path);
  // Each part with what it had: on any failure every part loaded so far gets it back.
  struct Part {
    std::string prefix;
    std::function<void(const StateDict&)> load;
    StateDict before;
  };
  std::vector<Part> part_list;
  part_list.push_back({"model", [&](const StateDict& s) { model.load_state_dict(s); }, model.state_dict()});
  part_list.push_back({"optimizer", [&](const StateDict& s) { optimizer.load_state_dict(s); }, optimizer.state_dict()});
  if (parts.scheduler)
    part_list.push_back({"scheduler", [&](const StateDict& s) { parts.scheduler->load_state_dict(s); },
                         parts.scheduler->state_dict()});
  if (parts.plateau)
    part_list.push_back({"plateau", [&](const StateDict& s) { parts.plateau->load_state_dict(s); },
                         parts.plateau->state_dict()});
  if (parts.loader)
    part_list.push_back({"loader", [&](const StateDict& s) { parts.loader->load_state_dict(s); },
                         parts.loader->state_dict()});
  part_list.push_back({"rng", load_rng_state_dict, rng_state_dict()});
  std::map<std::string, double> scalars;
  std::size_t loaded = 0;
  try {
    for (const auto& [name, value] : state.section("scalars")) {
      const auto* number = std::get_if<Array<double>>(&value);
      if (!number || number->size() != 1)
        throw FileError(path + ", member 'scalars/" + name + ".npy': dtype '" + dtype_of(value) + "' and shape " +
                        autodiff::to_string(shape_of(value)) + " where one '<f8' number is expected");
      scalars[name] = number->data()[0];
    }
    for (; loaded < part_list.size(); ++loaded) {
      const Part& part = part_list[loaded];
      const StateDict section = state.section(part.prefix);
      if (section.empty())
        throw FileError(path + ": no '" + part.prefix + "/' members (the checkpoint was saved without a " +
                        part.prefix + ")");
      try {
        part.load(section);
      } catch (const StateError& e) {
        throw FileError(path + ", members '" + part.prefix + "/': " + e.what());
      }
    }
  } catch (...) {
    // Back in reverse order: the optimizer's rates last, after the scheduler wrote its own.
    while (loaded-- > 0) part_list[loaded].load(part_list[loaded].before);
    throw;
  }
  return scalars;
}

#define WENGERT_INSTANTIATE(T)                                                                                   \
  template void save_checkpoint(const std::string&, const Module<T>&, const Optimizer<T>&,                       \
                                const CheckpointParts<T>&);                                                      \
  template std::map<std::string, double> load_checkpoint(const std::string&, Module<T>&, Optimizer<T>&,           \
                                                         const CheckpointParts<T>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn
