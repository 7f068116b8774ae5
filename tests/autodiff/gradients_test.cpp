// Every op's gradient against central finite differences in float64, at first
// and second order, from one table: adding an op means adding a row.
#include <doctest/doctest.h>

#include <climits>
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
    {"sin", {{3, 4}}, [](const Inputs& x) { return sin(x[0] * 2.0); }},
    {"cos", {{3, 4}}, [](const Inputs& x) { return cos(x[0] * 2.0); }},
    {"tan", {{3, 4}}, [](const Inputs& x) { return tan(x[0]); }, Domain::unit},
    {"asin", {{3, 4}}, [](const Inputs& x) { return asin(x[0]); }, Domain::unit},
    {"acos", {{3, 4}}, [](const Inputs& x) { return acos(x[0]); }, Domain::unit},
    {"atan", {{3, 4}}, [](const Inputs& x) { return atan(x[0]); }},
    {"atan2", {{3, 4}, {3, 4}}, [](const Inputs& x) { return atan2(x[0], x[1]); }, Domain::nonzero},
    {"atan2 broadcast (3, 1) and (4,)", {{3, 1}, {4}}, [](const Inputs& x) { return atan2(x[0], x[1]); }, Domain::nonzero},
    {"atan2 broadcast y over x's rows", {{4}, {2, 3, 4}}, [](const Inputs& x) { return atan2(x[0], x[1]); }, Domain::nonzero},
    {"atan2 scalar x", {{3, 4}}, [](const Inputs& x) { return atan2(x[0], -0.7); }, Domain::nonzero},
    {"atan2 scalar y", {{3, 4}}, [](const Inputs& x) { return atan2(1.3, x[0]); }, Domain::nonzero},
    {"sinh", {{3, 4}}, [](const Inputs& x) { return sinh(x[0]); }},
    {"cosh", {{3, 4}}, [](const Inputs& x) { return cosh(x[0]); }},
    {"asinh", {{3, 4}}, [](const Inputs& x) { return asinh(x[0] * 3.0); }},
    {"acosh", {{3, 4}}, [](const Inputs& x) { return acosh(x[0] + 0.7); }, Domain::positive},
    {"atanh", {{3, 4}}, [](const Inputs& x) { return atanh(x[0]); }, Domain::unit},
    {"log1p", {{3, 4}}, [](const Inputs& x) { return log1p(x[0]); }, Domain::unit},
    {"expm1", {{3, 4}}, [](const Inputs& x) { return expm1(x[0]); }},
    {"log2", {{3, 4}}, [](const Inputs& x) { return log2(x[0]); }, Domain::positive},
    {"log10", {{3, 4}}, [](const Inputs& x) { return log10(x[0]); }, Domain::positive},
    {"erf", {{3, 4}}, [](const Inputs& x) { return erf(x[0]); }},
    {"erfc", {{3, 4}}, [](const Inputs& x) { return erfc(x[0]); }},
    // sign passes nothing back: the gradient is sign(x) 3 x^2, from the cube alone
    {"sign (times x^3)", {{3, 4}}, [](const Inputs& x) { return sign(x[0]) * x[0] * x[0] * x[0]; }, Domain::nonzero},
    {"reciprocal", {{3, 4}}, [](const Inputs& x) { return reciprocal(x[0]); }, Domain::nonzero},
    // comparisons and masks (issue #12): autodiff/compare.hpp
    // (no input lies within 1e-6 of another or of 0.3: the masks do not change under the differences)
    {"where(x > y, x, y) with broadcasting", {{3, 4}, {4}}, [](const Inputs& x) { return autodiff::where(x[0] > x[1], x[0], x[1]); }},
    {"where(x >= 0.3, x^2, scalar)", {{3, 4}}, [](const Inputs& x) { return autodiff::where(x[0] >= 0.3, square(x[0]), 0.5); }},
    {"where(0.3 < x && x < 1, ...) with a constant branch first", {{3, 4}},
     [](const Inputs& x) { return autodiff::where(logical_or(0.3 < x[0] && x[0] < 1.0, x[0] <= -1.0), -0.25, sin(x[0])); }},
    {"where(x != y, ...) and logical_xor", {{3, 1}, {1, 4}},
     [](const Inputs& x) { return autodiff::where(logical_xor(x[0] != x[1], x[0] < x[1]), x[0] * x[1], x[1] - x[0]); }},

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
    // the LSTM step's fused ops (autodiff/recurrent.hpp): gates (batch, 4 hidden), state (batch, hidden)
    {"lstm_gates", {{3, 8}}, [](const Inputs& x) { return lstm_gates(x[0]); }},
    {"lstm_gates_backward", {{3, 8}, {3, 8}}, [](const Inputs& x) { return lstm_gates_backward(x[0], x[1]); }},
    {"lstm_state", {{3, 8}, {3, 2}}, [](const Inputs& x) { return lstm_state(x[0], x[1]); }},
    {"lstm_output", {{3, 8}, {3, 2}}, [](const Inputs& x) { return lstm_output(x[0], x[1]); }},
    {"lstm_cell: two steps, h and c", {{3, 8}, {3, 8}, {3, 2}},
     [](const Inputs& x) {
       const auto first = lstm_cell(x[0], x[2]);
       const auto second = lstm_cell(x[1] * concatenate({first.h, first.h, first.c, first.h}, 1), first.c);
       return second.h * second.c + first.h;
     }},
    // a whole layer (odd sizes: batch 3, time 4, input 5, hidden 2), every output used
    {"lstm_layer from zeros", {{3, 4, 5}, {8, 5}, {8, 2}, {8}},
     [](const Inputs& x) {
       const auto layer = lstm_layer(x[0], x[1] * 0.5, x[2], x[3]);
       return concatenate({reshape(layer.output, {3, 8}), layer.h * layer.c}, 1);
     }},
    {"lstm_layer from h0 and c0", {{3, 4, 5}, {8, 5}, {8, 2}, {8}, {3, 2}, {3, 2}},
     [](const Inputs& x) {
       const auto layer = lstm_layer(x[0], x[1] * 0.5, x[2], x[3], x[4], x[5]);
       return concatenate({reshape(layer.output, {3, 8}), layer.c * x[4]}, 1);
     }},
    {"log_softmax_backward", {{3, 4}, {3, 4}}, [](const Inputs& x) { return log_softmax_backward(x[0], x[1], 1); }},
    {"log_softmax_backward axis 0", {{3, 4}, {3, 4}}, [](const Inputs& x) { return log_softmax_backward(x[0], x[1], 0); }},
    // (more activations, issue #12)
    {"softplus", {{3, 4}}, [](const Inputs& x) { return softplus(x[0] * 3.0); }},
    {"softplus beta 2", {{3, 4}}, [](const Inputs& x) { return softplus(x[0], 2.0); }},
    // beta x in +-[0.1, 1]: the positive values lie above the threshold 0.05 (x itself), the negative below
    {"softplus beta 0.5 across the threshold", {{3, 4}}, [](const Inputs& x) { return softplus(x[0], 0.5, 0.05); }, Domain::nonzero},
    {"softplus beta -1.5", {{3, 4}}, [](const Inputs& x) { return softplus(x[0], -1.5); }},
    {"gelu exact", {{3, 4}}, [](const Inputs& x) { return gelu(x[0] * 1.5); }},
    {"gelu tanh", {{3, 4}}, [](const Inputs& x) { return gelu(x[0] * 1.5, Gelu::tanh); }},
    {"silu", {{3, 4}}, [](const Inputs& x) { return silu(x[0] * 2.0); }},
    {"mish", {{3, 4}}, [](const Inputs& x) { return mish(x[0] * 2.0); }},
    // |x| in [0.2, 2] and bounds -0.1, 0.15 and +-1: no input near a bound, some inside, some outside
    {"hardtanh", {{3, 4}}, [](const Inputs& x) { return hardtanh(x[0]) * x[0]; }, Domain::nonzero},
    {"hardtanh (-0.1, 0.15) scaled", {{3, 4}}, [](const Inputs& x) { return hardtanh(x[0] * 0.1, -0.1, 0.15); }, Domain::nonzero},

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
    {"var over axes 0 and 2 (3-D)", {{2, 3, 4}}, [](const Inputs& x) { return var(x[0], {0, 2}); }},
    {"var over axes -1 and 0 keepdims population", {{3, 2, 4}},
     [](const Inputs& x) { return var(x[0], {-1, 0}, true, {.correction = 0}); }},
    {"std over axes 1 and 2 (3-D)", {{2, 3, 4}}, [](const Inputs& x) { return stddev(x[0], {1, 2}); }},
    {"norm Frobenius per matrix of a batch", {{2, 3, 4}}, [](const Inputs& x) { return norm(x[0], 2, {-2, -1}); }},
    {"norm p=3 over axes 0 and 2 keepdims", {{2, 3, 2}}, [](const Inputs& x) { return norm(x[0], 3, {0, 2}, true); },
     Domain::nonzero},
    {"norm p=2 over no axes (|x|)", {{3, 2}}, [](const Inputs& x) { return norm(x[0], 2, {}); }, Domain::nonzero},
    {"sum over a braced {} (nothing reduced)", {{2, 3}}, [](const Inputs& x) { return sum(x[0], {}) * x[0]; }},
    {"max over a braced {0, 2}", {{2, 3, 4}}, [](const Inputs& x) { return max(x[0], {0, 2}); }},
    {"min all", {{3, 4}}, [](const Inputs& x) { return min(x[0]); }},
    {"min axis 0", {{3, 4}}, [](const Inputs& x) { return min(x[0], 0); }},
    {"min axis -1 keepdims (3-D)", {{2, 3, 4}}, [](const Inputs& x) { return min(x[0], -1, true); }},
    {"max axis 1 (3-D)", {{2, 3, 4}}, [](const Inputs& x) { return max(x[0], 1); }},
    {"prod all", {{2, 3}}, [](const Inputs& x) { return prod(x[0]); }, Domain::nonzero},
    {"prod axis 1", {{3, 4}}, [](const Inputs& x) { return prod(x[0], 1); }},
    {"prod axis 0 keepdims (3-D)", {{3, 2, 2}}, [](const Inputs& x) { return prod(x[0], 0, true); }},
    {"prod axis -2 (3-D)", {{2, 3, 2}}, [](const Inputs& x) { return prod(x[0], -2); }},
    {"prod_others", {{3, 4}}, [](const Inputs& x) { return prod_others(x[0], -1); }, Domain::nonzero},
    {"prod_others axis 0", {{3, 2}}, [](const Inputs& x) { return prod_others(x[0], 0); }, Domain::nonzero},
    {"prod_others_backward", {{3, 4}, {3, 4}}, [](const Inputs& x) { return prod_others_backward(x[0], x[1], 1); },
     Domain::nonzero},
    {"prod_others_backward axis 0 (3-D)", {{3, 2, 2}, {3, 2, 2}},
     [](const Inputs& x) { return prod_others_backward(x[0], x[1], 0); }, Domain::nonzero},
    {"var all", {{3, 4}}, [](const Inputs& x) { return var(x[0]); }},
    {"var all population", {{3, 4}}, [](const Inputs& x) { return var(x[0], {.correction = 0}); }},
    {"var axis 0 population", {{3, 4}}, [](const Inputs& x) { return var(x[0], 0, false, {.correction = 0}); }},
    {"var axis -1 keepdims (3-D)", {{2, 3, 4}}, [](const Inputs& x) { return var(x[0], -1, true); }},
    {"std all", {{3, 4}}, [](const Inputs& x) { return stddev(x[0]); }},
    {"std axis 1 population keepdims", {{3, 4}},
     [](const Inputs& x) { return stddev(x[0], 1, true, {.correction = 0}); }},
    {"std axis 0 (3-D)", {{3, 2, 2}}, [](const Inputs& x) { return stddev(x[0], 0); }},
    {"norm all (Frobenius)", {{3, 4}}, [](const Inputs& x) { return norm(x[0]); }},
    {"norm p=2 axis -1 keepdims (3-D)", {{2, 3, 4}}, [](const Inputs& x) { return norm(x[0], 2, -1, true); }},
    {"norm p=1 all", {{3, 4}}, [](const Inputs& x) { return norm(x[0], 1); }, Domain::nonzero},
    {"norm p=1 axis 0", {{3, 4}}, [](const Inputs& x) { return norm(x[0], 1, 0); }, Domain::nonzero},
    {"norm p=inf all", {{3, 4}}, [](const Inputs& x) { return norm(x[0], INFINITY); }, Domain::nonzero},
    {"norm p=inf axis 1", {{3, 4}}, [](const Inputs& x) { return norm(x[0], INFINITY, 1); }, Domain::nonzero},
    {"norm p=3 axis 0 keepdims", {{3, 4}}, [](const Inputs& x) { return norm(x[0], 3, 0, true); }, Domain::nonzero},
    {"norm p=1.5 all", {{3, 4}}, [](const Inputs& x) { return norm(x[0], 1.5); }, Domain::nonzero},
    {"cumsum axis 1", {{3, 4}}, [](const Inputs& x) { return cumsum(x[0], 1); }},
    {"cumsum axis 0 (3-D)", {{3, 2, 2}}, [](const Inputs& x) { return cumsum(x[0], 0); }},
    {"cumsum_backward axis -1", {{3, 4}}, [](const Inputs& x) { return cumsum_backward(x[0], -1); }},
    {"cumsum_backward axis 1 (3-D)", {{2, 3, 2}}, [](const Inputs& x) { return cumsum_backward(x[0], 1); }},
    {"sum axes {0, 2}", {{2, 3, 4}}, [](const Inputs& x) { return sum(x[0], {0, 2}); }},
    {"sum axes {0, -1} keepdims", {{2, 3, 4}}, [](const Inputs& x) { return sum(x[0], {0, -1}, true); }},
    {"sum axes {1, 2} of (2, 3, 1, 4) (an axis of length 1)", {{2, 3, 1, 4}},
     [](const Inputs& x) { return sum(x[0], {1, 2}); }},
    {"mean axes {0, -1}", {{2, 3, 4}}, [](const Inputs& x) { return mean(x[0], {0, -1}); }},
    {"mean axes {1, 2} keepdims", {{2, 3, 4}}, [](const Inputs& x) { return mean(x[0], {2, 1}, true); }},
    {"max axes {0, 2}", {{2, 3, 4}}, [](const Inputs& x) { return max(x[0], {0, 2}); }},
    {"min axes {-1, 0} keepdims", {{2, 3, 4}}, [](const Inputs& x) { return min(x[0], {-1, 0}, true); }},
    {"logsumexp axes {0, 2}", {{2, 3, 4}}, [](const Inputs& x) { return logsumexp(x[0], {0, 2}); }},
    {"logsumexp axes {1, 2} keepdims", {{2, 3, 4}}, [](const Inputs& x) { return logsumexp(x[0], {1, 2}, true); }},
    {"var of a sum over axes (compositions)", {{2, 3, 4}},
     [](const Inputs& x) { return var(sum(x[0], {0, 2}, true) * norm(x[0], 2, 1, true), 1); }},

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
    {"stack and concatenate of braced lists (T deduced)", {{2, 3}, {2, 3}},
     [](const Inputs& x) { return concatenate({stack({x[0], x[1] * x[0]}, -1), stack({x[1], x[0]}, -1)}, 1); }},
    {"tile and flip with one int", {{2, 3}}, [](const Inputs& x) { return flip(tile(x[0], 2), -1) * tile(x[0], {1, 2}); }},
    {"slice step 2 from a negative start", {{2, 7, 3}}, [](const Inputs& x) { return slice(x[0], 1, -6, 7, 2); }},
    {"slice step -2 to the front", {{3, 5}}, [](const Inputs& x) { return slice(x[0], -1, -1, LONG_MIN, -2); }},
    {"slice step -3 between bounds", {{8, 2}}, [](const Inputs& x) { return slice(x[0], 0, 6, 0, -3); }},
    {"slice with a clamped stop", {{4, 3}}, [](const Inputs& x) { return slice(x[0], 0, 1, 100); }},
    {"slice_backward step 2", {{2, 3, 2}}, [](const Inputs& x) { return slice_backward(x[0], 1, 1, 7, 2); }},
    {"slice_backward step -2", {{3, 2}}, [](const Inputs& x) { return slice_backward(x[0], 0, 4, 6, -2); }},
    {"stack axis 0", {{2, 3}, {2, 3}, {2, 3}}, [](const Inputs& x) { return stack<double>({x[0], x[1], x[2]}); }},
    {"stack axis 1 (a part twice)", {{2, 3}, {2, 3}},
     [](const Inputs& x) { return stack<double>({x[0], x[1] * x[0], x[0]}, 1); }},
    {"stack axis -1 (new last axis)", {{2, 3}, {2, 3}}, [](const Inputs& x) { return stack<double>({x[0], x[1]}, -1); }},
    {"split by sizes, parts reordered", {{2, 6}},
     [](const Inputs& x) {
       const auto p = split(x[0], {1, 3, 2}, 1);
       return concatenate<double>({p[2] * 3.0, p[0], square(p[1])}, -1);
     }},
    {"split into sections of 2 (the last one shorter)", {{5, 3}},
     [](const Inputs& x) {
       const auto p = split(x[0], 2, 0);
       return concatenate<double>({p[2], square(p[0]), p[1] * -2.0}, 0);
     }},
    // select and unstack: a sweep without create_graph adds their gradients in place
    // (Backward::add_grad_slice); the second-order check takes the recorded path.
    {"select a middle index, broadcast against x", {{3, 4}},
     [](const Inputs& x) { return x[0] * select(x[0], 0, 1) + select(x[0], 0, -1); }},
    {"select along the last axis", {{2, 3, 4}}, [](const Inputs& x) { return square(select(x[0], -1, 2)); }},
    {"unstack, parts reused and reordered", {{2, 3, 2}},
     [](const Inputs& x) {
       const auto p = unstack(x[0], 1);
       return stack<double>({p[2] * p[0], p[1], p[0] * 3.0}, 0);
     }},
    {"slices, a select and x itself add into one gradient", {{4, 5}},
     [](const Inputs& x) {
       return slice(x[0], 0, 0, 4, 2) * select(x[0], 0, 3) + square(slice(x[0], 0, 1, 3)) + slice(x[0], 0, 1, 3);
     }},
    {"x(i) of a vector, many times", {{5}},
     [](const Inputs& x) { return x[0](0) * x[0](3) + x[0](-1) * x[0](0) + square(x[0](2)); }},
    {"chunk into 3 along the last axis", {{2, 7}},
     [](const Inputs& x) {
       const auto p = chunk(x[0], 3, -1);
       return concatenate<double>({p[1] * p[0], p[2] * 4.0}, 1);
     }},
    {"squeeze all", {{3, 1, 4, 1}}, [](const Inputs& x) { return square(squeeze(x[0])); }},
    {"squeeze axis -2", {{3, 1, 4}}, [](const Inputs& x) { return squeeze(x[0], -2); }},
    {"unsqueeze axis -1", {{3, 4}}, [](const Inputs& x) { return unsqueeze(x[0], -1) * unsqueeze(x[0], 1); }},
    {"expand with -1 and a new leading axis", {{3, 1}}, [](const Inputs& x) { return expand(x[0], {2, -1, 4}); }},
    {"tile with more reps than axes", {{2, 3}}, [](const Inputs& x) { return tile(x[0], {2, 1, 3}); }},
    {"tile with fewer reps than axes", {{2, 3}}, [](const Inputs& x) { return square(tile(x[0], {2})); }},
    {"repeat", {{2, 3}}, [](const Inputs& x) { return repeat(x[0], {3, 2}) * repeat(x[0], {3, 2}); }},
    {"repeat with a new leading axis", {{3, 2}}, [](const Inputs& x) { return repeat(x[0], {2, 1, 2}); }},
    {"repeat_interleave axis 1", {{2, 3, 2}}, [](const Inputs& x) { return square(repeat_interleave(x[0], 3, 1)); }},
    {"repeat_interleave flattened", {{2, 3}}, [](const Inputs& x) { return repeat_interleave(x[0], 2); }},
    {"pad constant", {{2, 3}},
     [](const Inputs& x) { return square(pad(x[0], {{1, 2}, {0, 3}}, PadMode::constant, 0.5)); }},
    {"pad one pair for every axis", {{2, 3, 2}}, [](const Inputs& x) { return pad(x[0], {{1, 1}}); }},
    {"pad reflect", {{3, 4}}, [](const Inputs& x) { return square(pad(x[0], {{2, 1}, {1, 3}}, PadMode::reflect)); }},
    {"pad reflect 1-D", {{5}}, [](const Inputs& x) { return pad(x[0], {{3, 4}}, PadMode::reflect); }},
    {"pad edge", {{2, 3}}, [](const Inputs& x) { return square(pad(x[0], {{1, 2}, {2, 0}}, PadMode::edge)); }},
    // long rows: the interior is copied as one run (short rows go element by element)
    {"pad constant, long rows", {{2, 12}},
     [](const Inputs& x) { return square(pad(x[0], {{0, 1}, {1, 2}}, PadMode::constant, 0.25)); }},
    {"pad reflect, long rows", {{3, 12}}, [](const Inputs& x) { return square(pad(x[0], {{1, 2}, {1, 1}}, PadMode::reflect)); }},
    {"pad edge, long rows", {{2, 12}}, [](const Inputs& x) { return square(pad(x[0], {{1, 0}, {1, 1}}, PadMode::edge)); }},
    {"pad_backward reflect", {{6, 8}},
     [](const Inputs& x) { return pad_backward(x[0], {{2, 1}, {1, 3}}, PadMode::reflect); }},
    {"pad_backward edge", {{5, 5}}, [](const Inputs& x) { return pad_backward(x[0], {{1, 2}, {2, 0}}, PadMode::edge); }},
    {"pad_backward constant", {{5, 6}},
     [](const Inputs& x) { return pad_backward(x[0], {{1, 2}, {0, 3}}, PadMode::constant); }},
    {"flip axes 0 and -1", {{2, 3, 4}}, [](const Inputs& x) { return flip(x[0], {0, -1}) * x[0]; }},
    {"flip every axis", {{3, 4}}, [](const Inputs& x) { return flip(x[0]); }},

    // indexing (issue #12): autodiff/indexing.hpp
    {"index_select axis 1 (repeats, negative)", {{3, 4}},
     [](const Inputs& x) { return index_select(x[0], 1, {2, 0, -2, 2}); }},
    {"index_select axis 0 of a 3-D array", {{4, 2, 3}}, [](const Inputs& x) { return index_select(x[0], 0, {3, 1, 3}); }},
    {"index_select middle axis -2", {{2, 4, 3}},
     [](const Inputs& x) { return index_select(x[0], -2, {1, 1, 0, 3, -1}); }},
    {"index_select_backward (repeats)", {{2, 3, 2}},
     [](const Inputs& x) { return index_select_backward(x[0], 1, {4, 0, 4}, 5); }},
    {"index_select_backward last axis", {{3, 3}},
     [](const Inputs& x) { return index_select_backward(x[0], -1, {1, -1, 1}, 4); }},
    {"gather axis 0 (repeats, negative)", {{3, 4}},
     [](const Inputs& x) { return gather(x[0], 0, IndexArray{{2, 0, -1, 1}, {0, 0, 2, 1}}); }},
    {"gather axis -1, index smaller than x", {{3, 4}},
     [](const Inputs& x) { return gather(x[0], -1, IndexArray{{3, 0, 3}, {1, 1, -4}}); }},
    {"gather 3-D middle axis", {{2, 3, 4}},
     [](const Inputs& x) {
       return gather(x[0], 1, IndexArray{{{2, 0, 1}, {2, 2, 0}}, {{1, 0, 0}, {0, 2, 1}}});
     }},
    {"gather_backward (repeats)", {{2, 3}},
     [](const Inputs& x) { return gather_backward(x[0], 1, IndexArray{{3, 0, 3}, {1, 1, 2}}, {3, 4}); }},
    {"gather_backward, g larger than index", {{3, 4}},
     [](const Inputs& x) { return gather_backward(x[0], 0, IndexArray{{1, 0, 1}, {1, 2, 2}}, {3, 4}); }},
    {"scatter_add axis 0 (duplicates)", {{3, 4}, {2, 4}},
     [](const Inputs& x) { return scatter_add(x[0], 0, IndexArray{{2, 0, 2, 1}, {2, 2, 0, -3}}, x[1]); }},
    {"scatter_add axis 1, src larger than index", {{3, 4}, {3, 5}},
     [](const Inputs& x) { return scatter_add(x[0], 1, IndexArray{{3, 0, 3}, {1, 1, -1}}, x[1]); }},
    {"scatter_add then square (second derivative in src)", {{2, 3}, {2, 2}},
     [](const Inputs& x) { return square(scatter_add(x[0], -1, IndexArray{{2, 2}, {0, 1}}, x[1])); }},
    {"element access x(1, -1)", {{3, 4}}, [](const Inputs& x) { return x[0](1, -1); }},
    {"element access of a row x(-1)", {{3, 4}}, [](const Inputs& x) { return x[0](-1); }},
    {"element access x(0, 1)^3 (second order)", {{3, 4}},
     [](const Inputs& x) {
       V e = x[0](0, 1);
       return e * e * e;
     }},
    {"two elements of a 3-D array", {{2, 3, 4}}, [](const Inputs& x) { return x[0](0, 1, 2) * x[0](-1, 0); }},
    {"at_backward", {{4}}, [](const Inputs& x) { return at_backward(x[0], {-2}, {3, 4}); }},

    // convolution and pooling (issue #13): autodiff/conv.hpp
    // x (2, 3, 7, 6), w (4, 3, 3, 3), stride 2, padding 1: output (2, 4, 4, 3) (the last input column unused)
    {"conv2d with bias", {{2, 3, 5, 6}, {4, 3, 3, 2}, {4}}, [](const Inputs& x) { return conv2d(x[0], x[1], x[2]); }},
    {"conv2d stride 2, padding 1, no bias", {{2, 3, 7, 6}, {4, 3, 3, 3}},
     [](const Inputs& x) { return conv2d(x[0], x[1], {}, {.stride = 2, .padding = 1}); }},
    {"conv2d dilation 2, padding (1, 0)", {{2, 2, 7, 6}, {3, 2, 2, 3}, {3}},
     [](const Inputs& x) { return conv2d(x[0], x[1], x[2], {.padding = {1, 0}, .dilation = 2}); }},
    {"conv2d groups 2, stride (2, 1), padding 1", {{2, 4, 5, 5}, {6, 2, 3, 3}, {6}},
     [](const Inputs& x) { return conv2d(x[0], x[1], x[2], {.stride = {2, 1}, .padding = 1, .groups = 2}); }},
    {"conv2d everything: stride (1, 2), padding (2, 1), dilation (2, 1), groups 3", {{1, 3, 6, 7}, {3, 1, 3, 2}, {3}},
     [](const Inputs& x) {
       return conv2d(x[0], x[1], x[2], {.stride = {1, 2}, .padding = {2, 1}, .dilation = {2, 1}, .groups = 3});
     }},
    {"conv2d 1x1 kernel (no im2col), groups 2", {{2, 4, 3, 5}, {2, 2, 1, 1}, {2}},
     [](const Inputs& x) { return conv2d(x[0], x[1], x[2], {.groups = 2}); }},
    {"conv2d then square (second order through the nonlinearity)", {{1, 2, 5, 4}, {2, 2, 3, 3}},
     [](const Inputs& x) { return square(conv2d(x[0], x[1], {}, {.padding = 1})); }},
    {"conv2d_backward_input stride 2, padding 1", {{2, 4, 4, 3}, {4, 3, 3, 3}},
     [](const Inputs& x) { return conv2d_backward_input(x[0], x[1], {2, 3, 7, 6}, {.stride = 2, .padding = 1}); }},
    {"conv2d_backward_input dilation 2, groups 2", {{2, 4, 3, 4}, {4, 1, 2, 2}},
     [](const Inputs& x) { return conv2d_backward_input(x[0], x[1], {2, 2, 5, 6}, {.dilation = 2, .groups = 2}); }},
    {"conv2d_backward_weight stride 2, padding 1", {{2, 4, 4, 3}, {2, 3, 7, 6}},
     [](const Inputs& x) { return conv2d_backward_weight(x[0], x[1], {4, 3, 3, 3}, {.stride = 2, .padding = 1}); }},
    {"conv2d_backward_weight dilation 2, groups 2, padding (0, 1)", {{2, 4, 3, 6}, {2, 2, 5, 6}},
     [](const Inputs& x) {
       return conv2d_backward_weight(x[0], x[1], {4, 1, 2, 2}, {.padding = {0, 1}, .dilation = 2, .groups = 2});
     }},
    {"conv1d stride 2, padding 1, dilation 2, groups 2, bias", {{2, 4, 9}, {6, 2, 3}, {6}},
     [](const Inputs& x) { return conv1d(x[0], x[1], x[2], {.stride = 2, .padding = 1, .dilation = 2, .groups = 2}); }},
    {"conv1d no bias", {{3, 2, 6}, {3, 2, 4}}, [](const Inputs& x) { return conv1d(x[0], x[1]); }},
    // (random inputs: no two entries of a window lie within the differences' step)
    {"max_pool2d 2x2", {{2, 3, 4, 6}}, [](const Inputs& x) { return max_pool2d(x[0], 2); }},
    {"max_pool2d kernel 3, stride 2, padding 1, odd sizes", {{2, 2, 7, 5}},
     [](const Inputs& x) { return max_pool2d(x[0], 3, 2, 1); }},
    {"max_pool2d kernel (2, 3), stride (1, 2), then square", {{1, 2, 5, 7}},
     [](const Inputs& x) { return square(max_pool2d(x[0], {2, 3}, {1, 2})); }},
    {"avg_pool2d 2x2", {{2, 3, 4, 6}}, [](const Inputs& x) { return avg_pool2d(x[0], 2); }},
    {"avg_pool2d kernel (3, 2), stride (2, 1), padding 1", {{2, 2, 7, 5}},
     [](const Inputs& x) { return avg_pool2d(x[0], {3, 2}, {2, 1}, 1); }},
    {"avg_pool2d count_include_pad false, then square", {{1, 2, 5, 6}},
     [](const Inputs& x) { return square(avg_pool2d(x[0], 3, 2, 1, false)); }},
    {"adaptive_avg_pool2d (3, 2) of 7x5", {{2, 3, 7, 5}},
     [](const Inputs& x) { return square(adaptive_avg_pool2d(x[0], {3, 2})); }},
    {"adaptive_avg_pool2d 1x1 (global average)", {{2, 3, 4, 5}}, [](const Inputs& x) { return adaptive_avg_pool2d(x[0], 1); }},
    {"a small conv net: conv, relu-free softplus, max pool, conv, global average", {{2, 1, 8, 7}, {3, 1, 3, 3}, {3}, {2, 3, 2, 2}},
     [](const Inputs& x) {
       const V h = max_pool2d(softplus(conv2d(x[0], x[1], x[2], {.padding = 1})), 2);
       return adaptive_avg_pool2d(conv2d(h, x[3]), 1);
     }},

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
