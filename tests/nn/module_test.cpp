// Module ergonomics: typed access to layers and submodules, summary() with
// output shapes for any module, and functional_call.
#include <doctest/doctest.h>

#include <nn/nn.hpp>
#include <xtensor/xtensor.hpp>

#include "test_util.hpp"

using namespace nn;

namespace {

using test::contains;

// A custom CNN as a user writes one: named children called through operator().
class SmallCnn : public Module<float> {
 public:
  SmallCnn()
      : conv1_(std::make_shared<Conv2d<float>>(1, 4, 3)),
        norm_(std::make_shared<BatchNorm2d<float>>(4)),
        pool_(std::make_shared<MaxPool2d<float>>(2)),
        head_(std::make_shared<Sequential<float>>()) {
    head_->add(Flatten<float>()).add(Linear<float>(4 * 3 * 3, 10));
    register_module("conv1", conv1_);
    register_module("norm", norm_);
    register_module("pool", pool_);
    register_module("head", head_);
    register_module("unused", std::make_shared<Linear<float>>(2, 2));
    register_parameter("scale", Variable<float>(Array<float>{2.f}));
  }
  Variable<float> forward(const Variable<float>& x) override {
    Variable<float> h = autodiff::relu((*norm_)((*conv1_)(x)));
    return (*head_)((*pool_)(h)) * registered_parameter(0);
  }
  std::string describe() const override { return "SmallCnn"; }

 private:
  std::shared_ptr<Conv2d<float>> conv1_;
  std::shared_ptr<BatchNorm2d<float>> norm_;
  std::shared_ptr<MaxPool2d<float>> pool_;
  std::shared_ptr<Sequential<float>> head_;
};

// One Linear applied twice (a shared layer).
class Twice : public Module<double> {
 public:
  Twice() : layer_(std::make_shared<Linear<double>>(2, 2)) { register_module("layer", layer_); }
  Variable<double> forward(const Variable<double>& x) override { return (*layer_)((*layer_)(x)); }
  std::string describe() const override { return "Twice"; }

 private:
  std::shared_ptr<Linear<double>> layer_;
};

// A layer that fails after it has read its parameters.
class Throws : public Module<double> {
 public:
  Throws() : layer_(std::make_shared<Linear<double>>(2, 2)) { register_module("layer", layer_); }
  Variable<double> forward(const Variable<double>& x) override {
    (*layer_)(x);
    throw std::runtime_error("Throws: on purpose");
  }
  std::string describe() const override { return "Throws"; }

 private:
  std::shared_ptr<Linear<double>> layer_;
};

}  // namespace

TEST_CASE("Sequential::get gives a layer as its own type, and names index and types when it cannot") {
  Sequential<float> model = mlp<float>({4, 3, 2}, ReLU<float>());
  Linear<float>& first = model.get<Linear<float>>(0);
  CHECK(first.in_features() == 4);
  CHECK(first.weight().node_ptr() == model.parameters()[0].node_ptr());  // the layer itself, not a copy
  CHECK(model.get<Linear<float>>(2).out_features() == 2);
  CHECK(model.get<Activation<float>>(1).describe() == "ReLU");

  const std::string wrong = test::message_of([&] { model.get<Linear<float>>(1); });
  CHECK(contains(wrong, "Sequential::get<nn::Linear<float>>(1): layer 1 is ReLU (a nn::Activation<float>), not a "
                        "nn::Linear<float>"));
  CHECK_THROWS_AS(model.get<Linear<float>>(1), std::invalid_argument);
  const std::string out_of_range = test::message_of([&] { model.get<Linear<float>>(3); });
  CHECK(contains(out_of_range, "Sequential::get<nn::Linear<float>>(3): index out of range for 3 layers"));
  CHECK_THROWS_AS(model.get<Linear<float>>(3), std::out_of_range);
}

TEST_CASE("child<M>(path) reaches a custom module's submodules by dotted name") {
  SmallCnn model;
  Conv2d<float>& conv = model.child<Conv2d<float>>("conv1");
  CHECK(conv.weight().shape() == autodiff::Shape{4, 1, 3, 3});
  CHECK(model.child<Linear<float>>("head.1").in_features() == 36);
  CHECK(&model.submodule("head.1") == &model.child<Sequential<float>>("head")[1]);
  CHECK(&model.submodule("") == &model);
  CHECK(model.named_children().size() == 5);
  CHECK(model.named_children()[1].first == "norm");

  const std::string missing = test::message_of([&] { model.child<Conv2d<float>>("conv2"); });
  CHECK(contains(missing, "child<nn::Conv2d<float>>(\"conv2\"): SmallCnn has no submodule 'conv2'; its submodules "
                          "are conv1, norm, pool, head, unused"));
  const std::string deeper = test::message_of([&] { model.submodule("head.7"); });
  CHECK(contains(deeper, "submodule(\"head.7\"): 'head' (Sequential(2 layers)) has no submodule '7'"));
  CHECK_THROWS_AS(model.submodule("conv1.x"), std::out_of_range);
  const std::string wrong = test::message_of([&] { model.child<Linear<float>>("conv1"); });
  CHECK(contains(wrong, "submodule 'conv1' is Conv2d(1 -> 4, kernel 3)"));
  CHECK(contains(wrong, "(a nn::Conv2d<float>), not a nn::Linear<float>"));
}

TEST_CASE("summary(shape) of a custom module lists every submodule's output shape and parameters") {
  SmallCnn model;
  Array<float> mean_before = *model.named_buffers()[0].second;
  model.child<BatchNorm2d<float>>("norm").train(true);
  const std::string table = model.summary({2, 1, 8, 8});
  CHECK(contains(table, "input"));
  CHECK(contains(table, "(2, 1, 8, 8)"));
  // each row: the path, its type, its output shape, its own parameters
  CHECK(contains(table, "conv1"));
  CHECK(contains(table, "(2, 4, 6, 6)"));  // conv 3x3 without padding
  CHECK(contains(table, "(2, 4, 3, 3)"));  // pool 2
  CHECK(contains(table, "  head.0"));      // nested, indented
  CHECK(contains(table, "(2, 36)"));       // flatten
  CHECK(contains(table, "(2, 10)"));
  // conv 4*9+4 = 40, BatchNorm 8, Linear 36*10+10 = 370, unused 6, own scale 1
  CHECK(contains(table, "   40\n"));
  CHECK(contains(table, "  370\n"));
  CHECK(contains(table, "Total parameters: " + std::to_string(model.parameter_count()) + "\n"));
  CHECK(model.parameter_count() == 40 + 8 + 370 + 6 + 1);
  // the unused layer was not called: no shape
  const auto unused = table.find("unused");
  REQUIRE(unused != std::string::npos);
  CHECK(contains(table.substr(unused, table.find('\n', unused) - unused), " - "));
  // nothing changed: no tape, the running statistics, the modes
  CHECK(model.is_training());
  CHECK(xt::all(xt::equal(*model.named_buffers()[0].second, mean_before)));
  CHECK(autodiff::grad_enabled());
  CHECK(detail::running_shape_traces.load() == 0);
}

TEST_CASE("summary(shape) of a Sequential, a layer called twice, a sample, and the old summary()") {
  Sequential<float> model = mlp<float>({4, 3, 2}, Tanh<float>());
  const std::string table = model.summary({5, 4});
  CHECK(contains(table, "(5, 3)"));
  CHECK(contains(table, "(5, 2)"));
  CHECK(contains(table, "Total parameters: 23\n"));
  CHECK(contains(model.summary(), "total: 23 parameters"));  // the table without shapes still works
  CHECK(contains(model.summary_on(Array<float>::from_shape({7, 4})), "(7, 2)"));

  Twice twice;
  const std::string shared = twice.summary({3, 2});
  CHECK(contains(shared, "(3, 2) x2"));  // called twice
  CHECK(contains(shared, "Total parameters: 6\n"));
}

TEST_CASE("summary(shape) with a wrong input names the call and the layer, and leaves tracing off") {
  Sequential<float> model = mlp<float>({4, 3, 2});
  const std::string message = test::message_of([&] { model.summary({5, 6}); });
  CHECK(contains(message, "summary((5, 6)): the forward pass of Sequential(3 layers) on an input of shape (5, 6) failed"));
  CHECK(contains(message, "Linear(4 -> 3) got input of shape (5, 6)"));
  CHECK_THROWS_AS(model.summary({5, 6}), autodiff::ShapeError);
  CHECK(detail::running_shape_traces.load() == 0);
  CHECK(model.is_training());
  CHECK(contains(model.summary({1, 4}), "(1, 2)"));  // still usable
}

TEST_CASE("functional_call: gradients flow to the replacement, which acts as the parameter would") {
  manual_seed(5);
  Sequential<double> model = mlp<double>({3, 4, 2}, Tanh<double>());
  const Variable<double> x(test::random_array({5, 3}, 1));
  Variable<double> original = model.get<Linear<double>>(0).weight();
  const Array<double> original_value = original.value();
  Variable<double> replacement(test::random_array({3, 4}, 2), true);

  Variable<double> y = functional_call(model, {{"0.weight", replacement}}, x);
  autodiff::sum(y * y).backward();
  REQUIRE(replacement.has_grad());
  const Array<double> through_call = replacement.grad();
  // the original is back, unchanged, and got no gradient
  CHECK(model.get<Linear<double>>(0).weight().node_ptr() == original.node_ptr());
  CHECK(model.parameters()[0].node_ptr() == original.node_ptr());
  CHECK(xt::all(xt::equal(original.value(), original_value)));
  CHECK_FALSE(original.has_grad());

  // the same gradient from the model with those values in its own parameter
  model.zero_grad();
  original.data() = replacement.value();
  Variable<double> z = model(x);
  autodiff::sum(z * z).backward();
  CHECK(xt::allclose(original.grad(), through_call, 1e-12, 1e-14));
  CHECK(xt::allclose(z.value(), y.value(), 1e-12, 1e-14));
}

TEST_CASE("functional_call puts the parameters back when forward throws, and checks names and shapes first") {
  Throws model;
  const Variable<double> before = model.parameters()[0];
  Variable<double> w(Array<double>::from_shape({2, 2}), true);
  CHECK_THROWS_AS(functional_call(model, {{"layer.weight", w}}, Variable<double>(Array<double>::from_shape({1, 2}))),
                  std::runtime_error);
  CHECK(model.parameters()[0].node_ptr() == before.node_ptr());

  Sequential<double> mlp2 = mlp<double>({2, 2});
  const Variable<double> x(Array<double>::from_shape({1, 2}));
  const std::string unknown = test::message_of([&] { functional_call(mlp2, {{"0.wieght", w}}, x); });
  CHECK(contains(unknown, "functional_call: Sequential(1 layers) has no parameter '0.wieght'; its parameters are "
                          "0.weight, 0.bias"));
  Variable<double> wrong_shape(Array<double>::from_shape({3, 2}));
  const std::string shape = test::message_of([&] { functional_call(mlp2, {{"0.weight", wrong_shape}}, x); });
  CHECK(contains(shape, "functional_call: the replacement for '0.weight' has shape (3, 2), the parameter (2, 2)"));
  CHECK_THROWS_AS(functional_call(mlp2, {{"0.weight", wrong_shape}}, x), autodiff::ShapeError);
  Variable<double> b(Array<double>::from_shape({2}));
  CHECK(contains(test::message_of([&] { functional_call(mlp2, {{"0.bias", b}, {"0.bias", b}}, x); }), "given twice"));
  CHECK(contains(test::message_of([&] { functional_call(mlp2, {{"0.bias", Variable<double>()}}, x); }),
                 "the replacement for '0.bias' is an empty Variable"));
}

TEST_CASE("functional_call replaces a shared layer's parameter everywhere it is used") {
  Twice model;
  const Variable<double> x(Array<double>{{1.0, 2.0}});
  Variable<double> zero(Array<double>::from_shape({2, 2}), true);
  zero.data().fill(0.0);
  Variable<double> bias(Array<double>{0.5, -1.0}, true);
  // x 0 + b, then (x 0 + b) 0 + b = b
  const Variable<double> y = functional_call(model, {{"layer.weight", zero}, {"layer.bias", bias}}, x);
  CHECK(y.value()(0, 0) == doctest::Approx(0.5));
  CHECK(y.value()(0, 1) == doctest::Approx(-1.0));
}
