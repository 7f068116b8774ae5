// Every op's gradient against central finite differences in float64, at first
// and second order, from one table: adding an op means adding a row.
#include <doctest/doctest.h>

#include <string>

#include <autodiff/autodiff.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;
using Inputs = std::vector<V>;

namespace {

// Where an op's inputs are drawn from.
// any: uniform in [-2, 2]; positive: [0.5, 2]; unit: [-0.9, 0.9] (asin, acos);
// nonzero: [0.2, 2] with random signs (sign, reciprocal, kinks at 0).
enum class Domain { any, positive, unit, nonzero };

struct OpCase {
  const char* name;
  std::vector<Shape> shapes;
  std::function<V(const Inputs&)> f;
  Domain domain = Domain::any;
};

const xt::xarray<bool> mask_3x4 = {{true, false, true, false}, {false, false, true, true}, {true, true, false, false}};
const std::vector<std::size_t> labels_3 = {2, 0, 3};

const std::vector<OpCase> op_cases = {
    // elementwise, with broadcasting
    {"add", {{3, 4}, {3, 4}}, [](const Inputs& x) { return x[0] + x[1]; }},
    {"add row broadcast", {{3, 4}, {4}}, [](const Inputs& x) { return x[0] + x[1]; }},
    {"add column broadcast", {{3, 1}, {3, 4}}, [](const Inputs& x) { return x[0] + x[1]; }},
    {"add scalar tensor", {{3, 4}, {}}, [](const Inputs& x) { return x[0] + x[1]; }},
    {"add both broadcast", {{3, 1}, {1, 4}}, [](const Inputs& x) { return x[0] + x[1]; }},
    {"sub", {{3, 4}, {4}}, [](const Inputs& x) { return x[0] - x[1]; }},
    {"mul", {{2, 3, 4}, {3, 1}}, [](const Inputs& x) { return x[0] * x[1]; }},
    {"div", {{3, 4}, {1, 4}}, [](const Inputs& x) { return x[0] / x[1]; }, Domain::positive},
    {"neg", {{3, 4}}, [](const Inputs& x) { return -x[0]; }},
    {"scalar add", {{3, 4}}, [](const Inputs& x) { return 2.5 + x[0] + 1.0; }},
    {"scalar sub", {{3, 4}}, [](const Inputs& x) { return (1.5 - x[0]) - 0.5; }},
    {"scalar mul", {{3, 4}}, [](const Inputs& x) { return 3.0 * x[0] * -0.5; }},
    {"scalar div", {{3, 4}}, [](const Inputs& x) { return 2.0 / x[0] + x[0] / 4.0; }, Domain::positive},
    {"pow", {{3, 4}}, [](const Inputs& x) { return pow(x[0], 2.5); }, Domain::positive},
    {"exp", {{3, 4}}, [](const Inputs& x) { return exp(x[0]); }},
    {"log", {{3, 4}}, [](const Inputs& x) { return log(x[0]); }, Domain::positive},
    {"sqrt", {{3, 4}}, [](const Inputs& x) { return sqrt(x[0]); }, Domain::positive},
    {"abs", {{3, 4}}, [](const Inputs& x) { return abs(x[0]); }},
    {"square", {{3, 4}}, [](const Inputs& x) { return square(x[0]); }},
    {"clip", {{3, 4}}, [](const Inputs& x) { return clip(x[0], -1.0, 0.5); }},
    {"maximum", {{3, 4}, {4}}, [](const Inputs& x) { return maximum(x[0], x[1]); }},
    {"minimum", {{3, 4}, {3, 1}}, [](const Inputs& x) { return minimum(x[0], x[1]); }},
    {"where", {{3, 4}, {4}}, [](const Inputs& x) { return autodiff::where(mask_3x4, x[0], x[1]); }},
    {"where scalar", {{3, 4}}, [](const Inputs& x) { return autodiff::where(mask_3x4, x[0], 0.5); }},
    {"div scalar", {{3, 4}}, [](const Inputs& x) { return x[0] / 3.0; }},
    {"products of sums (second derivative in both)", {{3, 4}, {4}},
     [](const Inputs& x) { return (x[0] * x[1]) * (x[0] + x[1]) / (x[1] * x[1] + 1.0); }},
    // elementwise math (issue #12): autodiff/math.hpp
    // comparisons and masks (issue #12): autodiff/compare.hpp

    // activations
    {"sigmoid", {{3, 4}}, [](const Inputs& x) { return sigmoid(x[0]); }},
    {"tanh", {{3, 4}}, [](const Inputs& x) { return tanh(x[0]); }},
    {"relu", {{3, 4}}, [](const Inputs& x) { return relu(x[0]); }},
    {"leaky_relu", {{3, 4}}, [](const Inputs& x) { return leaky_relu(x[0], 0.1); }},
    {"elu", {{3, 4}}, [](const Inputs& x) { return elu(x[0], 0.7); }},
    {"softmax last axis", {{3, 4}}, [](const Inputs& x) { return softmax(x[0]); }},
    {"softmax axis 0", {{3, 4}}, [](const Inputs& x) { return softmax(x[0], 0); }},
    {"log_softmax", {{3, 4}}, [](const Inputs& x) { return log_softmax(x[0], 1); }},
    {"log_softmax 3-D middle axis", {{2, 3, 4}}, [](const Inputs& x) { return log_softmax(x[0], 1); }},
    {"sigmoid_backward", {{3, 4}, {3, 4}}, [](const Inputs& x) { return sigmoid_backward(x[0], x[1]); }},
    {"tanh_backward", {{3, 4}, {3, 4}}, [](const Inputs& x) { return tanh_backward(x[0], x[1]); }},
    {"relu_backward", {{3, 4}, {3, 4}}, [](const Inputs& x) { return relu_backward(x[0], x[1], 0.2); }},
    {"log_softmax_backward", {{3, 4}, {3, 4}}, [](const Inputs& x) { return log_softmax_backward(x[0], x[1], 1); }},
    {"log_softmax_backward axis 0", {{3, 4}, {3, 4}}, [](const Inputs& x) { return log_softmax_backward(x[0], x[1], 0); }},
    // (more activations, issue #12)

    // reductions
    {"sum all", {{3, 4}}, [](const Inputs& x) { return sum(x[0]); }},
    {"sum axis 0", {{3, 4}}, [](const Inputs& x) { return sum(x[0], 0); }},
    {"sum axis -1 keepdims", {{3, 4}}, [](const Inputs& x) { return sum(x[0], -1, true); }},
    {"mean all", {{3, 4}}, [](const Inputs& x) { return mean(x[0]); }},
    {"mean axis 1", {{2, 3, 4}}, [](const Inputs& x) { return mean(x[0], 1); }},
    {"max all", {{3, 4}}, [](const Inputs& x) { return max(x[0]); }},
    {"max axis 1", {{3, 4}}, [](const Inputs& x) { return max(x[0], 1); }},
    {"max axis 0 keepdims", {{3, 4}}, [](const Inputs& x) { return max(x[0], 0, true); }},
    {"logsumexp", {{3, 4}}, [](const Inputs& x) { return logsumexp(x[0], 1); }},
    {"logsumexp keepdims", {{3, 4}}, [](const Inputs& x) { return logsumexp(x[0], 0, true); }},
    {"sum_to leading and inner axes", {{2, 3, 4}}, [](const Inputs& x) { return sum_to(x[0], {3, 1}); }},
    // (more reductions, issue #12)

    // linear algebra
    {"matmul", {{3, 4}, {4, 5}}, [](const Inputs& x) { return matmul(x[0], x[1]); }},
    {"matmul a^T", {{4, 3}, {4, 5}}, [](const Inputs& x) { return matmul(x[0], x[1], {.transpose_a = true}); }},
    {"matmul b^T", {{3, 4}, {5, 4}}, [](const Inputs& x) { return matmul(x[0], x[1], {.transpose_b = true}); }},
    {"matmul a^T b^T", {{4, 3}, {5, 4}},
     [](const Inputs& x) { return matmul(x[0], x[1], {.transpose_a = true, .transpose_b = true}); }},
    {"affine", {{3, 4}, {4, 5}, {5}}, [](const Inputs& x) { return affine(x[0], x[1], x[2]); }},
    {"affine bias (1, n)", {{3, 4}, {4, 5}, {1, 5}}, [](const Inputs& x) { return affine(x[0], x[1], x[2]); }},
    {"transpose", {{3, 4}}, [](const Inputs& x) { return transpose(x[0]); }},
    // (batched products and einsum, issue #12)
    {"permute 3-D", {{2, 3, 4}}, [](const Inputs& x) { return permute(x[0], {2, 0, 1}); }},
    {"permute negative axes, 4-D", {{2, 3, 1, 4}}, [](const Inputs& x) { return permute(x[0], {-1, 1, -4, 2}); }},
    {"transpose two axes", {{2, 3, 4}}, [](const Inputs& x) { return transpose(x[0], 0, -1); }},
    {"transpose of a 3-D array (all axes)", {{2, 3, 4}}, [](const Inputs& x) { return transpose(x[0]); }},
    {"matmul batched", {{2, 3, 4}, {2, 4, 5}}, [](const Inputs& x) { return matmul(x[0], x[1]); }},
    {"matmul broadcast batch axes", {{2, 1, 3, 4}, {3, 4, 2}}, [](const Inputs& x) { return matmul(x[0], x[1]); }},
    {"matmul stack @ matrix (one gemm)", {{2, 3, 4}, {4, 5}}, [](const Inputs& x) { return matmul(x[0], x[1]); }},
    {"matmul stack @ matrix b^T", {{2, 3, 4}, {5, 4}},
     [](const Inputs& x) { return matmul(x[0], x[1], {.transpose_b = true}); }},
    {"matmul stack a^T @ matrix", {{2, 4, 3}, {4, 5}},
     [](const Inputs& x) { return matmul(x[0], x[1], {.transpose_a = true}); }},
    {"matmul matrix @ stack", {{3, 4}, {2, 4, 5}}, [](const Inputs& x) { return matmul(x[0], x[1]); }},
    {"matmul batched a^T b^T, batch broadcast", {{2, 4, 3}, {1, 5, 4}},
     [](const Inputs& x) { return matmul(x[0], x[1], {.transpose_a = true, .transpose_b = true}); }},
    {"matmul vector @ matrix", {{4}, {4, 3}}, [](const Inputs& x) { return matmul(x[0], x[1]); }},
    {"matmul matrix @ vector", {{3, 4}, {4}}, [](const Inputs& x) { return matmul(x[0], x[1]); }},
    {"matmul matrix^T @ vector", {{4, 3}, {4}}, [](const Inputs& x) { return matmul(x[0], x[1], {.transpose_a = true}); }},
    {"matmul vector @ vector (0-D)", {{4}, {4}}, [](const Inputs& x) { return matmul(x[0], x[1]); }},
    {"matmul vector @ stack", {{4}, {2, 4, 3}}, [](const Inputs& x) { return matmul(x[0], x[1]); }},
    {"matmul stack @ vector", {{2, 3, 4}, {4}}, [](const Inputs& x) { return matmul(x[0], x[1]); }},
    {"dot", {{5}, {5}}, [](const Inputs& x) { return dot(x[0], x[1]); }},
    {"outer", {{3}, {4}}, [](const Inputs& x) { return outer(x[0], x[1]); }},
    {"mv", {{3, 4}, {4}}, [](const Inputs& x) { return mv(x[0], x[1]); }},
    {"einsum matrix product", {{3, 4}, {4, 5}}, [](const Inputs& x) { return einsum("ij,jk->ik", x[0], x[1]); }},
    {"einsum implicit output", {{3, 4}, {5, 4}}, [](const Inputs& x) { return einsum("ij,kj", x[0], x[1]); }},
    {"einsum batched, transposed output", {{2, 3, 4}, {2, 4, 5}},
     [](const Inputs& x) { return einsum("bij,bjk->bki", x[0], x[1]); }},
    {"einsum batch label in the middle (operands permuted)", {{4, 2, 3}, {2, 5, 4}},
     [](const Inputs& x) { return einsum("jbi,bkj->ikb", x[0], x[1]); }},
    {"einsum label summed inside one operand", {{3, 4}, {4, 5}}, [](const Inputs& x) { return einsum("ij,jk->i", x[0], x[1]); }},
    {"einsum outer product", {{3}, {4}}, [](const Inputs& x) { return einsum("i,j->ij", x[0], x[1]); }},
    {"einsum inner product (0-D)", {{4}, {4}}, [](const Inputs& x) { return einsum("i,i->", x[0], x[1]); }},
    {"einsum same operand twice", {{3, 4}}, [](const Inputs& x) { return einsum("ij,ij->j", x[0], x[0]); }},
    {"einsum three operands (chain)", {{2, 3}, {3, 4}, {4, 2}},
     [](const Inputs& x) { return einsum("ij,jk,kl->il", x[0], x[1], x[2]); }},
    {"einsum three operands (bilinear form per batch)", {{2, 3}, {2, 3, 4}, {2, 4}},
     [](const Inputs& x) { return einsum("bi,bij,bj->b", x[0], x[1], x[2]); }},
    {"einsum upper case and a 0-D operand", {{2, 3}, {}}, [](const Inputs& x) { return einsum("aB,->Ba", x[0], x[1]); }},
    {"einsum one operand: permutation", {{2, 3, 4}}, [](const Inputs& x) { return einsum("ijk->kij", x[0]); }},
    {"einsum one operand: sums", {{2, 3, 4}}, [](const Inputs& x) { return einsum("ijk->kj", x[0]); }},
    {"einsum one operand: total", {{3, 4}}, [](const Inputs& x) { return einsum("ij->", square(x[0])); }},
    {"einsum diagonal", {{3, 3}}, [](const Inputs& x) { return einsum("ii->i", x[0]); }},
    {"einsum trace (implicit output)", {{3, 3}}, [](const Inputs& x) { return einsum("ii", x[0] * x[0]); }},
    {"einsum diagonals of a stack times a matrix", {{2, 3, 3}, {3, 4}},
     [](const Inputs& x) { return einsum("bii,ij->bj", x[0], x[1]); }},
    {"einsum label repeated apart, with another operand", {{3, 2, 3}, {3, 4}},
     [](const Inputs& x) { return einsum("iji,ik->jk", x[0], x[1]); }},

    // shape
    {"reshape", {{3, 4}}, [](const Inputs& x) { return reshape(x[0], {2, 6}); }},
    {"flatten", {{2, 3, 2}}, [](const Inputs& x) { return flatten(x[0], 1); }},
    {"slice_rows", {{5, 3}}, [](const Inputs& x) { return slice_rows(x[0], 1, 4); }},
    {"slice middle axis", {{2, 5, 3}}, [](const Inputs& x) { return slice(x[0], 1, 1, 4); }},
    {"slice_backward", {{2, 3, 3}}, [](const Inputs& x) { return slice_backward(x[0], 1, 1, 5); }},
    {"broadcast_to", {{3, 1}}, [](const Inputs& x) { return broadcast_to(x[0], {2, 3, 4}); }},
    {"broadcast_to from a scalar", {{}}, [](const Inputs& x) { return broadcast_to(x[0], {3, 2}); }},
    {"broadcast_to new leading axes", {{3, 2}}, [](const Inputs& x) { return broadcast_to(x[0], {2, 3, 2}); }},
    {"broadcast_to one axis", {{2, 1, 3}}, [](const Inputs& x) { return broadcast_to(x[0], {2, 4, 3}); }},
    {"index_rows_backward (repeats)", {{4, 3}}, [](const Inputs& x) { return index_rows_backward(x[0], {3, 0, 3, 1}, 5); }},
    {"pick_backward", {{3}}, [](const Inputs& x) { return pick_backward(x[0], labels_3, 4); }},
    {"index_rows (repeats)", {{4, 3}}, [](const Inputs& x) { return index_rows(x[0], {3, 0, 3, 1}); }},
    {"pick", {{3, 4}}, [](const Inputs& x) { return pick(x[0], labels_3); }},
    {"concatenate axis 0", {{2, 3}, {1, 3}}, [](const Inputs& x) { return concatenate<double>({x[0], x[1]}, 0); }},
    {"concatenate axis 1", {{2, 3}, {2, 2}, {2, 1}},
     [](const Inputs& x) { return concatenate<double>({x[0], x[1], x[2]}, 1); }},
    {"concatenate five (inputs beyond the inline three)", {{1, 2}, {2, 2}, {1, 2}, {3, 2}, {1, 2}},
     [](const Inputs& x) { return concatenate<double>({x[0], x[1], x[2], x[3], x[4]}, 0); }},
    // (more shape ops, issue #12)

    // indexing (issue #12): autodiff/indexing.hpp

    // factories (issue #12): autodiff/factory.hpp

    // compositions: shared subexpressions and a value used twice
    {"shared subexpression", {{3, 4}},
     [](const Inputs& x) {
       V h = tanh(x[0]);
       return h * h + sigmoid(h) - h;
     }},
    {"same input twice", {{3, 4}}, [](const Inputs& x) { return x[0] * x[0]; }},
    {"cross-entropy from logits", {{3, 4}},
     [](const Inputs& x) { return -mean(pick(log_softmax(x[0]), labels_3)); }},
    {"a sigmoid layer and a tanh layer", {{3, 4}, {4, 5}, {5}, {5, 2}},
     [](const Inputs& x) { return tanh(matmul(sigmoid(affine(x[0], x[1], x[2])), x[3])); }},
};

}  // namespace

static std::vector<Array<double>> inputs_of(const OpCase& op, unsigned& seed) {
  std::vector<Array<double>> inputs;
  for (const Shape& shape : op.shapes)
    switch (op.domain) {
      case Domain::any: inputs.push_back(test::random_array(shape, seed++)); break;
      case Domain::positive: inputs.push_back(test::random_array(shape, seed++, 0.5, 2.0)); break;
      case Domain::unit: inputs.push_back(test::random_array(shape, seed++, -0.9, 0.9)); break;
      case Domain::nonzero: {
        Array<double> x = test::random_array(shape, seed++, 0.2, 2.0);
        const Array<double> signs = test::random_array(shape, seed++);
        for (std::size_t i = 0; i < x.size(); ++i)
          if (signs.data()[i] < 0) x.data()[i] = -x.data()[i];
        inputs.push_back(std::move(x));
        break;
      }
    }
  return inputs;
}

TEST_CASE("every op's gradient matches central finite differences (float64)") {
  unsigned seed = 1;
  for (const OpCase& op : op_cases) {
    const std::vector<Array<double>> inputs = inputs_of(op, seed);
    const GradCheckReport report = gradcheck(op.f, inputs);
    INFO(std::string(op.name), "\n", report.to_string());
    CHECK(report.passed);
    // The check must have had something to check: some gradient entry is non-zero.
    bool any_nonzero = false;
    {
      std::vector<V> leaves;
      for (auto& x : inputs) leaves.emplace_back(x, true);
      V y = op.f(leaves);
      // a random seed: with all ones, some true gradients are exactly 0 (sum of a softmax is constant)
      y.backward(test::random_array(y.shape(), seed++));
      for (auto& leaf : leaves)
        if (leaf.has_grad()) any_nonzero = any_nonzero || xt::any(xt::not_equal(leaf.grad(), 0.0));
    }
    CHECK(any_nonzero);
  }
}

TEST_CASE("every op's second derivatives match central differences of its first (float64)") {
  unsigned seed = 1;
  for (const OpCase& op : op_cases) {
    const GradCheckReport report = gradgradcheck(op.f, inputs_of(op, seed));
    INFO(std::string(op.name), "\n", report.to_string());
    CHECK(report.passed);
  }
}

TEST_CASE("the recorded gradient (create_graph) equals the plain one, op by op") {
  // One formula per op, run two ways: unrecorded (in-place sums, no nodes kept)
  // and recorded. They must agree to rounding.
  unsigned seed = 1;
  for (const OpCase& op : op_cases) {
    const std::vector<Array<double>> inputs = inputs_of(op, seed);
    std::vector<V> leaves;
    for (auto& x : inputs) leaves.emplace_back(x, true);
    V y = op.f(leaves);
    const V g_out(test::random_array(y.shape(), seed++));
    const auto plain = grad(y, leaves, {.grad_outputs = {g_out}, .retain_graph = true, .allow_unused = true});
    const auto recorded = grad(y, leaves, {.grad_outputs = {g_out}, .create_graph = true, .allow_unused = true});
    INFO(op.name);
    for (std::size_t i = 0; i < leaves.size(); ++i) {
      REQUIRE(plain[i].defined() == recorded[i].defined());
      if (plain[i].defined()) CHECK(xt::allclose(plain[i].value(), recorded[i].value(), 1e-12, 1e-14));
    }
  }
}

TEST_CASE("heaviside records its step and passes a zero gradient back") {
  V x(Array<double>{-1.0, 0.0, 2.0}, true);
  V y = sum(heaviside(x));
  CHECK(y.item() == 1.0);  // heaviside(0) = 0
  y.backward();
  CHECK(x.grad() == Array<double>{0.0, 0.0, 0.0});
}
