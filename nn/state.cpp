#include "state.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include <autodiff/op.hpp>

#include "data.hpp"
#include "io.hpp"
#include "module.hpp"
#include "optim.hpp"
#include "scheduler.hpp"

namespace nn {


std::string dtype_of(const StateValue& value) {
  return std::visit(
      [](const auto& a) { return std::string(detail::npy_descr<typename std::decay_t<decltype(a)>::value_type>()); }, value);
}

autodiff::Shape shape_of(const StateValue& value) {
  return std::visit([](const auto& a) { return autodiff::Shape(a.shape().begin(), a.shape().end()); }, value);
}

void StateDict::set(const std::string& key, StateValue value) {
  for (auto& [name, existing] : entries_)
    if (name == key) {
      existing = std::move(value);
      return;
    }
  entries_.emplace_back(key, std::move(value));
}

const StateValue* StateDict::find(const std::string& key) const {
  for (const auto& [name, value] : entries_)
    if (name == key) return &value;
  return nullptr;
}

const StateValue& StateDict::at(const std::string& key) const {
  const StateValue* value = find(key);
  if (!value) throw StateError("StateDict: no key '" + key + "' (" + std::to_string(size()) + " keys)");
  return *value;
}

template <class V>
const Array<V>& StateDict::get(const std::string& key) const {
  const StateValue& value = at(key);
  if (!std::holds_alternative<Array<V>>(value))
    throw StateError("StateDict: key '" + key + "' holds dtype '" + dtype_of(value) + "' where '" + detail::npy_descr<V>() +
                     "' is expected");
  return std::get<Array<V>>(value);
}

void StateDict::set_count(const std::string& key, std::size_t value) {
  set(key, Array<std::int64_t>(static_cast<std::int64_t>(value)));
}

void StateDict::set_text(const std::string& key, const std::string& text) {
  Array<std::uint8_t> bytes = Array<std::uint8_t>::from_shape({text.size()});
  for (std::size_t i = 0; i < text.size(); ++i) bytes.data()[i] = static_cast<std::uint8_t>(text[i]);
  set(key, std::move(bytes));
}

double StateDict::scalar(const std::string& key) const {
  const Array<double>& a = get<double>(key);
  if (a.size() != 1)
    throw StateError("StateDict: key '" + key + "' has shape " + autodiff::to_string(shape_of(a)) +
                     " where one number is expected");
  return a.data()[0];
}

std::size_t StateDict::count(const std::string& key) const {
  const Array<std::int64_t>& a = get<std::int64_t>(key);
  if (a.size() != 1)
    throw StateError("StateDict: key '" + key + "' has shape " + autodiff::to_string(shape_of(a)) +
                     " where one count is expected");
  if (a.data()[0] < 0)
    throw StateError("StateDict: key '" + key + "' is " + std::to_string(a.data()[0]) + ", a count cannot be negative");
  return static_cast<std::size_t>(a.data()[0]);
}

std::string StateDict::text(const std::string& key) const {
  const Array<std::uint8_t>& a = get<std::uint8_t>(key);
  return std::string(reinterpret_cast<const char*>(a.data()), a.size());
}

StateDict StateDict::section(const std::string& prefix) const {
  StateDict part;
  const std::string start = prefix + "/";
  for (const auto& [name, value] : entries_)
    if (name.compare(0, start.size(), start) == 0) part.entries_.emplace_back(name.substr(start.size()), value);
  return part;
}

void StateDict::add_section(const std::string& prefix, const StateDict& entries) {
  for (const auto& [name, value] : entries.entries_) set(prefix + "/" + name, value);
}

void StateDict::add_section(const std::string& prefix, StateDict&& entries) {
  for (auto& [name, value] : entries.entries_) set(prefix + "/" + name, std::move(value));
}

std::vector<std::string> StateDict::keys() const {
  std::vector<std::string> names;
  for (const auto& entry : entries_) names.push_back(entry.first);
  return names;
}

template const Array<float>& StateDict::get<float>(const std::string&) const;
template const Array<double>& StateDict::get<double>(const std::string&) const;
template const Array<std::int64_t>& StateDict::get<std::int64_t>(const std::string&) const;
template const Array<std::uint64_t>& StateDict::get<std::uint64_t>(const std::string&) const;
template const Array<std::uint8_t>& StateDict::get<std::uint8_t>(const std::string&) const;

// ---- modules ----------------------------------------------------------------------

namespace {
// "a, b and c"
std::string listing(const std::vector<std::string>& names) {
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i)
    text += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + ("'" + names[i] + "'");
  return text;
}
}  // namespace

template <class T>
StateDict Module<T>::state_dict() const {
  StateDict state;
  for (const auto& [name, parameter] : named_parameters()) state.set(name, parameter.value());
  for (const auto& [name, buffer] : named_buffers()) state.set(name, *buffer);
  return state;
}

template <class T>
LoadResult Module<T>::load_state_dict(const StateDict& state, bool strict) {
  const std::string call = describe() + "::load_state_dict";
  auto parameters = named_parameters();
  auto buffers = named_buffers();
  std::vector<std::string> names;
  std::vector<autodiff::Shape> shapes;
  for (const auto& [name, p] : parameters) names.push_back(name), shapes.push_back(p.shape());
  for (const auto& [name, b] : buffers) names.push_back(name), shapes.push_back(shape_of(*b));
  LoadResult result;
  for (const auto& key : state.keys())
    if (std::find(names.begin(), names.end(), key) == names.end()) result.unexpected.push_back(key);
  std::vector<const Array<T>*> found(names.size(), nullptr);
  for (std::size_t i = 0; i < names.size(); ++i) {
    const StateValue* value = state.find(names[i]);
    if (!value) {
      result.missing.push_back(names[i]);
      continue;
    }
    const auto* array = std::get_if<Array<T>>(value);
    if (!array)
      throw StateError(call + ": key '" + names[i] + "' has dtype '" + dtype_of(*value) + "' where the model's is '" +
                       dtype_of(Array<T>()) + "'");
    if (!autodiff::detail::same_shape(shape_of(*value), shapes[i]))
      throw StateError(call + ": key '" + names[i] + "' has shape " + autodiff::to_string(shape_of(*value)) +
                       " where the model's " + (i < parameters.size() ? "parameter" : "buffer") + " has shape " +
                       autodiff::to_string(shapes[i]));
    found[i] = array;
  }
  if (strict && (!result.missing.empty() || !result.unexpected.empty())) {
    std::string message = call + ":";
    if (!result.missing.empty())
      message += " missing key" + std::string(result.missing.size() == 1 ? " " : "s ") + listing(result.missing) +
                 " (in the model, not in the state)" + (result.unexpected.empty() ? "" : ";");
    if (!result.unexpected.empty())
      message += " unexpected key" + std::string(result.unexpected.size() == 1 ? " " : "s ") +
                 listing(result.unexpected) + " (in the state, not in the model)";
    throw StateError(message + "; pass strict = false to load the keys that match");
  }
  // Everything is checked: copy (into the arrays themselves, which a copy of the module shares).
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!found[i]) continue;
    if (i < parameters.size()) parameters[i].second.data() = *found[i];
    else *buffers[i - parameters.size()].second = *found[i];
  }
  return result;
}

template StateDict Module<float>::state_dict() const;
template StateDict Module<double>::state_dict() const;
template LoadResult Module<float>::load_state_dict(const StateDict&, bool);
template LoadResult Module<double>::load_state_dict(const StateDict&, bool);

// ---- optimizers -------------------------------------------------------------------

namespace {
// Runs `read`; a StateError from a StateDict accessor gets the user's call in front.
template <class F>
auto reading(const std::string& call, F read) -> decltype(read()) {
  try {
    return read();
  } catch (const StateError& e) {
    const std::string what = e.what(), inner = "StateDict: ";
    if (what.rfind(inner, 0) != 0) throw;
    throw StateError(call + ": " + what.substr(inner.size()));
  }
}

// The hyper-parameters of a state, checked by building an optimizer with them
// (the constructor's checks, not a copy of them).
template <class Build>
void check_options(const std::string& call, Build build) {
  try {
    build();
  } catch (const std::invalid_argument& e) {
    throw StateError(call + ": the state's options (\"options.*\") are not valid: " + e.what());
  }
}

// "state.<i>.<name>", which must have parameter i's shape.
template <class T>
Array<T> per_parameter(const std::string& call, const StateDict& state, std::size_t i, const std::string& name,
                       const Variable<T>& parameter) {
  const std::string key = "state." + std::to_string(i) + "." + name;
  const Array<T>& value = state.get<T>(key);
  if (!autodiff::detail::same_shape(shape_of(value), parameter.shape()))
    throw StateError(call + ": key '" + key + "' has shape " + autodiff::to_string(shape_of(value)) +
                     " where parameter " + std::to_string(i) + " has shape " + autodiff::to_string(parameter.shape()));
  return value;
}

template <class T>
std::vector<Array<T>> all_parameters(const std::string& call, const StateDict& state, const std::string& name,
                                     const std::vector<Variable<T>>& parameters) {
  std::vector<Array<T>> values;
  for (std::size_t i = 0; i < parameters.size(); ++i)
    values.push_back(per_parameter(call, state, i, name, parameters[i]));
  return values;
}

template <class T>
void write_all(StateDict& state, const std::string& name, const std::vector<Array<T>>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) state.set("state." + std::to_string(i) + "." + name, values[i]);
}

bool flag(const StateDict& state, const std::string& key) { return state.count(key) != 0; }
}  // namespace

template <class T>
StateDict Optimizer<T>::state_dict() const {
  StateDict state;
  state.set_text("kind", name_);
  state.set_count("steps", steps_);
  state.set_count("groups", groups_.size());
  state.set_count("parameters", parameters_.size());
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    state.set_scalar(prefix + "lr", groups_[g].learning_rate);
    state.set_scalar(prefix + "weight_decay", groups_[g].weight_decay);
    Array<std::int64_t> indices = Array<std::int64_t>::from_shape({groups_[g].end - groups_[g].begin});
    for (std::size_t i = groups_[g].begin; i < groups_[g].end; ++i)
      indices.data()[i - groups_[g].begin] = std::int64_t(i);
    state.set(prefix + "params", std::move(indices));
  }
  for (std::size_t i = 0; i < parameters_.size(); ++i)
    state.set_count("state." + std::to_string(i) + ".step", updates_[i]);
  write_state(state);
  return state;
}

template <class T>
void Optimizer<T>::load_state_dict(const StateDict& state) {
  const std::string call = name_ + "::load_state_dict";
  reading(call, [&] {
    const std::string kind = state.text("kind");
    if (kind != name_)
      throw StateError(call + ": the state is " + kind + "'s (key 'kind'), this optimizer is " + name_);
    const std::size_t groups = state.count("groups"), parameters = state.count("parameters");
    if (groups != groups_.size() || parameters != parameters_.size())
      throw StateError(call + ": the state has " + std::to_string(groups) + " groups of " + std::to_string(parameters) +
                       " parameters (keys 'groups', 'parameters'), this optimizer " + std::to_string(groups_.size()) +
                       " of " + std::to_string(parameters_.size()));
    std::vector<Group> new_groups = groups_;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      const std::string prefix = "param_groups." + std::to_string(g) + ".";
      const Array<std::int64_t>& indices = state.get<std::int64_t>(prefix + "params");
      bool same = indices.size() == groups_[g].end - groups_[g].begin;
      for (std::size_t k = 0; same && k < indices.size(); ++k)
        same = indices.data()[k] == std::int64_t(groups_[g].begin + k);
      if (!same)
        throw StateError(call + ": key '" + prefix + "params' lists " + std::to_string(indices.size()) +
                         " parameters where group " + std::to_string(g) + " has parameters " +
                         std::to_string(groups_[g].begin) + " to " + std::to_string(groups_[g].end) + " (exclusive)");
      for (const char* what : {"lr", "weight_decay"}) {
        const double value = state.scalar(prefix + what);
        if (!(std::isfinite(value) && value >= 0))
          throw StateError(call + ": key '" + prefix + what + "' is " + std::to_string(value) +
                           ", not a finite number >= 0");
        (std::string(what) == "lr" ? new_groups[g].learning_rate : new_groups[g].weight_decay) = value;
      }
    }
    std::vector<std::size_t> new_updates(parameters_.size());
    for (std::size_t i = 0; i < parameters_.size(); ++i)
      new_updates[i] = state.count("state." + std::to_string(i) + ".step");
    const std::size_t new_steps = state.count("steps");
    std::function<void()> commit = read_state(state);
    // Checked: nothing below throws.
    groups_ = std::move(new_groups);
    updates_ = std::move(new_updates);
    steps_ = new_steps;
    commit();
  });
}

template <class T>
void SGD<T>::write_state(StateDict& state) const {
  state.set_scalar("options.momentum", options_.momentum);
  state.set_scalar("options.dampening", options_.dampening);
  state.set_count("options.nesterov", options_.nesterov);
  write_all(state, "momentum_buffer", velocity_);
}

template <class T>
std::function<void()> SGD<T>::read_state(const StateDict& state) {
  const std::string call = this->name() + "::load_state_dict";
  SGDOptions options = options_;
  options.momentum = state.scalar("options.momentum");
  options.dampening = state.scalar("options.dampening");
  options.nesterov = flag(state, "options.nesterov");
  check_options(call, [&] { SGD<T>(this->parameters(), options); });
  std::vector<Array<T>> velocity;
  if (options.momentum != 0) velocity = all_parameters(call, state, "momentum_buffer", this->parameters());
  return [this, options, velocity = std::move(velocity)]() mutable {
    options_ = options;
    velocity_ = std::move(velocity);
  };
}

template <class T>
void Adagrad<T>::write_state(StateDict& state) const {
  state.set_scalar("options.lr_decay", options_.lr_decay);
  state.set_scalar("options.initial_accumulator_value", options_.initial_accumulator_value);
  state.set_scalar("options.eps", options_.eps);
  write_all(state, "sum", sum_squares_);
}

template <class T>
std::function<void()> Adagrad<T>::read_state(const StateDict& state) {
  const std::string call = this->name() + "::load_state_dict";
  AdagradOptions options = options_;
  options.lr_decay = state.scalar("options.lr_decay");
  options.initial_accumulator_value = state.scalar("options.initial_accumulator_value");
  options.eps = state.scalar("options.eps");
  check_options(call, [&] { Adagrad<T>(this->parameters(), options); });
  std::vector<Array<T>> sums = all_parameters(call, state, "sum", this->parameters());
  return [this, options, sums = std::move(sums)]() mutable {
    options_ = options;
    sum_squares_ = std::move(sums);
  };
}

template <class T>
void RMSprop<T>::write_state(StateDict& state) const {
  state.set_scalar("options.alpha", options_.alpha);
  state.set_scalar("options.eps", options_.eps);
  state.set_scalar("options.momentum", options_.momentum);
  state.set_count("options.centered", options_.centered);
  write_all(state, "square_avg", mean_squares_);
  write_all(state, "grad_avg", mean_gradients_);
  write_all(state, "momentum_buffer", momentum_buffers_);
}

template <class T>
std::function<void()> RMSprop<T>::read_state(const StateDict& state) {
  const std::string call = this->name() + "::load_state_dict";
  RMSpropOptions options = options_;
  options.alpha = state.scalar("options.alpha");
  options.eps = state.scalar("options.eps");
  options.momentum = state.scalar("options.momentum");
  options.centered = flag(state, "options.centered");
  check_options(call, [&] { RMSprop<T>(this->parameters(), options); });
  std::vector<Array<T>> squares = all_parameters(call, state, "square_avg", this->parameters()), means, momenta;
  if (options.centered) means = all_parameters(call, state, "grad_avg", this->parameters());
  if (options.momentum > 0) momenta = all_parameters(call, state, "momentum_buffer", this->parameters());
  return [this, options, squares = std::move(squares), means = std::move(means),
          momenta = std::move(momenta)]() mutable {
    options_ = options;
    mean_squares_ = std::move(squares);
    mean_gradients_ = std::move(means);
    momentum_buffers_ = std::move(momenta);
  };
}

template <class T>
void Adam<T>::write_state(StateDict& state) const {
  Array<double> betas = Array<double>::from_shape({2});
  betas(0) = options_.betas.first;
  betas(1) = options_.betas.second;
  state.set("options.betas", std::move(betas));
  state.set_scalar("options.eps", options_.eps);
  state.set_count("options.amsgrad", options_.amsgrad);
  write_all(state, "exp_avg", m_);
  write_all(state, "exp_avg_sq", v_);
  write_all(state, "max_exp_avg_sq", max_v_);
}

template <class T>
std::function<void()> Adam<T>::read_state(const StateDict& state) {
  const std::string call = this->name() + "::load_state_dict";
  AdamOptions options = options_;
  const Array<double>& betas = state.get<double>("options.betas");
  if (betas.size() != 2)
    throw StateError(call + ": key 'options.betas' has shape " + autodiff::to_string(shape_of(betas)) +
                     " where (2,) is expected");
  options.betas = {betas.data()[0], betas.data()[1]};
  options.eps = state.scalar("options.eps");
  options.amsgrad = flag(state, "options.amsgrad");
  check_options(call, [&] { Adam<T>(this->parameters(), options); });
  std::vector<Array<T>> m = all_parameters(call, state, "exp_avg", this->parameters()),
                        v = all_parameters(call, state, "exp_avg_sq", this->parameters()), largest;
  if (options.amsgrad) largest = all_parameters(call, state, "max_exp_avg_sq", this->parameters());
  return [this, options, m = std::move(m), v = std::move(v), largest = std::move(largest)]() mutable {
    options_ = options;
    m_ = std::move(m);
    v_ = std::move(v);
    max_v_ = std::move(largest);
  };
}

#define WENGERT_INSTANTIATE(T)                                   \
  template StateDict Optimizer<T>::state_dict() const;           \
  template void Optimizer<T>::load_state_dict(const StateDict&); \
  template void SGD<T>::write_state(StateDict&) const;           \
  template std::function<void()> SGD<T>::read_state(const StateDict&);     \
  template void Adagrad<T>::write_state(StateDict&) const;       \
  template std::function<void()> Adagrad<T>::read_state(const StateDict&); \
  template void RMSprop<T>::write_state(StateDict&) const;       \
  template std::function<void()> RMSprop<T>::read_state(const StateDict&); \
  template void Adam<T>::write_state(StateDict&) const;          \
  template std::function<void()> Adam<T>::read_state(const StateDict&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

// ---- data loaders -----------------------------------------------------------------

template <class T>
StateDict DataLoader<T>::state_dict() const {
  StateDict state;
  state.set_count("epochs", epochs_);
  const std::vector<std::uint64_t> words = engine_state(engine_);
  Array<std::uint64_t> generator = Array<std::uint64_t>::from_shape({words.size()});
  std::copy(words.begin(), words.end(), generator.begin());
  state.set("generator", std::move(generator));
  Array<std::int64_t> order = Array<std::int64_t>::from_shape({order_.size()});
  for (std::size_t i = 0; i < order_.size(); ++i) order.data()[i] = std::int64_t(order_[i]);
  state.set("order", std::move(order));
  return state;
}

template <class T>
void DataLoader<T>::load_state_dict(const StateDict& state) {
  const std::string call = "DataLoader::load_state_dict";
  reading(call, [&] {
    const std::size_t epochs = state.count("epochs");
    const Array<std::uint64_t>& generator = state.get<std::uint64_t>("generator");
    Engine engine;
    set_engine_state(engine, std::vector<std::uint64_t>(generator.begin(), generator.end()),
                     call + ": key 'generator'");
    const Array<std::int64_t>& order = state.get<std::int64_t>("order");
    if (order.size() != order_.size())
      throw StateError(call + ": key 'order' has " + std::to_string(order.size()) + " samples, this loader " +
                       std::to_string(order_.size()));
    std::vector<std::size_t> new_order(order.size());
    std::vector<bool> seen(order.size(), false);
    for (std::size_t i = 0; i < order.size(); ++i) {
      const std::int64_t k = order.data()[i];
      if (k < 0 || std::size_t(k) >= order.size() || seen[std::size_t(k)])
        throw StateError(call + ": key 'order' is not an order of the " + std::to_string(order.size()) +
                         " samples (entry " + std::to_string(i) + " is " + std::to_string(k) + ")");
      seen[std::size_t(k)] = true;
      new_order[i] = std::size_t(k);
    }
    epochs_ = epochs;
    engine_ = engine;
    order_ = std::move(new_order);
  });
}

template StateDict DataLoader<float>::state_dict() const;
template StateDict DataLoader<double>::state_dict() const;
template void DataLoader<float>::load_state_dict(const StateDict&);
template void DataLoader<double>::load_state_dict(const StateDict&);

// ---- schedulers -------------------------------------------------------------------

namespace {
Array<double> numbers(const std::vector<double>& values) {
  Array<double> a = Array<double>::from_shape({values.size()});
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

std::vector<double> numbers(const StateDict& state, const std::string& key) {
  const Array<double>& a = state.get<double>(key);
  if (a.dimension() != 1)
    throw StateError("StateDict: key '" + key + "' has shape " + autodiff::to_string(shape_of(a)) +
                     " where one rate per group is expected");
  return {a.begin(), a.end()};
}

StateDict scheduler_dict(const std::string& kind, const SchedulerState& s, bool plateau) {
  StateDict state;
  state.set_text("kind", kind);
  state.set_count("step_count", s.step_count);
  if (!plateau) state.set("base_rates", numbers(s.base_rates));
  state.set("rates", numbers(s.rates));
  if (plateau) {
    state.set_scalar("best", s.best);
    state.set_count("bad_steps", s.bad_steps);
    state.set_count("cooldown_left", s.cooldown_left);
  }
  return state;
}

// The SchedulerState in `state`, after checking its kind; std::invalid_argument from
// load_state (a wrong number of rates) becomes a StateError naming the call.
template <class Load>
void load_scheduler(const std::string& kind, const StateDict& state, bool plateau, Load load) {
  const std::string call = kind + "::load_state_dict";
  reading(call, [&] {
    const std::string saved = state.text("kind");
    if (saved != kind) throw StateError(call + ": the state is " + saved + "'s (key 'kind'), this scheduler is " + kind);
    SchedulerState s;
    s.step_count = state.count("step_count");
    if (!plateau) s.base_rates = numbers(state, "base_rates");
    s.rates = numbers(state, "rates");
    if (plateau) {
      s.best = state.scalar("best");
      s.bad_steps = state.count("bad_steps");
      s.cooldown_left = state.count("cooldown_left");
    }
    try {
      load(s);
    } catch (const StateError&) {
      throw;
    } catch (const std::invalid_argument& e) {
      throw StateError(call + ": " + e.what());
    }
  });
}
}  // namespace

template <class T>
StateDict LRScheduler<T>::state_dict() const {
  return scheduler_dict(name_, state(), false);
}

template <class T>
void LRScheduler<T>::load_state_dict(const StateDict& state) {
  load_scheduler(name_, state, false, [&](const SchedulerState& s) { load_state(s); });
}

template <class T>
StateDict ReduceLROnPlateau<T>::state_dict() const {
  return scheduler_dict("ReduceLROnPlateau", state(), true);
}

template <class T>
void ReduceLROnPlateau<T>::load_state_dict(const StateDict& state) {
  load_scheduler("ReduceLROnPlateau", state, true, [&](const SchedulerState& s) { load_state(s); });
}

#define WENGERT_INSTANTIATE(T)                                          \
  template StateDict LRScheduler<T>::state_dict() const;                \
  template void LRScheduler<T>::load_state_dict(const StateDict&);      \
  template StateDict ReduceLROnPlateau<T>::state_dict() const;          \
  template void ReduceLROnPlateau<T>::load_state_dict(const StateDict&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn
