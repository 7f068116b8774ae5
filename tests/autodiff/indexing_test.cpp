// Forward values, conventions and errors of the ops in autodiff/indexing.hpp
// (their gradients are checked in gradients_test.cpp).
#include <doctest/doctest.h>

#include <cstdint>

#include <autodiff/autodiff.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;

namespace {
using test::iota;
}  // namespace

TEST_CASE("index_select along each axis equals a hand loop (repeats, negative indices)") {
  const Array<double> a = test::random_array({3, 4, 5}, 11);
  const V x(a);
  const IndexList along0 = {2, -3, 2};  // -3 is 0
  const V y0 = index_select(x, 0, along0);
  REQUIRE(y0.shape() == Shape{3, 4, 5});
  const std::size_t rows0[] = {2, 0, 2};
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 4; ++j)
      for (std::size_t k = 0; k < 5; ++k) CHECK(y0.value()(i, j, k) == a(rows0[i], j, k));

  const V y1 = index_select(x, -2, {3, 3, 0, -1, 1});  // -1 is 3
  REQUIRE(y1.shape() == Shape{3, 5, 5});
  const std::size_t cols1[] = {3, 3, 0, 3, 1};
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 5; ++j)
      for (std::size_t k = 0; k < 5; ++k) CHECK(y1.value()(i, j, k) == a(i, cols1[j], k));

  const V y2 = index_select(x, 2, {4, -5});  // the last axis: -5 is 0
  REQUIRE(y2.shape() == Shape{3, 4, 2});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 4; ++j) {
      CHECK(y2.value()(i, j, 0) == a(i, j, 4));
      CHECK(y2.value()(i, j, 1) == a(i, j, 0));
    }
}

TEST_CASE("index_select of a vector and in float32; empty index lists give an axis of length 0") {
  const Variablef v(Array<float>{10.f, 11.f, 12.f, 13.f});
  CHECK(index_select(v, 0, {3, 0, -1, 1}).value() == Array<float>{13.f, 10.f, 13.f, 11.f});
  const V m(iota({2, 3}));
  CHECK(index_select(m, 1, {}).shape() == Shape{2, 0});
  CHECK(index_select(m, 0, {}).shape() == Shape{0, 3});
  // an axis of length 0 with no indices is fine (NumPy: take(zeros((2, 0)), [], axis=1))
  CHECK(index_select(V(Array<double>::from_shape({2, 0})), 1, {}).shape() == Shape{2, 0});
}

TEST_CASE("index_select takes unsigned indices (labels as nn::load_labels returns them)") {
  const V m(iota({3, 2}));
  const std::vector<std::size_t> labels{2, 0, 2};
  CHECK(index_select(m, 0, labels).value() == index_select(m, 0, IndexList{2, 0, 2}).value());
  CHECK(index_select(m, 0, labels).value() == Array<double>{{4, 5}, {0, 1}, {4, 5}});
}

TEST_CASE("index_select's gradient adds up over repeated indices (scatter-add)") {
  V x(iota({2, 3}), true);
  const V y = index_select(x, 1, {2, 0, 2, 2});
  sum(y * V(Array<double>{1.0, 10.0, 100.0, 1000.0})).backward();
  // column 2 was taken at positions 0, 2, 3 (weights 1 + 100 + 1000), column 0 at 1, column 1 never
  CHECK(x.grad() == Array<double>{{10.0, 0.0, 1101.0}, {10.0, 0.0, 1101.0}});

  V r(iota({3, 2}), true);
  sum(index_select(r, 0, {1, 1, -1})).backward();
  CHECK(r.grad() == Array<double>{{0.0, 0.0}, {2.0, 2.0}, {1.0, 1.0}});
}

TEST_CASE("index_select_backward places g's slices in zeros, adding repeats; its gradient is index_select") {
  const V g(Array<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  CHECK(index_select_backward(g, 1, {3, 0, 3}, 4).value() ==
        Array<double>{{2.0, 0.0, 0.0, 4.0}, {5.0, 0.0, 0.0, 10.0}});
  CHECK(index_select_backward(g, 0, {-1, 0}, 3).value() ==
        Array<double>{{4.0, 5.0, 6.0}, {0.0, 0.0, 0.0}, {1.0, 2.0, 3.0}});
  // index_select_backward's vjp is index_select: <index_select(a), b> = <a, index_select_backward(b)>
  const Array<double> a = test::random_array({3, 5}, 3), b = test::random_array({3, 4}, 4);
  const IndexList idx = {4, 1, 4, -5};
  const double lhs = xt::sum(index_select(V(a), 1, idx).value() * b)();
  const double rhs = xt::sum(a * index_select_backward(V(b), 1, idx, 5).value())();
  CHECK(lhs == doctest::Approx(rhs).epsilon(1e-12));
}

TEST_CASE("gather as torch.gather: the documentation's examples, a smaller index, three axes") {
  const V t(Array<double>{{1.0, 2.0}, {3.0, 4.0}});
  // torch.gather(t, 1, [[0, 0], [1, 0]]) = [[1, 1], [4, 3]]
  CHECK(gather(t, 1, {{0, 0}, {1, 0}}).value() == Array<double>{{1.0, 1.0}, {4.0, 3.0}});
  // torch.gather(t, 0, [[0, 1], [1, 0]]) = [[1, 4], [3, 2]]
  CHECK(gather(t, 0, {{0, 1}, {1, 0}}).value() == Array<double>{{1.0, 4.0}, {3.0, 2.0}});
  // negative entries count from the end; an index longer along the axis repeats
  CHECK(gather(t, 0, {{-1, -2}, {0, 1}, {-1, 1}}).value() == Array<double>{{3.0, 2.0}, {1.0, 4.0}, {3.0, 4.0}});
  // an index smaller than x off the axis reads the leading corner (torch)
  const V m(iota({3, 4}));
  IndexArray column = IndexArray::from_shape({2, 1});
  column(0, 0) = 3;
  column(1, 0) = 0;
  const V picked = gather(m, 1, column);  // [[m[0][3]], [m[1][0]]]
  REQUIRE(picked.shape() == Shape{2, 1});
  CHECK(picked.value()(0, 0) == 3.0);
  CHECK(picked.value()(1, 0) == 4.0);

  const Array<double> a = test::random_array({2, 3, 4}, 5);
  IndexArray index = {{{2, 0, 1}, {2, 2, 0}}, {{1, 0, -3}, {0, 2, 1}}};  // shape (2, 2, 3), along axis 1
  const V y = gather(V(a), 1, index);
  REQUIRE(y.shape() == Shape{2, 2, 3});
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 2; ++j)
      for (std::size_t k = 0; k < 3; ++k) {
        const std::int64_t at = index(i, j, k) < 0 ? index(i, j, k) + 3 : index(i, j, k);
        CHECK(y.value()(i, j, k) == a(i, std::size_t(at), k));
      }
  // float32, and an empty index gives an empty result
  const Variablef f(Array<float>{5.f, 6.f, 7.f});
  CHECK(gather(f, 0, {2, 2, 0}).value() == Array<float>{7.f, 7.f, 5.f});
  CHECK(gather(m, 0, IndexArray::from_shape({0, 4})).shape() == Shape{0, 4});
}

TEST_CASE("gather's gradient is a scatter-add into zeros of x's shape (duplicates add up)") {
  V x(iota({2, 3}), true);
  const V y = gather(x, 1, {{2, 2}, {0, 2}});
  sum(y * V(Array<double>{{1.0, 10.0}, {100.0, 1000.0}})).backward();
  CHECK(x.grad() == Array<double>{{0.0, 0.0, 11.0}, {100.0, 0.0, 1000.0}});
  // gather_backward directly, with g larger than index (as src in scatter_add: the rest unused)
  const V g(Array<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  CHECK(gather_backward(g, 0, {{1, 1}}, {2, 2}).value() == Array<double>{{0.0, 0.0}, {1.0, 2.0}});
}

TEST_CASE("scatter_add as torch.scatter_add: the documentation's example, duplicates add up") {
  // torch.zeros(3, 5).scatter_add_(0, [[0, 1, 2, 0, 0], [0, 1, 2, 2, 2]], torch.ones(2, 5))
  //   = [[2, 0, 0, 1, 1], [0, 2, 0, 0, 0], [0, 0, 2, 1, 1]]
  const V z(Array<double>::from_shape({3, 5}) * 0.0);
  const IndexArray index = {{0, 1, 2, 0, 0}, {0, 1, 2, 2, 2}};
  const V ones(xt::ones<double>({2, 5}));
  CHECK(scatter_add(z, 0, index, ones).value() ==
        Array<double>{{2.0, 0.0, 0.0, 1.0, 1.0}, {0.0, 2.0, 0.0, 0.0, 0.0}, {0.0, 0.0, 2.0, 1.0, 1.0}});
  // along the last axis, src larger than index (its last column unused), x not zero
  const V x(Array<double>{{1.0, 1.0, 1.0}, {2.0, 2.0, 2.0}});
  const V src(Array<double>{{10.0, 20.0, 99.0}, {30.0, 40.0, 99.0}, {99.0, 99.0, 99.0}});
  CHECK(scatter_add(x, -1, {{2, 2}, {-3, 1}}, src).value() == Array<double>{{1.0, 1.0, 31.0}, {32.0, 42.0, 2.0}});
  // float32
  const Variablef xf(Array<float>{0.f, 0.f}), sf(Array<float>{1.f, 2.f, 4.f});
  CHECK(scatter_add(xf, 0, {1, 1, 0}, sf).value() == Array<float>{4.f, 3.f});
}

TEST_CASE("scatter_add's gradients: g to x, gather(g) to src with zeros beyond the index") {
  V x(iota({2, 3}), true);
  V src(iota({3, 3}) + 1.0, true);
  const V y = scatter_add(x, 1, {{2, 0}, {1, 1}}, src);
  const Array<double> g = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
  y.backward(g);
  CHECK(x.grad() == g);
  // src[0][0] went to [0][2], src[0][1] to [0][0], src[1][0] and src[1][1] to [1][1]; the rest unused
  CHECK(src.grad() == Array<double>{{3.0, 1.0, 0.0}, {5.0, 5.0, 0.0}, {0.0, 0.0, 0.0}});
  // only src wants a gradient: x's is not computed
  V s2(Array<double>(Shape{1, 1}, 1.0), true);
  const V y2 = scatter_add(V(iota({2, 2})), 0, IndexArray(IndexArray::shape_type{1, 1}, 1), s2);
  CHECK(y2.value() == Array<double>{{0.0, 1.0}, {3.0, 3.0}});
  y2.backward(Array<double>{{1.0, 2.0}, {3.0, 4.0}});
  CHECK(s2.grad() == Array<double>(Shape{1, 1}, 3.0));
}

TEST_CASE("element access x(i, j) as NumPy: negative indices, sub-arrays, index types, float32") {
  const Array<double> a = iota({3, 4});
  const V x(a);
  CHECK(x(1, 2).shape() == Shape{});
  CHECK(x(1, 2).item() == 6.0);
  CHECK(x(-1, -4).item() == 8.0);
  CHECK(x(std::size_t(2), 3L).item() == 11.0);
  CHECK(x(short(0), std::int64_t(1)).item() == 1.0);
  CHECK(x(1).value() == Array<double>{4.0, 5.0, 6.0, 7.0});  // x[1]: a row
  CHECK(x(-3).value() == Array<double>{0.0, 1.0, 2.0, 3.0});
  CHECK(at(x, {2, -1}).item() == 11.0);
  CHECK(at(x, {}).value() == a);  // x[()] is x
  const V b(iota({2, 3, 4}));
  CHECK(b(1, -1).value() == Array<double>{20.0, 21.0, 22.0, 23.0});
  CHECK(b(0, 1, 2).item() == 6.0);
  const Variablef f(Array<float>{{1.f, 2.f}, {3.f, 4.f}});
  CHECK(f(1, 0).item() == 3.f);
  CHECK(f(0).value() == Array<float>{1.f, 2.f});
  // a row with no elements is fine, its elements are not
  const V e(Array<double>::from_shape({2, 0}));
  CHECK(e(1).shape() == Shape{0});
  CHECK_THROWS_AS(e(1, 0), ShapeError);
}

TEST_CASE("x(i, j) under backward: a one-hot gradient; x(i) a one-hot row; second order") {
  V x(iota({3, 4}), true);
  (x(1, -2) * 3.0).backward();
  Array<double> expected = xt::zeros<double>({3, 4});
  expected(1, 2) = 3.0;
  CHECK(x.grad() == expected);

  x.zero_grad();
  sum(x(2) * V(Array<double>{1.0, 2.0, 3.0, 4.0})).backward();
  CHECK(x.grad() == Array<double>{{0.0, 0.0, 0.0, 0.0}, {0.0, 0.0, 0.0, 0.0}, {1.0, 2.0, 3.0, 4.0}});

  // the same element twice adds up
  x.zero_grad();
  (x(0, 1) + x(0, -3) * 2.0).backward();
  expected = xt::zeros<double>({3, 4});
  expected(0, 1) = 3.0;
  CHECK(x.grad() == expected);

  // f = x(0, 1)^3: df/dx is 3 x01^2 at (0, 1), d2f/dx2 is 6 x01 there (x01 = 1)
  V w(iota({3, 4}), true);
  const V e = w(0, 1);
  const V df = grad(e * e * e, w, {.create_graph = true});
  expected = xt::zeros<double>({3, 4});
  expected(0, 1) = 3.0;
  CHECK(df.value() == expected);
  const V d2 = grad(sum(df), w);
  expected(0, 1) = 6.0;
  CHECK(d2.value() == expected);

  // float32 under backward
  Variablef xf(Array<float>{{1.f, 2.f}, {3.f, 4.f}}, true);
  (xf(1, 1) * xf(0, 0)).backward();
  CHECK(xf.grad() == Array<float>{{4.f, 0.f}, {0.f, 1.f}});
}

TEST_CASE("at_backward places g at x[index] in zeros; its gradient is at") {
  CHECK(at_backward(V(Array<double>{1.0, 2.0}), {-1}, {2, 2}).value() == Array<double>{{0.0, 0.0}, {1.0, 2.0}});
  CHECK(at_backward(V::scalar(5.0), {0, 1}, {2, 2}).value() == Array<double>{{0.0, 5.0}, {0.0, 0.0}});
  V g(Array<double>{7.0, 8.0}, true);
  at_backward(g, {1}, {3, 2})(1, 0).backward();
  CHECK(g.grad() == Array<double>{1.0, 0.0});
}

TEST_CASE("an indexing error leaves the tape and the arguments untouched") {
  V x(iota({3, 4}), true);
  const std::size_t before = Tape<double>::current().size();
  CHECK_THROWS_AS(index_select(x, 1, {0, 7}), ShapeError);
  CHECK_THROWS_AS(gather(x, 0, {{3, 0, 0, 0}}), ShapeError);
  CHECK_THROWS_AS(scatter_add(x, 0, {{0, 0, 0, 0}}, V(Array<double>{{1.0, 2.0}})), ShapeError);
  CHECK_THROWS_AS(x(3, 0), ShapeError);
  CHECK(Tape<double>::current().size() == before);
  CHECK(test::message_of([&] { index_select(x, 1, {0, 7}); }) ==
        "index_select: index 7 out of range for axis 1 of length 4 (shape (3, 4)), at indices[1]");
  CHECK(test::message_of([&] { x(3, 0); }) == "at: x(3, 0): index 3 out of range for axis 0 of length 3 (shape (3, 4))");
}

TEST_CASE("x(i) with an unsigned index above 2^63 - 1 is an error, not a wrap to a negative index") {
  const V x(iota({3, 4}), true);
  const std::size_t before = Tape<double>::current().size();
  const std::size_t i = 0;
  CHECK_THROWS_AS(x(i - 1), ShapeError);  // not x[-1], the last row
  CHECK_THROWS_AS(x(1, i - 1), ShapeError);
  CHECK_THROWS_AS(x(0, 0, i - 1), ShapeError);
  CHECK_THROWS_AS(at(x, {i, i - 1}), ShapeError);
  CHECK(Tape<double>::current().size() == before);
  CHECK(test::message_of([&] { x(1, i - 1); }) ==
        "at: x(1, 18446744073709551615): index 18446744073709551615 out of range for axis 1 of length 4 (shape (3, 4); "
        "an unsigned index above 2^63 - 1, perhaps a negative one wrapped around)");
  CHECK(test::message_of([&] { x(0, 0, i - 1); }).find("rank 2") != std::string::npos);
  // unsigned indices in range, in both forms
  CHECK(x(i + 2, i + 3).item() == 11.0);
  CHECK(at(x, {std::size_t(2), std::size_t(3)}).item() == 11.0);
  CHECK(at(x, {1u}).value() == Array<double>{4, 5, 6, 7});
  CHECK(at(x, {std::int64_t(-1), std::int64_t(0)}).item() == 8.0);
}

TEST_CASE("indexing backward ops refuse a requested shape past 2^64 elements (xtensor's size would wrap)") {
  const std::size_t big = std::size_t(1) << 32;
  CHECK(test::message_of([] { at_backward(V::scalar(1.0), {1, 1}, Shape{std::size_t(1) << 32, std::size_t(1) << 32}); }) ==
        "at_backward: shape (4294967296, 4294967296) has more than 2^64 elements");
  const V g(iota({2, 3}));
  CHECK_THROWS_AS(index_select_backward(g, 0, {0, 1}, std::size_t(1) << 63), ShapeError);
  CHECK_THROWS_AS(gather_backward(g, 0, IndexArray{{0, 1, 0}}, Shape{big, big}), ShapeError);
}
