// Random graphs against central finite differences in float64 (issue #11).
//
// Each run builds kDefaultGraphs graphs from a fixed base seed (each graph has
// its own seed, derived from the base and its number): 1-3 leaves of small
// shapes that broadcast against each other, then 3-10 ops drawn from every row
// family of the gradient table (tests/autodiff/gradients_test.cpp), with
// fan-out and values used twice, reduced to a scalar or left non-scalar. Every
// graph goes through gradcheck, every kSecondOrderEvery-th through
// gradgradcheck too. A failing graph is printed as a short C++ program, with
// its seed and the gradcheck report.
//
//   WENGERT_RANDOM_GRAPH_SEED=n    another base seed (default kDefaultBaseSeed, so CI is reproducible)
//   WENGERT_RANDOM_GRAPH_COUNT=n   another number of graphs (to explore: 100000)
//   WENGERT_RANDOM_GRAPH_PRINT=n   print graph n as a program, failing or not
//   WENGERT_RANDOM_GRAPH_VERBOSE=1 print how often each op was drawn
//
// How a graph keeps away from points where finite differences mean nothing
// (checked on the values at generation time; an op that breaks a rule is drawn
// again, with another op or another operand):
// - relu, abs, leaky_relu, elu, heaviside, sign, relu_backward (in x): every input
//   element is more than kKinkMargin from 0;
// - atan2(y, x): x^2 + y^2 > 0.25 everywhere (after broadcasting), and |y| >
//   kKinkMargin where x < kKinkMargin (atan2 jumps by 2 pi across x < 0, y = 0);
// - clip(x, lo, hi): every element is more than kKinkMargin from lo and from hi;
// - maximum(a, b), minimum(a, b): |a - b| > kKinkMargin everywhere (after broadcasting);
// - max (all, or along an axis): the largest element of each reduced lane
//   exceeds every other one by more than kKinkMargin (so no ties, not even
//   those that broadcasting or concatenating a value with itself makes);
// - log, sqrt, pow, x / y (in y), s / x: the operand is at least kPositiveMin
//   (when it is not, exp(x), square(x) + 0.5 or sigmoid(x) + 0.25 is put first);
// - log_softmax_backward(g, y): y <= 1, as a log-probability (<= 0) would be:
//   g - e^y sum(g) with a large y multiplies the rounding error of sum(g) by e^y,
//   and sum(g) is often 0 up to rounding (the gradient of another log_softmax);
// - every value is finite and at most kValueBound in magnitude, and has at most
//   kMaxElements elements (which also keeps the run short).
// - prod_others(x) and prod_others_backward(h, x): every element of x more than
//   kKinkMargin from 0 (prod's third derivative is exact only without zeros; prod
//   itself takes zeros: its first and second derivatives are exact with them);
// - stddev, and norm for p > 1: the result above kKinkMargin (no kink at 0); norm
//   for p = 1 and p = inf: as abs and max (no element at 0, a clear largest |x|);
// - min as max;
// - the elementwise functions of unary_functions() (sin, log1p, softplus, ...):
//   every element inside the row's (lo, hi) and more than kKinkMargin from its
//   kinks, after the row's preparation (positive, 0.9 tanh(x), or away from 0);
// And so that a gradient is rarely 0 everywhere: heaviside(x) comes as
// x heaviside(x), sign(x) as x sign(x); relu needs a positive input element; clip leaves some element
// inside its bounds; softmax and log_softmax take no axis of length 1; a - a and
// a / a are not drawn.
// The finite differences move a leaf by eps = 1e-6: an op within kKinkMargin of
// its kink is crossed only through a gain above 1000 from a leaf, which those
// bounds keep away. What is left is rounding: a function that cancels large
// terms (the sum of a log_softmax_backward of a log_softmax is 0) has finite
// differences with an error of about 1e-16 |terms| / eps. So a graph that fails
// at eps = 1e-6 is checked again at eps = 1e-5, and passes if it passes there:
// a wrong gradient's error does not change with eps (no more than 1 in 1000
// graphs may need this, else the test fails). Over 800,000 graphs (8 base
// seeds; 80,000 at second order) one needed it, and none failed.
#include <doctest/doctest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <xtensor/xbroadcast.hpp>

#include <autodiff/autodiff.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;

namespace {

constexpr std::uint64_t kDefaultBaseSeed = 20260611;
constexpr std::size_t kDefaultGraphs = 2000;
constexpr std::size_t kSecondOrderEvery = 10;
constexpr double kKinkMargin = 1e-3;
constexpr double kPositiveMin = 0.25;
constexpr double kValueBound = 100;
constexpr std::size_t kMaxElements = 64;
constexpr std::size_t kMaxListedFailures = 10;  // printed in full; the rest are counted

// ---- the ops a graph is made of ---------------------------------------------

enum class Op {
  leaf,
  // elementwise binary, with broadcasting
  add, sub, mul, div, maximum, minimum, where, where_scalar,
  // with a scalar constant
  neg, add_scalar, rsub_scalar, mul_scalar, div_scalar, rdiv_scalar,
  // elementwise functions
  pow, exp, log, sqrt, abs, square, clip,
  // activations
  sigmoid, tanh, relu, leaky_relu, elu, heaviside, softmax, log_softmax, sigmoid_backward, tanh_backward,
  relu_backward, log_softmax_backward,
  // reductions
  sum, sum_axis, mean, mean_axis, max, max_axis, logsumexp, sum_to,
  // linear algebra
  matmul, affine, transpose,
  // shape
  reshape, flatten, broadcast_to, slice, slice_rows, slice_backward, index_rows, index_rows_backward, pick,
  pick_backward, concatenate,
  // more reductions
  min, min_axis, sum_axes, mean_axes, logsumexp_axes, prod, prod_axis, prod_others, prod_others_backward, var, var_axis,
  stddev, stddev_axis, norm, norm_axis, cumsum, cumsum_backward,
  // more shape ops
  slice_step, stack, split, chunk, squeeze, squeeze_axis, unsqueeze, expand, tile, repeat_interleave, pad, pad_backward,
  flip, flip_all,
  // more products
  matmul_batched, permute, transpose_axes, dot, outer, mv, einsum,
  // indexing
  index_select, index_select_backward, gather, gather_backward, scatter_add, at, at_backward,
  // more elementwise and shape ops
  atan2, where_scalar_left, sign, repeat,
  // one index of an axis (the gradient the sweep adds in place)
  select, unstack,
  // the unary functions of the table below (node.fn says which)
  function,
  count
};

const char* name_of(Op op) {
  static const char* const names[] = {
      "leaf", "add", "sub", "mul", "div", "maximum", "minimum", "where", "where_scalar", "neg", "add_scalar",
      "rsub_scalar", "mul_scalar", "div_scalar", "rdiv_scalar", "pow", "exp", "log", "sqrt", "abs", "square",
      "clip", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "heaviside", "softmax", "log_softmax",
      "sigmoid_backward", "tanh_backward", "relu_backward", "log_softmax_backward", "sum", "sum_axis", "mean",
      "mean_axis", "max", "max_axis", "logsumexp", "sum_to", "matmul", "affine", "transpose", "reshape", "flatten",
      "broadcast_to", "slice", "slice_rows", "slice_backward", "index_rows", "index_rows_backward", "pick",
      "pick_backward", "concatenate", "min", "min_axis", "sum_axes", "mean_axes", "logsumexp_axes", "prod", "prod_axis",
      "prod_others", "prod_others_backward", "var", "var_axis", "stddev", "stddev_axis", "norm", "norm_axis", "cumsum",
      "cumsum_backward", "slice_step", "stack", "split", "chunk", "squeeze", "squeeze_axis", "unsqueeze", "expand", "tile",
      "repeat_interleave", "pad", "pad_backward", "flip", "flip_all", "matmul_batched", "permute", "transpose_axes", "dot",
      "outer", "mv", "einsum", "index_select", "index_select_backward", "gather", "gather_backward",
      "scatter_add", "at", "at_backward", "atan2", "where_scalar_left", "sign", "repeat", "select", "unstack",
      "function"};
  static_assert(sizeof(names) / sizeof(names[0]) == std::size_t(Op::count));
  return names[std::size_t(op)];
}

// Elementwise functions that differ only in what they compute and where they
// may be evaluated: one row each. The operand is made to fit first (prepare),
// then every element must lie in (lo, hi) and keep kKinkMargin from each kink.
enum class Prepare { none, positive, unit, nonzero, above_one };
struct UnaryFunction {
  const char* name;
  const char* after;  // printed after the operand: "sin(x)" has ")", "softplus(x, 2.0)" has ", 2.0)"
  V (*apply)(const V&);
  Prepare prepare = Prepare::none;
  double lo = -kValueBound, hi = kValueBound;
  std::vector<double> kinks = {};
};

const std::vector<UnaryFunction>& unary_functions() {
  static const std::vector<UnaryFunction> table = {
      {"sin", ")", [](const V& x) { return sin(x); }},
      {"cos", ")", [](const V& x) { return cos(x); }},
      {"tan", ")", [](const V& x) { return tan(x); }, Prepare::none, -1.3, 1.3},
      {"asin", ")", [](const V& x) { return asin(x); }, Prepare::unit, -0.95, 0.95},
      {"acos", ")", [](const V& x) { return acos(x); }, Prepare::unit, -0.95, 0.95},
      {"atan", ")", [](const V& x) { return atan(x); }},
      {"sinh", ")", [](const V& x) { return sinh(x); }, Prepare::none, -4, 4},
      {"cosh", ")", [](const V& x) { return cosh(x); }, Prepare::none, -4, 4},
      {"asinh", ")", [](const V& x) { return asinh(x); }},
      {"log1p", ")", [](const V& x) { return log1p(x); }, Prepare::positive},
      {"expm1", ")", [](const V& x) { return expm1(x); }, Prepare::none, -4, 4},
      {"log2", ")", [](const V& x) { return log2(x); }, Prepare::positive},
      {"log10", ")", [](const V& x) { return log10(x); }, Prepare::positive},
      {"erf", ")", [](const V& x) { return erf(x); }},
      {"erfc", ")", [](const V& x) { return erfc(x); }},
      {"acosh", ")", [](const V& x) { return acosh(x); }, Prepare::above_one, 1.05, kValueBound},
      {"atanh", ")", [](const V& x) { return atanh(x); }, Prepare::unit, -0.95, 0.95},
      {"reciprocal", ")", [](const V& x) { return reciprocal(x); }, Prepare::nonzero},
      {"softplus", ")", [](const V& x) { return softplus(x); }},
      {"softplus", ", 2.0, 3.0)", [](const V& x) { return softplus(x, 2.0, 3.0); }, Prepare::none, -kValueBound,
       kValueBound, {1.5}},  // beta x = threshold at x = 1.5
      {"gelu", ")", [](const V& x) { return gelu(x); }},
      {"gelu", ", Gelu::tanh)", [](const V& x) { return gelu(x, Gelu::tanh); }},
      {"silu", ")", [](const V& x) { return silu(x); }},
      {"mish", ")", [](const V& x) { return mish(x); }},
      {"hardtanh", ", -0.5, 1.0)", [](const V& x) { return hardtanh(x, -0.5, 1.0); }, Prepare::none, -kValueBound,
       kValueBound, {-0.5, 1.0}},
  };
  return table;
}

// One value of a graph: a leaf, or an op applied to earlier values.
struct GraphNode {
  Op op = Op::leaf;
  std::vector<std::size_t> args;  // earlier nodes
  long axis = 0;
  bool keepdims = false;
  double c = 0, c2 = 0;               // a constant; clip's bounds; leaky_relu's and elu's alpha; pow's exponent
  Shape shape;                        // a leaf's shape; reshape, broadcast_to, sum_to's target
  std::vector<std::size_t> indices;   // index_rows's rows, pick's labels
  Axes axes;                          // the reductions over several axes; flip, permute, tile, split, expand
  long start = 0, stop = 0, step = 1;  // slice_step; split's and chunk's part (start) and chunk count (stop)
  PadWidths widths;
  PadMode mode = PadMode::constant;
  std::string subscripts;             // einsum's
  IndexList list;                     // index_select's indices, at's position
  IndexArray index;                   // gather's and scatter_add's index
  std::size_t begin = 0, end = 0, n = 0;  // slice [begin, end); slice_backward's length; the *_backward counts
  MatmulOptions transposes;
  std::size_t fn = 0;                 // Op::function: the row of unary_functions()
  unsigned seed = 0;                  // a leaf's values, where's condition: test::random_array(shape, seed)
  Shape mask_shape;
  xt::xarray<bool> mask;              // random_array(mask_shape, seed) > 0, made once
};

// The op's name, or the function's call for Op::function ("softplus(x, 2.0, 3.0)"): what the run counts.
std::string label_of(const GraphNode& node) {
  if (node.op != Op::function) return name_of(node.op);
  return std::string(unary_functions()[node.fn].name) + "(x" + unary_functions()[node.fn].after;
}

xt::xarray<bool> make_mask(const Shape& shape, unsigned seed) {
  return xt::xarray<bool>(test::random_array(shape, seed) > 0.0);
}

V run_node(const GraphNode& node, const std::vector<V>& v) {
  auto a = [&](std::size_t i) -> const V& { return v[node.args[i]]; };
  switch (node.op) {
    case Op::add: return a(0) + a(1);
    case Op::sub: return a(0) - a(1);
    case Op::mul: return a(0) * a(1);
    case Op::div: return a(0) / a(1);
    case Op::maximum: return maximum(a(0), a(1));
    case Op::minimum: return minimum(a(0), a(1));
    case Op::where: return autodiff::where(node.mask, a(0), a(1));
    case Op::where_scalar: return autodiff::where(node.mask, a(0), node.c);
    case Op::neg: return -a(0);
    case Op::add_scalar: return a(0) + node.c;
    case Op::rsub_scalar: return node.c - a(0);
    case Op::mul_scalar: return node.c * a(0);
    case Op::div_scalar: return a(0) / node.c;
    case Op::rdiv_scalar: return node.c / a(0);
    case Op::pow: return pow(a(0), node.c);
    case Op::exp: return exp(a(0));
    case Op::log: return log(a(0));
    case Op::sqrt: return sqrt(a(0));
    case Op::abs: return abs(a(0));
    case Op::square: return square(a(0));
    case Op::clip: return clip(a(0), node.c, node.c2);
    case Op::sigmoid: return sigmoid(a(0));
    case Op::tanh: return tanh(a(0));
    case Op::relu: return relu(a(0));
    case Op::leaky_relu: return leaky_relu(a(0), node.c);
    case Op::elu: return elu(a(0), node.c);
    case Op::heaviside: return heaviside(a(0));
    case Op::softmax: return softmax(a(0), node.axis);
    case Op::log_softmax: return log_softmax(a(0), node.axis);
    case Op::sigmoid_backward: return sigmoid_backward(a(0), a(1));
    case Op::tanh_backward: return tanh_backward(a(0), a(1));
    case Op::relu_backward: return relu_backward(a(0), a(1), node.c);
    case Op::log_softmax_backward: return log_softmax_backward(a(0), a(1), node.axis);
    case Op::sum: return sum(a(0));
    case Op::sum_axis: return sum(a(0), node.axis, node.keepdims);
    case Op::mean: return mean(a(0));
    case Op::mean_axis: return mean(a(0), node.axis, node.keepdims);
    case Op::max: return max(a(0));
    case Op::max_axis: return max(a(0), node.axis, node.keepdims);
    case Op::logsumexp: return logsumexp(a(0), node.axis, node.keepdims);
    case Op::sum_to: return sum_to(a(0), node.shape);
    case Op::matmul: return matmul(a(0), a(1), node.transposes);
    case Op::affine: return affine(a(0), a(1), a(2));
    case Op::transpose: return transpose(a(0));
    case Op::reshape: return reshape(a(0), node.shape);
    case Op::flatten: return flatten(a(0), std::size_t(node.axis));
    case Op::broadcast_to: return broadcast_to(a(0), node.shape);
    case Op::slice: return slice(a(0), node.axis, node.begin, node.end);
    case Op::slice_rows: return slice_rows(a(0), node.begin, node.end);
    case Op::slice_backward: return slice_backward(a(0), node.axis, node.begin, node.n);
    case Op::index_rows: return index_rows(a(0), node.indices);
    case Op::index_rows_backward: return index_rows_backward(a(0), node.indices, node.n);
    case Op::pick: return pick(a(0), node.indices);
    case Op::pick_backward: return pick_backward(a(0), node.indices, node.n);
    case Op::concatenate: {
      std::vector<V> parts;
      for (std::size_t i = 0; i < node.args.size(); ++i) parts.push_back(a(i));
      return concatenate(parts, node.axis);
    }
    case Op::min: return min(a(0));
    case Op::min_axis: return min(a(0), node.axis, node.keepdims);
    case Op::sum_axes: return sum(a(0), node.axes, node.keepdims);
    case Op::mean_axes: return mean(a(0), node.axes, node.keepdims);
    case Op::logsumexp_axes: return logsumexp(a(0), node.axes, node.keepdims);
    case Op::prod: return prod(a(0));
    case Op::prod_axis: return prod(a(0), node.axis, node.keepdims);
    case Op::prod_others: return prod_others(a(0), node.axis);
    case Op::prod_others_backward: return prod_others_backward(a(0), a(1), node.axis);
    case Op::var: return var(a(0), {.correction = node.c2});
    case Op::var_axis: return var(a(0), node.axis, node.keepdims, {.correction = node.c2});
    case Op::stddev: return stddev(a(0), {.correction = node.c2});
    case Op::stddev_axis: return stddev(a(0), node.axis, node.keepdims, {.correction = node.c2});
    case Op::norm: return norm(a(0), node.c);
    case Op::norm_axis: return norm(a(0), node.c, node.axis, node.keepdims);
    case Op::cumsum: return cumsum(a(0), node.axis);
    case Op::cumsum_backward: return cumsum_backward(a(0), node.axis);
    case Op::slice_step: return slice(a(0), node.axis, node.start, node.stop, node.step);
    case Op::stack: {
      std::vector<V> parts;
      for (std::size_t i = 0; i < node.args.size(); ++i) parts.push_back(a(i));
      return stack(parts, node.axis);
    }
    case Op::split: return split(a(0), node.axes, node.axis).at(std::size_t(node.start));
    case Op::chunk: return chunk(a(0), node.stop, node.axis).at(std::size_t(node.start));
    case Op::squeeze: return squeeze(a(0));
    case Op::squeeze_axis: return squeeze(a(0), node.axis);
    case Op::unsqueeze: return unsqueeze(a(0), node.axis);
    case Op::expand: return expand(a(0), node.axes);
    case Op::tile: return tile(a(0), node.axes);
    case Op::repeat_interleave: return repeat_interleave(a(0), node.start, node.axis);
    case Op::pad: return pad(a(0), node.widths, node.mode, node.c);
    case Op::pad_backward: return pad_backward(a(0), node.widths, node.mode);
    case Op::flip: return flip(a(0), node.axes);
    case Op::flip_all: return flip(a(0));
    case Op::matmul_batched: return matmul(a(0), a(1), node.transposes);
    case Op::permute: return permute(a(0), node.axes);
    case Op::transpose_axes: return transpose(a(0), node.start, node.stop);
    case Op::dot: return dot(a(0), a(1));
    case Op::outer: return outer(a(0), a(1));
    case Op::mv: return mv(a(0), a(1));
    case Op::einsum: {
      std::vector<V> operands;
      for (std::size_t i = 0; i < node.args.size(); ++i) operands.push_back(a(i));
      return einsum(node.subscripts, operands);
    }
    case Op::index_select: return index_select(a(0), node.axis, node.list);
    case Op::index_select_backward: return index_select_backward(a(0), node.axis, node.list, node.n);
    case Op::gather: return gather(a(0), node.axis, node.index);
    case Op::gather_backward: return gather_backward(a(0), node.axis, node.index, node.shape);
    case Op::scatter_add: return scatter_add(a(0), node.axis, node.index, a(1));
    case Op::at: return at(a(0), node.list);
    case Op::at_backward: return at_backward(a(0), node.list, node.shape);
    case Op::atan2: return atan2(a(0), a(1));
    case Op::where_scalar_left: return autodiff::where(node.mask, node.c, a(0));
    case Op::sign: return sign(a(0));
    case Op::repeat: return repeat(a(0), node.axes);
    case Op::select: return select(a(0), node.axis, node.start);
    case Op::unstack: return unstack(a(0), node.axis).at(std::size_t(node.start));
    case Op::function: return unary_functions()[node.fn].apply(a(0));
    case Op::leaf:
    case Op::count: break;
  }
  throw std::logic_error("random graph: no op to apply");
}

// ---- printing a graph as C++ ------------------------------------------------

std::string number(double x) {
  if (std::isinf(x)) return x > 0 ? "INFINITY" : "-INFINITY";
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), x);  // the shortest exact form
  std::string text(buffer, result.ptr);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

template <class List>
std::string braces(const List& list) {
  std::string text = "{";
  for (std::size_t i = 0; i < list.size(); ++i) text += (i ? ", " : "") + std::to_string(list[i]);
  return text + "}";
}

std::string index_text(const IndexArray& index) {
  return "test::index_array(" + braces(index.shape()) + ", " + braces(std::vector<std::int64_t>(index.begin(), index.end())) + ")";
}

std::string widths_text(const PadWidths& widths) {
  std::string text = "PadWidths{";
  for (std::size_t i = 0; i < widths.size(); ++i)
    text += (i ? ", {" : "{") + std::to_string(widths[i].first) + ", " + std::to_string(widths[i].second) + "}";
  return text + "}";
}
std::string mode_text(PadMode mode) {
  return mode == PadMode::constant ? "PadMode::constant" : mode == PadMode::reflect ? "PadMode::reflect" : "PadMode::edge";
}
std::string transposes_text(const MatmulOptions& t) {
  std::string flags;
  if (t.transpose_a) flags = ".transpose_a = true";
  if (t.transpose_b) flags += std::string(flags.empty() ? "" : ", ") + ".transpose_b = true";
  return flags.empty() ? "" : ", {" + flags + "}";
}

std::string expression(const GraphNode& node, const std::vector<std::string>& names) {
  auto a = [&](std::size_t i) { return names[node.args[i]]; };
  auto all_args = [&] {
    std::string text;
    for (std::size_t i = 0; i < node.args.size(); ++i) text += (i ? ", " : "") + a(i);
    return text;
  };
  const std::string ax = std::to_string(node.axis), kd = node.keepdims ? "true" : "false";
  const std::string mask = "xt::xarray<bool>(test::random_array(" + braces(node.mask_shape) + ", " +
                           std::to_string(node.seed) + ") > 0.0)";
  switch (node.op) {
    case Op::add: return a(0) + " + " + a(1);
    case Op::sub: return a(0) + " - " + a(1);
    case Op::mul: return a(0) + " * " + a(1);
    case Op::div: return a(0) + " / " + a(1);
    case Op::maximum: return "maximum(" + a(0) + ", " + a(1) + ")";
    case Op::minimum: return "minimum(" + a(0) + ", " + a(1) + ")";
    case Op::where: return "autodiff::where(" + mask + ", " + a(0) + ", " + a(1) + ")";
    case Op::where_scalar: return "autodiff::where(" + mask + ", " + a(0) + ", " + number(node.c) + ")";
    case Op::neg: return "-" + a(0);
    case Op::add_scalar: return a(0) + " + " + number(node.c);
    case Op::rsub_scalar: return number(node.c) + " - " + a(0);
    case Op::mul_scalar: return number(node.c) + " * " + a(0);
    case Op::div_scalar: return a(0) + " / " + number(node.c);
    case Op::rdiv_scalar: return number(node.c) + " / " + a(0);
    case Op::pow: return "pow(" + a(0) + ", " + number(node.c) + ")";
    case Op::exp: return "exp(" + a(0) + ")";
    case Op::log: return "log(" + a(0) + ")";
    case Op::sqrt: return "sqrt(" + a(0) + ")";
    case Op::abs: return "abs(" + a(0) + ")";
    case Op::square: return "square(" + a(0) + ")";
    case Op::clip: return "clip(" + a(0) + ", " + number(node.c) + ", " + number(node.c2) + ")";
    case Op::sigmoid: return "sigmoid(" + a(0) + ")";
    case Op::tanh: return "tanh(" + a(0) + ")";
    case Op::relu: return "relu(" + a(0) + ")";
    case Op::leaky_relu: return "leaky_relu(" + a(0) + ", " + number(node.c) + ")";
    case Op::elu: return "elu(" + a(0) + ", " + number(node.c) + ")";
    case Op::heaviside: return "heaviside(" + a(0) + ")";
    case Op::softmax: return "softmax(" + a(0) + ", " + ax + ")";
    case Op::log_softmax: return "log_softmax(" + a(0) + ", " + ax + ")";
    case Op::sigmoid_backward: return "sigmoid_backward(" + a(0) + ", " + a(1) + ")";
    case Op::tanh_backward: return "tanh_backward(" + a(0) + ", " + a(1) + ")";
    case Op::relu_backward: return "relu_backward(" + a(0) + ", " + a(1) + ", " + number(node.c) + ")";
    case Op::log_softmax_backward: return "log_softmax_backward(" + a(0) + ", " + a(1) + ", " + ax + ")";
    case Op::sum: return "sum(" + a(0) + ")";
    case Op::sum_axis: return "sum(" + a(0) + ", " + ax + ", " + kd + ")";
    case Op::mean: return "mean(" + a(0) + ")";
    case Op::mean_axis: return "mean(" + a(0) + ", " + ax + ", " + kd + ")";
    case Op::max: return "max(" + a(0) + ")";
    case Op::max_axis: return "max(" + a(0) + ", " + ax + ", " + kd + ")";
    case Op::logsumexp: return "logsumexp(" + a(0) + ", " + ax + ", " + kd + ")";
    case Op::sum_to: return "sum_to(" + a(0) + ", " + braces(node.shape) + ")";
    case Op::matmul: return "matmul(" + a(0) + ", " + a(1) + transposes_text(node.transposes) + ")";
    case Op::affine: return "affine(" + a(0) + ", " + a(1) + ", " + a(2) + ")";
    case Op::transpose: return "transpose(" + a(0) + ")";
    case Op::reshape: return "reshape(" + a(0) + ", " + braces(node.shape) + ")";
    case Op::flatten: return "flatten(" + a(0) + ", " + ax + ")";
    case Op::broadcast_to: return "broadcast_to(" + a(0) + ", " + braces(node.shape) + ")";
    case Op::slice:
      return "slice(" + a(0) + ", " + ax + ", " + std::to_string(node.begin) + ", " + std::to_string(node.end) + ")";
    case Op::slice_rows:
      return "slice_rows(" + a(0) + ", " + std::to_string(node.begin) + ", " + std::to_string(node.end) + ")";
    case Op::slice_backward:
      return "slice_backward(" + a(0) + ", " + ax + ", " + std::to_string(node.begin) + ", " + std::to_string(node.n) +
             ")";
    case Op::index_rows: return "index_rows(" + a(0) + ", " + braces(node.indices) + ")";
    case Op::index_rows_backward:
      return "index_rows_backward(" + a(0) + ", " + braces(node.indices) + ", " + std::to_string(node.n) + ")";
    case Op::pick: return "pick(" + a(0) + ", " + braces(node.indices) + ")";
    case Op::pick_backward:
      return "pick_backward(" + a(0) + ", " + braces(node.indices) + ", " + std::to_string(node.n) + ")";
    case Op::concatenate: {
      std::string parts;
      for (std::size_t i = 0; i < node.args.size(); ++i) parts += (i ? ", " : "") + a(i);
      return "concatenate<double>({" + parts + "}, " + ax + ")";
    }
    case Op::min: return "min(" + a(0) + ")";
    case Op::min_axis: return "min(" + a(0) + ", " + ax + ", " + kd + ")";
    case Op::sum_axes: return "sum(" + a(0) + ", Axes" + braces(node.axes) + ", " + kd + ")";
    case Op::mean_axes: return "mean(" + a(0) + ", Axes" + braces(node.axes) + ", " + kd + ")";
    case Op::logsumexp_axes: return "logsumexp(" + a(0) + ", Axes" + braces(node.axes) + ", " + kd + ")";
    case Op::prod: return "prod(" + a(0) + ")";
    case Op::prod_axis: return "prod(" + a(0) + ", " + ax + ", " + kd + ")";
    case Op::prod_others: return "prod_others(" + a(0) + ", " + ax + ")";
    case Op::prod_others_backward: return "prod_others_backward(" + a(0) + ", " + a(1) + ", " + ax + ")";
    case Op::var: return "var(" + a(0) + ", {.correction = " + number(node.c2) + "})";
    case Op::var_axis: return "var(" + a(0) + ", " + ax + ", " + kd + ", {.correction = " + number(node.c2) + "})";
    case Op::stddev: return "stddev(" + a(0) + ", {.correction = " + number(node.c2) + "})";
    case Op::stddev_axis:
      return "stddev(" + a(0) + ", " + ax + ", " + kd + ", {.correction = " + number(node.c2) + "})";
    case Op::norm: return "norm(" + a(0) + ", " + number(node.c) + ")";
    case Op::norm_axis: return "norm(" + a(0) + ", " + number(node.c) + ", " + ax + ", " + kd + ")";
    case Op::cumsum: return "cumsum(" + a(0) + ", " + ax + ")";
    case Op::cumsum_backward: return "cumsum_backward(" + a(0) + ", " + ax + ")";
    case Op::slice_step:
      return "slice(" + a(0) + ", " + ax + ", " + std::to_string(node.start) + ", " + std::to_string(node.stop) + ", " +
             std::to_string(node.step) + ")";
    case Op::stack: return "stack<double>({" + all_args() + "}, " + ax + ")";
    case Op::split:
      return "split(" + a(0) + ", std::vector<long>" + braces(node.axes) + ", " + ax + ")[" + std::to_string(node.start) + "]";
    case Op::chunk:
      return "chunk(" + a(0) + ", " + std::to_string(node.stop) + ", " + ax + ")[" + std::to_string(node.start) + "]";
    case Op::squeeze: return "squeeze(" + a(0) + ")";
    case Op::squeeze_axis: return "squeeze(" + a(0) + ", " + ax + ")";
    case Op::unsqueeze: return "unsqueeze(" + a(0) + ", " + ax + ")";
    case Op::expand: return "expand(" + a(0) + ", " + braces(node.axes) + ")";
    case Op::tile: return "tile(" + a(0) + ", " + braces(node.axes) + ")";
    case Op::repeat_interleave: return "repeat_interleave(" + a(0) + ", " + std::to_string(node.start) + ", " + ax + ")";
    case Op::pad: return "pad(" + a(0) + ", " + widths_text(node.widths) + ", " + mode_text(node.mode) + ", " + number(node.c) + ")";
    case Op::pad_backward: return "pad_backward(" + a(0) + ", " + widths_text(node.widths) + ", " + mode_text(node.mode) + ")";
    case Op::flip: return "flip(" + a(0) + ", " + braces(node.axes) + ")";
    case Op::flip_all: return "flip(" + a(0) + ")";
    case Op::matmul_batched: return "matmul(" + a(0) + ", " + a(1) + transposes_text(node.transposes) + ")";
    case Op::permute: return "permute(" + a(0) + ", " + braces(node.axes) + ")";
    case Op::transpose_axes:
      return "transpose(" + a(0) + ", " + std::to_string(node.start) + ", " + std::to_string(node.stop) + ")";
    case Op::dot: return "dot(" + a(0) + ", " + a(1) + ")";
    case Op::outer: return "outer(" + a(0) + ", " + a(1) + ")";
    case Op::mv: return "mv(" + a(0) + ", " + a(1) + ")";
    case Op::einsum: return "einsum(\"" + node.subscripts + "\", " + all_args() + ")";
    case Op::index_select: return "index_select(" + a(0) + ", " + ax + ", " + braces(node.list) + ")";
    case Op::index_select_backward:
      return "index_select_backward(" + a(0) + ", " + ax + ", " + braces(node.list) + ", " + std::to_string(node.n) + ")";
    case Op::gather: return "gather(" + a(0) + ", " + ax + ", " + index_text(node.index) + ")";
    case Op::gather_backward:
      return "gather_backward(" + a(0) + ", " + ax + ", " + index_text(node.index) + ", " + braces(node.shape) + ")";
    case Op::scatter_add: return "scatter_add(" + a(0) + ", " + ax + ", " + index_text(node.index) + ", " + a(1) + ")";
    case Op::at: {  // x(i, j)
      const std::string list = braces(node.list);
      return a(0) + "(" + list.substr(1, list.size() - 2) + ")";
    }
    case Op::at_backward: return "at_backward(" + a(0) + ", " + braces(node.list) + ", " + braces(node.shape) + ")";
    case Op::atan2: return "atan2(" + a(0) + ", " + a(1) + ")";
    case Op::where_scalar_left: return "autodiff::where(" + mask + ", " + number(node.c) + ", " + a(0) + ")";
    case Op::sign: return "sign(" + a(0) + ")";
    case Op::repeat: return "repeat(" + a(0) + ", std::vector<long>" + braces(node.axes) + ")";
    case Op::select: return "select(" + a(0) + ", " + ax + ", " + std::to_string(node.start) + ")";
    case Op::unstack: return "unstack(" + a(0) + ", " + ax + ")[" + std::to_string(node.start) + "]";
    case Op::function: return std::string(unary_functions()[node.fn].name) + "(" + a(0) + unary_functions()[node.fn].after;
    case Op::leaf:
    case Op::count: break;
  }
  return "?";
}

struct Graph {
  std::size_t number = 0;  // in this run
  std::uint64_t seed = 0;
  std::size_t leaves = 0;  // nodes [0, leaves) are the inputs
  std::vector<GraphNode> nodes;
  bool broadcasts = false;        // some elementwise op has operands of different shapes
  bool fans_out = false;          // some value is an input of two ops
  std::size_t output_size = 0;

  std::vector<Array<double>> inputs() const {
    std::vector<Array<double>> values;
    for (std::size_t i = 0; i < leaves; ++i) values.push_back(test::random_array(nodes[i].shape, nodes[i].seed));
    return values;
  }
  unsigned projection_seed() const { return unsigned(seed >> 32); }

  // The value of the last node, from the leaves x.
  V operator()(const std::vector<V>& x) const {
    std::vector<V> v(x.begin(), x.end());
    v.reserve(nodes.size());
    for (std::size_t i = leaves; i < nodes.size(); ++i) v.push_back(run_node(nodes[i], v));
    return v.back();
  }

  // A program to paste into a doctest case (with `using namespace autodiff;
  // using V = Variable<double>;` and tests/test_util.hpp, as gradients_test.cpp has).
  std::string program(bool second_order) const {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      names.push_back(i < leaves ? "x[" + std::to_string(i) + "]" : "v" + std::to_string(i));
    std::ostringstream out;
    out << "// random graph " << number << ", graph seed " << seed << "\n";
    out << "auto f = [](const std::vector<V>& x) {\n";
    for (std::size_t i = leaves; i < nodes.size(); ++i)
      out << "  V " << names[i] << " = " << expression(nodes[i], names) << ";\n";
    out << "  return " << names.back() << ";\n};\n";
    out << "const std::vector<Array<double>> inputs = {";
    for (std::size_t i = 0; i < leaves; ++i)
      out << (i ? ", " : "") << "test::random_array(" << braces(nodes[i].shape) << ", " << nodes[i].seed << ")";
    out << "};\n";
    out << "GradCheckOptions options;\noptions.seed = " << projection_seed() << ";\n";
    out << "std::cout << autodiff::" << (second_order ? "gradgradcheck" : "gradcheck") << "(f, inputs, options);\n";
    return out.str();
  }
};

// ---- making a graph ---------------------------------------------------------

// SplitMix64: each graph's seed from the base seed and its number.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A small generator whose draws are the same with every standard library.
struct Random {
  std::uint64_t state;
  std::uint64_t next() { return state = mix(state); }
  std::size_t below(std::size_t n) { return std::size_t(next() % n); }  // [0, n)
  std::size_t between(std::size_t lo, std::size_t hi) { return lo + below(hi - lo + 1); }  // [lo, hi]
  bool chance(double p) { return double(next() >> 11) * 0x1.0p-53 < p; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * double(next() >> 11) * 0x1.0p-53; }
  template <class T>
  T choice(const std::vector<T>& options) { return options[below(options.size())]; }
};

// An op rejected at this point: drawn again.
struct Reject {};

std::size_t size_of(const Shape& shape) {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

bool broadcastable(const Shape& a, const Shape& b, Shape* joint = nullptr) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape result(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::size_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::size_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) return false;
    result[i] = std::max(da, db);
  }
  if (joint) *joint = result;
  return true;
}

// (outer, n, inner) around an axis of a row-major array.
struct Lanes {
  std::size_t outer = 1, n = 1, inner = 1;
};
Lanes lanes(const Shape& shape, std::size_t axis) {
  Lanes l;
  for (std::size_t d = 0; d < axis; ++d) l.outer *= shape[d];
  l.n = shape[axis];
  for (std::size_t d = axis + 1; d < shape.size(); ++d) l.inner *= shape[d];
  return l;
}

// The largest element of every lane exceeds the others by more than the margin.
bool clear_maximum(const Array<double>& x, std::size_t axis) {
  const Lanes l = lanes(x.shape(), axis);
  for (std::size_t o = 0; o < l.outer; ++o)
    for (std::size_t i = 0; i < l.inner; ++i) {
      double first = -INFINITY, second = -INFINITY;
      for (std::size_t k = 0; k < l.n; ++k) {
        const double v = x.data()[(o * l.n + k) * l.inner + i];
        if (v > first) {
          second = first;
          first = v;
        } else if (v > second) {
          second = v;
        }
      }
      if (!(first - second > kKinkMargin)) return false;
    }
  return true;
}

double min_of(const Array<double>& x) { return *std::min_element(x.begin(), x.end()); }
double max_of(const Array<double>& x) { return *std::max_element(x.begin(), x.end()); }
bool away_from(const Array<double>& x, double kink) {
  return std::all_of(x.begin(), x.end(), [kink](double v) { return std::abs(v - kink) > kKinkMargin; });
}

// The rules of the file's comment, for a node whose value is `out`.
bool fit(const GraphNode& node, const std::vector<V>& v, const V& out) {
  if (out.size() == 0 || out.size() > kMaxElements) return false;
  if (!std::all_of(out.value().begin(), out.value().end(),
                   [](double y) { return std::isfinite(y) && std::abs(y) <= kValueBound; }))
    return false;
  auto a = [&](std::size_t i) -> const Array<double>& { return v[node.args[i]].value(); };
  switch (node.op) {
    case Op::relu:  // and not 0 everywhere
      return away_from(a(0), 0.0) && max_of(a(0)) > 0;
    case Op::abs:
    case Op::leaky_relu:
    case Op::elu:
    case Op::heaviside:
    case Op::sign: return away_from(a(0), 0.0);
    case Op::atan2: {  // atan2(y, x): away from the origin, and from the cut (x < 0, y = 0) where it jumps by 2 pi
      const Array<double> y = xt::broadcast(a(0), out.shape()), x = xt::broadcast(a(1), out.shape());
      for (std::size_t i = 0; i < y.size(); ++i) {
        const double yi = y.data()[i], xi = x.data()[i];
        if (xi * xi + yi * yi <= 0.25 || (xi < kKinkMargin && std::abs(yi) <= kKinkMargin)) return false;
      }
      return true;
    }
    case Op::relu_backward: return away_from(a(1), 0.0);  // relu_backward(g, x): the kink is in x
    case Op::log_softmax_backward: return max_of(a(1)) <= 1;  // (g, y): y a log-probability, about
    case Op::clip: return away_from(a(0), node.c) && away_from(a(0), node.c2);
    case Op::maximum:
    case Op::minimum: return away_from(Array<double>(a(0) - a(1)), 0.0);
    case Op::max: {
      Array<double> flat = a(0);
      flat.reshape({flat.size()});
      return clear_maximum(flat, 0);
    }
    case Op::max_axis:
      return clear_maximum(a(0), std::size_t(node.axis < 0 ? node.axis + long(a(0).dimension()) : node.axis));
    case Op::log:
    case Op::sqrt:
    case Op::pow:
    case Op::rdiv_scalar: return min_of(a(0)) >= kPositiveMin;
    case Op::div: return min_of(a(1)) >= kPositiveMin;
    case Op::min: {
      Array<double> flat = -a(0);
      flat.reshape({flat.size()});
      return clear_maximum(flat, 0);
    }
    case Op::min_axis:
      return clear_maximum(Array<double>(-a(0)), std::size_t(node.axis < 0 ? node.axis + long(a(0).dimension()) : node.axis));
    case Op::prod_others:  // its second derivative (prod's third) divides by x
      return away_from(a(0), 0.0);
    case Op::prod_others_backward:  // (h, x): its x-gradient (prod's third derivative) divides by x
      return away_from(a(1), 0.0);
    case Op::stddev:
    case Op::stddev_axis:  // away from std = 0, where its gradient has a kink
      return min_of(out.value()) > kKinkMargin;
    case Op::norm:
    case Op::norm_axis:
      if (node.c == 1) return away_from(a(0), 0.0);  // |x|
      if (std::isinf(node.c)) {  // max |x|: a clear largest magnitude, away from 0
        const Array<double> magnitude = xt::abs(a(0));
        if (!away_from(magnitude, 0.0)) return false;
        if (node.op == Op::norm) {
          Array<double> flat = magnitude;
          flat.reshape({flat.size()});
          return clear_maximum(flat, 0);
        }
        return clear_maximum(magnitude, std::size_t(node.axis < 0 ? node.axis + long(a(0).dimension()) : node.axis));
      }
      return min_of(out.value()) > kKinkMargin;  // p-norms are smooth away from 0
    case Op::function: {
      const UnaryFunction& f = unary_functions()[node.fn];
      if (!(min_of(a(0)) > f.lo && max_of(a(0)) < f.hi)) return false;
      return std::all_of(f.kinks.begin(), f.kinks.end(), [&](double kink) { return away_from(a(0), kink); });
    }
    default: return true;
  }
}

bool is_elementwise(Op op) {
  switch (op) {
    case Op::add:
    case Op::sub:
    case Op::mul:
    case Op::div:
    case Op::maximum:
    case Op::minimum:
    case Op::where:
    case Op::where_scalar:
    case Op::where_scalar_left:
    case Op::atan2:
    case Op::sigmoid_backward:
    case Op::tanh_backward: return true;
    default: return false;
  }
}

class Generator {
 public:
  Generator(std::size_t number, std::uint64_t seed) : random_{seed} {
    graph_.number = number;
    graph_.seed = seed;
  }

  Graph make() {
    values_.clear();
    consumers_.clear();
    make_leaves();
    // The leaves first meet in binary ops, where their shapes broadcast.
    std::size_t current = 0;
    for (std::size_t i = 1; i < graph_.leaves; ++i) current = combine(current, i);
    const std::size_t ops = random_.between(3, 10);
    for (std::size_t k = 0; k < ops; ++k) step();
    ensure_fan_out();
    finish();
    graph_.output_size = values_.back().size();
    graph_.fans_out = std::any_of(consumers_.begin(), consumers_.end(), [](const auto& c) { return c.size() >= 2; });
    return graph_;
  }

  // The graph so far (after an exception: with the node that threw last).
  const Graph& partial() const { return graph_; }

 private:
  Random random_;
  Graph graph_;
  std::vector<V> values_;                    // of graph_.nodes, computed without a tape
  std::vector<std::set<std::size_t>> consumers_;  // the nodes that take each node as an input

  const V& value(std::size_t i) const { return values_[i]; }
  const Shape& shape(std::size_t i) const { return values_[i].shape(); }
  std::size_t rank(std::size_t i) const { return values_[i].dimension(); }
  std::size_t last() const { return graph_.nodes.size() - 1; }

  void make_leaves() {
    graph_.leaves = random_.between(1, 3);
    // A base shape; each leaf has its trailing axes, some of them 1, so that all broadcast together.
    const std::size_t base_rank = graph_.leaves > 1 ? random_.between(1, 3) : random_.between(0, 3);
    Shape base(base_rank);
    for (auto& d : base) d = random_.between(1, 4);
    for (std::size_t i = 0; i < graph_.leaves; ++i) {
      GraphNode leaf;
      const std::size_t r = i == 0 && random_.chance(0.5) ? base_rank : random_.between(0, base_rank);
      leaf.shape = Shape(base.end() - static_cast<std::ptrdiff_t>(r), base.end());
      if (i > 0)
        for (auto& d : leaf.shape)
          if (random_.chance(0.35)) d = 1;
      if (i == 1 && leaf.shape == graph_.nodes[0].shape)  // the first two differ
        leaf.shape = leaf.shape.empty() ? base : Shape{};
      leaf.seed = unsigned(random_.next() & 0xffffffu);
      graph_.nodes.push_back(leaf);
      values_.emplace_back(test::random_array(leaf.shape, leaf.seed));
      consumers_.emplace_back();
    }
  }

  // Appends a node (after the rules' check); Reject if it breaks one.
  std::size_t push(GraphNode node, bool checked = true) {
    V out;
    try {
      out = run_node(node, values_);
    } catch (const std::exception&) {  // to be printed with the graph
      graph_.nodes.push_back(std::move(node));
      throw;
    }
    if (checked && !fit(node, values_, out)) throw Reject{};
    graph_.nodes.push_back(std::move(node));
    values_.push_back(std::move(out));
    consumers_.emplace_back();
    return last();
  }

  GraphNode unary(Op op, std::size_t a) {
    GraphNode node;
    node.op = op;
    node.args = {a};
    return node;
  }
  GraphNode binary(Op op, std::size_t a, std::size_t b) {
    GraphNode node;
    node.op = op;
    node.args = {a, b};
    return node;
  }

  // Tries an op; on Reject the graph is as it was.
  bool attempt(const std::function<void()>& make_op) {
    const std::size_t mark = graph_.nodes.size();
    try {
      make_op();
    } catch (const Reject&) {
      graph_.nodes.resize(mark);
      values_.resize(mark);
      consumers_.resize(mark);
      return false;
    }
    for (std::size_t i = mark; i < graph_.nodes.size(); ++i) {
      const GraphNode& node = graph_.nodes[i];
      for (std::size_t arg : node.args) consumers_[arg].insert(i);
      if (is_elementwise(node.op) && (shape(node.args[0]) != values_[i].shape() ||
                                      shape(node.args.back()) != values_[i].shape()))
        graph_.broadcasts = true;
    }
    return true;
  }

  // The operand of the next op: mostly the newest value (a chain), else an
  // earlier one (so values fan out), often one that nothing uses yet.
  std::size_t operand() {
    if (random_.chance(0.5)) return last();
    if (random_.chance(0.5)) {
      const auto unused = nodes_where([&](std::size_t i) { return consumers_[i].empty(); });
      if (!unused.empty()) return random_.choice(unused);
    }
    return random_.below(graph_.nodes.size());
  }

  // x itself if it is positive enough for log, sqrt, pow and division, else a positive function of it.
  std::size_t positive(std::size_t x) {
    if (min_of(value(x).value()) >= kPositiveMin) return x;
    switch (random_.below(3)) {
      case 0:
        if (min_of(value(x).value()) > std::log(kPositiveMin) && max_of(value(x).value()) < 4)
          return push(unary(Op::exp, x));
        [[fallthrough]];
      case 1: {
        GraphNode half = unary(Op::add_scalar, push(unary(Op::square, x)));
        half.c = 0.5;
        return push(half);
      }
      default: {
        GraphNode quarter = unary(Op::add_scalar, push(unary(Op::sigmoid, x)));
        quarter.c = 0.25;
        return push(quarter);
      }
    }
  }

  double constant() { return random_.choice<double>({-2.5, -1.5, -0.5, 0.25, 0.5, 0.75, 1.5, 2.0, 3.0}); }

  // A shape that broadcasts to `shape`: some leading axes dropped, some axes 1.
  Shape broadcasting_to(const Shape& shape) {
    const std::size_t drop = random_.between(0, shape.size());
    Shape result(shape.begin() + static_cast<std::ptrdiff_t>(drop), shape.end());
    for (auto& d : result)
      if (random_.chance(0.3)) d = 1;
    return result;
  }

  static std::size_t axis_of(long axis, std::size_t r) { return std::size_t(axis < 0 ? axis + long(r) : axis); }
  std::int64_t index_in(long n) {  // in [-n, n): NumPy's negative indices too
    const long i = long(random_.below(std::size_t(n)));
    return random_.chance(0.3) ? i - n : i;
  }
  IndexArray random_index(const Shape& shape, long n) {
    IndexArray index = IndexArray::from_shape(shape);
    for (auto& i : index) i = index_in(n);
    return index;
  }

  long random_axis(std::size_t r) {  // in [-r, r)
    const long axis = long(random_.below(r));
    return random_.chance(0.3) ? axis - long(r) : axis;
  }

  void binary_op(Op op, std::size_t a, std::size_t b) {
    if (op != Op::div && random_.chance(0.5)) std::swap(a, b);
    if (op == Op::div) b = positive(b);
    if ((op == Op::sub || op == Op::div || op == Op::atan2) && a == b) throw Reject{};  // a constant, 0 or 1 or an angle
    GraphNode node = binary(op, a, b);
    if (op == Op::where || op == Op::where_scalar || op == Op::where_scalar_left) {
      Shape joint = shape(a);
      if (op == Op::where) broadcastable(shape(a), shape(b), &joint);
      node.mask_shape = random_.chance(0.5) ? joint : broadcasting_to(joint);
      node.seed = unsigned(random_.next() & 0xffffu);
      node.mask = make_mask(node.mask_shape, node.seed);
      if (op == Op::where_scalar || op == Op::where_scalar_left) {
        node.args = {a};
        node.c = constant();
      }
    }
    push(node);
  }

  // Leaf i meets the value so far.
  std::size_t combine(std::size_t current, std::size_t leaf) {
    static const std::vector<Op> ops = {Op::add, Op::sub, Op::mul, Op::div, Op::maximum, Op::minimum, Op::where};
    for (int tries = 0; tries < 20; ++tries)
      if (attempt([&] { binary_op(random_.choice(ops), current, leaf); })) return last();
    attempt([&] { binary_op(Op::add, current, leaf); });
    return last();
  }

  // Nodes whose shapes satisfy `accept`.
  std::vector<std::size_t> nodes_where(const std::function<bool(std::size_t)>& accept) const {
    std::vector<std::size_t> found;
    for (std::size_t i = 0; i < graph_.nodes.size(); ++i)
      if (accept(i)) found.push_back(i);
    return found;
  }

  // One op of the graph (perhaps with helpers: a positive operand, a matrix to multiply by).
  void step() {
    for (int tries = 0; tries < 200; ++tries) {
      const Op op = draw_op();
      const std::size_t a = operand();
      if (attempt([&] { make_op(op, a); })) return;
    }
  }

  Op draw_op() {
    // Reductions to a scalar are drawn less often: the ops after them have little to work on.
    // Each row of unary_functions() is drawn as often as an op of its own.
    const std::size_t ops = std::size_t(Op::function) - std::size_t(Op::add), functions = unary_functions().size();
    for (;;) {
      if (random_.below(ops + functions) < functions) return Op::function;
      const Op op = Op(random_.between(std::size_t(Op::add), std::size_t(Op::function) - 1));
      if ((op == Op::sum || op == Op::mean || op == Op::max || op == Op::min || op == Op::prod || op == Op::var ||
           op == Op::stddev || op == Op::norm) &&
          !random_.chance(0.3))
        continue;
      return op;
    }
  }

  void make_op(Op op, std::size_t a) {
    // Ops on matrices and vectors take a reshaped value too (x of shape (2, 3, 2) as (6, 2), say).
    if ((op == Op::matmul || op == Op::affine || op == Op::pick) && rank(a) != 2 && random_.chance(0.7)) {
      GraphNode matrix = unary(Op::reshape, a);
      matrix.shape = random_shape(size_of(shape(a)), 2);
      a = push(matrix);
    }
    if (op == Op::pick_backward && rank(a) != 1 && random_.chance(0.5)) a = push(unary(Op::flatten, a));
    const Shape s = shape(a);
    const std::size_t r = s.size();
    GraphNode node = unary(op, a);
    switch (op) {
      case Op::add:
      case Op::sub:
      case Op::mul:
      case Op::div:
      case Op::maximum:
      case Op::minimum:
      case Op::atan2:
      case Op::where: {
        const auto partners = nodes_where([&](std::size_t j) {
          Shape joint;
          return broadcastable(s, shape(j), &joint) && size_of(joint) <= kMaxElements;
        });
        binary_op(op, a, random_.choice(partners));  // a itself is always a partner
        return;
      }
      case Op::where_scalar:
      case Op::where_scalar_left: binary_op(op, a, a); return;
      case Op::neg:
      case Op::exp:
      case Op::abs:
      case Op::square:
      case Op::sigmoid:
      case Op::tanh:
      case Op::relu:
      case Op::sum:
      case Op::mean:
      case Op::max: break;
      case Op::heaviside:
        // x heaviside(x), a relu made of a step: the step passes no gradient, x does
        node = binary(Op::mul, push(unary(Op::heaviside, a)), a);
        break;
      case Op::sign:  // x sign(x) = |x|, as heaviside: sign passes no gradient, x does
        node = binary(Op::mul, push(unary(Op::sign, a)), a);
        break;
      case Op::add_scalar:
      case Op::rsub_scalar:
      case Op::mul_scalar:
      case Op::div_scalar: node.c = constant(); break;
      case Op::rdiv_scalar:
        node.args = {positive(a)};
        node.c = constant();
        break;
      case Op::pow:
        node.args = {positive(a)};
        node.c = random_.choice<double>({-1.5, -1.0, -0.5, 0.5, 1.5, 2.0, 2.5, 3.0});
        break;
      case Op::log:
      case Op::sqrt: node.args = {positive(a)}; break;
      case Op::clip: {
        // Bounds on a grid of 1/8 (short to print), among the values so that some are
        // clipped, and some not (else the gradient is 0).
        const Array<double>& x = value(a).value();
        for (int tries = 0;; ++tries) {
          if (tries == 8) throw Reject{};
          node.c = std::round(random_.uniform(min_of(x) - 0.5, max_of(x)) * 8) / 8;
          node.c2 = node.c + double(random_.between(1, 16)) / 8;
          if (std::any_of(x.begin(), x.end(), [&](double v) { return v > node.c && v < node.c2; })) break;
        }
        break;
      }
      case Op::leaky_relu: node.c = random_.choice<double>({0.01, 0.1, 0.3}); break;
      case Op::elu: node.c = random_.choice<double>({0.5, 1.0, 1.5}); break;
      case Op::softmax:
      case Op::log_softmax:
        if (r == 0) throw Reject{};
        node.axis = random_axis(r);
        if (s[std::size_t(node.axis < 0 ? node.axis + long(r) : node.axis)] == 1) throw Reject{};  // a constant
        break;
      case Op::sigmoid_backward:
      case Op::tanh_backward: {
        // (g, y): y another value (they broadcast), or the activation of one (as in a backward sweep)
        const auto partners = nodes_where([&](std::size_t j) {
          Shape joint;
          return broadcastable(s, shape(j), &joint) && size_of(joint) <= kMaxElements;
        });
        std::size_t y = random_.choice(partners);
        if (random_.chance(0.5)) y = push(unary(op == Op::sigmoid_backward ? Op::sigmoid : Op::tanh, y));
        node.args = {a, y};
        break;
      }
      case Op::relu_backward:
      case Op::log_softmax_backward: {
        // (g, x) and (g, y) of one shape: x any value, y = log_softmax(x, axis) mostly
        if (r == 0 && op == Op::log_softmax_backward) throw Reject{};
        const auto same = nodes_where([&](std::size_t j) { return shape(j) == s; });
        std::size_t x = random_.choice(same);
        if (op == Op::relu_backward) {
          node.c = random_.choice<double>({0.0, 0.0, 0.01, 0.2});
        } else {
          node.axis = random_axis(r);
          if (random_.chance(0.7)) {
            GraphNode y = unary(Op::log_softmax, x);
            y.axis = node.axis;
            x = push(y);
          }
        }
        node.args = {a, x};
        break;
      }
      case Op::sum_axis:
      case Op::mean_axis:
      case Op::max_axis:
      case Op::logsumexp:
      case Op::min_axis:
      case Op::prod_axis:
      case Op::cumsum:  // (these three ignore keepdims)
      case Op::cumsum_backward:
      case Op::prod_others:
        if (r == 0) throw Reject{};
        node.axis = random_axis(r);
        node.keepdims = random_.chance(0.5);
        break;
      case Op::sum_to:
        node.shape = broadcasting_to(s);
        if (node.shape == s) throw Reject{};
        break;
      case Op::matmul: {
        if (r != 2) throw Reject{};
        struct Choice {
          std::size_t b;
          MatmulOptions t;
        };
        std::vector<Choice> choices;  // b = a itself always fits one way: a a^T
        for (std::size_t j = 0; j < graph_.nodes.size(); ++j) {
          if (rank(j) != 2) continue;
          for (int f = 0; f < 4; ++f) {
            const MatmulOptions t{.transpose_a = bool(f & 1), .transpose_b = bool(f & 2)};
            const std::size_t m = s[t.transpose_a ? 1 : 0], k = s[t.transpose_a ? 0 : 1];
            const std::size_t k2 = shape(j)[t.transpose_b ? 1 : 0], n = shape(j)[t.transpose_b ? 0 : 1];
            if (k == k2 && m * n <= kMaxElements) choices.push_back({j, t});
          }
        }
        if (choices.empty()) throw Reject{};
        const Choice& c = random_.choice(choices);
        node.args = {a, c.b};
        node.transposes = c.t;
        break;
      }
      case Op::affine: {
        if (r != 2) throw Reject{};
        auto ws = nodes_where([&](std::size_t j) { return rank(j) == 2 && shape(j)[0] == s[1]; });
        const std::size_t w = ws.empty() || random_.chance(0.3) ? push(unary(Op::transpose, a)) : random_.choice(ws);
        const std::size_t m = shape(w)[1];
        auto bs = nodes_where([&](std::size_t j) {
          return shape(j) == Shape{m} || shape(j) == Shape{1, m};
        });
        std::size_t b;
        if (bs.empty() || random_.chance(0.3)) {
          GraphNode bias = unary(Op::sum_axis, w);
          bias.keepdims = random_.chance(0.5);
          b = push(bias);
        } else {
          b = random_.choice(bs);
        }
        node.args = {a, w, b};
        break;
      }
      case Op::transpose:
        if (r < 2) throw Reject{};
        break;
      case Op::reshape: node.shape = random_shape(size_of(s)); break;
      case Op::flatten: node.axis = long(r == 0 ? 0 : random_.below(r)); break;
      case Op::broadcast_to: {
        Shape target = s;
        for (auto& d : target)
          if (d == 1 && random_.chance(0.6)) d = random_.between(2, 4);
        if (r < 3 && random_.chance(0.5)) {  // a new leading axis
          Shape longer{random_.between(1, 4)};
          for (std::size_t d : target) longer.push_back(d);
          target = longer;
        }
        if (target == s || size_of(target) > kMaxElements) throw Reject{};
        node.shape = target;
        break;
      }
      case Op::slice:
      case Op::slice_rows: {
        if (r == 0) throw Reject{};
        const std::size_t axis = op == Op::slice_rows ? 0 : random_.below(r);
        if (s[axis] < 2) throw Reject{};
        node.axis = op == Op::slice && random_.chance(0.3) ? long(axis) - long(r) : long(axis);
        node.begin = random_.below(s[axis]);
        node.end = random_.between(node.begin + 1, s[axis]);
        if (node.end - node.begin == s[axis]) throw Reject{};  // the whole axis: nothing sliced
        break;
      }
      case Op::slice_backward: {
        if (r == 0) throw Reject{};
        const std::size_t axis = random_.below(r);
        node.axis = random_.chance(0.3) ? long(axis) - long(r) : long(axis);
        node.begin = random_.between(0, 2);
        node.n = node.begin + s[axis] + random_.between(0, 2);
        if (node.n == s[axis]) ++node.n;
        break;
      }
      case Op::index_rows: {
        if (r == 0) throw Reject{};
        node.indices.resize(random_.between(1, 4));
        for (auto& row : node.indices) row = random_.below(s[0]);
        break;
      }
      case Op::index_rows_backward: {
        if (r == 0) throw Reject{};
        node.n = random_.between(1, 4);
        node.indices.resize(s[0]);
        for (auto& row : node.indices) row = random_.below(node.n);
        break;
      }
      case Op::pick: {
        if (r != 2) throw Reject{};
        node.indices.resize(s[0]);
        for (auto& label : node.indices) label = random_.below(s[1]);
        break;
      }
      case Op::pick_backward: {
        if (r != 1) throw Reject{};
        node.n = random_.between(1, 4);
        node.indices.resize(s[0]);
        for (auto& label : node.indices) label = random_.below(node.n);
        break;
      }
      case Op::concatenate: {
        if (r == 0) throw Reject{};
        const std::size_t axis = random_.below(r);
        const auto fits = nodes_where([&](std::size_t j) {
          if (rank(j) != r) return false;
          for (std::size_t d = 0; d < r; ++d)
            if (d != axis && shape(j)[d] != s[d]) return false;
          return true;
        });
        node.args = {a};
        for (std::size_t k = random_.between(1, 2); k > 0; --k) node.args.push_back(random_.choice(fits));
        std::swap(node.args[0], node.args[random_.below(node.args.size())]);
        node.axis = random_.chance(0.3) ? long(axis) - long(r) : long(axis);
        break;
      }
      case Op::min:
      case Op::prod: break;
      case Op::prod_others_backward: {  // (h, x) of one shape
        if (r == 0) throw Reject{};
        node.axis = random_axis(r);
        node.args = {a, random_.choice(nodes_where([&](std::size_t j) { return shape(j) == s; }))};
        break;
      }
      case Op::sum_axes:
      case Op::mean_axes:
      case Op::logsumexp_axes: {  // one to all axes, in any order, some negative
        if (r == 0) throw Reject{};
        std::vector<long> all(r);
        for (std::size_t d = 0; d < r; ++d) all[d] = long(d);
        for (std::size_t d = r; d > 1; --d) std::swap(all[d - 1], all[random_.below(d)]);
        all.resize(random_.between(1, r));
        for (long& d : all)
          if (random_.chance(0.3)) d -= long(r);
        node.axes = all;
        node.keepdims = random_.chance(0.5);
        break;
      }
      case Op::var:
      case Op::stddev:
      case Op::var_axis:
      case Op::stddev_axis:
        node.c2 = random_.choice<double>({0.0, 1.0, 1.0});
        if (op == Op::var_axis || op == Op::stddev_axis) {
          if (r == 0) throw Reject{};
          node.axis = random_axis(r);
          node.keepdims = random_.chance(0.5);
        }
        break;
      case Op::norm:
      case Op::norm_axis:
        node.c = random_.choice<double>({1.0, 2.0, 2.0, 3.0, INFINITY});
        if (op == Op::norm_axis) {
          if (r == 0) throw Reject{};
          node.axis = random_axis(r);
          node.keepdims = random_.chance(0.5);
        }
        break;
      case Op::slice_step: {  // NumPy's start:stop:step, negative bounds and steps, clamped
        if (r == 0) throw Reject{};
        node.axis = random_axis(r);
        const long n = long(s[axis_of(node.axis, r)]);
        node.step = random_.choice<long>({-2, -1, 2, 3});
        node.start = long(random_.below(std::size_t(2 * n + 3))) - n - 1;  // [-n - 1, n + 1]
        node.stop = long(random_.below(std::size_t(2 * n + 3))) - n - 1;
        break;
      }
      case Op::stack: {  // a and one or two values of its shape, along a new axis
        const auto same = nodes_where([&](std::size_t j) { return shape(j) == s; });
        node.args = {a};
        for (std::size_t k = random_.between(1, 2); k > 0; --k) node.args.push_back(random_.choice(same));
        std::swap(node.args[0], node.args[random_.below(node.args.size())]);
        node.axis = long(random_.below(r + 1));
        if (random_.chance(0.3)) node.axis -= long(r + 1);
        break;
      }
      case Op::split:
      case Op::chunk: {  // one of the parts
        if (r == 0) throw Reject{};
        node.axis = random_axis(r);
        const std::size_t n = s[axis_of(node.axis, r)];
        if (n < 2) throw Reject{};
        if (op == Op::split) {
          node.axes.clear();
          for (std::size_t left = n; left > 0;) {
            const std::size_t part = random_.between(1, left);
            node.axes.push_back(long(part));
            left -= part;
          }
          node.start = long(random_.below(node.axes.size()));
        } else {
          node.stop = long(random_.between(2, 3));
          const std::size_t size = (n + std::size_t(node.stop) - 1) / std::size_t(node.stop);
          node.start = long(random_.below((n + size - 1) / size));
        }
        break;
      }
      case Op::squeeze:
        if (std::find(s.begin(), s.end(), 1) == s.end()) throw Reject{};
        break;
      case Op::squeeze_axis: {
        std::vector<long> ones;
        for (std::size_t d = 0; d < r; ++d)
          if (s[d] == 1) ones.push_back(random_.chance(0.3) ? long(d) - long(r) : long(d));
        if (ones.empty()) throw Reject{};
        node.axis = random_.choice(ones);
        break;
      }
      case Op::unsqueeze:
        if (r >= 4) throw Reject{};
        node.axis = long(random_.below(r + 1));
        if (random_.chance(0.3)) node.axis -= long(r + 1);
        break;
      case Op::expand: {  // axes of 1 grown, others kept (-1 or their length), maybe a new leading axis
        node.axes.clear();
        if (r < 3 && random_.chance(0.4)) node.axes.push_back(long(random_.between(1, 3)));
        for (std::size_t d : s)
          node.axes.push_back(d == 1 && random_.chance(0.6) ? long(random_.between(2, 3)) : random_.chance(0.5) ? -1 : long(d));
        break;
      }
      case Op::tile: {
        node.axes.assign(random_.between(1, r + 1), 1);
        for (long& rep : node.axes) rep = long(random_.between(1, 2));
        break;
      }
      case Op::select:
      case Op::unstack: {  // one index of an axis (select's may count from the end)
        if (r == 0) throw Reject{};
        node.axis = random_axis(r);
        const std::size_t n = s[axis_of(node.axis, r)];
        if (n == 0) throw Reject{};
        node.start = long(random_.between(0, n - 1));
        if (op == Op::select && random_.chance(0.3)) node.start -= long(n);
        break;
      }
      case Op::repeat: {  // torch's repeat: at least one count per axis (one more gives a new leading axis)
        node.axes.assign(random_.between(std::max<std::size_t>(r, 1), r + 1), 1);
        for (long& rep : node.axes) rep = long(random_.between(1, 2));
        break;
      }
      case Op::repeat_interleave:
        if (r == 0) throw Reject{};
        node.axis = random_axis(r);
        node.start = long(random_.between(2, 3));
        break;
      case Op::pad:
      case Op::pad_backward: {  // widths 0-2 per axis; reflect's below the (source) length
        if (r == 0) throw Reject{};
        node.mode = random_.choice<PadMode>({PadMode::constant, PadMode::reflect, PadMode::edge});
        node.c = op == Op::pad && node.mode == PadMode::constant ? constant() : 0;
        node.widths.clear();
        for (std::size_t d = 0; d < r; ++d) {
          long before = long(random_.between(0, 2)), after = long(random_.between(0, 2));
          const long length = long(s[d]);
          if (op == Op::pad_backward) {  // g has the padded shape: the source is what is left
            while (length - before - after < 1) (before > after ? before : after)--;
            const long source = length - before - after;
            if (node.mode == PadMode::reflect) {
              before = std::min(before, source - 1);
              after = std::min(after, source - 1);
            }
          } else if (node.mode == PadMode::reflect) {
            before = std::min(before, length - 1);
            after = std::min(after, length - 1);
          }
          node.widths.push_back({before, after});
        }
        // one pair for every axis, where it fits them all
        const auto fits_all = [&](const std::pair<long, long>& w) {
          for (std::size_t d = 0; d < r; ++d) {
            const long length = long(s[d]), source = op == Op::pad_backward ? length - w.first - w.second : length;
            if (source < 1 || (node.mode == PadMode::reflect && (w.first >= source || w.second >= source))) return false;
          }
          return true;
        };
        if (random_.chance(0.2) && fits_all(node.widths[0])) node.widths.resize(1);
        break;
      }
      case Op::flip:
        if (r == 0) throw Reject{};
        node.axes.clear();
        for (std::size_t d = 0; d < r; ++d)
          if (random_.chance(0.5)) node.axes.push_back(random_.chance(0.3) ? long(d) - long(r) : long(d));
        break;
      case Op::flip_all: break;
      case Op::matmul_batched: {  // stacks with broadcast batch axes, or a vector on one side
        struct Choice {
          std::size_t b;
          MatmulOptions t;
        };
        std::vector<Choice> choices;
        for (std::size_t j = 0; j < graph_.nodes.size(); ++j) {
          const Shape& sb = shape(j);
          if (std::max(r, sb.size()) < 3 && std::min(r, sb.size()) != 1) continue;  // batched, or with a vector
          if (r == 0 || sb.empty()) continue;
          for (int f = 0; f < 4; ++f) {
            const MatmulOptions t{.transpose_a = bool(f & 1), .transpose_b = bool(f & 2)};
            if ((r == 1 && t.transpose_a) || (sb.size() == 1 && t.transpose_b)) continue;
            const std::size_t k = r == 1 ? s[0] : s[t.transpose_a ? r - 2 : r - 1];
            const std::size_t k2 = sb.size() == 1 ? sb[0] : sb[t.transpose_b ? sb.size() - 1 : sb.size() - 2];
            const Shape batch_a = r > 2 ? Shape(s.begin(), s.end() - 2) : Shape{};
            const Shape batch_b = sb.size() > 2 ? Shape(sb.begin(), sb.end() - 2) : Shape{};
            if (k == k2 && broadcastable(batch_a, batch_b)) choices.push_back({j, t});
          }
        }
        if (choices.empty()) throw Reject{};
        const Choice& c = random_.choice(choices);
        node.args = {a, c.b};
        node.transposes = c.t;
        break;
      }
      case Op::permute: {
        if (r < 2) throw Reject{};
        node.axes.resize(r);
        for (std::size_t d = 0; d < r; ++d) node.axes[d] = long(d);
        for (std::size_t d = r; d > 1; --d) std::swap(node.axes[d - 1], node.axes[random_.below(d)]);
        for (long& d : node.axes)
          if (random_.chance(0.3)) d -= long(r);
        break;
      }
      case Op::transpose_axes:
        if (r < 2) throw Reject{};
        node.start = random_axis(r);
        node.stop = random_axis(r);
        if (axis_of(node.start, r) == axis_of(node.stop, r)) throw Reject{};
        break;
      case Op::dot:
      case Op::outer: {
        if (r != 1) throw Reject{};
        const auto vectors = nodes_where([&](std::size_t j) { return rank(j) == 1 && (op == Op::outer || shape(j) == s); });
        node.args = {a, random_.choice(vectors)};
        break;
      }
      case Op::mv: {  // m (rows, n) and a vector of n: another value, or m's column sums
        if (r != 2) throw Reject{};
        const auto vectors = nodes_where([&](std::size_t j) { return shape(j) == Shape{s[1]}; });
        std::size_t v;
        if (vectors.empty() || random_.chance(0.3)) {
          GraphNode column_sums = unary(Op::sum_axis, a);
          column_sums.axis = 0;
          v = push(column_sums);
        } else {
          v = random_.choice(vectors);
        }
        node.args = {a, v};
        break;
      }
      case Op::einsum: make_einsum(node, a); break;
      case Op::index_select: {  // 1-4 indices along an axis, some negative, some repeated
        if (r == 0) throw Reject{};
        node.axis = random_axis(r);
        const long n = long(s[axis_of(node.axis, r)]);
        node.list.resize(random_.between(1, 4));
        for (auto& i : node.list) i = index_in(n);
        break;
      }
      case Op::index_select_backward: {  // g's slices added into `length` slots
        if (r == 0) throw Reject{};
        node.axis = random_axis(r);
        node.n = random_.between(1, 4);
        node.list.resize(s[axis_of(node.axis, r)]);
        for (auto& i : node.list) i = index_in(long(node.n));
        break;
      }
      case Op::gather: {  // an index no larger than x off the axis, any length along it
        if (r == 0) throw Reject{};
        node.axis = random_axis(r);
        const std::size_t axis = axis_of(node.axis, r);
        Shape index_shape = s;
        for (std::size_t d = 0; d < r; ++d) index_shape[d] = d == axis ? random_.between(1, 4) : random_.between(1, s[d]);
        node.index = random_index(index_shape, long(s[axis]));
        break;
      }
      case Op::gather_backward: {  // g of the index's shape into zeros of a shape at least as large
        if (r == 0) throw Reject{};
        node.axis = random_axis(r);
        const std::size_t axis = axis_of(node.axis, r);
        node.shape = s;
        for (std::size_t d = 0; d < r; ++d) node.shape[d] = d == axis ? random_.between(1, 4) : s[d] + random_.between(0, 1);
        node.index = random_index(s, long(node.shape[axis]));
        break;
      }
      case Op::scatter_add: {  // src of x's rank; index no larger than src, nor than x off the axis
        if (r == 0) throw Reject{};
        const auto sources = nodes_where([&](std::size_t j) { return rank(j) == r; });
        const std::size_t src = random_.choice(sources);
        node.args = {a, src};
        node.axis = random_axis(r);
        const std::size_t axis = axis_of(node.axis, r);
        Shape index_shape = shape(src);
        for (std::size_t d = 0; d < r; ++d) {
          const std::size_t most = d == axis ? shape(src)[d] : std::min(shape(src)[d], s[d]);
          if (most == 0) throw Reject{};
          index_shape[d] = random_.between(1, most);
        }
        node.index = random_index(index_shape, long(s[axis]));
        break;
      }
      case Op::at: {  // x(i) or x(i, j), negative indices too
        if (r == 0) throw Reject{};
        node.list.resize(random_.between(1, std::min<std::size_t>(r, 2)));
        for (std::size_t d = 0; d < node.list.size(); ++d) node.list[d] = index_in(long(s[d]));
        break;
      }
      case Op::at_backward: {  // g placed at [i] or [i, j] of a larger array of zeros
        if (r > 2) throw Reject{};
        const std::size_t k = random_.between(1, 2);
        node.shape.clear();
        for (std::size_t d = 0; d < k; ++d) node.shape.push_back(random_.between(1, 3));
        for (std::size_t d : s) node.shape.push_back(d);
        node.list.clear();
        for (std::size_t d = 0; d < k; ++d) node.list.push_back(index_in(long(node.shape[d])));
        break;
      }
      case Op::function: {
        node.fn = random_.below(unary_functions().size());
        switch (unary_functions()[node.fn].prepare) {
          case Prepare::none: break;
          case Prepare::positive: node.args = {positive(a)}; break;
          case Prepare::unit: {  // 0.9 tanh(a), inside (-1, 1)
            GraphNode inside = unary(Op::mul_scalar, push(unary(Op::tanh, a)));
            inside.c = 0.9;
            node.args = {push(inside)};
            break;
          }
          case Prepare::nonzero: {  // away from 0 on either side
            const std::size_t p = positive(a);
            node.args = {random_.chance(0.5) ? p : push(unary(Op::neg, p))};
            break;
          }
          case Prepare::above_one: {  // 1 + a positive value, inside (1.25, ...)
            GraphNode shifted = unary(Op::add_scalar, positive(a));
            shifted.c = 1.0;
            node.args = {push(shifted)};
            break;
          }
        }
        break;
      }
      case Op::leaf:
      case Op::count: throw Reject{};
    }
    push(node);
  }

  // einsum of a and one or two other values: a's axes get distinct labels, the
  // others reuse a label of the same length or take a new one; the output is a
  // random selection of the labels in random order, or NumPy's implicit one.
  void make_einsum(GraphNode& node, std::size_t a) {
    if (rank(a) == 0 || rank(a) > 3) throw Reject{};
    std::map<char, std::size_t> length;
    std::string subscripts;
    char next = 'a';
    auto labels_of = [&](std::size_t j, bool first) {
      std::string labels;
      for (std::size_t d : shape(j)) {
        std::vector<char> reusable;
        for (const auto& [label, n] : length)
          if (n == d && labels.find(label) == std::string::npos) reusable.push_back(label);
        char label;
        if (!first && !reusable.empty() && random_.chance(0.7)) {
          label = random_.choice(reusable);
        } else {
          label = next++;
          length[label] = d;
        }
        labels += label;
      }
      return labels;
    };
    node.args = {a};
    subscripts = labels_of(a, true);
    const std::size_t others = random_.between(1, 2);
    for (std::size_t k = 0; k < others; ++k) {
      const auto small = nodes_where([&](std::size_t j) { return rank(j) >= 1 && rank(j) <= 3; });
      const std::size_t j = random_.choice(small);
      node.args.push_back(j);
      subscripts += "," + labels_of(j, false);
    }
    if (!random_.chance(0.3)) {  // an explicit output
      std::string output;
      for (const auto& [label, n] : length)
        if (random_.chance(0.5)) output += label;
      for (std::size_t i = output.size(); i > 1; --i) std::swap(output[i - 1], output[random_.below(i)]);
      subscripts += "->" + output;
    }
    node.subscripts = subscripts;
  }

  // A shape of `size` elements, of rank 0 to 3 (or of the rank asked for).
  Shape random_shape(std::size_t size, std::size_t wanted_rank = 0) {
    std::vector<std::size_t> primes;
    for (std::size_t n = size, p = 2; n > 1; ++p)
      while (n % p == 0) {
        primes.push_back(p);
        n /= p;
      }
    const std::size_t r = wanted_rank ? wanted_rank : random_.between(primes.empty() ? 0 : 1, 3);
    if (r == 0) return Shape{};
    Shape shape(r, 1);
    for (std::size_t p : primes) shape[random_.below(r)] *= p;
    return shape;
  }

  // Some value used by two later ops: if the ops drawn made none, h = tanh(v); v + h.
  void ensure_fan_out() {
    for (std::size_t i = 0; i < graph_.nodes.size(); ++i)
      if (consumers_[i].size() >= 2) return;
    const std::size_t v = last();
    attempt([&] {
      const std::size_t h = push(unary(Op::tanh, v));
      push(binary(Op::add, v, h), false);
    });
  }

  // Every value that no op used is folded into the output (as its mean), so
  // that all of them are checked; then the output is reduced to a scalar, or
  // left as it is (gradcheck projects it on a random vector).
  void finish() {
    std::vector<std::size_t> dangling;
    for (std::size_t i = graph_.leaves; i + 1 < graph_.nodes.size(); ++i)
      if (consumers_[i].empty()) dangling.push_back(i);
    std::size_t out = last();
    const bool to_scalar = random_.chance(0.5);
    attempt([&] {
      if (to_scalar && value(out).dimension() > 0)
        out = push(unary(random_.chance(0.5) ? Op::sum : Op::mean, out), false);
      for (std::size_t d : dangling) out = push(binary(Op::add, out, push(unary(Op::mean, d), false)), false);
    });
  }
};

// ---- the run ----------------------------------------------------------------

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  return std::strtoull(text, nullptr, 0);
}

}  // namespace

TEST_CASE("random graphs: reverse-mode gradients match central finite differences (float64)") {
  const std::uint64_t base_seed = env_number("WENGERT_RANDOM_GRAPH_SEED", kDefaultBaseSeed);
  const std::size_t graphs = std::size_t(env_number("WENGERT_RANDOM_GRAPH_COUNT", kDefaultGraphs));
  const std::uint64_t print = env_number("WENGERT_RANDOM_GRAPH_PRINT", std::uint64_t(-1));
  INFO("base seed ", base_seed, " (WENGERT_RANDOM_GRAPH_SEED), ", graphs, " graphs (WENGERT_RANDOM_GRAPH_COUNT)");

  std::map<std::string, std::size_t> uses;  // how often each op was drawn, over the run
  std::size_t failures = 0, second_order = 0, with_broadcasting = 0, non_scalar = 0, informative = 0,
              fanning_out = 0, rounding = 0;
  for (std::size_t number = 0; number < graphs; ++number) {
    const std::uint64_t seed = mix(base_seed ^ mix(number));
    Generator generator(number, seed);
    Graph graph;
    std::string stage = "making the graph";
    const bool check_second = number % kSecondOrderEvery == 0;
    try {
      graph = generator.make();
      for (std::size_t i = graph.leaves; i < graph.nodes.size(); ++i) ++uses[label_of(graph.nodes[i])];
      with_broadcasting += graph.broadcasts;
      fanning_out += graph.fans_out;
      if (number == print) MESSAGE(graph.program(check_second));

      const auto f = [&graph](const std::vector<V>& x) { return graph(x); };
      const std::vector<Array<double>> inputs = graph.inputs();
      GradCheckOptions options;
      options.seed = graph.projection_seed();
      // A failure at eps = 1e-6 is checked again at eps = 1e-5: if it passes there, it
      // was rounding in the finite differences (which grows as 1/eps, in a function that
      // cancels large terms), not a wrong gradient (whose error does not change with eps).
      const auto check = [&](bool second_order) {
        const auto run = [&](const GradCheckOptions& o) {
          return second_order ? gradgradcheck(f, inputs, o) : gradcheck(f, inputs, o);
        };
        const GradCheckReport report = run(options);
        if (report.passed) return;
        GradCheckOptions coarser = options;
        coarser.eps = 1e-5;
        const GradCheckReport again = run(coarser);
        if (again.passed) {
          ++rounding;
          return;
        }
        if (++failures <= kMaxListedFailures)
          FAIL_CHECK("random graph ", number, " (seed ", seed, "): ", second_order ? "gradgradcheck" : "gradcheck",
                     " failed\n", graph.program(second_order), "\n", report.to_string(), "at eps = 1e-5:\n",
                     again.to_string());
      };
      stage = "gradcheck";
      check(false);
      non_scalar += graph.output_size != 1;
      {  // did the check have something to check: a gradient entry that is not 0?
        std::vector<V> leaves;
        for (const auto& x : inputs) leaves.emplace_back(x, true);
        const V y = graph(leaves);
        if (y.requires_grad()) {
          const auto gradients =
              grad(y, leaves, {.grad_outputs = {V(test::random_array(y.shape(), 1))}, .allow_unused = true});
          informative += std::any_of(gradients.begin(), gradients.end(), [](const V& g) {
            return g.defined() && xt::any(xt::abs(g.value()) > 1e-6);
          });
        }
      }
      if (check_second) {
        ++second_order;
        stage = "gradgradcheck";
        check(true);
      }
    } catch (const std::exception& e) {
      if (++failures <= kMaxListedFailures) {
        if (graph.nodes.empty()) graph = generator.partial();  // it threw while making the graph
        FAIL_CHECK("random graph ", number, " (seed ", seed, "): exception in ", stage, ": ", std::string(e.what()), "\n",
                   graph.program(check_second));
      }
    }
  }
  CHECK_MESSAGE(failures == 0, failures, " of ", graphs, " graphs failed (the first ", kMaxListedFailures,
                " are listed above)");

  // The run covered what it claims: every op, second order, broadcasting, non-scalar outputs.
  if (graphs >= 1000) {
    for (std::size_t op = std::size_t(Op::add); op < std::size_t(Op::function); ++op) {
      INFO("op ", name_of(Op(op)));
      CHECK(uses[name_of(Op(op))] >= 5);
    }
    for (std::size_t fn = 0; fn < unary_functions().size(); ++fn) {
      GraphNode node;
      node.op = Op::function;
      node.fn = fn;
      INFO("function ", label_of(node));
      CHECK(uses[label_of(node)] >= 5);
    }
    CHECK(second_order >= graphs / kSecondOrderEvery);
    CHECK(with_broadcasting > graphs / 2);
    CHECK(fanning_out == graphs);
    CHECK(non_scalar > graphs / 5);
    CHECK(informative > graphs * 9 / 10);
    CHECK(rounding <= 1 + graphs / 1000);  // rare: else the bounds let values grow too large
  }
  if (std::getenv("WENGERT_RANDOM_GRAPH_VERBOSE")) {
    std::ostringstream out;
    for (const auto& [name, count] : uses) out << name << " " << count << "\n";
    MESSAGE(graphs, " graphs, ", second_order, " also at second order, ", with_broadcasting,
            " with broadcasting, ", non_scalar, " non-scalar outputs, ", informative,
            " with a non-zero gradient, ", rounding, " passed only at eps = 1e-5 (rounding)\n", out.str());
  }
}

TEST_CASE("log_softmax_backward: a gradient of another shape than y is a ShapeError") {
  // Found while writing the random graphs: without the check, the row loop read
  // g as if it had y's shape (ASan: heap-buffer-overflow for g (4,), y (3, 4)).
  const V g(test::random_array({4}, 1), true);
  const V y = log_softmax(V(test::random_array({3, 4}, 2)), -1);
  CHECK_THROWS_AS(log_softmax_backward(g, y, -1), ShapeError);
  CHECK(test::message_of([&] { log_softmax_backward(g, y, -1); }) ==
        "log_softmax_backward: gradient of shape (4,) for y of shape (3, 4)");
}
