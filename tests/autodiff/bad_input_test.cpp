// The bad-input catalogue of autodiff: each row is one misuse of the public
// API, the exception it must throw, the words its message must contain (the
// call, the shapes or values, what is wrong), and afterwards the state must be
// as it was: parameters and gradients untouched, grad and anomaly modes as
// before, and the tape still able to train.
#include <doctest/doctest.h>

#include <climits>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <autodiff/autodiff.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;

namespace {

enum class Kind { shape, graph, anomaly, invalid_argument };

struct Misuse {
  const char* name;
  Kind kind;
  std::vector<const char*> words;  // all must appear in the message
  std::function<void()> call;
};

bool thrown_as(Kind kind, const std::function<void()>& call, std::string& message) {
  try {
    call();
  } catch (const ShapeError& e) {
    message = e.what();
    return kind == Kind::shape;
  } catch (const GraphError& e) {
    message = e.what();
    return kind == Kind::graph;
  } catch (const AnomalyError& e) {
    message = e.what();
    return kind == Kind::anomaly;
  } catch (const std::invalid_argument& e) {
    message = e.what();
    return kind == Kind::invalid_argument;
  } catch (const std::exception& e) {
    message = std::string("unexpected exception: ") + e.what();
    return false;
  }
  message = "(no exception)";
  return false;
}

const Array<double> m34 = test::random_array({3, 4}, 1);
const Array<double> v5 = test::random_array({5}, 2);
V leaf(const Array<double>& a) { return V(a, true); }
V scalar_leaf(double v) { return V::scalar(v, true); }
// lstm_layer's arguments for batch 3, time 4, input 5, hidden 2
const Array<double> x_345 = test::random_array({3, 4, 5}, 7);
const Array<double> w_ih_85 = test::random_array({8, 5}, 8), w_hh_82 = test::random_array({8, 2}, 9);
const Array<double> b_8 = test::random_array({8}, 10);

const std::vector<Misuse> catalogue = {
    // ---- elementwise: shapes that do not broadcast
    {"add of (3, 4) and (5,)", Kind::shape, {"add", "(3, 4)", "(5,)", "broadcast"}, [] { leaf(m34) + leaf(v5); }},
    {"sub of mismatched shapes", Kind::shape, {"sub", "(3, 4)", "(5,)"}, [] { leaf(m34) - leaf(v5); }},
    {"mul of mismatched shapes", Kind::shape, {"mul", "(3, 4)", "(5,)"}, [] { leaf(m34) * leaf(v5); }},
    {"div of mismatched shapes", Kind::shape, {"div", "(3, 4)", "(5,)"}, [] { leaf(m34) / leaf(v5); }},
    {"maximum of mismatched shapes", Kind::shape, {"maximum", "(3, 4)", "(5,)"}, [] { maximum(leaf(m34), leaf(v5)); }},
    {"minimum of mismatched shapes", Kind::shape, {"minimum", "(3, 4)", "(5,)"}, [] { minimum(leaf(m34), leaf(v5)); }},
    {"where with a mask of another shape", Kind::shape, {"where", "(2,)", "(3, 4)"},
     [] { autodiff::where(xt::xarray<bool>{true, false}, leaf(m34), leaf(m34)); }},
    {"where (constant branch) with a mask of another shape", Kind::shape, {"where_scalar", "(2,)", "(3, 4)"},
     [] { autodiff::where(xt::xarray<bool>{true, false}, leaf(m34), 0.0); }},
    {"clip with a NaN bound", Kind::invalid_argument, {"clip", "NaN"},
     [] { clip(leaf(m34), std::nan(""), 1.0); }},
    // ---- activations: axes
    {"softmax over axis 2 of a matrix", Kind::shape, {"softmax", "axis 2", "rank 2"}, [] { softmax(leaf(m34), 2); }},
    {"log_softmax over axis -3 of a matrix", Kind::shape, {"log_softmax", "axis -3", "rank 2"},
     [] { log_softmax(leaf(m34), -3); }},
    {"softmax of a scalar", Kind::shape, {"softmax", "rank 0"}, [] { softmax(scalar_leaf(1.0)); }},
    {"sigmoid_backward with shapes that do not broadcast", Kind::shape, {"sigmoid_backward", "(5,)", "(3, 4)"},
     [] { sigmoid_backward(leaf(v5), leaf(m34)); }},
    {"lstm_gates of a width that is not 4 hidden", Kind::shape, {"lstm_gates", "(2, 6)", "4 hidden"},
     [] { lstm_gates(leaf(test::random_array({2, 6}, 3))); }},
    {"lstm_gates of a vector", Kind::shape, {"lstm_gates", "(5,)", "(batch, 4 hidden)"}, [] { lstm_gates(leaf(v5)); }},
    {"lstm_gates_backward with a gradient of another shape", Kind::shape, {"lstm_gates_backward", "(3, 8)", "(2, 8)"},
     [] { lstm_gates_backward(leaf(test::random_array({3, 8}, 4)), leaf(test::random_array({2, 8}, 5))); }},
    {"lstm_state with a cell state of another hidden size", Kind::shape, {"lstm_state", "(2, 3)", "(2, 8)", "(2, 2)"},
     [] { lstm_state(leaf(test::random_array({2, 8}, 6)), leaf(test::random_array({2, 3}, 7))); }},
    {"lstm_layer of a matrix", Kind::shape, {"lstm_layer", "x of shape (3, 5)", "(batch, time, input)"},
     [] { lstm_layer(leaf(test::random_array({3, 5}, 1)), leaf(w_ih_85), leaf(w_hh_82), leaf(b_8)); }},
    {"lstm_layer of no time steps", Kind::shape, {"lstm_layer", "(3, 0, 5)", "time >= 1"},
     [] { lstm_layer(leaf(Array<double>::from_shape({3, 0, 5})), leaf(w_ih_85), leaf(w_hh_82), leaf(b_8)); }},
    {"lstm_layer with w_ih of another input size", Kind::shape, {"lstm_layer", "w_ih of shape (8, 4)", "(3, 4, 5)", "(8, 5)"},
     [] { lstm_layer(leaf(x_345), leaf(test::random_array({8, 4}, 2)), leaf(w_hh_82), leaf(b_8)); }},
    {"lstm_layer with w_hh not (4 hidden, hidden)", Kind::shape, {"lstm_layer", "w_hh of shape (8, 3)", "(4 hidden, hidden)"},
     [] { lstm_layer(leaf(x_345), leaf(w_ih_85), leaf(test::random_array({8, 3}, 3)), leaf(b_8)); }},
    {"lstm_layer with b of another size", Kind::shape, {"lstm_layer", "b of shape (6,)", "(8,)"},
     [] { lstm_layer(leaf(x_345), leaf(w_ih_85), leaf(w_hh_82), leaf(test::random_array({6}, 4))); }},
    {"lstm_layer with h0 of another batch", Kind::shape, {"lstm_layer", "h0 of shape (2, 2)", "(3, 2)"},
     [] { lstm_layer(leaf(x_345), leaf(w_ih_85), leaf(w_hh_82), leaf(b_8), leaf(test::random_array({2, 2}, 5)),
                     leaf(test::random_array({3, 2}, 6))); }},
    {"lstm_layer with c0 of another hidden size", Kind::shape, {"lstm_layer", "c0 of shape (3, 3)", "(3, 2)"},
     [] { lstm_layer(leaf(x_345), leaf(w_ih_85), leaf(w_hh_82), leaf(b_8), leaf(test::random_array({3, 2}, 5)),
                     leaf(test::random_array({3, 3}, 6))); }},
    {"lstm_layer with h0 but no c0", Kind::invalid_argument, {"lstm_layer", "h0 but no c0"},
     [] { lstm_layer(leaf(x_345), leaf(w_ih_85), leaf(w_hh_82), leaf(b_8), leaf(test::random_array({3, 2}, 5))); }},
    {"lstm_output with a cell state of another batch", Kind::shape, {"lstm_output", "(3, 2)", "(2, 8)"},
     [] { lstm_output(leaf(test::random_array({2, 8}, 6)), leaf(test::random_array({3, 2}, 7))); }},
    {"tanh_backward with shapes that do not broadcast", Kind::shape, {"tanh_backward", "(5,)", "(3, 4)"},
     [] { tanh_backward(leaf(v5), leaf(m34)); }},
    {"relu_backward with shapes that differ", Kind::shape, {"relu_backward", "(5,)", "(3, 4)"},
     [] { relu_backward(leaf(v5), leaf(m34)); }},
    {"log_softmax_backward with shapes that differ", Kind::shape, {"log_softmax_backward", "(5,)", "(3, 4)"},
     [] { log_softmax_backward(leaf(v5), leaf(m34)); }},
    // (elementwise math and comparisons, issue #12)
    {"atan2 of shapes that do not broadcast", Kind::shape, {"atan2", "(3, 4)", "(5,)", "broadcast"},
     [] { atan2(leaf(m34), leaf(v5)); }},
    {"x > y of shapes that do not broadcast", Kind::shape, {"greater", "(3, 4)", "(5,)", "broadcast"},
     [] { (void)(leaf(m34) > leaf(v5)); }},
    {"x == y of shapes that do not broadcast", Kind::shape, {"equal", "(5,)", "(3, 4)", "broadcast"},
     [] { (void)(leaf(v5) == leaf(m34)); }},
    {"logical_and of masks that do not broadcast", Kind::shape, {"logical_and", "(2,)", "(3,)", "broadcast"},
     [] { logical_and(Mask{true, false}, Mask{true, false, true}); }},
    {"softplus with beta 0", Kind::invalid_argument, {"softplus", "beta", "nonzero", "0"},
     [] { softplus(leaf(m34), 0.0); }},
    {"softplus with a NaN threshold", Kind::invalid_argument, {"softplus", "threshold", "nan"},
     [] { softplus(leaf(m34), 1.0, std::nan("")); }},
    {"hardtanh with min_val above max_val", Kind::invalid_argument, {"hardtanh", "min_val 2", "max_val 1"},
     [] { hardtanh(leaf(m34), 2.0, 1.0); }},
    {"hardtanh with a NaN bound", Kind::invalid_argument, {"hardtanh", "NaN", "nan"},
     [] { hardtanh(leaf(m34), -1.0, std::nan("")); }},
    {"softplus with beta 0 prints its threshold 1e-10 as such", Kind::invalid_argument,
     {"softplus", "beta 0", "threshold 1e-10"}, [] { softplus(leaf(m34), 0.0, 1e-10); }},
    {"hardtanh with min_val > max_val prints 1e-10 as such", Kind::invalid_argument,
     {"hardtanh", "min_val 1e-10", "max_val -1e-10"}, [] { hardtanh(leaf(m34), 1e-10, -1e-10); }},
    {"gelu with an approximation that does not exist", Kind::invalid_argument, {"gelu", "approximate", "7"},
     [] { gelu(leaf(m34), static_cast<Gelu>(7)); }},

    // ---- reductions
    {"sum over axis 2 of a matrix", Kind::shape, {"sum: axis 2", "rank 2"}, [] { sum(leaf(m34), 2); }},
    {"mean of an empty array", Kind::shape, {"mean", "empty"}, [] { mean(leaf(Array<double>::from_shape({0}))); }},
    {"mean over an axis of length 0", Kind::shape, {"mean: axis 1", "length 0", "(3, 0)"},
     [] { mean(leaf(Array<double>::from_shape({3, 0})), 1); }},
    {"max of an empty array", Kind::shape, {"max", "empty"}, [] { max(leaf(Array<double>::from_shape({0, 2}))); }},
    {"max over an axis of length 0", Kind::shape, {"max: axis 0", "length 0"},
     [] { max(leaf(Array<double>::from_shape({0, 2})), 0); }},
    {"logsumexp over axis 5", Kind::shape, {"logsumexp: axis 5"}, [] { logsumexp(leaf(m34), 5); }},
    {"sum_to a shape that does not broadcast", Kind::shape, {"sum_to", "(3, 4)", "(5,)"},
     [] { sum_to(leaf(m34), {5}); }},
    // (more reductions, issue #12)
    {"min of an empty array", Kind::shape, {"min", "empty"}, [] { min(leaf(Array<double>::from_shape({0, 2}))); }},
    {"min over an axis of length 0", Kind::shape, {"min: axis 0", "length 0"},
     [] { min(leaf(Array<double>::from_shape({0, 2})), 0); }},
    {"min over axis -3 of a matrix", Kind::shape, {"min: axis -3", "rank 2"}, [] { min(leaf(m34), -3); }},
    {"prod over axis 2 of a matrix", Kind::shape, {"prod: axis 2", "rank 2"}, [] { prod(leaf(m34), 2); }},
    {"prod_others over axis 2 of a matrix", Kind::shape, {"prod_others", "axis 2", "rank 2"},
     [] { prod_others(leaf(m34), 2); }},
    {"prod_others_backward with a gradient of another shape", Kind::shape,
     {"prod_others_backward", "(5,)", "(3, 4)"}, [] { prod_others_backward(leaf(v5), leaf(m34), 0); }},
    {"var over axis 2 of a matrix", Kind::shape, {"var: axis 2", "rank 2"}, [] { var(leaf(m34), 2); }},
    {"var with a NaN correction", Kind::invalid_argument, {"var: the correction", "nan"},
     [] { var(leaf(m34), {.correction = std::nan("")}); }},
    {"var along an axis with an infinite correction", Kind::invalid_argument, {"var: the correction", "inf"},
     [] { var(leaf(m34), 0, false, {.correction = INFINITY}); }},
    {"stddev over axis -3 of a matrix", Kind::shape, {"stddev: axis -3", "rank 2"},
     [] { stddev(leaf(m34), -3); }},
    {"stddev with a NaN correction", Kind::invalid_argument, {"stddev: the correction", "nan"},
     [] { stddev(leaf(m34), {.correction = std::nan("")}); }},
    {"norm with p = 0.5", Kind::invalid_argument, {"norm", "p must be >= 1", "0.5"}, [] { norm(leaf(m34), 0.5); }},
    {"norm along an axis with p = NaN", Kind::invalid_argument, {"norm", "p", "nan"},
     [] { norm(leaf(m34), std::nan(""), 1); }},
    {"norm over axis 2 of a matrix", Kind::shape, {"norm: axis 2", "rank 2"}, [] { norm(leaf(m34), 2, 2); }},
    {"the inf-norm of an empty array", Kind::shape, {"norm", "inf-norm", "empty", "(0, 3)"},
     [] { norm(leaf(Array<double>::from_shape({0, 3})), INFINITY); }},
    {"the inf-norm over an axis of length 0", Kind::shape, {"norm: the inf-norm", "length 0", "(3, 0)"},
     [] { norm(leaf(Array<double>::from_shape({3, 0})), INFINITY, 1); }},
    {"cumsum over axis 2 of a matrix", Kind::shape, {"cumsum", "axis 2", "rank 2"}, [] { cumsum(leaf(m34), 2); }},
    {"cumsum of a scalar", Kind::shape, {"cumsum", "rank 0"}, [] { cumsum(scalar_leaf(1.0), 0); }},
    {"cumsum_backward over axis -3 of a matrix", Kind::shape, {"cumsum_backward", "axis -3", "rank 2"},
     [] { cumsum_backward(leaf(m34), -3); }},
    {"argmax of an empty array", Kind::shape, {"argmax", "empty", "(0, 2)"},
     [] { argmax(leaf(Array<double>::from_shape({0, 2}))); }},
    {"argmin of an empty array", Kind::shape, {"argmin", "empty", "(0,)"},
     [] { argmin(leaf(Array<double>::from_shape({0}))); }},
    {"argmax over an axis of length 0", Kind::shape, {"argmax", "axis 1", "length 0", "(3, 0)"},
     [] { argmax(leaf(Array<double>::from_shape({3, 0})), 1); }},
    {"argmin over axis 2 of a matrix", Kind::shape, {"argmin", "axis 2", "rank 2"}, [] { argmin(leaf(m34), 2); }},
    {"sum over a repeated axis", Kind::shape, {"sum: axis 1", "repeated", "(1, -1)", "rank 2"},
     [] { sum(leaf(m34), {1, -1}); }},
    {"sum over axes with one out of range", Kind::shape, {"sum: axis 2", "rank 2"},
     [] { sum(leaf(m34), {0, 2}); }},
    {"mean over a repeated axis", Kind::shape, {"mean: axis 0", "repeated", "(0, 0)"},
     [] { mean(leaf(m34), {0, 0}); }},
    {"max over axes one of which has length 0", Kind::shape, {"max: axis 1", "length 0", "(3, 0, 2)"},
     [] { max(leaf(Array<double>::from_shape({3, 0, 2})), {0, 1}); }},
    {"min over a repeated axis", Kind::shape, {"min: axis 1", "repeated"}, [] { min(leaf(m34), {1, 1}); }},
    {"logsumexp over a repeated axis", Kind::shape, {"logsumexp: axis 0", "repeated", "(-2, 0)"},
     [] { logsumexp(leaf(m34), {-2, 0}); }},
    {"mean over axes holding no elements", Kind::shape, {"mean: the axes", "no elements", "(3, 0, 2)"},
     [] { mean(leaf(Array<double>::from_shape({3, 0, 2})), {1, 2}); }},
    {"var over a repeated axis", Kind::shape, {"var: axis 1", "repeated", "(1, -1)"}, [] { var(leaf(m34), {1, -1}); }},
    {"stddev over axes with one out of range", Kind::shape, {"stddev: axis 3", "rank 2"},
     [] { stddev(leaf(m34), {0, 3}); }},
    {"norm over axes with one out of range", Kind::shape, {"norm: axis -3", "rank 2"},
     [] { norm(leaf(m34), 2, {0, -3}); }},
    {"var over axes with an infinite correction", Kind::invalid_argument, {"var: the correction", "inf"},
     [] { var(leaf(m34), {0, 1}, false, {.correction = INFINITY}); }},
    {"the inf-norm over axes holding no elements", Kind::shape, {"norm: the inf-norm", "no elements", "(3, 0, 2)"},
     [] { norm(leaf(Array<double>::from_shape({3, 0, 2})), INFINITY, {0, 1}); }},
    {"norm with p = 1e-10 (printed as such, not 0.000000)", Kind::invalid_argument, {"norm", "got 1e-10"},
     [] { norm(leaf(m34), 1e-10); }},

    // ---- linear algebra
    {"matmul of a 3-D array", Kind::shape, {"matmul", "matrices", "(2, 3, 4)"},
     [] { matmul(leaf(test::random_array({2, 3, 4}, 3)), leaf(m34)); }},
    {"matmul with inner dimensions 4 and 3", Kind::shape, {"matmul", "(3, 4)", "inner dimensions 4 and 3"},
     [] { matmul(leaf(m34), leaf(m34)); }},
    {"matmul with a transposed operand that does not fit", Kind::shape, {"matmul", "(3, 4)^T"},
     [] { matmul(leaf(m34), leaf(test::random_array({2, 2}, 4)), {.transpose_a = true}); }},
    {"affine with x and w that do not fit", Kind::shape, {"affine", "(3, 4)", "(5, 2)"},
     [] { affine(leaf(m34), leaf(test::random_array({5, 2}, 5)), leaf(test::random_array({2}, 6))); }},
    {"affine with a bias of the wrong length", Kind::shape, {"affine", "bias", "(3,)", "(3, 2)"},
     [] { affine(leaf(m34), leaf(test::random_array({4, 2}, 5)), leaf(test::random_array({3}, 6))); }},
    // (batched products and einsum, issue #12)
    {"permute with an axis twice", Kind::shape, {"permute", "(0, 0, 1)", "twice", "(2, 3, 4)"},
     [] { permute(leaf(test::random_array({2, 3, 4}, 3)), {0, 0, 1}); }},
    {"permute with too few axes", Kind::shape, {"permute", "2 axes", "rank 3", "(2, 3, 4)"},
     [] { permute(leaf(test::random_array({2, 3, 4}, 3)), {1, 0}); }},
    {"permute with an axis out of range", Kind::shape, {"permute", "axis -4", "out of range", "(2, 3, 4)"},
     [] { permute(leaf(test::random_array({2, 3, 4}, 3)), {0, -4, 1}); }},
    {"transpose of axes out of range", Kind::shape, {"transpose", "axis 2", "(3, 4)"},
     [] { transpose(leaf(m34), 0, 2); }},
    {"matmul with batch axes that do not broadcast", Kind::shape, {"matmul", "batch", "(2, 3, 4)", "(3, 4, 5)", "broadcast"},
     [] { matmul(leaf(test::random_array({2, 3, 4}, 3)), leaf(test::random_array({3, 4, 5}, 4))); }},
    {"matmul of stacks with inner dimensions that differ", Kind::shape, {"matmul", "(2, 3, 4)", "(2, 3, 4)", "inner dimensions 4 and 3"},
     [] { matmul(leaf(test::random_array({2, 3, 4}, 3)), leaf(test::random_array({2, 3, 4}, 4))); }},
    {"matmul of a 0-D operand", Kind::shape, {"matmul", "at least 1 dimension", "()", "(3, 4)"},
     [] { matmul(scalar_leaf(2.0), leaf(m34)); }},
    {"matmul with a transposed vector", Kind::shape, {"matmul", "transpose_b", "vector", "(5,)"},
     [] { matmul(leaf(test::random_array({3, 5}, 3)), leaf(v5), {.transpose_b = true}); }},
    {"matmul of vectors of different lengths", Kind::shape, {"matmul", "(5,)", "(4,)", "inner dimensions 5 and 4"},
     [] { matmul(leaf(v5), leaf(test::random_array({4}, 3))); }},
    {"dot of vectors of different lengths", Kind::shape, {"dot", "(5,)", "(4,)"},
     [] { dot(leaf(v5), leaf(test::random_array({4}, 3))); }},
    {"dot of a matrix", Kind::shape, {"dot", "vectors", "(3, 4)"}, [] { dot(leaf(m34), leaf(v5)); }},
    {"outer of a matrix", Kind::shape, {"outer", "vectors", "(3, 4)"}, [] { outer(leaf(v5), leaf(m34)); }},
    {"mv with a vector of the wrong length", Kind::shape, {"mv", "(3, 4)", "(5,)"}, [] { mv(leaf(m34), leaf(v5)); }},
    {"einsum whose output would have more than 2^64 elements", Kind::shape,
     {"einsum", "(65536, 65536, 65536, 65536)", "more than 2^64 elements"},
     [] {
       const V v = leaf(Array<double>(xt::zeros<double>({65536})));
       einsum("i,j,k,l->ijkl", v, v, v, v);
     }},
    {"einsum with more terms than operands", Kind::invalid_argument,
     {"einsum", "2 subscript terms for 1 operand", "\"ij,jk->ik\"", "(3, 4)"},
     [] { einsum("ij,jk->ik", leaf(m34)); }},
    {"einsum with a label of two lengths", Kind::shape,
     {"einsum", "label 'j'", "length 4 in operand 0", "3 in operand 1", "\"ij,jk->ik\"", "(3, 4) and (3, 4)"},
     [] { einsum("ij,jk->ik", leaf(m34), leaf(m34)); }},
    {"einsum with more labels than axes", Kind::shape, {"einsum", "rank 2", "3 labels", "\"ijk->k\"", "(3, 4)"},
     [] { einsum("ijk->k", leaf(m34)); }},
    {"einsum with a bad character", Kind::invalid_argument, {"einsum", "bad character '1'", "\"i1->i\"", "(3, 4)"},
     [] { einsum("i1->i", leaf(m34)); }},
    {"einsum with an ellipsis", Kind::invalid_argument, {"einsum", "ellipsis", "not supported", "(3, 4)"},
     [] { einsum("...j->j", leaf(m34)); }},
    {"einsum with a stray '-'", Kind::invalid_argument, {"einsum", "unexpected '-'", "\"ij-ji\""},
     [] { einsum("ij-ji", leaf(m34)); }},
    {"einsum with an output label in no operand", Kind::invalid_argument,
     {"einsum", "output label 'z'", "no operand", "\"ij->iz\"", "(3, 4)"}, [] { einsum("ij->iz", leaf(m34)); }},
    {"einsum with an output label twice", Kind::invalid_argument, {"einsum", "output label 'i'", "repeats"},
     [] { einsum("ij->ii", leaf(m34)); }},
    {"einsum with a diagonal of two lengths", Kind::shape,
     {"einsum", "label 'i'", "length 3 in operand 0", "4 in the same operand", "\"ii->i\"", "(3, 4)"},
     [] { einsum("ii->i", leaf(m34)); }},
    {"einsum of no operands", Kind::invalid_argument, {"einsum", "at least one operand"},
     [] { einsum<double>("->", {}); }},

    // ---- shape ops
    {"reshape (3, 4) to (5, 2)", Kind::shape, {"reshape", "(3, 4)", "12 elements", "(5, 2)"},
     [] { reshape(leaf(m34), {5, 2}); }},
    {"reshape to a shape past 2^64 elements", Kind::shape, {"reshape", "2^64"},
     [] { reshape(leaf(Array<double>::from_shape({0})), {std::size_t(1) << 32, std::size_t(1) << 33}); }},
    {"flatten from axis 2 of a matrix", Kind::shape, {"flatten", "start axis 2", "(3, 4)"},
     [] { flatten(leaf(m34), 2); }},
    // (slice clamps its bounds and gives an empty slice for start >= stop, as NumPy: no error)
    {"slice with step 0", Kind::invalid_argument, {"slice", "step 0", "axis 1"}, [] { slice(leaf(m34), 1, 0, 4, 0); }},
    {"slice over axis 2 of a matrix", Kind::shape, {"slice", "axis 2", "rank 2"}, [] { slice(leaf(m34), 2, 0, 1); }},
    {"slice_rows past the end", Kind::shape, {"slice_rows", "[1, 9)", "(3, 4)"}, [] { slice_rows(leaf(m34), 1, 9); }},
    {"index_rows with a row out of range", Kind::shape, {"index_rows", "row 3", "(3, 4)"},
     [] { index_rows(leaf(m34), {0, 3}); }},
    {"index_rows of a scalar", Kind::shape, {"index_rows", "scalar"}, [] { index_rows(scalar_leaf(1.0), {0}); }},
    {"pick with a label out of range", Kind::shape, {"pick", "label 4", "row 1", "4 classes"},
     [] { pick(leaf(m34), {0, 4, 1}); }},
    {"pick with too few labels", Kind::shape, {"pick", "(3, 4)", "2 labels"}, [] { pick(leaf(m34), {0, 1}); }},
    {"concatenate of nothing", Kind::shape, {"concatenate", "no inputs"},
     [] { concatenate<double>(std::vector<V>{}, 0); }},
    {"concatenate of shapes that differ outside the axis", Kind::shape, {"concatenate", "(3, 4)", "(2, 3)"},
     [] { concatenate<double>({leaf(m34), leaf(test::random_array({2, 3}, 7))}, 0); }},
    {"broadcast_to a smaller shape", Kind::shape, {"broadcast_to", "(3, 4)", "(4,)"},
     [] { broadcast_to(leaf(m34), {4}); }},
    {"broadcast_to past 2^64 elements", Kind::shape, {"broadcast_to", "2^64"},
     [] { broadcast_to(scalar_leaf(1.0), {std::size_t(1) << 32, std::size_t(1) << 33}); }},
    // (more shape ops, issue #12)
    {"slice_backward to a length past 2^64 elements", Kind::shape,
     {"slice_backward", "(3, 9223372036854775808)", "2^64"},
     [] { slice_backward(leaf(m34), 1, 0, std::size_t(1) << 63); }},
    {"index_rows_backward to a count past 2^64 elements", Kind::shape,
     {"index_rows_backward", "(9223372036854775808, 4)", "2^64"},
     [] { index_rows_backward(leaf(m34), {0, 1, 2}, std::size_t(1) << 63); }},
    {"pick_backward to classes past 2^64 elements", Kind::shape, {"pick_backward", "(5, 9223372036854775808)", "2^64"},
     [] { pick_backward(leaf(v5), {0, 1, 2, 3, 4}, std::size_t(1) << 63); }},
    {"select with an index past the end", Kind::shape, {"select", "index 4", "axis 1", "length 4", "(3, 4)"},
     [] { select(leaf(m34), 1, 4); }},
    {"select with a negative index past the front", Kind::shape, {"select", "index -4", "axis 0", "length 3"},
     [] { select(leaf(m34), 0, -4); }},
    {"select on an axis past the rank", Kind::shape, {"select", "axis 2"}, [] { select(leaf(m34), 2, 0); }},
    {"unstack on an axis past the rank", Kind::shape, {"unstack", "axis -3"}, [] { unstack(leaf(m34), -3); }},
    {"split with sizes whose sum wraps past 2^64", Kind::shape, {"split", "add up to more than", "length 3", "axis 0"},
     [] { split(leaf(m34), {LONG_MAX, LONG_MAX, 5}); }},
    {"split with a braced list of one size that is not the length", Kind::shape,
     {"split", "(5)", "add up to more than", "length 4"}, [] { split(leaf(m34), {5}, 1); }},
    {"repeat_interleave of the flattened x past 2^64 elements", Kind::shape, {"repeat_interleave", "2^64"},
     [] { repeat_interleave(leaf(m34), LONG_MAX); }},
    {"slice_backward that does not fit", Kind::shape, {"slice_backward", "3 elements", "steps of 2", "length 4"},
     [] { slice_backward(leaf(m34), 0, 0, 4, 2); }},
    {"slice_backward with step 0", Kind::invalid_argument, {"slice_backward", "step 0"},
     [] { slice_backward(leaf(m34), 0, 0, 4, 0); }},
    {"stack of nothing", Kind::shape, {"stack", "no inputs"}, [] { stack<double>(std::vector<V>{}); }},
    {"stack of parts of two shapes", Kind::shape, {"stack", "(3, 4)", "(4, 3)", "one shape"},
     [] { stack<double>({leaf(m34), leaf(test::random_array({4, 3}, 8))}); }},
    {"stack at axis 3 of matrices", Kind::shape, {"stack", "axis 3", "[-3, 2]", "(3, 4)"},
     [] { stack<double>({leaf(m34), leaf(m34)}, 3); }},
    {"split with sizes that do not add up", Kind::shape, {"split", "add up to 3", "length 4", "axis 1", "(3, 4)"},
     [] { split(leaf(m34), {1, 2}, 1); }},
    {"split with a negative size", Kind::invalid_argument, {"split", "negative", "-1"},
     [] { split(leaf(m34), {5, -1}, 1); }},
    {"split into sections of 0", Kind::invalid_argument, {"split", "section size 0", "length 4"},
     [] { split(leaf(m34), 0L, 1); }},
    {"split of a scalar", Kind::shape, {"split", "rank 0"}, [] { split(scalar_leaf(1.0), 1L, 0); }},
    {"chunk into 0 chunks", Kind::invalid_argument, {"chunk", "0 chunks", "positive"}, [] { chunk(leaf(m34), 0, 0); }},
    {"squeeze of an axis of length 4", Kind::shape, {"squeeze", "axis 1", "length 4", "not 1", "(3, 4)"},
     [] { squeeze(leaf(m34), 1); }},
    {"unsqueeze at axis -4 of a matrix", Kind::shape, {"unsqueeze", "axis -4", "[-3, 2]", "(3, 4)"},
     [] { unsqueeze(leaf(m34), -4); }},
    {"expand an axis of length 4 to 5", Kind::shape, {"expand", "(3, 4)", "(3, 5)", "axis 1", "length 4"},
     [] { expand(leaf(m34), {3, 5}); }},
    {"expand with -1 on a new axis", Kind::shape, {"expand", "-1", "new leading axis 0"},
     [] { expand(leaf(m34), {-1, 3, 4}); }},
    {"expand to fewer axes", Kind::shape, {"expand", "(3, 4)", "(4,)", "fewer axes"}, [] { expand(leaf(m34), {4}); }},
    {"expand to a length of -2", Kind::shape, {"expand", "length -2", "axis 0"}, [] { expand(leaf(m34), {-2, 4}); }},
    {"tile with a negative count", Kind::invalid_argument, {"tile", "negative count -2", "axis 0"},
     [] { tile(leaf(m34), {-2, 1}); }},
    {"tile past 2^64 elements", Kind::shape, {"tile", "2^64"},
     [] { tile(leaf(m34), {1L << 31, 1L << 31}); }},
    {"repeat with fewer counts than axes", Kind::shape, {"repeat", "1 counts", "(3, 4)", "one per axis"},
     [] { repeat(leaf(m34), {2}); }},
    {"repeat_interleave with a negative count", Kind::invalid_argument, {"repeat_interleave", "negative count -1"},
     [] { repeat_interleave(leaf(m34), -1, 0); }},
    {"repeat_interleave over axis 2 of a matrix", Kind::shape, {"repeat_interleave", "axis 2", "rank 2"},
     [] { repeat_interleave(leaf(m34), 2, 2); }},
    {"pad with three pairs for a matrix", Kind::shape, {"pad", "3 (before, after) pairs", "(3, 4)"},
     [] { pad(leaf(m34), {{1, 1}, {1, 1}, {1, 1}}); }},
    {"pad with a negative width", Kind::invalid_argument, {"pad", "negative width", "(0, -1)", "axis 1"},
     [] { pad(leaf(m34), {{1, 1}, {0, -1}}); }},
    {"pad reflect as wide as the axis", Kind::shape, {"pad", "reflect", "(1, 3)", "axis 0", "length 3", "(3, 4)"},
     [] { pad(leaf(m34), {{1, 3}, {0, 0}}, PadMode::reflect); }},
    {"pad edge of an empty axis", Kind::shape, {"pad", "edge", "axis 1", "length 0"},
     [] { pad(leaf(Array<double>::from_shape({2, 0})), {{0, 0}, {1, 0}}, PadMode::edge); }},
    {"pad_backward with widths larger than the gradient", Kind::shape, {"pad_backward", "(2, 2)", "axis 0", "(3, 4)"},
     [] { pad_backward(leaf(m34), {{2, 2}, {0, 0}}, PadMode::constant); }},
    {"pad_backward reflect wider than its source", Kind::shape, {"pad_backward", "reflect", "axis 1", "length 2"},
     [] { pad_backward(leaf(m34), {{0, 0}, {2, 0}}, PadMode::reflect); }},
    {"flip over axis 2 of a matrix", Kind::shape, {"flip", "axis 2", "rank 2"}, [] { flip(leaf(m34), {0, 2}); }},
    {"flip over an axis twice", Kind::shape, {"flip", "axis 1", "twice", "(3, 4)"}, [] { flip(leaf(m34), {1, -1}); }},

    // ---- indexing (issue #12)
    {"index_select with an unsigned index that wrapped around", Kind::shape,
     {"index_select", "index 18446744073709551615", "entry 1", "above 2^63 - 1", "(3, 4)"},
     [] { index_select(leaf(m34), 1, std::vector<std::size_t>{0, std::size_t(-1)}); }},
    {"index_select with an index out of range", Kind::shape,
     {"index_select", "index 4", "axis 1", "length 4", "(3, 4)", "indices[1]"},
     [] { index_select(leaf(m34), 1, {0, 4}); }},
    {"index_select with a negative index out of range", Kind::shape, {"index_select", "index -4", "axis 0", "length 3"},
     [] { index_select(leaf(m34), 0, {-4}); }},
    {"index_select over axis 2 of a matrix", Kind::shape, {"index_select", "axis 2", "rank 2"},
     [] { index_select(leaf(m34), 2, {0}); }},
    {"index_select of a scalar", Kind::shape, {"index_select", "rank 0"}, [] { index_select(scalar_leaf(1.0), 0, {0}); }},
    {"index_select_backward with an index count that does not fit g", Kind::shape,
     {"index_select_backward", "3 indices", "(3, 4)", "axis 1"},
     [] { index_select_backward(leaf(m34), 1, {0, 1, 2}, 5); }},
    {"index_select_backward with an index past the length", Kind::shape,
     {"index_select_backward", "index 5", "axis 0", "length 5"},
     [] { index_select_backward(leaf(m34), 0, {0, 5, 1}, 5); }},
    {"gather with an index out of range", Kind::shape,
     {"gather", "index 4", "axis 1", "length 4", "(3, 4)", "index[1, 0]"},
     [] { gather(leaf(m34), 1, IndexArray{{0, 1}, {4, 0}}); }},
    {"gather with an index of another rank", Kind::shape, {"gather", "index", "(2,)", "rank 1", "(3, 4)", "rank 2"},
     [] { gather(leaf(m34), 0, IndexArray{0, 1}); }},
    {"gather with an index longer than x off the axis", Kind::shape, {"gather", "(2, 5)", "(3, 4)", "axis 1"},
     [] { gather(leaf(m34), 0, IndexArray{{0, 1, 2, 0, 1}, {2, 1, 0, 2, 1}}); }},
    {"gather over axis -3 of a matrix", Kind::shape, {"gather", "axis -3", "rank 2"},
     [] { gather(leaf(m34), -3, IndexArray{{0, 1}}); }},
    {"gather_backward with g smaller than index", Kind::shape, {"gather_backward", "(2, 2)", "longer than g", "(2, 1)"},
     [] { gather_backward(leaf(test::random_array({2, 1}, 8)), 0, IndexArray{{0, 1}, {1, 0}}, {3, 4}); }},
    {"scatter_add with an index out of range", Kind::shape,
     {"scatter_add", "index -5", "axis 1", "length 4", "(3, 4)", "index[0, 1]"},
     [] { scatter_add(leaf(m34), 1, IndexArray{{0, -5}}, leaf(m34)); }},
    {"scatter_add with src smaller than index", Kind::shape, {"scatter_add", "(1, 3)", "src", "(1, 2)", "axis 1"},
     [] { scatter_add(leaf(m34), 1, IndexArray{{0, 1, 2}}, leaf(test::random_array({1, 2}, 9))); }},
    {"scatter_add with src of another rank", Kind::shape, {"scatter_add", "src", "(5,)", "rank 1", "(3, 4)"},
     [] { scatter_add(leaf(m34), 0, IndexArray{{0, 1}}, leaf(v5)); }},
    {"element access with an index out of range", Kind::shape,
     {"at", "x(0, 4)", "index 4", "axis 1", "length 4", "(3, 4)"}, [] { leaf(m34)(0, 4); }},
    {"element access with a negative index out of range", Kind::shape, {"at", "x(-4)", "index -4", "axis 0", "length 3"},
     [] { leaf(m34)(-4); }},
    {"element access with more indices than axes", Kind::shape, {"at", "x(0, 1, 2)", "3 indices", "(3, 4)", "rank 2"},
     [] { leaf(m34)(0, 1, 2); }},
    {"at_backward with a gradient of the wrong shape", Kind::shape, {"at_backward", "x(1)", "(5,)", "(4,)", "(3, 4)"},
     [] { at_backward(leaf(v5), {1}, {3, 4}); }},
    {"at_backward into a shape past 2^64 elements", Kind::shape, {"at_backward", "(4294967296, 4294967296)", "2^64"},
     [] { at_backward(scalar_leaf(1.0), {1, 1}, {std::size_t(1) << 32, std::size_t(1) << 32}); }},
    {"index_select_backward to a length past 2^64 elements", Kind::shape,
     {"index_select_backward", "(3, 9223372036854775808)", "2^64"},
     [] { index_select_backward(leaf(m34), 1, {0, 1, 2, 1}, std::size_t(1) << 63); }},
    {"gather_backward into a shape past 2^64 elements", Kind::shape,
     {"gather_backward", "(4294967296, 4294967296)", "2^64"},
     [] { gather_backward(leaf(m34), 0, IndexArray{{0, 1}}, {std::size_t(1) << 32, std::size_t(1) << 32}); }},
    {"element access with an unsigned index that wrapped below 0", Kind::shape,
     {"at", "x(18446744073709551615)", "index 18446744073709551615", "axis 0", "length 3", "unsigned"},
     [] { leaf(m34)(std::size_t(0) - 1); }},
    {"at with a braced list of unsigned indices, one past 2^63 - 1", Kind::shape,
     {"at", "x(1, 9223372036854775808)", "index 9223372036854775808", "axis 1", "length 4"},
     [] { at(leaf(m34), {std::size_t(1), std::size_t(1) << 63}); }},

    // ---- convolution and pooling (issue #13)
    {"conv2d kernel larger than the padded input", Kind::shape, {"conv2d", "kernel (5, 5)", "larger than the padded input (4, 6)"},
     [] { conv2d(leaf(test::random_array({1, 1, 2, 4}, 3)), leaf(test::random_array({2, 1, 5, 5}, 4)), {}, {.padding = 1}); }},
    {"conv2d dilated kernel larger than the input", Kind::shape, {"conv2d", "(dilated)", "larger than the padded input"},
     [] { conv2d(leaf(test::random_array({1, 1, 4, 4}, 3)), leaf(test::random_array({2, 1, 3, 3}, 4)), {}, {.dilation = 2}); }},
    {"conv2d channels not divisible by groups", Kind::shape, {"conv2d", "not divisible by groups 2", "(1, 3, 5, 5)"},
     [] { conv2d(leaf(test::random_array({1, 3, 5, 5}, 3)), leaf(test::random_array({4, 1, 3, 3}, 4)), {}, {.groups = 2}); }},
    {"conv2d weight's in_channels do not fit", Kind::shape, {"conv2d", "has 3 channels", "(4, 2, 3, 3)", "expects 2"},
     [] { conv2d(leaf(test::random_array({1, 3, 5, 5}, 3)), leaf(test::random_array({4, 2, 3, 3}, 4))); }},
    {"conv2d stride 0", Kind::invalid_argument, {"conv2d", "stride (0, 0)", "positive"},
     [] { conv2d(leaf(test::random_array({1, 1, 5, 5}, 3)), leaf(test::random_array({2, 1, 3, 3}, 4)), {}, {.stride = 0}); }},
    {"conv2d negative padding", Kind::invalid_argument, {"conv2d", "padding (1, -1)", "negative"},
     [] { conv2d(leaf(test::random_array({1, 1, 5, 5}, 3)), leaf(test::random_array({2, 1, 3, 3}, 4)), {}, {.padding = {1, -1}}); }},
    {"conv2d dilation 0", Kind::invalid_argument, {"conv2d", "dilation (0, 1)", "positive"},
     [] { conv2d(leaf(test::random_array({1, 1, 5, 5}, 3)), leaf(test::random_array({2, 1, 3, 3}, 4)), {}, {.dilation = {0, 1}}); }},
    {"conv2d groups 0", Kind::invalid_argument, {"conv2d", "groups 0", "positive"},
     [] { conv2d(leaf(test::random_array({1, 1, 5, 5}, 3)), leaf(test::random_array({2, 1, 3, 3}, 4)), {}, {.groups = 0}); }},
    {"conv2d weight of rank 3", Kind::shape, {"conv2d", "weight of shape (2, 1, 3)", "not 4-D"},
     [] { conv2d(leaf(test::random_array({1, 1, 5, 5}, 3)), leaf(test::random_array({2, 1, 3}, 4))); }},
    {"conv2d input of rank 3", Kind::shape, {"conv2d", "input of shape (1, 5, 5)", "not 4-D"},
     [] { conv2d(leaf(test::random_array({1, 5, 5}, 3)), leaf(test::random_array({2, 1, 3, 3}, 4))); }},
    {"conv2d bias of the wrong length", Kind::shape, {"conv2d", "bias of shape (3,)", "need (2,)"},
     [] { conv2d(leaf(test::random_array({1, 1, 5, 5}, 3)), leaf(test::random_array({2, 1, 3, 3}, 4)), leaf(test::random_array({3}, 5))); }},
    {"conv2d_backward_input gradient of the wrong shape", Kind::shape,
     {"conv2d_backward_input", "gradient of shape (1, 2, 4, 4)", "output has shape (1, 2, 3, 3)"},
     [] { conv2d_backward_input(leaf(test::random_array({1, 2, 4, 4}, 3)), leaf(test::random_array({2, 1, 3, 3}, 4)), {1, 1, 5, 5}); }},
    {"conv2d_backward_weight gradient of the wrong shape", Kind::shape,
     {"conv2d_backward_weight", "gradient of shape (1, 3, 3, 3)", "output has shape (1, 2, 3, 3)"},
     [] { conv2d_backward_weight(leaf(test::random_array({1, 3, 3, 3}, 3)), leaf(test::random_array({1, 1, 5, 5}, 4)), {2, 1, 3, 3}); }},
    {"conv1d input of rank 4", Kind::shape, {"conv1d", "input of shape (1, 1, 5, 5)", "not 3-D"},
     [] { conv1d(leaf(test::random_array({1, 1, 5, 5}, 3)), leaf(test::random_array({2, 1, 3}, 4))); }},
    {"conv1d kernel larger than the padded input", Kind::shape, {"conv1d", "kernel 7", "larger than the padded input 6"},
     [] { conv1d(leaf(test::random_array({1, 1, 4}, 3)), leaf(test::random_array({2, 1, 4}, 4)), {}, {.padding = 1, .dilation = 2}); }},
    {"conv1d channels and groups", Kind::shape, {"conv1d", "(1, 3, 8)", "(2, 1, 3)", "groups 2", "not divisible"},
     [] { conv1d(leaf(test::random_array({1, 3, 8}, 3)), leaf(test::random_array({2, 1, 3}, 4)), {}, {.groups = 2}); }},
    {"conv1d stride 0", Kind::invalid_argument, {"conv1d", "stride 0", "positive"},
     [] { conv1d(leaf(test::random_array({1, 1, 8}, 3)), leaf(test::random_array({2, 1, 3}, 4)), {}, {.stride = 0}); }},
    {"max_pool2d padding over half the kernel", Kind::invalid_argument, {"max_pool2d", "padding (2, 2)", "at most half the kernel (3, 3)"},
     [] { max_pool2d(leaf(test::random_array({1, 1, 6, 6}, 3)), 3, 1, 2); }},
    {"max_pool2d kernel 0", Kind::invalid_argument, {"max_pool2d", "kernel (0, 2)", "positive"},
     [] { max_pool2d(leaf(test::random_array({1, 1, 6, 6}, 3)), {0, 2}); }},
    {"max_pool2d kernel larger than the input", Kind::shape, {"max_pool2d", "kernel (3, 3)", "larger than the padded input (2, 6)"},
     [] { max_pool2d(leaf(test::random_array({1, 1, 2, 6}, 3)), 3); }},
    {"max_pool2d input of rank 3", Kind::shape, {"max_pool2d", "input of shape (1, 6, 6)", "not 4-D"},
     [] { max_pool2d(leaf(test::random_array({1, 6, 6}, 3)), 2); }},
    {"avg_pool2d negative stride", Kind::invalid_argument, {"avg_pool2d", "stride (2, -1)", "positive"},
     [] { avg_pool2d(leaf(test::random_array({1, 1, 6, 6}, 3)), 2, {2, -1}); }},
    {"avg_pool2d of an empty plane", Kind::shape, {"avg_pool2d", "(1, 1, 0, 6)", "empty plane"},
     [] { avg_pool2d(leaf(Array<double>::from_shape({1, 1, 0, 6})), 2, 1, 1); }},
    {"adaptive_avg_pool2d output size 0", Kind::invalid_argument, {"adaptive_avg_pool2d", "output size (0, 0)", "positive"},
     [] { adaptive_avg_pool2d(leaf(test::random_array({1, 1, 6, 6}, 3)), 0); }},
    {"adaptive_avg_pool2d of an empty plane", Kind::shape, {"adaptive_avg_pool2d", "(2, 1, 5, 0)", "empty plane"},
     [] { adaptive_avg_pool2d(leaf(Array<double>::from_shape({2, 1, 5, 0})), 1); }},

    // ---- factories (issue #12)
    {"linspace with a negative count", Kind::invalid_argument, {"linspace", "count is -1", "negative"},
     [] { linspace(0.0, 1.0, -1); }},
    {"eye with negative columns", Kind::invalid_argument, {"eye", "columns is -2", "negative"}, [] { eye(3, -2); }},
    {"arange with step 0", Kind::invalid_argument, {"arange", "step is 0"}, [] { arange(0.0, 1.0, 0.0); }},
    {"arange with a NaN bound", Kind::invalid_argument, {"arange", "stop", "NaN"}, [] { arange(0.0, std::nan("")); }},
    {"arange with too many values", Kind::invalid_argument, {"arange", "too many"}, [] { arange(0.0, 1e300, 1e-300); }},
    {"linspace with an infinite end", Kind::invalid_argument, {"linspace", "stop", "inf"},
     [] { linspace(0.0, INFINITY, 3); }},
    {"zeros of more than 2^64 elements", Kind::shape, {"zeros", "(4294967296, 4294967296, 2)", "2^64"},
     [] { zeros({4294967296, 4294967296, 2}); }},
    {"randn of more than 2^64 elements", Kind::shape, {"randn", "2^64"},
     [] { randn({4294967296, 4294967296, 2}); }},

    // ---- Variable
    {"item() of a matrix", Kind::shape, {"item()", "(3, 4)"}, [] { leaf(m34).item(); }},
    {"grad() before backward", Kind::graph, {"grad()", "backward()"}, [] { leaf(m34).grad(); }},
    {"grad() of an intermediate without retain_grad", Kind::graph, {"grad()", "mul", "retain_grad()"},
     [] { (leaf(m34) * 2.0).grad(); }},
    {"grad() of a constant", Kind::graph, {"grad()", "does not require a gradient"}, [] { V(m34).grad(); }},
    {"data() of an op's result", Kind::graph, {"data()", "leaves", "tanh"}, [] { tanh(leaf(m34)).data(); }},
    {"set_requires_grad of an op's result", Kind::graph, {"set_requires_grad", "leaves"},
     [] { tanh(leaf(m34)).set_requires_grad(false); }},
    {"value() of an empty Variable", Kind::graph, {"empty Variable"}, [] { V().value(); }},
    {"an op on an empty Variable", Kind::graph, {"empty Variable"}, [] { tanh(V()); }},
    // ---- backward
    {"backward of a matrix without a seed", Kind::graph, {"backward", "(3, 4)", "scalar", "seed"},
     [] { (leaf(m34) * 2.0).backward(); }},
    {"backward with a seed of the wrong shape", Kind::shape, {"backward", "seed", "(5,)", "(3, 4)"},
     [] { (leaf(m34) * 2.0).backward(v5); }},
    {"backward of a constant", Kind::graph, {"backward", "does not require a gradient"},
     [] { sum(V(m34) * 2.0).backward(); }},
    {"backward twice through one graph", Kind::graph, {"backward", "released", "retain_graph"},
     [] {
       V y = sum(leaf(m34) * 2.0);
       y.backward();
       y.backward();
     }},
    {"backward after data() changed an input", Kind::graph, {"backward", "mul", "changed in place", "data()"},
     [] {
       V w = leaf(m34);
       V y = sum(w * w);
       w.data() *= 2.0;
       y.backward();
     }},
    {"backward into a non-leaf", Kind::graph, {"backward", "inputs[0]", "leaf", "autodiff::grad"},
     [] {
       V w = leaf(m34);
       V h = w * 2.0;
       sum(h).backward({.inputs = {h}});
     }},
    {"backward through a value recorded on another thread", Kind::graph, {"backward", "thread"},
     [] {
       V w = leaf(m34), far;
       std::thread other([&] { far = w * 2.0; });
       other.join();
       sum(far * 3.0).backward();
     }},
    // ---- grad
    {"grad of no outputs", Kind::graph, {"grad", "no outputs"},
     [] { grad<double>(std::vector<V>{}, std::vector<V>{leaf(m34)}); }},
    {"grad with two seeds for one output", Kind::graph, {"grad", "2 grad_outputs", "1 outputs"},
     [] {
       V w = leaf(m34);
       grad(sum(w), std::vector<V>{w}, {.grad_outputs = {V::scalar(1.0), V::scalar(1.0)}});
     }},
    {"grad with respect to a constant", Kind::graph, {"grad", "input 0", "(3, 4)", "does not require"},
     [] { grad(sum(leaf(m34)), std::vector<V>{V(m34)}); }},
    {"grad with respect to an unused input", Kind::graph, {"grad", "input 1", "(5,)", "not used", "allow_unused"},
     [] {
       V w = leaf(m34);
       grad(sum(w), std::vector<V>{w, leaf(v5)});
     }},
    {"grad of a gradient computed without create_graph", Kind::graph, {"grad", "create_graph"},
     [] {
       V w = leaf(m34);
       V g = grad(sum(w * w), w);
       grad(sum(g), w);
     }},
    {"grad with a seed of the wrong shape", Kind::shape, {"grad", "seed", "(5,)", "(3, 4)"},
     [] {
       V w = leaf(m34);
       grad(w * 2.0, std::vector<V>{w}, {.grad_outputs = {V(v5)}});
     }},
    {"grad with respect to an empty Variable", Kind::graph, {"grad", "input 0", "empty"},
     [] { grad(sum(leaf(m34)), std::vector<V>{V()}); }},
    // ---- functional
    {"hvp of a non-scalar function", Kind::shape, {"hvp", "one value", "(3, 4)"},
     [] { hvp(Function<double>([](const V& x) { return x * x; }), V(m34), V(m34)); }},
    {"hvp with v of the wrong shape", Kind::shape, {"hvp", "v", "(5,)", "(3, 4)"},
     [] { hvp(Function<double>([](const V& x) { return sum(x * x); }), V(m34), V(v5)); }},
    {"jvp with v of the wrong shape", Kind::shape, {"jvp", "v", "(5,)", "(3, 4)"},
     [] { jvp(Function<double>([](const V& x) { return x * x; }), V(m34), V(v5)); }},
    {"vjp with v of the wrong shape", Kind::shape, {"vjp", "v", "(5,)", "(3, 4)"},
     [] { vjp(Function<double>([](const V& x) { return x * x; }), V(m34), V(v5)); }},
    {"hessian of a non-scalar function", Kind::shape, {"hessian", "one value"},
     [] { hessian(Function<double>([](const V& x) { return x * x; }), V(m34)); }},
    {"hvp with create_graph at a constant x", Kind::graph, {"hvp", "create_graph", "require a gradient"},
     [] { hvp(Function<double>([](const V& x) { return sum(x * x); }), V(m34), V(m34), {.create_graph = true}); }},
    // ---- checking gradients
    {"gradcheck inside no_grad", Kind::graph, {"gradcheck", "no_grad"},
     [] {
       no_grad scope;
       gradcheck([](const std::vector<V>& x) { return sum(x[0]); }, {m34});
     }},
    {"gradgradcheck inside no_grad", Kind::graph, {"gradgradcheck", "no_grad"},
     [] {
       no_grad scope;
       gradgradcheck([](const std::vector<V>& x) { return sum(x[0]); }, {m34});
     }},
    {"check_gradients with one gradient for two inputs", Kind::shape, {"check_gradients", "1 gradients", "2 inputs"},
     [] { check_gradients([](const std::vector<V>& x) { return sum(x[0]); }, {m34, m34}, {m34}); }},
    {"check_gradients with a gradient of the wrong shape", Kind::shape, {"check_gradients", "(5,)", "(3, 4)"},
     [] { check_gradients([](const std::vector<V>& x) { return sum(x[0]); }, {m34}, {v5}); }},
    {"check_gradients with a gradient of the transposed shape", Kind::shape,
     {"check_gradients", "gradient 0 has shape (4, 3)", "its input (3, 4)", "the transposed shape"},
     [] { check_gradients([](const std::vector<V>& x) { return sum(x[0]); }, {m34}, {Array<double>(xt::transpose(m34))}); }},
    // ---- anomaly mode names the op
    {"anomaly: log of a negative value in the forward pass", Kind::anomaly, {"anomaly", "forward", "log", "NaN"},
     [] {
       detect_anomaly scope;
       log(leaf(Array<double>{-1.0, 1.0}));
     }},
    {"anomaly: an infinite gradient in the backward sweep", Kind::anomaly, {"anomaly", "backward", "sqrt", "Inf"},
     [] {
       detect_anomaly scope;
       sum(sqrt(leaf(Array<double>{0.0, 1.0}))).backward();
     }},
    {"to_dot after the graph was released", Kind::graph, {"to_dot", "released", "retain_graph", "keep_all_grads"},
     [] {
       V y = sum(tanh(leaf(m34)));
       y.backward();
       to_dot(y);
     }},
    {"to_dot of a value whose inputs' graph was released", Kind::graph, {"to_dot", "behind it", "'tanh'", "released"},
     [] {
       V h = tanh(leaf(m34));
       V y = sum(h);
       h.backward(Array<double>(xt::ones<double>({3, 4})));
       to_dot(y);
     }},
    {"to_dot of an empty Variable", Kind::graph, {"to_dot", "empty Variable"}, [] { to_dot(V()); }},
    {"write_html after the graph was released", Kind::graph, {"write_html", "released", "retain_graph"},
     [] {
       V y = sum(tanh(leaf(m34)));
       y.backward();
       to_html(y);
     }},
    // ---- settings
    {"set_num_threads(0)", Kind::invalid_argument, {"set_num_threads", "at least 1", "0"}, [] { set_num_threads(0); }},
};

}  // namespace

TEST_CASE("the autodiff bad-input catalogue: a clear error naming the call, and nothing lost") {
  CHECK(catalogue.size() >= 60);
  // The state a user has when they make the mistake: parameters with gradients, and a kept graph.
  V w(test::random_array({4, 2}, 11), true);
  V x(test::random_array({3, 4}, 12));
  V kept = sum(tanh(matmul(x, w)));
  kept.backward({.retain_graph = true});
  const Array<double> w_value = w.value(), w_grad = w.grad();
  for (const Misuse& row : catalogue) {
    INFO(row.name);
    std::string message;
    CHECK(thrown_as(row.kind, row.call, message));
    INFO(message);
    for (const char* word : row.words) CHECK(message.find(word) != std::string::npos);
    // Nothing lost: parameters, their gradients, the modes, the kept graph, the tape.
    CHECK(w.value() == w_value);
    CHECK(w.grad() == w_grad);
    CHECK(grad_enabled());
    CHECK_FALSE(anomaly_detection_enabled());
    const V again = grad(kept, w, {.retain_graph = true});  // the kept graph still differentiates
    CHECK(xt::allclose(again.value(), w_grad));
    V step = sum(square(matmul(x, w)));  // and a new graph trains
    CHECK(grad(step, w).shape() == w.shape());
  }
}

TEST_CASE("softmax, log_softmax and logsumexp over an axis of length 0 give NumPy's and PyTorch's answers") {
  V empty_rows(Array<double>::from_shape({3, 0}), true);
  CHECK(softmax(empty_rows).shape() == Shape{3, 0});
  CHECK(log_softmax(empty_rows).shape() == Shape{3, 0});
  const Array<double> lse = logsumexp(empty_rows, 1).value();  // the log of an empty sum
  CHECK(lse.shape() == Shape{3});
  CHECK(xt::all(xt::equal(lse, -std::numeric_limits<double>::infinity())));
  V no_rows(Array<double>::from_shape({0, 4}), true);
  CHECK(softmax(no_rows, 0).shape() == Shape{0, 4});
  V s = sum(softmax(no_rows, 0));
  s.backward();
  CHECK(no_rows.grad().shape() == Shape{0, 4});
}

TEST_CASE("clip with lower > upper gives the upper bound, as NumPy and PyTorch") {
  V x(Array<double>{-2.0, 0.5, 3.0}, true);
  V y = clip(x, 1.0, -1.0);
  CHECK(y.value() == Array<double>{-1.0, -1.0, -1.0});
  sum(y).backward();
  CHECK(x.grad() == Array<double>{0.0, 0.0, 0.0});
  CHECK(std::isnan(clip(V(Array<double>{std::nan("")}), -1.0, 1.0).item()));  // NaN stays NaN
}

TEST_CASE("x / s for a scalar is correctly rounded") {
  CHECK((V::scalar(5.0) / 3.0).item() == 5.0 / 3.0);
}

#ifndef WENGERT_NO_POOL  // AddressSanitizer reports a 16 TiB request itself
TEST_CASE("an allocation the system refuses says how much was asked for") {
  try {
    V x(Array<double>{1.0, 2.0}, true);
    (void)Array<double>::from_shape({std::size_t(1) << 41});  // 16 TiB
    FAIL("no exception");
  } catch (const std::bad_alloc& e) {  // still a std::bad_alloc for code that catches one
    CHECK(std::string(e.what()).find("17592186044416 bytes") != std::string::npos);
  }
}
#endif
