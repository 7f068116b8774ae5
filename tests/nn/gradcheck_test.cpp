// nn::gradcheck: every parameter of a module against finite differences.
#include <doctest/doctest.h>

#include <nn/nn.hpp>
#include <xtensor/xtensor.hpp>

#include "test_util.hpp"

using namespace nn;

namespace {

using test::contains;

Batch<double> classification_batch(const autodiff::Shape& shape, Labels labels, unsigned seed) {
  return {Variable<double>(test::random_array(shape, seed, -1, 1)), std::move(labels), Variable<double>()};
}

const LossFunction<double> cross_entropy_loss = [](const Variable<double>& logits, const Batch<double>& batch) {
  return cross_entropy(logits, batch.labels);
};

// Two layers summed; the second's weight is used through detach(), so the tape
// never reaches it: its reverse-mode gradient is zero where finite differences are not.
class BrokenTape : public Module<double> {
 public:
  BrokenTape() : good_(std::make_shared<Linear<double>>(3, 2)), broken_(std::make_shared<Linear<double>>(3, 2)) {
    register_module("good", good_);
    register_module("broken", broken_);
  }
  Variable<double> forward(const Variable<double>& x) override {
    return (*good_)(x) + autodiff::affine(x, broken_->weight().detach(), broken_->bias());
  }
  std::string describe() const override { return "BrokenTape"; }

 private:
  std::shared_ptr<Linear<double>> good_, broken_;
};

// The LSTM's output sequence, flattened, into a Linear.
Sequential<double> lstm_classifier() {
  Sequential<double> model;
  model.add(LSTM<double>(3, 4)).add(Flatten<double>()).add(Linear<double>(2 * 4, 2));
  return model;
}

}  // namespace

TEST_CASE("nn::gradcheck passes on an MLP, naming every parameter") {
  manual_seed(11);
  Sequential<double> model = mlp<double>({3, 4, 2}, Tanh<double>());
  const ModuleGradCheckReport report = nn::gradcheck(model, cross_entropy_loss, classification_batch({5, 3}, {0, 1, 1, 0, 1}, 1));
  CHECK(report.passed);
  REQUIRE(report.inputs.size() == 4);
  CHECK(report.inputs[0].name == "0.weight");
  CHECK(report.inputs[3].name == "2.bias");
  CHECK(report.inputs[0].max_abs_error < 1e-7);
  CHECK_FALSE(report.worst_parameter.empty());
  CHECK(report.worst_entry.empty());
}

TEST_CASE("nn::gradcheck passes on a small CNN and on an LSTM") {
  manual_seed(12);
  Sequential<double> cnn;
  cnn.add(Conv2d<double>(1, 2, 3)).add(Tanh<double>()).add(Flatten<double>()).add(Linear<double>(2 * 3 * 3, 3));
  const ModuleGradCheckReport conv = nn::gradcheck(cnn, cross_entropy_loss, classification_batch({2, 1, 5, 5}, {2, 0}, 2));
  CHECK(conv.passed);
  CHECK(conv.inputs.size() == 4);
  CHECK(conv.inputs[0].shape == autodiff::Shape{2, 1, 3, 3});

  Sequential<double> lstm = lstm_classifier();
  const ModuleGradCheckReport recurrent =
      nn::gradcheck(lstm, cross_entropy_loss, classification_batch({3, 2, 3}, {1, 0, 1}, 3));
  CHECK(recurrent.passed);
  CHECK(recurrent.inputs.size() == 6);  // weight_ih, weight_hh, bias_ih, bias_hh, and the Linear's two
  CHECK(recurrent.inputs[1].name == "0.weight_hh_l0");
}

TEST_CASE("nn::gradcheck fails on a module that breaks the tape and names the parameter and entry") {
  manual_seed(13);
  BrokenTape model;
  const auto before = model.named_parameters();
  std::vector<Array<double>> values;
  for (auto& [name, p] : before) values.push_back(p.value());
  const ModuleGradCheckReport report =
      nn::gradcheck(model, cross_entropy_loss, classification_batch({4, 3}, {0, 1, 1, 0}, 4));
  CHECK_FALSE(report.passed);
  CHECK(report.worst_parameter == "broken.weight");
  CHECK(contains(report.worst_entry, "["));
  CHECK(report.worst_abs_error > 1e-3);
  for (const auto& input : report.inputs) CHECK(input.passed == (input.name != "broken.weight"));
  CHECK(contains(report.to_string(), "worst: broken.weight" + report.worst_entry));
  // the model is as it was
  const auto after = model.named_parameters();
  for (std::size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].second.node_ptr() == before[i].second.node_ptr());
    CHECK(xt::all(xt::equal(after[i].second.value(), values[i])));
  }
}

TEST_CASE("nn::gradcheck refuses a module without parameters and an empty loss") {
  Sequential<double> empty;
  empty.add(Tanh<double>());
  const auto batch = classification_batch({2, 3}, {0, 1}, 5);
  CHECK(contains(test::message_of([&] { nn::gradcheck(empty, cross_entropy_loss, batch); }),
                 "nn::gradcheck: Sequential(1 layers) has no parameters to check"));
  Sequential<double> model = mlp<double>({3, 2});
  CHECK_THROWS_AS(nn::gradcheck(model, LossFunction<double>(), batch), std::invalid_argument);
}
