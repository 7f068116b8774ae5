// The nn half of the bad-input catalogue (issue #11): every row is one misuse of
// a public nn function, the exception type it must throw, the words its message
// must contain (the call the user made, the shapes, values or file involved, and
// what is wrong), and afterwards the same checks for every row: the model's
// parameters and gradients, the optimizer's state (steps, moments, per-parameter
// step counts, learning rate), the tape, and the grad and anomaly modes are what
// they were, and a training step still works. Each row runs three times: plainly,
// inside no_grad and inside detect_anomaly.
//
// Below the table: the silent wrong results that are now right (numerics,
// schedules, shared parameters, early stopping on NaN), and the odd inputs that
// are accepted because PyTorch accepts them.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <typeinfo>
#include <vector>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

#include "test_util.hpp"

using namespace nn;
using V = autodiff::Variable<double>;
using A = autodiff::Array<double>;
using autodiff::AnomalyError;
using autodiff::GraphError;
using autodiff::ShapeError;
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::size_t kMinusOne = static_cast<std::size_t>(-1);

// ---- the state every row must leave as it found it ------------------------------------------

// A small classifier that has taken two Adam steps (so its moments are not zero) on 12
// samples of 4 features and 3 classes, with its gradients cleared.
struct World {
  Sequential<double> model = mlp<double>({4, 5, 3}, Tanh<double>());
  std::unique_ptr<Adam<double>> optimizer;
  Dataset<double> data;

  World() {
    data.inputs = test::random_array({12, 4}, 11);
    for (std::size_t i = 0; i < 12; ++i) data.labels.push_back(i % 3);
    optimizer = std::make_unique<Adam<double>>(model.parameters(), 0.01);
    train_step();
    train_step();
    autodiff::Tape<double>::current().trim();
  }
  double train_step() {
    optimizer->zero_grad();
    V loss = cross_entropy(model(V(data.inputs)), data.labels);
    loss.backward();
    optimizer->step();
    optimizer->zero_grad();
    return loss.item();
  }
};

struct Snapshot {
  std::vector<A> parameters;
  std::vector<bool> has_grad;
  std::vector<A> state;
  std::vector<std::size_t> updates;
  std::size_t steps;
  double learning_rate;
  std::size_t tape;

  explicit Snapshot(const World& w) {
    for (auto& p : w.model.parameters()) {
      parameters.push_back(p.value());
      has_grad.push_back(p.has_grad());
    }
    state = w.optimizer->state();
    updates = w.optimizer->updates();
    steps = w.optimizer->steps();
    learning_rate = w.optimizer->learning_rate();
    tape = autodiff::Tape<double>::current().size();
  }
};

// A (n, 1) column ({{1.0}, {2.0}} is ambiguous for xt::xarray).
A column(std::initializer_list<double> values) {
  A a = A::from_shape({values.size(), 1});
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

bool same(const std::vector<A>& a, const std::vector<A>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].shape() != b[i].shape() || !(a[i] == b[i])) return false;
  return true;
}

// ---- rows ------------------------------------------------------------------------------------

struct Expect {
  const char* name;
  bool (*matches)(const std::exception&);
};
#define THROWS(E) Expect{#E, [](const std::exception& e) { return dynamic_cast<const E*>(&e) != nullptr; }}

// Whether the misuse may record ops before it throws (a forward pass that fails in its
// second layer): then the tape must be back to its size once the dead entries are trimmed.
enum class Tape { unchanged, trimmed };

struct RowOptions {
  Tape tape = Tape::unchanged;
  // Whether the row is also run inside no_grad: not for rows that must train or build a
  // graph to reach their misuse (under no_grad there is nothing to differentiate).
  bool under_no_grad = true;
};
const RowOptions kRecords{Tape::trimmed, true};  // records ops before the misuse is found
const RowOptions kTrains{Tape::trimmed, false};  // trains or differentiates on the way

struct Row {
  const char* family;
  const char* misuse;
  Expect expect;
  std::vector<std::string> words;
  std::function<void(World&)> run;
  RowOptions options;
};

// ---- files the io rows read --------------------------------------------------------------------

fs::path directory() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("wengert_bad_input_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

std::string write(const std::string& name, const std::string& bytes) {
  const fs::path path = directory() / name;
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

// A .npy file with this header text (padded as NumPy pads it) and these data bytes.
std::string npy(const std::string& header, std::size_t data_bytes, int version = 1) {
  std::string text = header;
  const std::size_t prefix = version == 1 ? 10 : 12;
  text.append((64 - (prefix + text.size() + 1) % 64) % 64, ' ');
  text += '\n';
  std::string bytes = std::string("\x93NUMPY", 6) + char(version) + '\0';
  if (version == 1) {
    bytes += char(text.size() & 0xff);
    bytes += char(text.size() >> 8);
  } else {
    for (int i = 0; i < 4; ++i) bytes += char((text.size() >> (8 * i)) & 0xff);
  }
  return bytes + text + std::string(data_bytes, '\0');
}

std::string npy_f8(const std::string& shape, std::size_t data_bytes) {
  return npy("{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }", data_bytes);
}

std::string idx(std::uint8_t type, const std::vector<std::uint32_t>& dims, std::size_t data_bytes) {
  std::string bytes{'\0', '\0', char(type), char(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) bytes += char((d >> shift) & 0xff);
  return bytes + std::string(data_bytes, '\0');
}

// One row of the digits CSV: `columns - 1` pixels (the fourth one `pixel`, the others 0) and a label.
std::string digits_csv(const std::string& name, double pixel, double label, std::size_t columns = 65) {
  std::string line;
  for (std::size_t j = 0; j + 1 < columns; ++j) line += (j == 3 ? std::to_string(pixel) : std::string("0")) + ",";
  line += std::to_string(label) + "\n";
  return write(name, line);
}

// The fixture model's parameters saved into a directory of its own, with `extra` added.
std::string saved_model(const std::string& name, World& w) {
  const std::string dir = (directory() / name).string();
  fs::remove_all(dir);
  save_parameters(w.model, dir);
  return dir;
}

// ---- helpers for rows that build their own objects ----------------------------------------------

std::vector<V> leaves(std::size_t n) {
  std::vector<V> all;
  for (std::size_t i = 0; i < n; ++i) all.emplace_back(test::random_array({2}, 20 + unsigned(i)), true);
  return all;
}

// A module that exposes registration, for the rows that misuse it.
struct Custom : Module<double> {
  V forward(const V& x) override { return x; }
  std::string describe() const override { return "Custom"; }
  using Module<double>::register_parameter;
  using Module<double>::register_module;
  using Module<double>::register_buffer;
};

struct NaNSchedule : Schedule {
  double next(double, double, const EpochEnd&) override { return kNaN; }
};

FitOptions quiet() {
  FitOptions options;
  options.epochs = 2;
  options.batch_size = 4;
  options.progress = nullptr;
  return options;
}

LossFunction<double> ce() {
  return [](const V& out, const Batch<double>& b) { return cross_entropy(out, b.labels); };
}

Dataset<double> tiny(std::size_t n, std::size_t features = 4) {
  Dataset<double> d;
  d.inputs = test::random_array({n, features}, 5);
  for (std::size_t i = 0; i < n; ++i) d.labels.push_back(i % 2);
  return d;
}

// Runs the misuse; the caller's optimizer state (a local one) must be unchanged when it throws.
template <class Opt>
void unchanged_on_throw(Opt& optimizer, const std::function<void()>& misuse) {
  const auto state = optimizer.state();
  const std::size_t steps = optimizer.steps();
  std::vector<A> values;
  for (auto& p : optimizer.parameters()) values.push_back(p.value());
  try {
    misuse();
  } catch (...) {
    CHECK(optimizer.steps() == steps);
    CHECK(same(optimizer.state(), state));
    throw;
  }
}

// A backprop of the right shapes for the fixture's mlp {4, 5, 3} on its 12 samples (zeros: the rows
// misuse its shapes), and the fixture's data as a batch.
std::vector<LayerBackprop> zero_backprop() {
  return {{A(xt::zeros<double>({12, 5})), A(xt::zeros<double>({4, 5})), A(xt::zeros<double>({5}))},
          {A(xt::zeros<double>({12, 3})), A(xt::zeros<double>({5, 3})), A(xt::zeros<double>({3}))}};
}
Batch<double> batch_of(const World& w) { return {V(w.data.inputs), w.data.labels, V()}; }

// ---- the catalogue ------------------------------------------------------------------------------

std::vector<Row> catalogue() {
  std::vector<Row> rows;
  auto add = [&](const char* family, const char* misuse, Expect expect, std::vector<std::string> words,
                 std::function<void(World&)> run, RowOptions options = {}) {
    rows.push_back({family, misuse, expect, std::move(words), std::move(run), options});
  };

  // ---- modules ----
  add("module", "Linear(64 -> 10) given a (5, 63) input", THROWS(ShapeError),
      {"Linear(64 -> 10) got input of shape (5, 63)", "expected (batch, 64)"},
      [](World&) { Linear<double>(64, 10)(V(A::from_shape({5, 63}))); });
  add("module", "Upsample given a 2-D input", THROWS(ShapeError),
      {"Upsample(scale 2, nearest) got input of shape (3, 4)", "(batch, channels, H, W)"},
      [](World&) { Upsample<double>(2)(V(A::from_shape({3, 4}))); });
  add("module", "Upsample with a scale of 0", THROWS(std::invalid_argument), {"Upsample", "(0, 2)", "positive"},
      [](World&) { Upsample<double>({0, 2}); });
  add("module", "Linear given a 1-D input", THROWS(ShapeError), {"Linear(4 -> 5)", "(4,)", "(batch, 4)"},
      [](World&) { Linear<double>(4, 5)(V(A::from_shape({4}))); });
  add("module", "Linear given a 3-D input", THROWS(ShapeError), {"Linear(4 -> 5)", "(2, 3, 4)"},
      [](World&) { Linear<double>(4, 5)(V(A::from_shape({2, 3, 4}))); });
  add("module", "Linear given an empty Variable", THROWS(GraphError), {"Linear(4 -> 5)", "input", "empty Variable"},
      [](World&) { Linear<double>(4, 5)(V()); });
  add("module", "Linear with 0 inputs", THROWS(std::invalid_argument), {"Linear(0 -> 10)", "at least 1"},
      [](World&) { Linear<double>(0, 10); });
  add("module", "Linear with 0 outputs", THROWS(std::invalid_argument), {"Linear(10 -> 0)", "at least 1"},
      [](World&) { Linear<double>(10, 0); });
  add("module", "Linear whose weight has more than 2^64 elements", THROWS(std::invalid_argument),
      {"Linear(4294967296 -> 4294967296)", "2^64"}, [](World&) { Linear<double>(std::size_t(1) << 32, std::size_t(1) << 32); });
#if !defined(__SANITIZE_ADDRESS__)  // (AddressSanitizer aborts on a request this size instead of throwing)
  add("module", "Linear of 512 TiB (out of memory)", THROWS(std::bad_alloc),
      {"Linear(8388608 -> 8388608)", "weight of shape (8388608, 8388608)", "out of memory", "562949953421312 bytes"},
      [](World&) { Linear<double>(std::size_t(1) << 23, std::size_t(1) << 23); });
#endif
  add("module", "Linear whose weight was resized through data()", THROWS(ShapeError),
      {"Linear(4 -> 5)", "weight has shape (2, 2)", "(4, 5)"}, [](World&) {
        Linear<double> layer(4, 5);
        layer.weight().data() = A::from_shape({2, 2});
        layer(V(A::from_shape({1, 4})));
      });
  add("module", "Linear whose bias was resized through data()", THROWS(ShapeError),
      {"Linear(4 -> 5)", "bias has shape (3,)", "(5,)"}, [](World&) {
        Linear<double> layer(4, 5);
        layer.bias().data() = A::from_shape({3});
        layer(V(A::from_shape({1, 4})));
      });
  add("module", "Sequential[5] of 3 layers", THROWS(std::out_of_range), {"Sequential[5]", "out of range", "3 layers"},
      [](World& w) { w.model[5]; });
  add("module", "Sequential[-1]", THROWS(std::out_of_range), {"Sequential[-1]", "3 layers"},
      [](World& w) { w.model[kMinusOne]; });
  add("module", "Sequential::get of the wrong layer type", THROWS(std::invalid_argument),
      {"Sequential::get", "layer 1", "not a"}, [](World& w) { w.model.get<Linear<double>>(1); });
  add("module", "Sequential::get past the last layer", THROWS(std::out_of_range), {"Sequential::get", "3", "3 layers"},
      [](World& w) { w.model.get<Linear<double>>(3); });
  add("module", "child of a name that is not there", THROWS(std::exception), {"nope"},
      [](World& w) { w.model.child<Linear<double>>("nope"); });
  add("module", "functional_call with an unknown parameter name", THROWS(std::exception), {"functional_call", "nope"},
      [](World& w) { functional_call(w.model, {{"nope.weight", V(A::from_shape({4, 5}))}}, V(A::from_shape({2, 4}))); });
  add("module", "the model given inputs of the wrong width", THROWS(ShapeError),
      {"Sequential layer 0", "Linear(4 -> 5) got input of shape (2, 7)"},
      [](World& w) { w.model(V(A::from_shape({2, 7}))); });
  add("module", "Sequential whose layers do not fit together", THROWS(ShapeError),
      {"Sequential layer 1", "Linear(6 -> 3) got input of shape (2, 5)"}, [](World&) {
        Sequential<double> model;
        model.add(Linear<double>(4, 5)).add(Linear<double>(6, 3));
        model(V(test::random_array({2, 4}, 3), true));
      },
      kRecords);
  add("module", "a nested Sequential whose inner layer does not fit", THROWS(ShapeError),
      {"Sequential layer 1.0", "Linear(6 -> 3)", "(2, 5)"}, [](World&) {
        Sequential<double> inner;
        inner.add(Linear<double>(6, 3));
        Sequential<double> model;
        model.add(Linear<double>(4, 5)).add(inner);
        model(V(test::random_array({2, 4}, 3), true));
      },
      kRecords);
  add("module", "Softmax over axis 5 of a matrix, in a Sequential", THROWS(ShapeError),
      {"Sequential layer 1", "(Softmax)", "softmax", "axis 5", "rank 2"}, [](World&) {
        Sequential<double> model;
        model.add(Linear<double>(4, 3)).add(Softmax<double>(5));
        model(V(test::random_array({2, 4}, 3)));
      },
      kRecords);
  add("module", "mlp with one size", THROWS(std::invalid_argument), {"mlp", "input and output sizes"},
      [](World&) { mlp<double>({64}); });
  add("module", "mlp with a layer of 0 units", THROWS(std::invalid_argument), {"Linear(4 -> 0)", "at least 1"},
      [](World&) { mlp<double>({4, 0, 3}); });
  add("module", "an Activation without a function", THROWS(std::invalid_argument), {"Activation 'mine'", "no function"},
      [](World&) { Activation<double>("mine", nullptr); });
  add("module", "LeakyReLU(NaN)", THROWS(std::invalid_argument), {"LeakyReLU", "alpha nan", "finite"},
      [](World&) { LeakyReLU<double>(kNaN); });
  add("module", "ELU(inf), float", THROWS(std::invalid_argument), {"ELU", "alpha inf"},
      [](World&) { ELU<float>(std::numeric_limits<float>::infinity()); });
  add("module", "register_parameter with a '.' in the name", THROWS(std::invalid_argument),
      {"register_parameter", "'a.b'", "'.'"}, [](World&) { Custom().register_parameter("a.b", V(A{1.0})); });
  add("module", "register_parameter with a '/' in the name", THROWS(std::invalid_argument),
      {"register_parameter", "'../w'"}, [](World&) { Custom().register_parameter("../w", V(A{1.0})); });
  add("module", "register_parameter with an empty name", THROWS(std::invalid_argument), {"register_parameter", "empty"},
      [](World&) { Custom().register_parameter("", V(A{1.0})); });
  add("module", "register_parameter twice under one name", THROWS(std::invalid_argument),
      {"register_parameter", "'w'", "exists already"}, [](World&) {
        Custom m;
        m.register_parameter("w", V(A{1.0}));
        m.register_parameter("w", V(A{2.0}));
      });
  add("module", "register_parameter of a computed value", THROWS(GraphError),
      {"register_parameter", "'w'", "made by op", "leaf"}, [](World&) {
        V x(A{1.0}, true);
        Custom().register_parameter("w", x * 2.0);
      },
      kTrains);
  add("module", "register_parameter of an empty Variable", THROWS(GraphError), {"register_parameter", "'w'", "empty Variable"},
      [](World&) { Custom().register_parameter("w", V()); });
  add("module", "register_module of a null module", THROWS(std::invalid_argument), {"register_module", "'child'", "null"},
      [](World&) { Custom().register_module("child", nullptr); });
  add("module", "register_module under a parameter's name", THROWS(std::invalid_argument),
      {"register_module", "'w'", "exists already"}, [](World&) {
        Custom m;
        m.register_parameter("w", V(A{1.0}));
        m.register_module("w", std::make_shared<Custom>());
      });
  add("module", "register_buffer under a parameter's name", THROWS(std::invalid_argument),
      {"register_buffer", "a parameter named 'w'", "exists already"}, [](World&) {
        Custom m;
        m.register_parameter("w", V(A{1.0}));
        m.register_buffer("w", A{1.0});
      });
  add("module", "register_parameter under a buffer's name", THROWS(std::invalid_argument),
      {"register_parameter", "a buffer named 'running_mean'", "exists already"}, [](World&) {
        Custom m;
        m.register_buffer("running_mean", A{1.0});
        m.register_parameter("running_mean", V(A{1.0}));
      });
  add("module", "register_buffer with a '.' in the name", THROWS(std::invalid_argument),
      {"register_buffer", "'a.b'", "'.'"}, [](World&) { Custom().register_buffer("a.b", A{1.0}); });
  add("module", "forward_values of a Linear given two values", THROWS(std::invalid_argument),
      {"Linear(4 -> 5)", "forward_values", "1 input", "got 2"},
      [](World&) { Linear<double>(4, 5).forward_values({V(A::from_shape({1, 4})), V(A::from_shape({1, 4}))}); });
  // normalisation
  add("module", "BatchNorm1d(3) given a (4, 2) input", THROWS(ShapeError),
      {"BatchNorm1d(3) got input of shape (4, 2)", "expected (N, 3) or (N, 3, L)"},
      [](World&) { BatchNorm1d<double>(3)(V(A::from_shape({4, 2}))); });
  add("module", "BatchNorm2d given a 2-D input", THROWS(ShapeError), {"BatchNorm2d(3)", "(4, 3)", "(N, 3, H, W)"},
      [](World&) { BatchNorm2d<double>(3)(V(A::from_shape({4, 3}))); });
  add("module", "BatchNorm1d in training given one value per channel", THROWS(ShapeError),
      {"BatchNorm1d(3)", "more than 1 value per channel", "(1, 3)"},
      [](World&) { BatchNorm1d<double>(3)(V(A::from_shape({1, 3}))); });
  add("module", "BatchNorm1d with 0 features", THROWS(std::invalid_argument), {"BatchNorm1d(0)", "at least 1"},
      [](World&) { BatchNorm1d<double>(0); });
  add("module", "BatchNorm2d with momentum 1.5", THROWS(std::invalid_argument), {"BatchNorm2d(4)", "momentum 1.5", "[0, 1]"},
      [](World&) { BatchNorm2d<double>(4, {.momentum = 1.5}); });
  add("module", "BatchNorm1d with eps 0", THROWS(std::invalid_argument), {"BatchNorm1d(4)", "eps 0", "> 0"},
      [](World&) { BatchNorm1d<double>(4, {.eps = 0}); });
  add("module", "BatchNorm1d whose weight was resized through data()", THROWS(ShapeError),
      {"BatchNorm1d(3)", "weight has shape (2,)", "(3,)"}, [](World&) {
        BatchNorm1d<double> layer(3);
        layer.weight().data() = A{1.0, 2.0};
        layer(V(A::from_shape({4, 3})));
      });
  add("module", "BatchNorm1d whose running_var was resized", THROWS(ShapeError),
      {"BatchNorm1d(3)", "running_var has shape (4,)", "(3,)"}, [](World&) {
        BatchNorm1d<double> layer(3);
        layer.running_var() = A{1.0, 1.0, 1.0, 1.0};
        layer.eval();
        layer(V(A::from_shape({4, 3})));
      });
  add("module", "BatchNorm2d given an empty Variable", THROWS(GraphError), {"BatchNorm2d(2)", "input", "empty Variable"},
      [](World&) { BatchNorm2d<double>(2)(V()); });
  add("module", "LayerNorm((3, 4)) given a (2, 4, 3) input", THROWS(ShapeError),
      {"LayerNorm((3, 4)) got input of shape (2, 4, 3)", "expected (..., 3, 4)"},
      [](World&) { LayerNorm<double>({3, 4})(V(A::from_shape({2, 4, 3}))); });
  add("module", "LayerNorm with an empty normalized_shape", THROWS(std::invalid_argument),
      {"LayerNorm(())", "normalized_shape", "empty"}, [](World&) { LayerNorm<double>(autodiff::Shape{}); });
  add("module", "LayerNorm with eps -1", THROWS(std::invalid_argument), {"LayerNorm((4,))", "eps -1"},
      [](World&) { LayerNorm<double>({4}, -1); });
  // Embedding
  add("module", "Embedding given an index out of range", THROWS(ShapeError),
      {"Embedding(5, 3)", "index 7 at [1]", "out of range [0, 5)"},
      [](World&) { Embedding<double>(5, 3)(autodiff::IndexList{0, 7}); });
  add("module", "Embedding given a negative index", THROWS(ShapeError), {"Embedding(5, 3)", "index -1 at [0, 1]"},
      [](World&) { Embedding<double>(5, 3)(test::index_array({1, 2}, {2, -1})); });
  add("module", "Embedding given 2.5 as an index", THROWS(std::invalid_argument),
      {"Embedding(5, 3)", "2.5 at [1]", "not a whole-number index"},
      [](World&) { Embedding<double>(5, 3)(V(A{1.0, 2.5})); });
  add("module", "Embedding given NaN as an index", THROWS(std::invalid_argument), {"Embedding(5, 3)", "nan at [0]"},
      [](World&) { Embedding<double>(5, 3)(V(A{kNaN})); });
  add("module", "Embedding whose weight was resized through data()", THROWS(ShapeError),
      {"Embedding(5, 3)", "weight has shape (2, 2)", "(5, 3)"}, [](World&) {
        Embedding<double> layer(5, 3);
        layer.weight().data() = A::from_shape({2, 2});
        layer(autodiff::IndexList{0});
      });
  // recurrent layers
  add("module", "LSTM given input of the wrong width", THROWS(ShapeError),
      {"LSTM(3 -> 4) got input of shape (2, 5, 2)", "expected (batch, time, 3)"},
      [](World&) { LSTM<double>(3, 4)(V(A::from_shape({2, 5, 2}))); });
  add("module", "GRU given a 2-D input", THROWS(ShapeError), {"GRU(3 -> 4)", "(5, 3)", "(batch, time, 3)"},
      [](World&) { GRU<double>(3, 4)(V(A::from_shape({5, 3}))); });
  add("module", "RNN given an empty sequence", THROWS(ShapeError), {"RNN(3 -> 4)", "(2, 0, 3)", "empty sequence"},
      [](World&) { RNN<double>(3, 4)(V(A::from_shape({2, 0, 3}))); });
  add("module", "RNN given an empty Variable", THROWS(GraphError), {"RNN(3 -> 4, relu)", "input", "empty Variable"},
      [](World&) { RNN<double>(3, 4, 1, Nonlinearity::relu)(V()); });
  add("module", "GRU given an initial h of the wrong shape", THROWS(ShapeError),
      {"GRU(3 -> 4, num_layers=2)", "initial state h has shape (1, 2, 4)", "(num_layers, batch, hidden) = (2, 2, 4)"},
      [](World&) {
        GRU<double>(3, 4, 2).forward_with_state(V(A::from_shape({2, 5, 3})), {V(A::from_shape({1, 2, 4})), V()});
      });
  add("module", "LSTM given an initial h without c", THROWS(std::invalid_argument),
      {"LSTM(3 -> 4)", "h but no c", "both h and c"}, [](World&) {
        LSTM<double>(3, 4).forward_with_state(V(A::from_shape({2, 5, 3})), {V(A::from_shape({1, 2, 4})), V()});
      });
  add("module", "RNN given a cell state", THROWS(std::invalid_argument), {"RNN(3 -> 4)", "cell state c", "only an LSTM"},
      [](World&) {
        RNN<double>(3, 4).forward_with_state(V(A::from_shape({2, 5, 3})),
                                             {V(A::from_shape({1, 2, 4})), V(A::from_shape({1, 2, 4}))});
      });
  add("module", "LSTM whose weight_hh_l1 was resized through data()", THROWS(ShapeError),
      {"LSTM(3 -> 4, num_layers=2)", "weight_hh_l1 has shape (4, 4)", "(16, 4)"}, [](World&) {
        LSTM<double> layer(3, 4, 2);
        layer.weight_hh(1).data() = A::from_shape({4, 4});
        layer(V(A::from_shape({2, 5, 3})));
      });
  add("module", "LSTM with hidden size 0", THROWS(std::invalid_argument), {"LSTM(3 -> 0)", "at least 1"},
      [](World&) { LSTM<double>(3, 0); });
  add("module", "weight_ih of layer 2 of a 2-layer GRU", THROWS(std::out_of_range),
      {"GRU(3 -> 4, num_layers=2)", "layer 2", "2 layers"}, [](World&) { GRU<double>(3, 4, 2).weight_ih(2); });
  add("module", "forward_values of an LSTM given {x, h0}", THROWS(std::invalid_argument),
      {"LSTM(3 -> 4)", "{x} or {x, h0, c0}", "got 2"}, [](World&) {
        LSTM<double>(3, 4).forward_values({V(A::from_shape({2, 5, 3})), V(A::from_shape({1, 2, 4}))});
      });

  // ---- initialisers ----
  add("init", "normal with a negative stddev", THROWS(std::invalid_argument), {"normal", "stddev -1", ">= 0"},
      [](World&) { normal(0, -1); });
  add("init", "normal with a NaN stddev", THROWS(std::invalid_argument), {"normal", "stddev nan"},
      [](World&) { normal(0, kNaN); });
  add("init", "normal with a NaN mean", THROWS(std::invalid_argument), {"normal", "mean nan", "finite"},
      [](World&) { normal(kNaN, 1); });
  add("init", "uniform with low above high", THROWS(std::invalid_argument), {"uniform", "low 1", "above high 0"},
      [](World&) { uniform(1, 0); });
  add("init", "uniform from -inf", THROWS(std::invalid_argument), {"uniform", "low -inf", "finite"},
      [](World&) { uniform(-kInf, 1); });
  add("init", "uniform with a NaN bound", THROWS(std::invalid_argument), {"uniform", "high nan"},
      [](World&) { uniform(0, kNaN); });
  add("init", "uniform wider than the largest double", THROWS(std::invalid_argument), {"uniform", "wider"},
      [](World&) { uniform(-1e308, 1e308); });
  add("init", "xavier_uniform with fan_in + fan_out = 0", THROWS(std::invalid_argument),
      {"xavier_uniform", "fan_in + fan_out is 0", "9 values"}, [](World&) { sample(xavier_uniform(), {3, 3}, 0, 0); });
  add("init", "xavier_normal with fan_in + fan_out = 0", THROWS(std::invalid_argument),
      {"xavier_normal", "fan_in + fan_out is 0"}, [](World&) { sample(xavier_normal(), {2}, 0, 0); });
  add("init", "he_normal with fan_in = 0", THROWS(std::invalid_argument), {"he_normal", "fan_in is 0"},
      [](World&) { sample(he_normal(), {3}, 0, 3); });
  add("init", "he_uniform with fan_in = 0", THROWS(std::invalid_argument), {"he_uniform", "fan_in is 0"},
      [](World&) { sample(he_uniform(), {3}, 0, 3); });
  add("init", "an Initializer without a fill function", THROWS(std::invalid_argument),
      {"sample", "'broken'", "no fill function"}, [](World&) { sample(Initializer{"broken", {}}, {2}, 1, 1); });
  add("init", "sample of more than 2^64 elements", THROWS(std::invalid_argument),
      {"sample", "(1099511627776, 1099511627776)", "2^64"},
      [](World&) { sample(zeros(), {std::size_t(1) << 40, std::size_t(1) << 40}, 1, 1); });
  add("init", "Linear with a He bias initialiser over 0 inputs", THROWS(std::invalid_argument), {"Linear(0 -> 3)"},
      [](World&) { Linear<double>(0, 3, he_uniform(), he_uniform()); });

  // ---- losses ----
  const A logits33 = test::random_array({3, 3}, 4);
  add("loss", "cross_entropy with label 3 of 3 classes", THROWS(ShapeError),
      {"cross_entropy: label 3 (row 2) out of range for 3 classes"},
      [=](World&) { cross_entropy(V(logits33, true), Labels{0, 1, 3}); });
  add("loss", "cross_entropy with label -1", THROWS(ShapeError), {"cross_entropy: label -1 (row 1) out of range for 3 classes"},
      [=](World&) { cross_entropy(V(logits33, true), Labels{0, kMinusOne, 1}); });
  add("loss", "cross_entropy with 2 labels for 3 rows", THROWS(ShapeError), {"cross_entropy", "2 labels", "(3, 3)"},
      [=](World&) { cross_entropy(V(logits33, true), Labels{0, 1}); });
  add("loss", "cross_entropy of 1-D logits", THROWS(ShapeError), {"cross_entropy", "(batch, classes)", "(3,)"},
      [](World&) { cross_entropy(V(A{1.0, 2.0, 3.0}, true), Labels{0, 1, 2}); });
  add("loss", "cross_entropy over 0 classes", THROWS(ShapeError), {"cross_entropy", "(3, 0)", "no classes"},
      [](World&) { cross_entropy(V(A::from_shape({3, 0}), true), Labels{0, 0, 0}); });
  add("loss", "cross_entropy's mean over an empty batch", THROWS(ShapeError), {"cross_entropy", "empty batch", "(0, 3)"},
      [](World&) { cross_entropy(V(A::from_shape({0, 3}), true), Labels{}); });
  add("loss", "cross_entropy of an empty Variable", THROWS(GraphError), {"cross_entropy", "logits", "empty Variable"},
      [](World&) { cross_entropy(V(), Labels{0}); });
  add("loss", "cross_entropy with an unknown reduction", THROWS(std::invalid_argument),
      {"cross_entropy", "unknown reduction 7"},
      [=](World&) { cross_entropy(V(logits33, true), Labels{0, 1, 2}, static_cast<Reduction>(7)); });
  add("loss", "cross_entropy with one-hot targets of another shape", THROWS(ShapeError),
      {"cross_entropy", "(3, 3)", "(3, 2)", "differ"},
      [=](World&) { cross_entropy(V(logits33, true), V(A::from_shape({3, 2}))); });
  add("loss", "cross_entropy with a negative target probability", THROWS(std::invalid_argument),
      {"cross_entropy", "target probability -0.5", "[1, 2]", "outside [0, 1]"}, [=](World&) {
        A t = xt::zeros<double>({3, 3});
        t(1, 2) = -0.5;
        cross_entropy(V(logits33, true), V(t));
      });
  add("loss", "cross_entropy with probability targets and 1-D logits", THROWS(ShapeError), {"cross_entropy", "(3,)"},
      [](World&) { cross_entropy(V(A{1.0, 2.0, 3.0}, true), V(A{0.0, 1.0, 0.0})); });
  add("loss", "nll_loss with label 5 of 3 classes", THROWS(ShapeError), {"nll_loss: label 5 (row 1) out of range for 3 classes"},
      [=](World&) { nll_loss(V(logits33, true), Labels{0, 5, 1}); });
  add("loss", "nll_loss of 3-D log-probabilities", THROWS(ShapeError), {"nll_loss", "(2, 3, 3)"},
      [](World&) { nll_loss(V(A::from_shape({2, 3, 3}), true), Labels{0, 1}); });
  add("loss", "mse of shapes that differ", THROWS(ShapeError), {"mse", "(4, 3)", "(4, 2)", "differ"},
      [](World&) { mse(V(A::from_shape({4, 3}), true), V(A::from_shape({4, 2}))); });
  add("loss", "mse's mean over nothing", THROWS(ShapeError), {"mse", "empty batch", "(0, 2)"},
      [](World&) { mse(V(A::from_shape({0, 2}), true), V(A::from_shape({0, 2}))); });
  add("loss", "mse against an empty Variable", THROWS(GraphError), {"mse", "target", "empty Variable"},
      [](World&) { mse(V(A{1.0}, true), V()); });
  add("loss", "half_sum_squared_error of shapes that differ", THROWS(ShapeError),
      {"half_sum_squared_error", "(3,)", "(2,)"}, [](World&) { half_sum_squared_error(V(A{1.0, 2.0, 3.0}, true), V(A{1.0, 2.0})); });
  add("loss", "binary_cross_entropy of a probability 1.5", THROWS(std::invalid_argument),
      {"binary_cross_entropy", "probability 1.5", "[1]", "outside [0, 1]"},
      [](World&) { binary_cross_entropy(V(A{0.5, 1.5}, true), V(A{1.0, 0.0})); });
  add("loss", "binary_cross_entropy of a probability -0.1", THROWS(std::invalid_argument),
      {"binary_cross_entropy", "probability -0.1", "[0]"},
      [](World&) { binary_cross_entropy(V(A{-0.1, 0.5}, true), V(A{1.0, 0.0})); });
  add("loss", "binary_cross_entropy of a NaN probability", THROWS(std::invalid_argument),
      {"binary_cross_entropy", "probability nan"},
      [](World&) { binary_cross_entropy(V(A{kNaN}, true), V(A{1.0})); });
  add("loss", "binary_cross_entropy with target 2", THROWS(std::invalid_argument),
      {"binary_cross_entropy", "target 2", "[1, 0]", "outside [0, 1]"},
      [](World&) { binary_cross_entropy(V(column({0.5, 0.5}), true), V(column({1.0, 2.0}))); });
  add("loss", "binary_cross_entropy with a float target -1", THROWS(std::invalid_argument),
      {"binary_cross_entropy", "target -1"}, [](World&) {
        binary_cross_entropy(Variable<float>(Array<float>{0.5f}, true), Variable<float>(Array<float>{-1.f}));
      });
  add("loss", "binary_cross_entropy of shapes that differ", THROWS(ShapeError), {"binary_cross_entropy", "(2,)", "(3,)"},
      [](World&) { binary_cross_entropy(V(A{0.5, 0.5}, true), V(A{1.0, 0.0, 1.0})); });
  add("loss", "binary_cross_entropy_with_logits with target -1", THROWS(std::invalid_argument),
      {"binary_cross_entropy_with_logits", "target -1", "[0]"},
      [](World&) { binary_cross_entropy_with_logits(V(A{0.3, 2.0}, true), V(A{-1.0, 1.0})); });
  add("loss", "binary_cross_entropy_with_logits of shapes that differ", THROWS(ShapeError),
      {"binary_cross_entropy_with_logits", "(2, 1)", "(2,)"},
      [](World&) { binary_cross_entropy_with_logits(V(column({0.3, 2.0}), true), V(A{1.0, 0.0})); });
  add("loss", "binary_cross_entropy_with_logits' mean over nothing", THROWS(ShapeError),
      {"binary_cross_entropy_with_logits", "empty batch"},
      [](World&) { binary_cross_entropy_with_logits(V(A::from_shape({0}), true), V(A::from_shape({0}))); });
  add("loss", "l2_penalty with a negative lambda", THROWS(std::invalid_argument), {"l2_penalty", "lambda -0.1", ">= 0"},
      [](World& w) { l2_penalty(w.model, -0.1); });
  add("loss", "l2_penalty with a NaN lambda", THROWS(std::invalid_argument), {"l2_penalty", "lambda nan"},
      [](World& w) { l2_penalty(w.model, kNaN); });
  add("loss", "l2_penalty over an empty Variable", THROWS(GraphError), {"l2_penalty", "weight 1", "empty Variable"},
      [](World&) { l2_penalty<double>({V(A{1.0}, true), V()}, 0.1); });

  add("module", "Dropout with p = 1.5", THROWS(std::invalid_argument), {"Dropout", "p 1.5", "[0, 1]"},
      [](World&) { Dropout<double>(1.5); });
  add("module", "Dropout with p = NaN", THROWS(std::invalid_argument), {"Dropout", "p nan"},
      [](World&) { Dropout<double>{kNaN}; });
  add("module", "Dropout given an empty Variable", THROWS(GraphError), {"Dropout(p=0.5)", "input", "empty Variable"},
      [](World&) { Dropout<double>(0.5)(V()); });

  // ---- optimizers ----
  add("optim", "clip_grad_norm with max_norm -1", THROWS(std::invalid_argument), {"clip_grad_norm", "max_norm -1", ">= 0"},
      [](World& w) { clip_grad_norm(w.model.parameters(), -1.0); });
  add("optim", "clip_grad_norm with p = 0", THROWS(std::invalid_argument), {"clip_grad_norm", "p = 0", "> 0"},
      [](World& w) { clip_grad_norm(w.model.parameters(), 1.0, 0.0); });
  add("optim", "clip_grad_norm of an infinite gradient with error_if_nonfinite", THROWS(std::runtime_error),
      {"clip_grad_norm", "2-norm is inf", "nothing was clipped"}, [](World&) {
        V a(A{1.0, 2.0}, true), b(A{3.0}, true);
        sum(a * 3.0).backward();
        (b * 1.0).backward(A{1e300});  // a finite gradient whose square overflows: the norm is inf
        const A before = a.grad();
        try {
          clip_grad_norm<double>({a, b}, 1.0, 2.0, true);
        } catch (...) {
          CHECK(a.grad() == before);  // unchanged
          throw;
        }
      }, kTrains);
  add("optim", "clip_grad_value with a negative bound", THROWS(std::invalid_argument),
      {"clip_grad_value", "clip_value -0.5", ">= 0"}, [](World& w) { clip_grad_value(w.model.parameters(), -0.5); });
  add("optim", "clip_grad_norm over an empty Variable", THROWS(GraphError), {"clip_grad_norm", "parameter 1", "empty Variable"},
      [](World&) { clip_grad_norm<double>({V(A{1.0}, true), V()}, 1.0); });
  add("optim", "SGD with a negative learning rate", THROWS(std::invalid_argument), {"SGD", "learning rate -0.1", ">= 0"},
      [](World& w) { SGD<double>(w.model.parameters(), -0.1); });
  add("optim", "SGD with a NaN learning rate", THROWS(std::invalid_argument), {"SGD", "learning rate nan"},
      [](World& w) { SGD<double>(w.model.parameters(), kNaN); });
  add("optim", "Adam with an infinite learning rate", THROWS(std::invalid_argument), {"Adam", "learning rate inf"},
      [](World& w) { Adam<double>(w.model.parameters(), kInf); });
  add("optim", "SGD with momentum -0.5", THROWS(std::invalid_argument), {"SGD", "momentum -0.5", ">= 0"},
      [](World& w) { SGD<double>(w.model.parameters(), 0.1, -0.5); });
  add("optim", "SGD with Nesterov and no momentum", THROWS(std::invalid_argument), {"SGD", "Nesterov", "momentum > 0"},
      [](World& w) { SGD<double>(w.model.parameters(), 0.1, 0, true); });
  add("optim", "SGD with a negative weight decay", THROWS(std::invalid_argument), {"SGD", "weight_decay -1"},
      [](World& w) { SGD<double>(w.model.parameters(), 0.1, 0, false, -1); });
  add("optim", "Adam with beta1 = 1", THROWS(std::invalid_argument), {"Adam", "beta1 1", "[0, 1)"},
      [](World& w) { Adam<double>(w.model.parameters(), 0.001, 1.0); });
  add("optim", "Adam with beta2 = -0.1", THROWS(std::invalid_argument), {"Adam", "beta2 -0.1", "[0, 1)"},
      [](World& w) { Adam<double>(w.model.parameters(), 0.001, 0.9, -0.1); });
  add("optim", "Adam with a NaN beta1, float", THROWS(std::invalid_argument), {"Adam", "beta1 nan"}, [](World&) {
    Variable<float> p(Array<float>{1.f}, true);
    Adam<float>({p}, 0.001, kNaN);
  });
  add("optim", "Adam with eps = 0", THROWS(std::invalid_argument), {"Adam", "eps 0", "> 0"},
      [](World& w) { Adam<double>(w.model.parameters(), 0.001, 0.9, 0.999, 0.0); });
  add("optim", "Adagrad with a negative eps", THROWS(std::invalid_argument), {"Adagrad", "eps -1"},
      [](World& w) { Adagrad<double>(w.model.parameters(), 0.01, -1); });
  add("optim", "Adagrad with a negative weight decay", THROWS(std::invalid_argument), {"Adagrad", "weight_decay -0.5"},
      [](World& w) { Adagrad<double>(w.model.parameters(), 0.01, 1e-10, -0.5); });
  add("optim", "RMSprop with alpha 1.5", THROWS(std::invalid_argument), {"RMSprop", "alpha 1.5", "[0, 1]"},
      [](World& w) { RMSprop<double>(w.model.parameters(), 0.01, 1.5); });
  add("optim", "RMSprop with eps = 0", THROWS(std::invalid_argument), {"RMSprop", "eps 0"},
      [](World& w) { RMSprop<double>(w.model.parameters(), 0.01, 0.99, 0.0); });
  add("optim", "an optimizer on an empty parameter list", THROWS(std::invalid_argument), {"Adam", "empty parameter list"},
      [](World&) { Adam<double>(std::vector<V>{}, 0.001); });
  add("optim", "an optimizer given the same parameter twice", THROWS(std::invalid_argument),
      {"SGD", "parameter 4 ('weight')", "same Variable as parameter 0", "once"}, [](World& w) {
        auto parameters = w.model.parameters();
        parameters.push_back(parameters[0]);
        SGD<double>(parameters, 0.1);
      });
  add("optim", "an optimizer given a computed value", THROWS(GraphError), {"RMSprop", "parameter 1", "made by op", "leaf"},
      [](World&) {
        V a(A{1.0}, true);
        RMSprop<double>({a, a * 2.0});
      },
      kTrains);
  add("optim", "an optimizer given a constant", THROWS(GraphError), {"Adagrad", "parameter 0", "does not require a gradient"},
      [](World&) { Adagrad<double>({V(A{1.0})}); });
  add("optim", "an optimizer given an empty Variable", THROWS(GraphError), {"SGD", "parameter 1", "empty Variable"},
      [](World&) { SGD<double>({V(A{1.0}, true), V()}, 0.1); });
  add("optim", "Adam::step after a parameter was resized", THROWS(ShapeError),
      {"Adam::step", "parameter 1", "has shape (3, 3)", "had shape (2,)", "new optimizer"}, [](World&) {
        auto p = leaves(2);
        Adam<double> adam(p, 0.1);
        for (int i = 0; i < 2; ++i) {
          adam.zero_grad();
          autodiff::sum(p[0] * p[0] + p[1] * p[1]).backward();
          adam.step();
        }
        p[1].data() = xt::ones<double>({3, 3});
        unchanged_on_throw(adam, [&] { adam.step(); });
      },
      kTrains);
  add("optim", "SGD::step after a parameter was resized (its gradient still the old shape)", THROWS(ShapeError),
      {"SGD::step", "parameter 0", "(4,)", "(2,)"}, [](World&) {
        auto p = leaves(1);
        SGD<double> sgd(p, 0.1, 0.9);
        autodiff::sum(p[0] * p[0]).backward();
        p[0].data() = xt::ones<double>({4});
        unchanged_on_throw(sgd, [&] { sgd.step(); });
      },
      kTrains);
  add("optim", "set_learning_rate(-1)", THROWS(std::invalid_argument), {"Adam::set_learning_rate", "learning rate -1"},
      [](World& w) { w.optimizer->set_learning_rate(-1); });
  add("optim", "set_learning_rate(NaN)", THROWS(std::invalid_argument), {"Adam::set_learning_rate", "nan"},
      [](World& w) { w.optimizer->set_learning_rate(kNaN); });
  // issue #14: LibTorch's options, AdamW, parameter groups
  add("optim", "SGD with Nesterov and dampening", THROWS(std::invalid_argument), {"SGD", "Nesterov", "dampening 0", "0.1"},
      [](World& w) { SGD<double>(w.model.parameters(), {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); });
  add("optim", "SGD with a NaN dampening", THROWS(std::invalid_argument), {"SGD", "dampening nan", "finite"},
      [](World& w) { SGD<double>(w.model.parameters(), {.lr = 0.1, .momentum = 0.9, .dampening = kNaN}); });
  add("optim", "Adagrad with lr_decay -1", THROWS(std::invalid_argument), {"Adagrad", "lr_decay -1", ">= 0"},
      [](World& w) { Adagrad<double>(w.model.parameters(), {.lr_decay = -1}); });
  add("optim", "Adagrad with initial_accumulator_value -0.5", THROWS(std::invalid_argument),
      {"Adagrad", "initial_accumulator_value -0.5", ">= 0"},
      [](World& w) { Adagrad<double>(w.model.parameters(), {.initial_accumulator_value = -0.5}); });
  add("optim", "RMSprop with momentum -0.9", THROWS(std::invalid_argument), {"RMSprop", "momentum -0.9", ">= 0"},
      [](World& w) { RMSprop<double>(w.model.parameters(), {.momentum = -0.9, .centered = true}); });
  add("optim", "Adam with betas (0.9, 1) in its options", THROWS(std::invalid_argument), {"Adam", "beta2 1", "[0, 1)"},
      [](World& w) { Adam<double>(w.model.parameters(), {.betas = {0.9, 1.0}, .amsgrad = true}); });
  add("optim", "AdamW with beta1 1.5", THROWS(std::invalid_argument), {"AdamW", "beta1 1.5", "[0, 1)"},
      [](World& w) { AdamW<double>(w.model.parameters(), {.betas = {1.5, 0.999}}); });
  add("optim", "AdamW with a negative weight decay", THROWS(std::invalid_argument), {"AdamW", "weight_decay -0.01", ">= 0"},
      [](World& w) { AdamW<double>(w.model.parameters(), 1e-3, 0.9, 0.999, 1e-8, -0.01); });
  add("optim", "AdamW with eps 0", THROWS(std::invalid_argument), {"AdamW", "eps 0", "> 0"},
      [](World& w) { AdamW<double>(w.model.parameters(), {.eps = 0}); });
  add("optim", "a group with a negative learning rate", THROWS(std::invalid_argument),
      {"SGD", "group 1's learning rate -0.1", ">= 0"}, [](World& w) {
        auto p = w.model.parameters();
        SGD<double>({{.parameters = {p[0], p[1]}}, {.parameters = {p[2], p[3]}, .lr = -0.1}}, {.lr = 0.1});
      });
  add("optim", "a group with a NaN weight decay", THROWS(std::invalid_argument), {"AdamW", "group 0's weight_decay nan"},
      [](World& w) { AdamW<double>({{.parameters = w.model.parameters(), .weight_decay = kNaN}}); });
  add("optim", "a parameter in two groups", THROWS(std::invalid_argument),
      {"Adam", "parameter 4 ('weight') (group 1)", "same Variable as parameter 0 ('weight') (group 0)", "only one group"},
      [](World& w) {
        auto p = w.model.parameters();
        Adam<double>({{.parameters = p}, {.parameters = {p[0]}}});
      });
  add("optim", "an optimizer given no groups", THROWS(std::invalid_argument), {"RMSprop", "no parameter groups"},
      [](World&) { RMSprop<double>(std::vector<ParamGroup<double>>{}); });
  add("optim", "an optimizer given only empty groups", THROWS(std::invalid_argument), {"SGD", "empty parameter list"},
      [](World&) { SGD<double>({{.parameters = {}}, {.parameters = {}}}, {.lr = 0.1}); });
  add("optim", "set_learning_rate of a group that does not exist", THROWS(std::out_of_range),
      {"Adam::set_learning_rate", "group 5 does not exist", "(1 group)"},
      [](World& w) { w.optimizer->set_learning_rate(5, 0.1); });
  add("optim", "set_learning_rate of group -1", THROWS(std::out_of_range), {"Adam::set_learning_rate", "group -1"},
      [](World& w) { w.optimizer->set_learning_rate(kMinusOne, 0.1); });
  add("optim", "learning_rate of a group that does not exist", THROWS(std::out_of_range),
      {"Adam::learning_rate", "group 2 does not exist"}, [](World& w) { (void)w.optimizer->learning_rate(2); });
  add("optim", "set_learning_rate of a group to -1", THROWS(std::invalid_argument),
      {"Adam::set_learning_rate", "group 0's learning rate -1", ">= 0"},
      [](World& w) { w.optimizer->set_learning_rate(0, -1); });
  add("optim", "decay_groups with a negative weight decay", THROWS(std::invalid_argument),
      {"decay_groups", "weight_decay -1", ">= 0"}, [](World& w) { decay_groups(w.model, -1.0); });
  add("optim", "RMSprop (centered, momentum)::step after a parameter was resized", THROWS(ShapeError),
      {"RMSprop::step", "parameter 1 (group 1)", "has shape (3,)", "had shape (2,)"}, [](World&) {
        auto p = leaves(2);
        RMSprop<double> rmsprop({{.parameters = {p[0]}}, {.parameters = {p[1]}, .lr = 0.1}},
                                {.momentum = 0.9, .centered = true});
        for (int i = 0; i < 2; ++i) {
          rmsprop.zero_grad();
          autodiff::sum(p[0] * p[0] + p[1] * p[1]).backward();
          rmsprop.step();
        }
        p[1].data() = xt::ones<double>({3});
        const auto updates = rmsprop.updates();
        try {
          unchanged_on_throw(rmsprop, [&] { rmsprop.step(); });
        } catch (...) {
          CHECK(rmsprop.updates() == updates);  // the per-parameter counts too
          throw;
        }
      },
      kTrains);

  // ---- schedules ----
  add("schedule", "StepDecay with step size 0", THROWS(std::invalid_argument), {"StepDecay", "step size 0", "at least 1"},
      [](World&) { StepDecay(0, 0.5); });
  add("schedule", "StepDecay with gamma -0.5", THROWS(std::invalid_argument), {"StepDecay", "gamma -0.5"},
      [](World&) { StepDecay(2, -0.5); });
  add("schedule", "ExponentialDecay with a NaN gamma", THROWS(std::invalid_argument), {"ExponentialDecay", "gamma nan"},
      [](World&) { ExponentialDecay{kNaN}; });
  add("schedule", "InverseScaling with power_t -1", THROWS(std::invalid_argument), {"InverseScaling", "power_t -1"},
      [](World&) { InverseScaling{-1}; });
  add("schedule", "ReduceOnPlateau with divisor 0 (factor inf)", THROWS(std::invalid_argument),
      {"ReduceOnPlateau", "divisor 0", "> 1", "(0, 1)"}, [](World&) { ReduceOnPlateau{0}; });
  add("schedule", "ReduceOnPlateau with divisor 1 (factor 1)", THROWS(std::invalid_argument), {"ReduceOnPlateau", "divisor 1"},
      [](World&) { ReduceOnPlateau{1}; });
  add("schedule", "ReduceOnPlateau with divisor 0.5 (factor 2)", THROWS(std::invalid_argument),
      {"ReduceOnPlateau", "divisor 0.5"}, [](World&) { ReduceOnPlateau{0.5}; });
  add("schedule", "ReduceOnPlateau with a negative tol", THROWS(std::invalid_argument), {"ReduceOnPlateau", "tol -1"},
      [](World&) { ReduceOnPlateau(5, 2, -1); });
  add("schedule", "ReduceOnPlateau with a NaN min_rate", THROWS(std::invalid_argument), {"ReduceOnPlateau", "min_rate nan"},
      [](World&) { ReduceOnPlateau(5, 2, 1e-4, kNaN); });
  add("schedule", "fit with a schedule that returns NaN", THROWS(std::invalid_argument),
      {"fit", "schedule returned learning rate nan", "after epoch 1"}, [](World&) {
        Sequential<double> model = mlp<double>({4, 3, 2});
        SGD<double> sgd(model.parameters(), 0.1);
        FitOptions options = quiet();
        options.schedule = std::make_shared<NaNSchedule>();
        fit(model, sgd, ce(), tiny(8), options);
      },
      kTrains);

  // ---- learning-rate schedulers (scheduler.hpp): the constructors check before they touch the optimizer ----
  using Sched = std::shared_ptr<LRScheduler<double>>;
  add("scheduler", "StepLR with step_size 0", THROWS(std::invalid_argument), {"StepLR", "step_size 0", "at least 1"},
      [](World& w) { StepLR<double>(*w.optimizer, 0, 0.5); });
  add("scheduler", "StepLR with gamma 0", THROWS(std::invalid_argument), {"StepLR", "gamma 0", "> 0"},
      [](World& w) { StepLR<double>(*w.optimizer, 2, 0.0); });
  add("scheduler", "StepLR with a NaN gamma", THROWS(std::invalid_argument), {"StepLR", "gamma nan"},
      [](World& w) { StepLR<double>(*w.optimizer, 2, kNaN); });
  add("scheduler", "MultiStepLR with milestones out of order", THROWS(std::invalid_argument),
      {"MultiStepLR", "strictly increasing", "milestone 1 is 2 after 3"},
      [](World& w) { MultiStepLR<double>(*w.optimizer, {3, 2}, 0.1); });
  add("scheduler", "MultiStepLR with a repeated milestone", THROWS(std::invalid_argument),
      {"MultiStepLR", "milestone 2 is 4 after 4"}, [](World& w) { MultiStepLR<double>(*w.optimizer, {1, 4, 4}, 0.1); });
  add("scheduler", "MultiStepLR with milestone -1", THROWS(std::invalid_argument),
      {"MultiStepLR", "milestone 0 = -1", "negative"}, [](World& w) { MultiStepLR<double>(*w.optimizer, {kMinusOne}, 0.1); });
  add("scheduler", "MultiStepLR with gamma -0.1", THROWS(std::invalid_argument), {"MultiStepLR", "gamma -0.1"},
      [](World& w) { MultiStepLR<double>(*w.optimizer, {2}, -0.1); });
  add("scheduler", "ExponentialLR with gamma -1", THROWS(std::invalid_argument), {"ExponentialLR", "gamma -1", "> 0"},
      [](World& w) { ExponentialLR<double>(*w.optimizer, -1); });
  add("scheduler", "ExponentialLR stepped until its rate overflows", THROWS(std::runtime_error),
      {"ExponentialLR::step", "step 309", "inf", "nothing was changed"}, [](World&) {
        SGD<double> sgd(leaves(1), 1.0);
        ExponentialLR<double> schedule(sgd, 10);
        for (int i = 0; i < 308; ++i) schedule.step();
        const double rate = sgd.learning_rate();
        try {
          schedule.step();
        } catch (...) {
          CHECK(schedule.step_count() == 308);
          CHECK(sgd.learning_rate() == rate);
          throw;
        }
      });
  add("scheduler", "CosineAnnealingLR with T_max 0", THROWS(std::invalid_argument),
      {"CosineAnnealingLR", "T_max 0", "at least 1"}, [](World& w) { CosineAnnealingLR<double>(*w.optimizer, 0); });
  add("scheduler", "CosineAnnealingLR with eta_min -0.01", THROWS(std::invalid_argument),
      {"CosineAnnealingLR", "eta_min -0.01", ">= 0"}, [](World& w) { CosineAnnealingLR<double>(*w.optimizer, 10, -0.01); });
  add("scheduler", "CosineAnnealingWarmRestarts with T_0 -1", THROWS(std::invalid_argument),
      {"CosineAnnealingWarmRestarts", "T_0 -1", "negative"},
      [](World& w) { CosineAnnealingWarmRestarts<double>(*w.optimizer, kMinusOne); });
  add("scheduler", "CosineAnnealingWarmRestarts with T_mult 0", THROWS(std::invalid_argument),
      {"CosineAnnealingWarmRestarts", "T_mult 0"}, [](World& w) { CosineAnnealingWarmRestarts<double>(*w.optimizer, 5, 0); });
  add("scheduler", "LinearLR with start_factor 0", THROWS(std::invalid_argument), {"LinearLR", "start_factor 0", "(0, 1]"},
      [](World& w) { LinearLR<double>(*w.optimizer, 0.0); });
  add("scheduler", "LinearLR with start_factor 1.5", THROWS(std::invalid_argument), {"LinearLR", "start_factor 1.5"},
      [](World& w) { LinearLR<double>(*w.optimizer, 1.5); });
  add("scheduler", "LinearLR with end_factor 2", THROWS(std::invalid_argument), {"LinearLR", "end_factor 2", "[0, 1]"},
      [](World& w) { LinearLR<double>(*w.optimizer, 0.5, 2.0); });
  add("scheduler", "LinearLR with total_iters 0", THROWS(std::invalid_argument), {"LinearLR", "total_iters 0"},
      [](World& w) { LinearLR<double>(*w.optimizer, 0.5, 1.0, 0); });
  add("scheduler", "OneCycleLR with pct_start 0", THROWS(std::invalid_argument), {"OneCycleLR", "pct_start 0", "(0, 1)"},
      [](World& w) { OneCycleLR<double>(*w.optimizer, 0.1, 100, 0.0); });
  add("scheduler", "OneCycleLR with pct_start 1", THROWS(std::invalid_argument), {"OneCycleLR", "pct_start 1", "(0, 1)"},
      [](World& w) { OneCycleLR<double>(*w.optimizer, 0.1, 100, 1.0); });
  add("scheduler", "OneCycleLR with total_steps 1", THROWS(std::invalid_argument), {"OneCycleLR", "total_steps 1", "at least 2"},
      [](World& w) { OneCycleLR<double>(*w.optimizer, 0.1, 1); });
  add("scheduler", "OneCycleLR whose rise is one step (PyTorch divides 0 by 0)", THROWS(std::invalid_argument),
      {"OneCycleLR", "pct_start 0.1", "total_steps 10", "more than 1"},
      [](World& w) { OneCycleLR<double>(*w.optimizer, 0.1, 10, 0.1); });
  add("scheduler", "OneCycleLR three_phase with pct_start 0.6", THROWS(std::invalid_argument),
      {"OneCycleLR", "three_phase", "pct_start 0.6", "last phase"},
      [](World& w) { OneCycleLR<double>(*w.optimizer, 0.1, 100, 0.6, Anneal::cos, 25, 1e4, true); });
  add("scheduler", "OneCycleLR with div_factor 0", THROWS(std::invalid_argument), {"OneCycleLR", "div_factor 0", "> 0"},
      [](World& w) { OneCycleLR<double>(*w.optimizer, 0.1, 100, 0.3, Anneal::cos, 0); });
  add("scheduler", "OneCycleLR with max_lr -1", THROWS(std::invalid_argument), {"OneCycleLR", "max_lr -1", ">= 0"},
      [](World& w) { OneCycleLR<double>(*w.optimizer, -1.0, 100); });
  add("scheduler", "OneCycleLR with two max_lrs for one group", THROWS(std::invalid_argument),
      {"OneCycleLR", "2 max_lr for 1 parameter group"},
      [](World& w) { OneCycleLR<double>(*w.optimizer, std::vector<double>{0.1, 0.2}, 100); });
  add("scheduler", "OneCycleLR stepped past total_steps", THROWS(std::out_of_range),
      {"OneCycleLR::step", "step 11", "total_steps is 10"}, [](World&) {
        SGD<double> sgd(leaves(1), 0.1);
        OneCycleLR<double> schedule(sgd, 1.0, 10);
        for (int i = 0; i < 10; ++i) schedule.step();
        const double rate = sgd.learning_rate();
        try {
          schedule.step();
        } catch (...) {
          CHECK(schedule.step_count() == 10);
          CHECK(sgd.learning_rate() == rate);
          throw;
        }
      });
  add("scheduler", "SequentialLR with as many milestones as schedulers", THROWS(std::invalid_argument),
      {"SequentialLR", "2 schedulers and 2 milestones", "one milestone fewer (1)"}, [](World&) {
        SGD<double> sgd(leaves(1), 0.1);
        Sched a = std::make_shared<LinearLR<double>>(sgd), b = std::make_shared<ExponentialLR<double>>(sgd, 0.9);
        SequentialLR<double>(sgd, {a, b}, {3, 5});
      });
  add("scheduler", "SequentialLR with milestone 0", THROWS(std::invalid_argument), {"SequentialLR", "milestone 0 = 0", "at least 1"},
      [](World&) {
        SGD<double> sgd(leaves(1), 0.1);
        Sched a = std::make_shared<LinearLR<double>>(sgd), b = std::make_shared<ExponentialLR<double>>(sgd, 0.9);
        SequentialLR<double>(sgd, {a, b}, {0});
      });
  add("scheduler", "SequentialLR with milestones out of order", THROWS(std::invalid_argument),
      {"SequentialLR", "milestone 1 is 2 after 4"}, [](World&) {
        SGD<double> sgd(leaves(1), 0.1);
        Sched a = std::make_shared<LinearLR<double>>(sgd), b = std::make_shared<ExponentialLR<double>>(sgd, 0.9);
        SequentialLR<double>(sgd, {a, b, a}, {4, 2});
      });
  add("scheduler", "SequentialLR over a scheduler of another optimizer", THROWS(std::invalid_argument),
      {"SequentialLR", "scheduler 1 (ExponentialLR)", "another optimizer"}, [](World&) {
        SGD<double> sgd(leaves(1), 0.1), other(leaves(1), 0.1);
        Sched a = std::make_shared<LinearLR<double>>(sgd), b = std::make_shared<ExponentialLR<double>>(other, 0.9);
        SequentialLR<double>(sgd, {a, b}, {3});
      });
  add("scheduler", "SequentialLR over a null scheduler", THROWS(std::invalid_argument),
      {"SequentialLR", "scheduler 1 is null"}, [](World&) {
        SGD<double> sgd(leaves(1), 0.1);
        Sched a = std::make_shared<LinearLR<double>>(sgd);
        SequentialLR<double>(sgd, {a, nullptr}, {3});
      });
  add("scheduler", "ReduceLROnPlateau with factor 1", THROWS(std::invalid_argument),
      {"ReduceLROnPlateau", "factor 1", "(0, 1)"}, [](World& w) { ReduceLROnPlateau<double>(*w.optimizer, PlateauMode::min, 1.0); });
  add("scheduler", "ReduceLROnPlateau with factor 0", THROWS(std::invalid_argument), {"ReduceLROnPlateau", "factor 0"},
      [](World& w) { ReduceLROnPlateau<double>(*w.optimizer, PlateauMode::min, 0.0); });
  add("scheduler", "ReduceLROnPlateau with patience -1", THROWS(std::invalid_argument), {"ReduceLROnPlateau", "patience -1", "negative"},
      [](World& w) { ReduceLROnPlateau<double>(*w.optimizer, PlateauMode::min, 0.1, kMinusOne); });
  add("scheduler", "ReduceLROnPlateau with threshold -0.1", THROWS(std::invalid_argument),
      {"ReduceLROnPlateau", "threshold -0.1", ">= 0"},
      [](World& w) { ReduceLROnPlateau<double>(*w.optimizer, PlateauMode::min, 0.1, 10, -0.1); });
  add("scheduler", "ReduceLROnPlateau with a NaN min_lr", THROWS(std::invalid_argument), {"ReduceLROnPlateau", "min_lr nan"},
      [](World& w) {
        ReduceLROnPlateau<double>(*w.optimizer, PlateauMode::min, 0.1, 10, 1e-4, ThresholdMode::rel, 0, kNaN);
      });
  add("scheduler", "ReduceLROnPlateau with eps -1", THROWS(std::invalid_argument), {"ReduceLROnPlateau", "eps -1"},
      [](World& w) {
        ReduceLROnPlateau<double>(*w.optimizer, PlateauMode::min, 0.1, 10, 1e-4, ThresholdMode::rel, 0, 0, -1);
      });
  add("scheduler", "load_state with two base rates for one group", THROWS(std::invalid_argument),
      {"StepLR::load_state", "2 base rates for 1 parameter group"}, [](World&) {
        SGD<double> sgd(leaves(1), 0.1);
        StepLR<double> schedule(sgd, 2, 0.5);
        schedule.step();
        SchedulerState state = schedule.state();
        state.base_rates = {0.1, 0.2};
        state.step_count = 5;
        try {
          schedule.load_state(state);
        } catch (...) {
          CHECK(schedule.step_count() == 1);
          CHECK(schedule.base_rates() == std::vector<double>{0.1});
          CHECK(sgd.learning_rate() == 0.1);
          throw;
        }
      });
  add("scheduler", "load_state past OneCycleLR's total_steps", THROWS(std::out_of_range),
      {"OneCycleLR", "step 50", "total_steps is 20"}, [](World&) {
        SGD<double> sgd(leaves(1), 0.1);
        OneCycleLR<double> schedule(sgd, 1.0, 20);
        SchedulerState state = schedule.state();
        state.step_count = 50;
        state.base_rates = {0.5};
        try {
          schedule.load_state(state);
        } catch (...) {
          CHECK(schedule.step_count() == 0);
          CHECK(schedule.base_rates() == std::vector<double>{0.04});
          throw;
        }
      });
  add("scheduler", "ReduceLROnPlateau::load_state with a NaN rate", THROWS(std::invalid_argument),
      {"ReduceLROnPlateau::load_state", "rates nan", "group 0"}, [](World& w) {
        ReduceLROnPlateau<double> schedule(*w.optimizer);
        SchedulerState state = schedule.state();
        state.rates = {kNaN};
        schedule.load_state(state);
      });

  // ---- data ----
  add("data", "a DataLoader over fewer labels than rows (was a heap overflow)", THROWS(std::invalid_argument),
      {"DataLoader", "2 labels for 12 input rows", "(12, 4)"}, [](World& w) {
        Dataset<double> d = w.data;
        d.labels.resize(2);
        DataLoader<double>(d, 4);
      });
  add("data", "a DataLoader over fewer target rows than input rows", THROWS(std::invalid_argument),
      {"DataLoader", "targets of shape (5, 1)", "12 input rows"}, [](World& w) {
        Dataset<double> d = w.data;
        d.targets = A::from_shape({5, 1});
        DataLoader<double>(d, 4);
      });
  add("data", "a data set with scalar targets", THROWS(std::invalid_argument), {"DataLoader", "targets of shape ()"},
      [](World& w) {
        Dataset<double> d = w.data;
        d.targets = A(3.0);
        DataLoader<double>(d, 4);
      });
  add("data", "Dataset::subset of a data set with more labels than rows", THROWS(std::invalid_argument),
      {"Dataset::subset", "13 labels for 12 input rows"}, [](World& w) {
        Dataset<double> d = w.data;
        d.labels.push_back(0);
        d.subset({0, 1});
      });
  add("data", "Dataset::subset at index 12 of 12", THROWS(std::out_of_range), {"Dataset::subset", "index 12", "12 samples"},
      [](World& w) { w.data.subset({0, 12}); });
  add("data", "Dataset::subset at index -1", THROWS(std::out_of_range), {"Dataset::subset", "index -1"},
      [](World& w) { w.data.subset({kMinusOne}); });
  add("data", "DataLoader with batch size 0", THROWS(std::invalid_argument), {"DataLoader", "batch size", "at least 1"},
      [](World& w) { DataLoader<double>(w.data, 0); });
  add("data", "DataLoader::shard as rank 2 of 2", THROWS(std::invalid_argument),
      {"DataLoader::shard", "rank 2 of 2", "0..1"}, [](World& w) { DataLoader<double>(w.data, 4).shard(2, 2); });
  add("data", "DataLoader::shard over 0 ranks", THROWS(std::invalid_argument), {"DataLoader::shard", "of 0 ranks"},
      [](World& w) { DataLoader<double>(w.data, 4).shard(0, 0); });
  add("data", "train_test_split with fraction 0", THROWS(std::invalid_argument), {"train_test_split", "(0, 1)", "got 0"},
      [](World& w) { train_test_split(w.data, 0.0); });
  add("data", "train_test_split with fraction 1.5", THROWS(std::invalid_argument), {"train_test_split", "got 1.5"},
      [](World& w) { train_test_split(w.data, 1.5); });
  add("data", "train_test_split with a NaN fraction", THROWS(std::invalid_argument), {"train_test_split", "got nan"},
      [](World& w) { train_test_split(w.data, kNaN); });
  add("data", "train_test_split leaving the test part empty", THROWS(std::invalid_argument),
      {"train_test_split", "0.1 of 2 samples", "test part empty"}, [](World&) { train_test_split(tiny(2), 0.1); });
  add("data", "train_test_split leaving the train part empty", THROWS(std::invalid_argument),
      {"train_test_split", "0.9 of 2 samples", "train part empty"}, [](World&) { train_test_split(tiny(2), 0.9); });
  add("data", "a stratified train_test_split leaving the test part empty", THROWS(std::invalid_argument),
      {"train_test_split", "(stratified)", "test part empty"}, [](World&) { train_test_split(tiny(4), 0.1, 0, true); });
  add("data", "train_test_split of an empty data set", THROWS(std::invalid_argument),
      {"train_test_split", "of 0 samples", "empty"}, [](World&) { train_test_split(Dataset<double>{}, 0.2); });
  add("data", "train_test_split of a data set with too few labels", THROWS(std::invalid_argument),
      {"train_test_split", "3 labels for 12 input rows"}, [](World& w) {
        Dataset<double> d = w.data;
        d.labels.resize(3);
        train_test_split(d, 0.2);
      });
  add("data", "a stratified split without labels", THROWS(std::invalid_argument),
      {"train_test_split", "stratify", "0 labels for 12 samples"}, [](World& w) {
        Dataset<double> d = w.data;
        d.labels.clear();
        train_test_split(d, 0.2, 0, true);
      });
  add("data", "one_hot of label 5 with 3 classes", THROWS(std::out_of_range), {"one_hot: label 5 (row 1) out of range for 3 classes"},
      [](World&) { one_hot<double>({1, 5, 0}, 3); });
  add("data", "one_hot of label -1", THROWS(std::out_of_range), {"one_hot: label -1 (row 0)"},
      [](World&) { one_hot<double>({kMinusOne}, 3); });
  add("data", "one_hot into more than 2^64 entries (was a heap overflow)", THROWS(std::invalid_argument),
      {"one_hot", "2 labels", "2^64"}, [](World&) { one_hot<double>({0, 1}, std::size_t(1) << 63); });
  add("data", "StandardScaler::fit on data with a NaN", THROWS(std::invalid_argument),
      {"StandardScaler::fit", "value nan at [1, 2]", "finite"}, [](World&) {
        A x = test::random_array({3, 4}, 1);
        x(1, 2) = kNaN;
        StandardScaler<double>().fit(x);
      });
  add("data", "StandardScaler::fit on data with an inf", THROWS(std::invalid_argument),
      {"StandardScaler::fit", "value -inf at [0, 0]"}, [](World&) {
        A x = test::random_array({3, 4}, 1);
        x(0, 0) = -kInf;
        StandardScaler<double>().fit(x);
      });
  add("data", "StandardScaler::fit on no samples", THROWS(ShapeError), {"StandardScaler::fit", "non-empty", "(0, 2)"},
      [](World&) { StandardScaler<double>().fit(A::from_shape({0, 2})); });
  add("data", "StandardScaler::fit on a 1-D array", THROWS(ShapeError), {"StandardScaler::fit", "(3,)"},
      [](World&) { StandardScaler<double>().fit(A{1.0, 2.0, 3.0}); });
  add("data", "StandardScaler::transform before fit", THROWS(std::logic_error), {"StandardScaler::transform", "fit() first"},
      [](World&) { StandardScaler<double>().transform(A{{1.0, 2.0}}); });
  add("data", "StandardScaler::transform of another width", THROWS(ShapeError),
      {"StandardScaler::transform", "fitted on 4 features", "(2, 3)"}, [](World& w) {
        StandardScaler<double> scaler;
        scaler.fit(w.data.inputs);
        scaler.transform(A::from_shape({2, 3}));
      });
  add("data", "load_digits of a missing file", THROWS(FileError), {"no-such-digits.csv", "no such file"},
      [](World&) { load_digits<double>((directory() / "no-such-digits.csv").string()); });
  add("data", "load_digits of a file with 10 columns", THROWS(FileError), {"ten.csv", "65 columns", "(1, 10)"},
      [](World&) { load_digits<double>(digits_csv("ten.csv", 0, 1, 10)); });
  add("data", "load_digits of a label 10", THROWS(FileError), {"label10.csv", "row 1", "label 10", "0..9"},
      [](World&) { load_digits<double>(digits_csv("label10.csv", 0, 10)); });
  add("data", "load_digits of a pixel 17", THROWS(FileError), {"pixel17.csv", "column 4", "pixel 17", "0..16"},
      [](World&) { load_digits<double>(digits_csv("pixel17.csv", 17, 3)); });

  // ---- files ----
  add("io", "read_csv of a missing file", THROWS(FileError), {"missing.csv", "no such file"},
      [](World&) { read_csv((directory() / "missing.csv").string()); });
  add("io", "read_csv of a field that is not a number", THROWS(FileError), {"word.csv", "line 2, column 2", "'x'", "not a number"},
      [](World&) { read_csv(write("word.csv", "1,2\n3,x\n")); });
  add("io", "read_csv of a ragged table", THROWS(FileError), {"ragged.csv", "line 2 has 3 columns", "first row has 2"},
      [](World&) { read_csv(write("ragged.csv", "1,2\n3,4,5\n")); });
  add("io", "read_csv of an empty file", THROWS(FileError), {"empty.csv", "no data rows"},
      [](World&) { read_csv(write("empty.csv", "")); });
  add("io", "read_idx of a missing file", THROWS(FileError), {"missing.idx", "no such file"},
      [](World&) { read_idx((directory() / "missing.idx").string()); });
  add("io", "read_idx of a file with a bad magic number", THROWS(FileError), {"magic.idx", "not an IDX file"},
      [](World&) { read_idx(write("magic.idx", "\x01\x02\x08\x01\0\0\0\0")); });
  add("io", "read_idx of floats", THROWS(FileError), {"floats.idx", "element type 13", "not supported"},
      [](World&) { read_idx(write("floats.idx", idx(0x0d, {2}, 8))); });
  add("io", "read_idx whose dimensions multiply past 2^64", THROWS(FileError),
      {"huge.idx", "(4294967295, 4294967295, 4294967295)", "2^64"},
      [](World&) { read_idx(write("huge.idx", idx(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}, 0))); });
  add("io", "read_idx of a truncated file", THROWS(FileError), {"short.idx", "truncated"},
      [](World&) { read_idx(write("short.idx", idx(0x08, {3, 4}, 5))); });
  add("io", "read_idx without dimensions", THROWS(FileError), {"rank0.idx", "without dimensions"},
      [](World&) { read_idx(write("rank0.idx", idx(0x08, {}, 0))); });
  add("io", "load_idx_images with fewer labels than images", THROWS(FileError),
      {"labels2.idx", "expected 3 labels", "images3.idx", "(2,)"}, [](World&) {
        load_idx_images<float>(write("images3.idx", idx(0x08, {3, 2, 2}, 12)), write("labels2.idx", idx(0x08, {2}, 2)));
      });
  add("io", "load_idx_images of a 1-D images file", THROWS(FileError),
      {"flat.idx", "expected images (N, rows, columns)", "(4,)"}, [](World&) {
        load_idx_images<double>(write("flat.idx", idx(0x08, {4}, 4)), write("labels4.idx", idx(0x08, {4}, 4)));
      });
  add("io", "load_npy of a missing file", THROWS(FileError), {"missing.npy", "no such file"},
      [](World&) { load_npy<double>((directory() / "missing.npy").string()); });
  add("io", "load_npy of a file that is not .npy", THROWS(FileError), {"text.npy", "bad magic"},
      [](World&) { load_npy<double>(write("text.npy", "hello, not numpy")); });
  add("io", "load_npy<double> of float32 data", THROWS(FileError), {"f4.npy", "dtype '<f4'", "'<f8' is expected"},
      [](World&) { load_npy<double>(write("f4.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8))); });
  add("io", "load_npy of a malformed shape (was a bare stoul)", THROWS(FileError),
      {"word_shape.npy", "malformed shape", "'x'"}, [](World&) { load_npy<double>(write("word_shape.npy", npy_f8("(3, x)", 0))); });
  add("io", "load_npy of a negative dimension", THROWS(FileError), {"negative.npy", "malformed shape", "'-1'"},
      [](World&) { load_npy<double>(write("negative.npy", npy_f8("(-1,)", 0))); });
  add("io", "load_npy of a dimension past 2^64", THROWS(FileError), {"big_dim.npy", "malformed shape", "99999999999999999999999"},
      [](World&) { load_npy<double>(write("big_dim.npy", npy_f8("(99999999999999999999999,)", 0))); });
  add("io", "load_npy whose shape multiplies past 2^64", THROWS(FileError),
      {"huge.npy", "(4294967296, 4294967296)", "2^64"},
      [](World&) { load_npy<double>(write("huge.npy", npy_f8("(4294967296, 4294967296)", 0))); });
  add("io", "load_npy whose bytes pass 2^64 only with the element size", THROWS(FileError), {"huge_bytes.npy", "2^64"},
      [](World&) { load_npy<double>(write("huge_bytes.npy", npy_f8("(2305843009213693952,)", 0))); });
  add("io", "load_npy of a shape without parentheses", THROWS(FileError), {"noparen.npy", "malformed shape"},
      [](World&) { load_npy<double>(write("noparen.npy", npy_f8("3", 0))); });
  add("io", "load_npy of truncated data", THROWS(FileError), {"cut.npy", "truncated"},
      [](World&) { load_npy<double>(write("cut.npy", npy_f8("(2, 3)", 40))); });
  add("io", "load_npy of Fortran-ordered data", THROWS(FileError), {"fortran.npy", "Fortran"},
      [](World&) { load_npy<double>(write("fortran.npy", npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2,), }", 16))); });
  add("io", "load_npy of version 9", THROWS(FileError), {"v9.npy", "unsupported .npy version 9"},
      [](World&) { load_npy<double>(write("v9.npy", npy("{}", 0, 9))); });
  add("io", "load_npy of a header without a shape", THROWS(FileError), {"noshape.npy", "lacks 'shape'"},
      [](World&) { load_npy<double>(write("noshape.npy", npy("{'descr': '<f8', 'fortran_order': False, }", 0))); });
  add("io", "save_npy into a missing directory", THROWS(FileError), {"no/such/dir/a.npy", "cannot write"},
      [](World&) { save_npy<double>((directory() / "no/such/dir/a.npy").string(), A{1.0}); });
  add("io", "save_parameters onto a file", THROWS(FileError), {"a_file", "cannot create the directory"},
      [](World& w) { save_parameters(w.model, write("a_file", "x")); });
  add("io", "load_parameters with a file the model has no parameter for (strict)", THROWS(FileError),
      {"load_parameters", "extra.npy", "no parameter", "strict = false"}, [](World& w) {
        World other;  // other values, the same shapes: a load that went through would change w.model
        const std::string dir = saved_model("with_extra", other);
        save_npy<double>(dir + "/extra.npy", A{1.0});
        load_parameters(w.model, dir);
      },
      kTrains);
  add("io", "load_parameters with a missing file", THROWS(FileError), {"2.bias.npy", "no such file"}, [](World& w) {
    World other;
    const std::string dir = saved_model("missing_one", other);
    fs::remove(dir + "/2.bias.npy");
    load_parameters(w.model, dir);
  },
      kTrains);
  add("io", "load_parameters with a misshapen file", THROWS(FileError),
      {"0.weight.npy", "shape (2, 2)", "parameter '0.weight'", "(4, 5)"}, [](World& w) {
        World other;
        const std::string dir = saved_model("misshapen", other);
        save_npy<double>(dir + "/0.weight.npy", A::from_shape({2, 2}));
        load_parameters(w.model, dir);
      },
      kTrains);
  add("io", "load_parameters of float32 files into a double model", THROWS(FileError), {"0.weight.npy", "dtype '<f4'"},
      [](World& w) {
        Sequential<float> model = mlp<float>({4, 5, 3}, Tanh<float>());
        const std::string dir = (directory() / "floats_model").string();
        save_parameters(model, dir);
        load_parameters(w.model, dir);
      });
  add("io", "load_parameters from a missing directory", THROWS(FileError), {"no_such_model", "no such directory"},
      [](World& w) { load_parameters(w.model, (directory() / "no_such_model").string()); });

  // ---- state and checkpoints ----
  add("state", "Module::load_state_dict with a missing and an unexpected key (strict)", THROWS(StateError),
      {"load_state_dict", "missing key '2.bias'", "unexpected key '2.offset'", "strict = false"}, [](World& w) {
        World other;  // other values, the same shapes: a load that went through would change w.model
        StateDict renamed;
        for (const auto& [key, value] : other.model.state_dict()) renamed.set(key == "2.bias" ? "2.offset" : key, value);
        w.model.load_state_dict(renamed);
      },
      kTrains);
  add("state", "Module::load_state_dict with a misshapen array (not strict)", THROWS(StateError),
      {"load_state_dict", "'0.weight'", "shape (2, 2)", "(4, 5)"}, [](World& w) {
        World other;
        StateDict state = other.model.state_dict();
        state.set("0.weight", A::from_shape({2, 2}));
        w.model.load_state_dict(state, false);
      },
      kTrains);
  add("state", "Adam::load_state_dict of an SGD state", THROWS(StateError), {"Adam::load_state_dict", "SGD", "'kind'"},
      [](World& w) {
        SGD<double> sgd(w.model.parameters(), {.lr = 0.1, .momentum = 0.9});
        w.optimizer->load_state_dict(sgd.state_dict());
      });
  add("state", "Adam::load_state_dict of another model's Adam state", THROWS(StateError),
      {"Adam::load_state_dict", "'state.0.exp_avg'", "(4, 6)", "(4, 5)"}, [](World& w) {
        Sequential<double> wider = mlp<double>({4, 6, 3}, Tanh<double>());
        Adam<double> adam(wider.parameters());
        w.optimizer->load_state_dict(adam.state_dict());
      });
  add("state", "set_rng_state with a generator state of the wrong length", THROWS(StateError),
      {"set_rng_state", "words"}, [](World&) {
        RngState state = get_rng_state();
        state.engine.resize(3);
        set_rng_state(state);
      });
  add("checkpoint", "load_checkpoint of a missing file", THROWS(FileError), {"no_such.npz", "no such file"},
      [](World& w) { load_checkpoint((directory() / "no_such.npz").string(), w.model, *w.optimizer); });
  add("checkpoint", "load_checkpoint of a truncated file", THROWS(FileError), {"cut.npz", "not a readable .npz"},
      [](World& w) {
        World other;
        const std::string path = (directory() / "whole.npz").string();
        save_checkpoint(path, other.model, *other.optimizer);
        std::ifstream in(path, std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        load_checkpoint(write("cut.npz", bytes.substr(0, bytes.size() - 30)), w.model, *w.optimizer);
      },
      kTrains);
  add("checkpoint", "load_checkpoint of another model's checkpoint", THROWS(FileError),
      {"wider.npz", "members 'model/'", "'0.weight'", "(4, 6)"}, [](World& w) {
        Sequential<double> wider = mlp<double>({4, 6, 3}, Tanh<double>());
        Adam<double> adam(wider.parameters());
        const std::string path = (directory() / "wider.npz").string();
        save_checkpoint(path, wider, adam);
        load_checkpoint(path, w.model, *w.optimizer);
      });
  add("checkpoint", "load_checkpoint of a CSV file", THROWS(FileError), {"table.npz", "not a readable .npz"},
      [](World& w) { load_checkpoint(write("table.npz", "1,2\n3,4\n"), w.model, *w.optimizer); });
  add("checkpoint", "save_checkpoint into a missing directory", THROWS(FileError), {"no/such/dir/run.npz", "cannot write"},
      [](World& w) { save_checkpoint((directory() / "no/such/dir/run.npz").string(), w.model, *w.optimizer); });

  // ---- metrics ----
  add("metrics", "print_confusion_matrix with 2 names for 3 classes", THROWS(std::invalid_argument),
      {"print_confusion_matrix", "2 class names for 3 classes"}, [](World&) {
        std::ostringstream out;
        print_confusion_matrix(out, xt::xarray<std::size_t>::from_shape({3, 3}), {"a", "b"});
      });
  add("metrics", "print_confusion_matrix of a non-square matrix", THROWS(ShapeError),
      {"print_confusion_matrix", "(2, 3)", "square"}, [](World&) {
        std::ostringstream out;
        print_confusion_matrix(out, xt::xarray<std::size_t>::from_shape({2, 3}));
      });
  add("metrics", "argmax_rows of a 1-D array", THROWS(ShapeError), {"argmax_rows", "(samples, classes)", "(2,)"},
      [](World&) { argmax_rows(A{1.0, 2.0}); });
  add("metrics", "argmax_rows over 0 classes", THROWS(ShapeError), {"argmax_rows", "(3, 0)", "no classes"},
      [](World&) { argmax_rows(A::from_shape({3, 0})); });
  add("metrics", "accuracy of 3 predictions for 2 labels", THROWS(std::invalid_argument),
      {"accuracy", "3 predictions for 2 labels"}, [](World&) { accuracy(Labels{1, 2, 3}, Labels{1, 2}); });
  add("metrics", "accuracy of nothing", THROWS(std::invalid_argument), {"accuracy", "0 predictions", "undefined"},
      [](World&) { accuracy(Labels{}, Labels{}); });
  add("metrics", "accuracy of scores for another number of labels", THROWS(std::invalid_argument),
      {"accuracy", "2 predictions for 3 labels"}, [](World&) { accuracy(A{{1.0, 0.0}, {0.0, 1.0}}, Labels{0, 1, 1}); });
  add("metrics", "confusion_matrix of 2 predictions for 1 label", THROWS(std::invalid_argument),
      {"confusion_matrix", "2 predictions for 1 labels"}, [](World&) { confusion_matrix(Labels{0, 1}, Labels{0}, 2); });
  add("metrics", "confusion_matrix with a true label out of range", THROWS(std::out_of_range),
      {"confusion_matrix", "true label 2 (sample 0) out of range for 2 classes"},
      [](World&) { confusion_matrix(Labels{0}, Labels{2}, 2); });
  add("metrics", "confusion_matrix with a predicted label -1", THROWS(std::out_of_range),
      {"confusion_matrix", "predicted label -1 (sample 1)"},
      [](World&) { confusion_matrix(Labels{0, kMinusOne}, Labels{0, 1}, 3); });
  add("metrics", "confusion_matrix of 2^32 classes (was a heap overflow)", THROWS(std::invalid_argument),
      {"confusion_matrix", "4294967296 classes", "2^64"},
      [](World&) { confusion_matrix(Labels{0}, Labels{1}, std::size_t(1) << 32); });
  add("metrics", "mean_squared_error of shapes that differ", THROWS(ShapeError),
      {"mean_squared_error", "(2,)", "(1, 2)", "differ"}, [](World&) { mean_squared_error(A{1.0, 2.0}, A{{1.0, 2.0}}); });
  add("metrics", "mean_squared_error of nothing", THROWS(ShapeError), {"mean_squared_error", "empty"},
      [](World&) { mean_squared_error(A::from_shape({0}), A::from_shape({0})); });
  add("metrics", "r2_score of one sample", THROWS(std::invalid_argument), {"r2_score", "at least 2 samples", "got 1"},
      [](World&) { r2_score(A{1.0}, A{2.0}); });
  add("metrics", "r2_score of shapes that differ", THROWS(ShapeError), {"r2_score", "(1,)", "(2,)"},
      [](World&) { r2_score(A{1.0}, A{1.0, 2.0}); });

  // ---- fit and predict ----
  add("train", "fit on an empty data set (was NaN losses)", THROWS(std::invalid_argument), {"fit", "empty", "(0, 4)"},
      [](World& w) {
        Dataset<double> empty;
        empty.inputs = A::from_shape({0, 4});
        fit(w.model, *w.optimizer, ce(), empty, quiet());
      });
  add("train", "fit on a data set with fewer labels than rows", THROWS(std::invalid_argument),
      {"fit", "11 labels for 12 input rows"}, [](World& w) {
        Dataset<double> d = w.data;
        d.labels.pop_back();
        fit(w.model, *w.optimizer, ce(), d, quiet());
      });
  add("train", "fit with FitOptions::distributed as rank 3 of 2", THROWS(std::invalid_argument),
      {"fit", "FitOptions::distributed", "rank 3 of 2"}, [](World& w) {
        struct BadRank : GradientSync {
          std::size_t rank() const override { return 3; }
          std::size_t size() const override { return 2; }
          void synchronize() override {}
          double mean(double x) override { return x; }
          bool any(bool x) override { return x; }
        } sync;
        FitOptions options = quiet();
        options.distributed = &sync;
        fit(w.model, *w.optimizer, ce(), w.data, options);
      });
  add("train", "fit with batch_size 0", THROWS(std::invalid_argument), {"fit", "batch_size 0"}, [](World& w) {
    FitOptions options = quiet();
    options.batch_size = 0;
    fit(w.model, *w.optimizer, ce(), w.data, options);
  });
  add("train", "fit with l2 = -0.1", THROWS(std::invalid_argument), {"fit", "l2 -0.1", ">= 0"}, [](World& w) {
    FitOptions options = quiet();
    options.l2 = -0.1;
    fit(w.model, *w.optimizer, ce(), w.data, options);
  });
  add("train", "fit with l2 = NaN (was silently no penalty)", THROWS(std::invalid_argument), {"fit", "l2 nan"}, [](World& w) {
    FitOptions options = quiet();
    options.l2 = kNaN;
    fit(w.model, *w.optimizer, ce(), w.data, options);
  });
  add("train", "fit with validation_fraction 1", THROWS(std::invalid_argument), {"fit", "validation_fraction 1", "[0, 1)"},
      [](World& w) {
        FitOptions options = quiet();
        options.validation_fraction = 1;
        fit(w.model, *w.optimizer, ce(), w.data, options);
      });
  add("train", "fit with validation_fraction NaN (was silently none)", THROWS(std::invalid_argument),
      {"fit", "validation_fraction nan"}, [](World& w) {
        FitOptions options = quiet();
        options.validation_fraction = kNaN;
        fit(w.model, *w.optimizer, ce(), w.data, options);
      });
  add("train", "fit whose validation split would be empty", THROWS(std::invalid_argument),
      {"fit", "validation_fraction 0.01", "test part empty"}, [](World& w) {
        FitOptions options = quiet();
        options.validation_fraction = 0.01;
        fit(w.model, *w.optimizer, ce(), w.data, options);
      });
  add("train", "fit with tol -1", THROWS(std::invalid_argument), {"fit", "tol -1"}, [](World& w) {
    FitOptions options = quiet();
    options.tol = -1;
    fit(w.model, *w.optimizer, ce(), w.data, options);
  });
  add("train", "fit with early stopping after 0 epochs", THROWS(std::invalid_argument), {"fit", "n_iter_no_change 0"},
      [](World& w) {
        FitOptions options = quiet();
        options.early_stopping = true;
        options.n_iter_no_change = 0;
        fit(w.model, *w.optimizer, ce(), w.data, options);
      });
  add("train", "fit without a loss function", THROWS(std::invalid_argument), {"fit", "no loss function"},
      [](World& w) { fit(w.model, *w.optimizer, LossFunction<double>{}, w.data, quiet()); });
  add("train", "fit with a loss that is not one number", THROWS(ShapeError),
      {"fit", "shape (4, 3)", "not one number", "Reduction::mean"}, [](World& w) {
        fit(w.model, *w.optimizer, [](const V& out, const Batch<double>&) { return out * 2.0; }, w.data, quiet());
      },
      kRecords);
  add("train", "fit with a loss that depends on no parameter", THROWS(GraphError), {"fit", "does not depend on any parameter"},
      [](World& w) {
        fit(w.model, *w.optimizer, [](const V& out, const Batch<double>&) { return autodiff::sum(out.detach()); }, w.data,
            quiet());
      },
      kRecords);
  add("train", "fit with a loss that returns an empty Variable", THROWS(std::invalid_argument), {"fit", "empty Variable"},
      [](World& w) { fit(w.model, *w.optimizer, [](const V&, const Batch<double>&) { return V(); }, w.data, quiet()); },
      kRecords);
  add("train", "fit with another model's optimizer", THROWS(std::invalid_argument),
      {"fit", "optimizer (SGD, 4 parameters)", "none of the model's 4 parameters"}, [](World& w) {
        Sequential<double> other = mlp<double>({4, 5, 3});
        SGD<double> sgd(other.parameters(), 0.1);
        fit(w.model, sgd, ce(), w.data, quiet());
      });
  add("train", "fit on inputs of the wrong width", THROWS(ShapeError), {"Sequential layer 0", "Linear(4 -> 5)", "(4, 6)"},
      [](World& w) {
        Dataset<double> d = w.data;
        d.inputs = test::random_array({12, 6}, 2);
        fit(w.model, *w.optimizer, ce(), d, quiet());
      });
  add("train", "fit with a label out of range", THROWS(ShapeError), {"cross_entropy: label 7", "out of range for 3 classes"},
      [](World& w) {
        Dataset<double> d = w.data;
        for (auto& label : d.labels) label = 7;
        fit(w.model, *w.optimizer, ce(), d, quiet());
      },
      kRecords);
  add("train", "predict on inputs of the wrong width", THROWS(ShapeError), {"Sequential layer 0", "Linear(4 -> 5)", "(3, 2)"},
      [](World& w) { predict(w.model, A::from_shape({3, 2})); });
  add("train", "predict on a 1-D array", THROWS(ShapeError), {"Linear(4 -> 5)", "(4,)"},
      [](World& w) { predict(w.model, A{1.0, 2.0, 3.0, 4.0}); });
  // ---- check_backprop ----
  add("gradcheck", "check_backprop with 1 LayerBackprop for 2 Linear layers", THROWS(std::invalid_argument),
      {"nn::check_backprop", "1 LayerBackprop given", "2 Linear layers of Sequential(3 layers)"}, [](World& w) {
        std::vector<LayerBackprop> yours = zero_backprop();
        yours.pop_back();
        check_backprop(w.model, ce(), batch_of(w), yours);
      });
  add("gradcheck", "check_backprop with a delta of the wrong shape", THROWS(std::invalid_argument),
      {"nn::check_backprop", "layer 2's delta has shape (12, 4)", "(12, 3)"}, [](World& w) {
        std::vector<LayerBackprop> yours = zero_backprop();
        yours[1].delta = xt::zeros<double>({12, 4});
        check_backprop(w.model, ce(), batch_of(w), yours);
      });
  add("gradcheck", "check_backprop with a dW of the wrong shape", THROWS(std::invalid_argument),
      {"nn::check_backprop", "layer 1's dW has shape (4, 4)", "(4, 5) (in, out", "(5, 4)"}, [](World& w) {
        std::vector<LayerBackprop> yours = zero_backprop();
        yours[0].dW = xt::zeros<double>({4, 4});
        check_backprop(w.model, ce(), batch_of(w), yours);
      });
  add("gradcheck", "check_backprop with a db of the wrong shape", THROWS(std::invalid_argument),
      {"nn::check_backprop", "layer 1's db has shape (4,)", "(5,) or (1, 5)"}, [](World& w) {
        std::vector<LayerBackprop> yours = zero_backprop();
        yours[0].db = xt::zeros<double>({4});
        check_backprop(w.model, ce(), batch_of(w), yours);
      });
  add("gradcheck", "check_backprop of a model with a BatchNorm1d", THROWS(std::invalid_argument),
      {"nn::check_backprop", "layer 1 of Sequential(3 layers), BatchNorm1d", "not a Linear"}, [](World& w) {
        Sequential<double> model;
        model.add(Linear<double>(4, 5)).add(BatchNorm1d<double>(5)).add(Linear<double>(5, 3));
        check_backprop(model, ce(), batch_of(w), zero_backprop());
      });
  add("gradcheck", "check_backprop of a model without a Linear", THROWS(std::invalid_argument),
      {"nn::check_backprop", "Sequential(1 layers) has no Linear layer"}, [](World& w) {
        Sequential<double> model;
        model.add(Tanh<double>());
        check_backprop(model, ce(), batch_of(w), {});
      });
  add("gradcheck", "check_backprop without a loss", THROWS(std::invalid_argument),
      {"nn::check_backprop", "no loss function"},
      [](World& w) { check_backprop(w.model, LossFunction<double>(), batch_of(w), zero_backprop()); });
  add("gradcheck", "check_backprop of a 1-D batch", THROWS(std::invalid_argument),
      {"nn::check_backprop", "inputs have shape (4,)", "one sample per row"}, [](World& w) {
        check_backprop(w.model, ce(), {V(A{1.0, 2.0, 3.0, 4.0}), {0}, V()}, zero_backprop());
      });
  add("gradcheck", "check_backprop with a loss that is not one number", THROWS(std::invalid_argument),
      {"nn::check_backprop", "the loss has shape (12, 3)", "one number"}, [](World& w) {
        const LossFunction<double> logits = [](const V& out, const Batch<double>&) { return out; };
        check_backprop(w.model, logits, batch_of(w), zero_backprop());
      },
      kRecords);
  return rows;
}

enum class Mode { plain, no_grad, anomaly };
const char* mode_name(Mode mode) {
  return mode == Mode::plain ? "plain" : mode == Mode::no_grad ? "inside no_grad" : "inside detect_anomaly";
}

// Runs one row; returns the message (or why the row failed).
void run_row(const Row& row, Mode mode) {
  World world;
  autodiff::Tape<double>::current().trim();
  const Snapshot before(world);
  std::string message = "(no exception)";
  bool right_type = false;
  {
    std::unique_ptr<autodiff::no_grad> no_grad_scope;
    std::unique_ptr<autodiff::detect_anomaly> anomaly_scope;
    if (mode == Mode::no_grad) no_grad_scope = std::make_unique<autodiff::no_grad>();
    if (mode == Mode::anomaly) anomaly_scope = std::make_unique<autodiff::detect_anomaly>();
    try {
      row.run(world);
    } catch (const std::exception& e) {
      message = e.what();
      right_type = row.expect.matches(e);
    } catch (...) {
      message = "(an exception not derived from std::exception)";
    }
    // The modes inside the scope are the scope's.
    CHECK(autodiff::grad_enabled() == (mode != Mode::no_grad));
    CHECK(autodiff::anomaly_detection_enabled() == (mode == Mode::anomaly));
  }
  const std::string what = std::string(row.family) + ": " + row.misuse + " (" + mode_name(mode) + ")";
  if (mode == Mode::plain && std::getenv("WENGERT_PRINT_CATALOGUE"))  // the table with its messages, for reading
    std::cout << what << "\n    -> " << row.expect.name << ": " << message << "\n";
  INFO(what);
  INFO(message);
  CHECK_MESSAGE(right_type, "expected ", row.expect.name);
  for (const auto& word : row.words) {
    const std::string missing = "missing: '" + word + "'";
    INFO(missing);
    CHECK(message.find(word) != std::string::npos);
  }
  // Nothing changed: the model, its gradients, the optimizer, the tape, the modes.
  CHECK(autodiff::grad_enabled());
  CHECK_FALSE(autodiff::anomaly_detection_enabled());
  const std::size_t tape_now = autodiff::Tape<double>::current().size();
  if (row.options.tape == Tape::unchanged) CHECK(tape_now == before.tape);
  autodiff::Tape<double>::current().trim();
  CHECK(autodiff::Tape<double>::current().size() == before.tape);
  const Snapshot after(world);
  CHECK(same(after.parameters, before.parameters));
  CHECK(after.has_grad == before.has_grad);
  CHECK(same(after.state, before.state));
  CHECK(after.updates == before.updates);
  CHECK(after.steps == before.steps);
  CHECK(after.learning_rate == before.learning_rate);
  // ... and still usable: a training step runs, lowers nothing to NaN, and counts.
  const double loss = world.train_step();
  CHECK(std::isfinite(loss));
  CHECK(world.optimizer->steps() == before.steps + 1);
  CHECK_FALSE(same(Snapshot(world).parameters, before.parameters));
  autodiff::Tape<double>::current().trim();
  CHECK(autodiff::Tape<double>::current().size() == before.tape);
}

}  // namespace

TEST_CASE("the nn bad-input catalogue: every misuse throws the right error, names it, and changes nothing") {
  const std::vector<Row> rows = catalogue();
  CHECK(rows.size() >= 90);
  MESSAGE("nn bad-input catalogue: ", rows.size(), " rows");
  for (const Row& row : rows)
    for (Mode mode : {Mode::plain, Mode::no_grad, Mode::anomaly})
      if (mode != Mode::no_grad || row.options.under_no_grad) run_row(row, mode);
  // every public nn family has rows
  for (const char* family : {"module", "init", "loss", "optim", "schedule", "scheduler", "data", "io", "metrics", "train", "gradcheck"}) {
    CAPTURE(family);
    CHECK(std::count_if(rows.begin(), rows.end(), [&](const Row& r) { return std::string(r.family) == family; }) >= 5);
  }
  fs::remove_all(directory());
}

// ---- silent wrong results that are now right ----------------------------------------------------

TEST_CASE("binary_cross_entropy_with_logits' gradient is sigmoid(z) - t to full precision, at any z") {
  auto gradient = [](double z, double t) {
    V logits(A{z}, true);
    binary_cross_entropy_with_logits(logits, V(A{t}), Reduction::sum).backward();
    return logits.grad()(0);
  };
  auto sigmoid = [](double z) { return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z)); };
  // the case of the issue: 0 before (1 - 1/(1 + e^z) cancelled), 6.3e-16 now
  CHECK(gradient(-35, 0) == doctest::Approx(6.305116760146989e-16).epsilon(1e-13));
  CHECK(gradient(35, 1) == doctest::Approx(-6.305116760146989e-16).epsilon(1e-13));
  CHECK(gradient(0, 0) == doctest::Approx(0.5).epsilon(1e-15));  // at the kink of max(z, 0) too
  CHECK(gradient(0, 1) == doctest::Approx(-0.5).epsilon(1e-15));
  for (double z : {-700.0, -100.0, -35.0, -20.0, -3.0, -1e-8, 1e-8, 0.5, 3.0, 20.0, 35.0, 100.0, 700.0})
    for (double t : {0.0, 0.25, 1.0}) {
      CAPTURE(z);
      CAPTURE(t);
      const double expected = sigmoid(z) - t;  // t = 0 and t = 1: no cancellation in the reference either
      if (t == 0.0 || t == 1.0) CHECK(gradient(z, t) == doctest::Approx(expected).epsilon(1e-13));
      else CHECK(gradient(z, t) == doctest::Approx(expected).epsilon(1e-12).scale(1e-16));
    }
  // float32 too
  Variable<float> z(Array<float>{-35.f, 35.f}, true);
  binary_cross_entropy_with_logits(z, Variable<float>(Array<float>{0.f, 1.f}), Reduction::sum).backward();
  CHECK(z.grad()(0) == doctest::Approx(6.3051168e-16).epsilon(1e-5));
  CHECK(z.grad()(1) == doctest::Approx(-6.3051168e-16).epsilon(1e-5));
  // the values: log(1 + e^-z) for t = 1 and log(1 + e^z) for t = 0, stable at any z
  CHECK(binary_cross_entropy_with_logits(V(A{-1000.0, 1000.0, 2.0}), V(A{1.0, 0.0, 1.0}), Reduction::sum).item() ==
        doctest::Approx(2000 + std::log1p(std::exp(-2.0))));
  CHECK(std::abs(binary_cross_entropy_with_logits(V(A{-35.0}), V(A{0.0})).item() - 6.3e-16) < 2e-16);
  // and gradients through the targets (soft labels that are themselves learned): dL/dt = -z
  V logits(A{1.5, -0.5}), target(A{0.3, 0.9}, true);
  binary_cross_entropy_with_logits(logits, target, Reduction::sum).backward();
  CHECK(target.grad()(0) == doctest::Approx(-1.5));
  CHECK(target.grad()(1) == doctest::Approx(0.5));
}

TEST_CASE("binary_cross_entropy at probabilities of exactly 0 and 1 still passes a gradient") {
  V p(A{1.0, 0.0, 1.0, 0.5}, true);
  V loss = binary_cross_entropy(p, V(A{0.0, 1.0, 1.0, 1.0}), Reduction::sum);
  CHECK(std::isfinite(loss.item()));
  loss.backward();
  CHECK(p.grad()(0) > 1e11);   // p = 1, t = 0: the loss falls steeply as p leaves 1 (a clip gave 0)
  CHECK(p.grad()(1) < -1e11);  // p = 0, t = 1
  CHECK(p.grad()(2) == doctest::Approx(-1.0));  // -t / p at p = 1
  CHECK(p.grad()(3) == doctest::Approx(-2.0));
}

TEST_CASE("ReduceOnPlateau never raises a rate that is already below its floor") {
  ReduceOnPlateau schedule(5, 1, 0.0, 1e-3);
  CHECK(schedule.next(1e-4, 1e-4, {1, 10, 1.0}) == 1e-4);  // first epoch: an improvement
  CHECK(schedule.next(1e-4, 1e-4, {2, 20, 1.0}) == 1e-4);  // a plateau: stays at 1e-4 (was raised to 1e-3)
  CHECK(schedule.next(1e-2, 1e-2, {3, 30, 1.0}) == doctest::Approx(2e-3));
  CHECK(schedule.next(2e-3, 2e-3, {4, 40, 1.0}) == doctest::Approx(1e-3));  // clamped at the floor
}

TEST_CASE("DataLoader counts one batch for a batch size beyond the data (no overflow)") {
  DataLoader<double> loader(tiny(5), std::numeric_limits<std::size_t>::max());
  CHECK(loader.batches_per_epoch() == 1);
  CHECK(loader.epoch().size() == 1);
}

TEST_CASE("a parameter shared by two submodules is listed, optimized and saved once") {
  struct Tied : Module<double> {
    std::shared_ptr<Linear<double>> layer = std::make_shared<Linear<double>>(3, 3);
    Tied() {
      register_module("encoder", layer);
      register_module("decoder", layer);
    }
    V forward(const V& x) override { return layer->forward(layer->forward(x)); }
    std::string describe() const override { return "Tied"; }
  } tied;
  const auto named = tied.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "encoder.weight");
  CHECK(named[1].first == "encoder.bias");
  SGD<double> sgd(tied.parameters(), 0.1);  // no duplicate: accepted
  CHECK(tied.parameter_count() == 12);
}

TEST_CASE("Linear's weight() is the registered parameter: replacing it is seen by parameters() and forward") {
  Linear<double> layer(2, 1, zeros(), zeros());
  layer.weight() = V(column({1.0, 2.0}), true);
  CHECK(layer.parameters()[0].node_ptr() == layer.weight().node_ptr());
  CHECK(layer(V(A{{1.0, 1.0}})).value()(0, 0) == 3.0);
}

TEST_CASE("fit with early stopping on NaN losses stops and keeps the parameters, and a huge loss prints safely") {
  Sequential<double> model = mlp<double>({4, 3, 2});
  SGD<double> sgd(model.parameters(), 0.0);
  std::ostringstream progress;
  FitOptions options = quiet();
  options.epochs = 5;
  options.early_stopping = true;
  options.n_iter_no_change = 1;
  options.progress = &progress;
  History history = fit(model, sgd, [](const V& out, const Batch<double>&) { return autodiff::mean(out) * kNaN; },
                        tiny(8), options);
  CHECK(history.stopped_early);
  CHECK(history.epochs.size() == 1);
  CHECK(progress.str().find("parameters kept") != std::string::npos);

  // a loss of 1e300 printed with %.5f has 300 digits: the progress line holds them all
  std::ostringstream huge;
  options.early_stopping = false;
  options.epochs = 1;
  options.progress = &huge;
  Sequential<double> fresh = mlp<double>({4, 3, 2});  // (the NaN gradients made model's parameters NaN, even at lr 0)
  SGD<double> fresh_sgd(fresh.parameters(), 0.0);
  fit(fresh, fresh_sgd, [](const V& out, const Batch<double>&) { return autodiff::mean(out) * 0.0 + 1e300; }, tiny(8), options);
  INFO(huge.str());
  CHECK(huge.str().size() > 300);
  CHECK(huge.str().find("train acc") != std::string::npos);
}

TEST_CASE("argmax_rows counts NaN as the largest score, as NumPy's argmax") {
  const Labels best = argmax_rows(A{{1.0, kNaN, 3.0}, {kNaN, 5.0, 1.0}, {0.0, 2.0, 1.0}});
  CHECK(best == Labels{1, 0, 1});
}

// ---- odd inputs accepted because PyTorch accepts them ---------------------------------------------

TEST_CASE("accepted as PyTorch accepts them: lr 0, momentum >= 1, betas of 0, alpha 0 and 1, std 0, empty sums") {
  // A learning rate of 0 (PyTorch allows it): the step counts but changes nothing.
  auto p = leaves(1);
  const A start = p[0].value();
  SGD<double> sgd(p, 0.0);
  autodiff::sum(p[0] * p[0]).backward();
  sgd.step();
  CHECK(sgd.steps() == 1);
  CHECK(p[0].value() == start);
  Adam<double> adam(p, 0.0, 0.0, 0.0);  // beta1 = beta2 = 0 are in [0, 1)
  adam.step();
  CHECK(p[0].value() == start);
  CHECK(adam.updates() == std::vector<std::size_t>{1});
  // momentum >= 1 has no upper check in PyTorch either
  CHECK_NOTHROW(SGD<double>(p, 0.1, 1.5));
  // RMSprop's alpha: PyTorch checks alpha >= 0 only; 0 and 1 are the ends of what stays finite
  CHECK_NOTHROW(RMSprop<double>(p, 0.01, 0.0));
  CHECK_NOTHROW(RMSprop<double>(p, 0.01, 1.0));
  // SGD's dampening has no range check in PyTorch (1 keeps only the first gradient); an empty group is allowed
  CHECK_NOTHROW(SGD<double>(p, {.lr = 0.1, .momentum = 0.9, .dampening = 1.0}));
  CHECK_NOTHROW(SGD<double>({{.parameters = p}, {.parameters = {}}}, {.lr = 0.1}));
  // ReduceOnPlateau with patience 0 (PyTorch allows it), StepDecay gamma 0
  CHECK_NOTHROW(ReduceOnPlateau(5, 0));
  CHECK(StepDecay(1, 0.0).next(0.1, 0.1, {1, 1, 1.0}) == 0.0);
  // normal with std 0 (torch.nn.init.normal_ allows it) gives the mean; constant of any value
  CHECK(sample(normal(2.5, 0.0), {3}, 1, 1) == xt::xarray<double>{2.5, 2.5, 2.5});
  CHECK(std::isnan(sample(constant(kNaN), {1}, 1, 1)(0)));
  // a batch of 0 rows through Linear gives 0 rows; its sum-reduced losses are 0
  Linear<double> layer(4, 3);
  V out = layer(V(A::from_shape({0, 4})));
  CHECK(out.shape() == autodiff::Shape{0, 3});
  CHECK(cross_entropy(out, Labels{}, Reduction::sum).item() == 0.0);
  CHECK(mse(out, V(A::from_shape({0, 3})), Reduction::sum).item() == 0.0);
  // fit for 0 epochs trains nothing and says so with an empty history
  Sequential<double> model = mlp<double>({4, 3, 2});
  SGD<double> plain(model.parameters(), 0.1);
  FitOptions options = quiet();
  options.epochs = 0;
  CHECK(fit(model, plain, ce(), tiny(4), options).epochs.empty());
}

TEST_CASE("load_parameters with strict = false skips unknown and missing files and lists them") {
  World source;
  const fs::path dir = fs::temp_directory_path() / ("wengert_nonstrict_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  save_parameters(source.model, dir.string());
  save_npy<double>((dir / "extra.npy").string(), A{1.0});
  fs::remove(dir / "2.bias.npy");
  World target;
  const A bias_before = target.model.named_parameters()[3].second.value();
  const LoadResult result = load_parameters(target.model, dir.string(), false);
  CHECK(result.unexpected == std::vector<std::string>{"extra"});
  CHECK(result.missing == std::vector<std::string>{"2.bias"});
  CHECK(target.model.named_parameters()[0].second.value() == source.model.named_parameters()[0].second.value());
  CHECK(target.model.named_parameters()[3].second.value() == bias_before);
  fs::remove_all(dir);
}
