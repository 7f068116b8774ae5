// Forward values, conventions and errors of the ops in autodiff/linalg.hpp
// (their gradients are checked in gradients_test.cpp). The references here are
// hand-written loops over every index, in double, for float32 and float64.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;
using Index = std::vector<std::size_t>;

namespace {

template <class T>
Array<T> random_of(const Shape& shape, unsigned seed) {
  const Array<double> a = test::random_array(shape, seed);
  Array<T> r = Array<T>::from_shape(shape);
  std::copy(a.begin(), a.end(), r.begin());
  return r;
}

template <class T>
Array<double> to_double(const Array<T>& a) {
  Array<double> r = Array<double>::from_shape(a.shape());
  std::copy(a.begin(), a.end(), r.begin());
  return r;
}

std::size_t count_of(const Shape& s) {
  std::size_t n = 1;
  for (std::size_t d : s) n *= d;
  return n;
}

Index unravel(std::size_t flat, const Shape& s) {
  Index index(s.size());
  for (std::size_t i = s.size(); i-- > 0;) {
    index[i] = flat % s[i];
    flat /= s[i];
  }
  return index;
}

template <class A>
auto& at(A& a, const Index& index) {
  return a.element(index.begin(), index.end());
}

// Closeness relative to the size of the values: float32 sums of a few products
// agree to ~1e-6, float64 ones to ~1e-15.
template <class T>
bool close(const Array<T>& got, const Array<double>& want) {
  if (got.shape() != want.shape()) return false;
  const double tol = sizeof(T) == 4 ? 2e-5 : 1e-12;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (std::abs(double(got.data()[i]) - want.data()[i]) > tol * (1 + std::abs(want.data()[i]))) return false;
  return true;
}

// NumPy's matmul by loops over every index: out = op(a) @ op(b) with the batch axes
// broadcast, a 1-D a a row, a 1-D b a column (their axes dropped). With a seed g of
// out's shape it also accumulates dA and dB = the gradient of sum(g * out).
struct MatmulReference {
  Array<double> out, da, db;
};
template <class T>
MatmulReference matmul_reference(const Array<T>& a, const Array<T>& b, bool ta, bool tb, const Array<double>* g) {
  const bool va = a.dimension() == 1, vb = b.dimension() == 1;
  const Shape sa = va ? Shape{1, a.shape()[0]} : a.shape(), sb = vb ? Shape{b.shape()[0], 1} : b.shape();
  const std::size_t ra = sa.size(), rb = sb.size();
  const std::size_t m = ta ? sa[ra - 1] : sa[ra - 2], k = ta ? sa[ra - 2] : sa[ra - 1];
  const std::size_t n = tb ? sb[rb - 2] : sb[rb - 1];
  const std::size_t rank = std::max(ra, rb) - 2;
  Shape batch(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::size_t from_end = rank - i;
    const std::size_t x = from_end <= ra - 2 ? sa[ra - 2 - from_end] : 1;
    const std::size_t y = from_end <= rb - 2 ? sb[rb - 2 - from_end] : 1;
    batch[i] = x == 1 ? y : x;  // (a length 0 broadcasts against 1 to 0)
  }
  Shape full = batch;
  full.push_back(m);
  full.push_back(n);
  MatmulReference r;
  r.out = Array<double>::from_shape(full);
  r.da = xt::zeros<double>(a.shape());
  r.db = xt::zeros<double>(b.shape());
  // the element of a for batch index `bi` and matrix position (i, l) of op(a), as an index of a itself
  auto index_a = [&](const Index& bi, std::size_t i, std::size_t l) {
    if (va) return Index{l};
    Index idx;
    for (std::size_t d = 0; d < ra - 2; ++d) idx.push_back(sa[d] == 1 ? 0 : bi[rank - (ra - 2) + d]);
    idx.push_back(ta ? l : i);
    idx.push_back(ta ? i : l);
    return idx;
  };
  auto index_b = [&](const Index& bi, std::size_t l, std::size_t j) {
    if (vb) return Index{l};
    Index idx;
    for (std::size_t d = 0; d < rb - 2; ++d) idx.push_back(sb[d] == 1 ? 0 : bi[rank - (rb - 2) + d]);
    idx.push_back(tb ? j : l);
    idx.push_back(tb ? l : j);
    return idx;
  };
  for (std::size_t flat = 0; flat < r.out.size(); ++flat) {
    const Index o = unravel(flat, full);
    const Index bi(o.begin(), o.begin() + static_cast<std::ptrdiff_t>(rank));
    const std::size_t i = o[rank], j = o[rank + 1];
    double s = 0;
    for (std::size_t l = 0; l < k; ++l) {
      const double x = at(a, index_a(bi, i, l)), y = at(b, index_b(bi, l, j));
      s += x * y;
      if (g) {
        at(r.da, index_a(bi, i, l)) += g->data()[flat] * y;
        at(r.db, index_b(bi, l, j)) += g->data()[flat] * x;
      }
    }
    r.out.data()[flat] = s;
  }
  Shape shape = batch;  // NumPy's result shape: the axes of 1-D operands dropped
  if (!va) shape.push_back(m);
  if (!vb) shape.push_back(n);
  r.out.reshape(shape);
  return r;
}

// einsum by its definition: every assignment of values to the labels, the product
// of the operands' entries added into the output's entry.
template <class T>
Array<double> einsum_reference(const std::vector<std::string>& terms, const std::string& output,
                               const std::vector<Array<T>>& operands) {
  std::map<char, std::size_t> size;
  for (std::size_t i = 0; i < terms.size(); ++i)
    for (std::size_t d = 0; d < terms[i].size(); ++d) size[terms[i][d]] = operands[i].shape()[d];
  std::string labels;
  Shape all;
  for (auto [c, n] : size) labels += c, all.push_back(n);
  Shape out_shape;
  for (char c : output) out_shape.push_back(size[c]);
  Array<double> out = xt::zeros<double>(out_shape);
  for (std::size_t flat = 0; flat < count_of(all); ++flat) {
    const Index value = unravel(flat, all);
    auto index_of = [&](const std::string& term) {
      Index idx;
      for (char c : term) idx.push_back(value[labels.find(c)]);
      return idx;
    };
    double p = 1;
    for (std::size_t i = 0; i < terms.size(); ++i) p *= at(operands[i], index_of(terms[i]));
    at(out, index_of(output)) += p;
  }
  return out;
}

std::vector<std::string> split_terms(const std::string& lhs) {
  std::vector<std::string> terms(1);
  for (char c : lhs)
    if (c == ',') terms.emplace_back();
    else terms.back() += c;
  return terms;
}

// y with axis i = axis p[i] of x, by loops.
template <class T>
Array<double> permute_reference(const Array<T>& x, const std::vector<std::size_t>& p) {
  Shape shape;
  for (std::size_t a : p) shape.push_back(x.shape()[a]);
  Array<double> y = Array<double>::from_shape(shape);
  for (std::size_t flat = 0; flat < y.size(); ++flat) {
    const Index o = unravel(flat, shape);
    Index in(p.size());
    for (std::size_t i = 0; i < p.size(); ++i) in[p[i]] = o[i];
    y.data()[flat] = at(x, in);
  }
  return y;
}

struct MatmulCase {
  Shape a, b;
  bool ta = false, tb = false;
  Shape expected;
};

const std::vector<MatmulCase> matmul_cases = {
    {{2, 3, 4}, {2, 4, 5}, false, false, {2, 3, 5}},
    {{2, 1, 3, 4}, {5, 4, 6}, false, false, {2, 5, 3, 6}},
    {{3, 4}, {5, 4, 6}, false, false, {5, 3, 6}},
    {{5, 3, 4}, {4, 6}, false, false, {5, 3, 6}},  // one gemm over (15, 4)
    {{2, 5, 3, 4}, {6, 4}, false, true, {2, 5, 3, 6}},
    {{5, 4, 3}, {4, 6}, true, false, {5, 3, 6}},
    {{2, 1, 4, 3}, {1, 3, 6, 4}, true, true, {2, 3, 3, 6}},
    {{1, 3, 4}, {2, 1, 4, 2}, false, false, {2, 1, 3, 2}},
    {{3, 4}, {2, 5, 4}, false, true, {2, 3, 5}},
    {{4}, {4, 3}, false, false, {3}},
    {{3, 4}, {4}, false, false, {3}},
    {{4, 3}, {4}, true, false, {3}},
    {{4}, {3, 4}, false, true, {3}},
    {{4}, {4}, false, false, {}},
    {{4}, {2, 4, 3}, false, false, {2, 3}},
    {{2, 3, 4}, {4}, false, false, {2, 3}},
    {{2, 1, 3, 4}, {4}, false, false, {2, 1, 3}},
    {{2, 0, 3}, {3, 4}, false, false, {2, 0, 4}},
    {{2, 3, 0}, {0, 4}, false, false, {2, 3, 4}},  // empty sums: zeros
    {{0, 3, 4}, {4, 2}, false, false, {0, 3, 2}},
    {{2, 3, 0}, {2, 0, 4}, false, false, {2, 3, 4}},
};

}  // namespace

TEST_CASE_TEMPLATE("matmul of stacks, vectors and broadcast batch axes equals loops over every index", T, float,
                   double) {
  unsigned seed = 10;
  for (const MatmulCase& c : matmul_cases) {
    const Array<T> a = random_of<T>(c.a, seed++), b = random_of<T>(c.b, seed++);
    const MatmulReference want = matmul_reference(a, b, c.ta, c.tb, nullptr);
    const Variable<T> y = matmul(Variable<T>(a), Variable<T>(b), {.transpose_a = c.ta, .transpose_b = c.tb});
    INFO(to_string(c.a), (c.ta ? "^T" : ""), " @ ", to_string(c.b), (c.tb ? "^T" : ""));
    CHECK(y.shape() == c.expected);
    CHECK(close(y.value(), want.out));
  }
}

TEST_CASE_TEMPLATE("matmul's gradients of stacks and vectors equal loops over every index", T, float, double) {
  unsigned seed = 100;
  for (const MatmulCase& c : matmul_cases) {
    const Array<T> a = random_of<T>(c.a, seed++), b = random_of<T>(c.b, seed++);
    Variable<T> va(a, true), vb(b, true);
    const Variable<T> y = matmul(va, vb, {.transpose_a = c.ta, .transpose_b = c.tb});
    const Array<double> g = test::random_array(y.shape(), seed++);
    const MatmulReference want = matmul_reference(a, b, c.ta, c.tb, &g);
    Array<T> seed_g = Array<T>::from_shape(g.shape());
    std::copy(g.begin(), g.end(), seed_g.begin());
    y.backward(seed_g);
    INFO(to_string(c.a), (c.ta ? "^T" : ""), " @ ", to_string(c.b), (c.tb ? "^T" : ""));
    CHECK(close(va.grad(), want.da));
    CHECK(close(vb.grad(), want.db));
  }
}

TEST_CASE("matmul of two vectors is 0-D, and matrix products keep their 2-D values") {
  const V a(Array<double>{1.0, 2.0, 3.0}), b(Array<double>{4.0, 5.0, 6.0});
  const V s = matmul(a, b);
  CHECK(s.dimension() == 0);
  CHECK(s.item() == 32.0);
  const V m(Array<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  CHECK(matmul(m, a).value() == Array<double>{14.0, 32.0});           // matrix @ vector
  CHECK(matmul(V(Array<double>{1.0, -1.0}), m).value() == Array<double>{-3.0, -3.0, -3.0});  // vector @ matrix
  CHECK(mv(m, a).value() == Array<double>{14.0, 32.0});
}

TEST_CASE_TEMPLATE("dot, outer and mv", T, float, double) {
  const Variable<T> a(Array<T>{T(1), T(2), T(3)}), b(Array<T>{T(4), T(-5), T(6)});
  const Variable<T> d = dot(a, b);
  CHECK(d.dimension() == 0);
  CHECK(d.item() == T(12));  // 4 - 10 + 18
  CHECK(outer(a, b).value() == Array<T>{{4, -5, 6}, {8, -10, 12}, {12, -15, 18}});
  CHECK(outer(a, Variable<T>(Array<T>::from_shape({0}))).shape() == Shape{3, 0});
  const Variable<T> m(Array<T>{{1, 0, 2}, {0, 1, -1}});
  CHECK(mv(m, a).value() == Array<T>{7, -1});
  CHECK(dot(Variable<T>(Array<T>::from_shape({0})), Variable<T>(Array<T>::from_shape({0}))).item() == T(0));
  // gradients: d dot/da = b, d outer summed against g = g @ b
  Variable<T> x(Array<T>{T(1), T(2)}, true), y(Array<T>{T(3), T(4), T(5)}, true);
  sum(outer(x, y)).backward();
  CHECK(x.grad() == Array<T>{12, 12});
  CHECK(y.grad() == Array<T>{3, 3, 3});
}

TEST_CASE_TEMPLATE("einsum equals the sum over every assignment of its labels", T, float, double) {
  struct Case {
    std::string subscripts;
    std::vector<Shape> shapes;
  };
  const std::vector<Case> cases = {
      {"ij,jk->ik", {{3, 4}, {4, 5}}},
      {"ij,kj->ik", {{3, 4}, {5, 4}}},
      {"ji,jk->ik", {{4, 3}, {4, 5}}},
      {"ji,kj->ki", {{4, 3}, {5, 4}}},
      {"bij,bjk->bik", {{2, 3, 4}, {2, 4, 5}}},
      {"bij,bkj->bki", {{2, 3, 4}, {2, 5, 4}}},
      {"jbi,bkj->ikb", {{4, 2, 3}, {2, 5, 4}}},
      {"ij,jk->i", {{3, 4}, {4, 5}}},
      {"ij,kl->", {{3, 4}, {2, 5}}},
      {"i,j->ij", {{3}, {4}}},
      {"i,i->", {{5}, {5}}},
      {"ij,ij->ij", {{3, 4}, {3, 4}}},
      {"ij,ij->", {{3, 4}, {3, 4}}},
      {"ab,cd->cadb", {{2, 3}, {4, 2}}},
      {"ijk->kij", {{2, 3, 4}}},
      {"ijk->kj", {{2, 3, 4}}},
      {"ijk->j", {{2, 3, 4}}},
      {"ij->", {{3, 4}}},
      {"ij->ij", {{3, 4}}},
      {"->", {{}}},
      {",i->i", {{}, {3}}},
      {"ij,jk,kl->il", {{2, 3}, {3, 4}, {4, 2}}},
      {"bi,bij,bj->b", {{2, 3}, {2, 3, 4}, {2, 4}}},
      {"abc,cd,de->eba", {{2, 3, 4}, {4, 2}, {2, 3}}},
      {"ia,jb,kc,abc->ijk", {{2, 2}, {3, 2}, {2, 2}, {2, 2, 2}}},
      {"aB,->Ba", {{2, 3}, {}}},
      {"bhqd,bhkd->bhqk", {{2, 2, 3, 4}, {2, 2, 5, 4}}},  // attention scores
      {"ii->i", {{4, 4}}},                                // diagonals and traces
      {"ii->", {{4, 4}}},
      {"iij->ji", {{3, 3, 2}}},
      {"iji->ij", {{3, 2, 3}}},
      {"bii,ij->bj", {{2, 3, 3}, {3, 4}}},
      {"iji,ik->jk", {{3, 2, 3}, {3, 4}}},
      {"ii,ii->i", {{3, 3}, {3, 3}}},
      {"ij,jk->ik", {{3, 0}, {0, 5}}},                    // an empty contraction: zeros
      {"ij,jk->ik", {{0, 2}, {2, 5}}},
  };
  unsigned seed = 200;
  for (const Case& c : cases) {
    std::vector<Array<T>> arrays;
    std::vector<Variable<T>> operands;
    for (const Shape& s : c.shapes) {
      arrays.push_back(random_of<T>(s, seed++));
      operands.emplace_back(arrays.back());
    }
    const std::size_t arrow = c.subscripts.find("->");
    const Array<double> want =
        einsum_reference(split_terms(c.subscripts.substr(0, arrow)), c.subscripts.substr(arrow + 2), arrays);
    INFO(c.subscripts);
    CHECK(close(einsum(c.subscripts, operands).value(), want));
  }
}

TEST_CASE("einsum without '->': the labels that appear once, in ASCII order (NumPy)") {
  const V a(test::random_array({3, 4}, 1)), b(test::random_array({4, 5}, 2));
  CHECK(close(einsum("ij,jk", a, b).value(), matmul(a, b).value()));
  CHECK(close(einsum("ba", a).value(), transpose(a).value()));  // output "ab": a transpose (NumPy's einsum('ji', c) is c.T)
  CHECK(close(einsum("ab", a).value(), a.value()));
  CHECK(close(einsum("ij,jk->ki", a, b).value(), transpose(matmul(a, b)).value()));
  CHECK(close(einsum("jk,ij", b, a).value(), matmul(a, b).value()));  // output "ik"
  const V e(test::random_array({5, 2}, 3));
  CHECK(einsum("ki,ij", b, e).shape() == Shape{2, 4});  // output "jk", not "kj"
  CHECK(close(einsum("ki,ij", b, e).value(), transpose(matmul(b, e)).value()));
  // upper case before lower case: "ib,Ab" gives "Ai"
  const V c(test::random_array({2, 6}, 4)), d(test::random_array({7, 6}, 5));
  CHECK(einsum("ib,Ab", c, d).shape() == Shape{7, 2});
  CHECK(close(einsum("ib,Ab", c, d).value(), matmul(d, c, {.transpose_b = true}).value()));
  // every label twice: a 0-D result
  CHECK(einsum("ij,ij", a, a).dimension() == 0);
  double squares = 0;
  for (double v : a.value()) squares += v * v;
  CHECK(std::abs(einsum("ij,ij", a, a).item() - squares) < 1e-12);
  // a label twice in one operand: its diagonal; "ii" alone is the trace
  const V sq(Array<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}, {7.0, 8.0, 9.0}});
  CHECK(einsum("ii", sq).dimension() == 0);
  CHECK(einsum("ii", sq).item() == 15.0);
  CHECK(einsum("ii->i", sq).value() == Array<double>{1.0, 5.0, 9.0});
  CHECK(einsum("ij,jj", a, V(test::random_array({4, 4}, 6))).shape() == Shape{3});  // j twice: summed, i once
  // spaces are ignored
  CHECK(close(einsum(" ij , jk -> ik ", a, b).value(), matmul(a, b).value()));
}

TEST_CASE_TEMPLATE("einsum's gradients are those of the matmul it spells", T, float, double) {
  Variable<T> a(random_of<T>({2, 3, 4}, 7), true), b(random_of<T>({2, 4, 5}, 8), true);
  Variable<T> a2(a.value(), true), b2(b.value(), true);
  const Array<T> g = random_of<T>({2, 5, 3}, 9);
  einsum("bij,bjk->bki", a, b).backward(g);
  transpose(matmul(a2, b2), 1, 2).backward(g);
  const Array<double> da2 = to_double(a2.grad()), db2 = to_double(b2.grad());
  CHECK(close(a.grad(), da2));
  CHECK(close(b.grad(), db2));
  // a label summed inside one operand: its gradient is g broadcast along it
  Variable<T> x(random_of<T>({3, 4}, 10), true);
  einsum("ij->i", x).backward(Array<T>{T(1), T(2), T(3)});
  CHECK(x.grad() == Array<T>{{1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}});
  // a diagonal: its gradient is g on the diagonal, zeros elsewhere
  Variable<T> q(random_of<T>({3, 3}, 11), true);
  einsum("ii->i", q).backward(Array<T>{T(1), T(2), T(3)});
  CHECK(q.grad() == Array<T>{{1, 0, 0}, {0, 2, 0}, {0, 0, 3}});
}

TEST_CASE_TEMPLATE("permute and transpose equal loops over every index", T, float, double) {
  unsigned seed = 300;
  const Array<T> x = random_of<T>({2, 3, 4}, seed++);
  std::vector<std::size_t> p = {0, 1, 2};
  do {
    const std::vector<long> axes(p.begin(), p.end());
    const Variable<T> y = permute(Variable<T>(x), axes);
    CHECK(close(y.value(), permute_reference(x, p)));
    std::vector<long> negative;
    for (long a : axes) negative.push_back(a - 3);
    CHECK(permute(Variable<T>(x), negative).value() == y.value());
  } while (std::next_permutation(p.begin(), p.end()));
  struct Case {
    Shape shape;
    std::vector<std::size_t> p;
  };
  const std::vector<Case> cases = {
      {{37, 53}, {1, 0}},                    // tiled 2-D transpose, lengths not multiples of the tile
      {{3, 37, 19}, {0, 2, 1}},              // a stack of transposes
      {{2, 1, 3, 1, 4}, {4, 1, 2, 0, 3}},    // axes of length 1
      {{2, 3, 4, 5}, {0, 3, 1, 2}},          // merged neighbours (1, 2)
      {{2, 3, 4, 5}, {2, 3, 0, 1}},          // two blocks swapped: a 2-D transpose after merging
      {{2, 3, 4, 5}, {3, 2, 1, 0}},
      {{4, 5, 6}, {1, 0, 2}},                // rows copied whole
      {{0, 3}, {1, 0}},
      {{3, 0, 2}, {2, 0, 1}},
      {{}, {}},
      {{5}, {0}},
  };
  for (const Case& c : cases) {
    const Array<T> a = random_of<T>(c.shape, seed++);
    INFO(to_string(c.shape));
    CHECK(close(permute(Variable<T>(a), std::vector<long>(c.p.begin(), c.p.end())).value(), permute_reference(a, c.p)));
  }
  // transpose(x, i, j) swaps two axes; transpose(x) reverses them all
  CHECK(close(transpose(Variable<T>(x), 0, -1).value(), permute_reference(x, {2, 1, 0})));
  CHECK(close(transpose(Variable<T>(x), -2, 0).value(), permute_reference(x, {1, 0, 2})));
  CHECK(close(transpose(Variable<T>(x), 1, 1).value(), permute_reference(x, {0, 1, 2})));
  CHECK(close(transpose(Variable<T>(x)).value(), permute_reference(x, {2, 1, 0})));
  const Array<T> big = random_of<T>({40, 70}, seed++);
  CHECK(close(transpose(Variable<T>(big)).value(), permute_reference(big, {1, 0})));
}

TEST_CASE("permute's gradient is permute with the inverse axes") {
  V x(test::random_array({2, 3, 4}, 11), true);
  const V y = permute(x, {1, 2, 0});  // shape (3, 4, 2)
  const Array<double> g = test::random_array({3, 4, 2}, 12);
  y.backward(g);
  CHECK(x.grad() == permute(V(g), {2, 0, 1}).value());
  CHECK(x.grad()(1, 2, 3) == g(2, 3, 1));
}

TEST_CASE("dot goes through BLAS: 2^24 + 2^16 ones in float32 sum past float's 2^24 (a serial float sum stops there)") {
  const std::size_t n = (std::size_t(1) << 24) + (std::size_t(1) << 16);
  const Variable<float> ones(Array<float>(xt::ones<float>({n})));
  CHECK(double(dot(ones, ones).item()) == doctest::Approx(double(n)).epsilon(1e-6));
  // and in double, the same value as a hand loop on random vectors
  const Array<double> a = test::random_array({1000}, 3), b = test::random_array({1000}, 4);
  double s = 0;
  for (std::size_t i = 0; i < 1000; ++i) s += a(i) * b(i);
  CHECK(dot(Variable<double>(a), Variable<double>(b)).item() == doctest::Approx(s).epsilon(1e-12));
}

TEST_CASE("transpose of two axes names transpose in its messages and on the tape") {
  const Variable<double> x(test::random_array({2, 3}, 5), true);
  CHECK(std::string(transpose(x, 0, 1).op()->name) == "transpose");
  CHECK(test::message_of([&] { permute(x, {0, 0}); }).rfind("permute: axes (0, 0)", 0) == 0);
}
