// Forward values, conventions and errors of the ops in autodiff/shape.hpp
// (their gradients are checked in gradients_test.cpp).
#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;

#include <climits>
#include <numeric>

namespace {

using test::iota;

// 0, 1, ..., n - 1 (not named arange: in the unity build autodiff::arange's callers would get it)
V counting(std::size_t n, bool requires_grad = false) { return V(iota({n}), requires_grad); }

using test::grad_of;

double inner(const Array<double>& a, const Array<double>& b) {
  REQUIRE(a.shape() == b.shape());
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

}  // namespace

TEST_CASE("slice follows Python's slice semantics: negative bounds, clamping, steps") {
  const V x = counting(10);
  CHECK(slice(x, 0, 2, 8, 3).value() == Array<double>{2, 5});
  CHECK(slice(x, 0, -3, 100).value() == Array<double>{7, 8, 9});    // x[-3:]
  CHECK(slice(x, 0, -100, 3).value() == Array<double>{0, 1, 2});    // x[-100:3]
  CHECK(slice(x, 0, 8, 2).shape() == Shape{0});                     // x[8:2]
  CHECK(slice(x, 0, 12, 20).shape() == Shape{0});                   // x[12:20]
  CHECK(slice(x, 0, -1, LONG_MIN, -1).value() == Array<double>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0});  // x[::-1]
  CHECK(slice(x, 0, 8, 2, -2).value() == Array<double>{8, 6, 4});   // x[8:2:-2]
  CHECK(slice(x, 0, -2, -100, -3).value() == Array<double>{8, 5, 2});
  CHECK(slice(x, 0, 20, 5, -1).value() == Array<double>{9, 8, 7, 6});  // x[20:5:-1]
  CHECK(slice(x, 0, -1, -1, -1).shape() == Shape{0});               // x[-1:-1:-1]
  CHECK(slice(x, 0, 2, 8, -1).shape() == Shape{0});                 // x[2:8:-1]
  CHECK(slice(x, 0, 1, 1000, LONG_MAX).value() == Array<double>{1});
  CHECK(slice(x, 0, 5, LONG_MIN, LONG_MIN).value() == Array<double>{5});
  CHECK(slice(x, 0, 0, 1).value() == Array<double>{0});             // what slice(u, 0, 0, 1) meant before
  const V m(iota({3, 4}));
  CHECK(slice(m, 1, 3, 0, -2).value() == Array<double>{{3, 1}, {7, 5}, {11, 9}});  // m[:, 3:0:-2]
  CHECK(slice(m, -2, -1, 3).value() == Array<double>{{8, 9, 10, 11}});
  CHECK(slice(m, 0, 0, 3, 2).value() == Array<double>{{0, 1, 2, 3}, {8, 9, 10, 11}});
  CHECK(slice(V(Array<double>::from_shape({0, 3})), 0, -1, 5).shape() == Shape{0, 3});
  CHECK(slice(V(Array<double>::from_shape({2, 0})), 0, 1, 2).shape() == Shape{1, 0});
  // float32 too
  const Variable<float> xf(Array<float>{0.5f, 1.5f, 2.5f, 3.5f});
  CHECK(slice(xf, 0, -1, LONG_MIN, -2).value() == Array<float>{3.5f, 1.5f});
}

TEST_CASE("slice's gradient places g at the taken indices; slice_backward is its adjoint") {
  const Array<double> seed{1, 10, 100};
  CHECK(grad_of([](const V& x) { return slice(x, 0, 8, 2, -2); }, iota({10}), seed) ==
        Array<double>{0, 0, 0, 0, 100, 0, 10, 0, 1, 0});
  CHECK(slice_backward(V(seed), 0, 4, 6, -2).value() == Array<double>{100, 0, 10, 0, 1, 0});
  CHECK(slice_backward(V(seed), 0, 1, 8, 3).value() == Array<double>{0, 1, 0, 0, 10, 0, 0, 100});
  CHECK(slice_backward(V(Array<double>{{1, 2}, {3, 4}}), -1, 1, 3).value() == Array<double>{{0, 1, 2}, {0, 3, 4}});
  // <slice(x), g> = <x, slice_backward(g)> for a strided slice of a 3-D array
  const Array<double> x = test::random_array({3, 9, 2}, 5), g = test::random_array({3, 3, 2}, 6);
  CHECK(inner(slice(V(x), 1, -1, 0, -3).value(), g) ==
        doctest::Approx(inner(x, slice_backward(V(g), 1, 8, 9, -3).value())));
}

TEST_CASE("stack joins parts along a new axis, as np.stack") {
  const V a(Array<double>{{1, 2}, {3, 4}}), b(Array<double>{{5, 6}, {7, 8}});
  CHECK(stack<double>({a, b}).value() == Array<double>{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}});
  CHECK(stack<double>({a, b}, 1).value() == Array<double>{{{1, 2}, {5, 6}}, {{3, 4}, {7, 8}}});
  CHECK(stack<double>({a, b}, -1).value() == Array<double>{{{1, 5}, {2, 6}}, {{3, 7}, {4, 8}}});
  CHECK(stack<double>({a, b}, 2).value() == stack<double>({a, b}, -1).value());
  CHECK(stack<double>({a, b}, -3).value() == stack<double>({a, b}, 0).value());
  CHECK(stack<double>({V::scalar(1.0), V::scalar(2.0), V::scalar(3.0)}).value() == Array<double>{1, 2, 3});
  CHECK(stack<double>({V(Array<double>::from_shape({0, 2}))}, 1).shape() == Shape{0, 1, 2});
  // each part's gradient is its slice of g
  V p(Array<double>{1, 2}, true), q(Array<double>{3, 4}, true);
  stack<double>({p, q}, 1).backward(Array<double>{{1, 2}, {3, 4}});
  CHECK(p.grad() == Array<double>{1, 3});
  CHECK(q.grad() == Array<double>{2, 4});
}

TEST_CASE("split and chunk give the slices torch.split and torch.chunk give") {
  auto lengths = [](const std::vector<V>& parts) {
    std::vector<std::size_t> n;
    for (const V& p : parts) n.push_back(p.shape()[0]);
    return n;
  };
  const V x = counting(7);
  const auto by3 = split(x, 3);
  CHECK(lengths(by3) == std::vector<std::size_t>{3, 3, 1});
  CHECK(by3[2].value() == Array<double>{6});
  CHECK(lengths(split(x, 7)) == std::vector<std::size_t>{7});
  CHECK(lengths(split(x, 10)) == std::vector<std::size_t>{7});  // one part, as torch
  const auto sized = split(x, {2, 0, 5});
  CHECK(lengths(sized) == std::vector<std::size_t>{2, 0, 5});
  CHECK(sized[2].value() == Array<double>{2, 3, 4, 5, 6});
  CHECK(lengths(chunk(x, 3)) == std::vector<std::size_t>{3, 3, 1});
  CHECK(lengths(chunk(counting(6), 4)) == std::vector<std::size_t>{2, 2, 2});  // fewer chunks than asked, as torch
  CHECK(lengths(chunk(counting(5), 4)) == std::vector<std::size_t>{2, 2, 1});
  CHECK(lengths(chunk(counting(2), 5)) == std::vector<std::size_t>{1, 1});
  CHECK(lengths(chunk(counting(0), 3)) == std::vector<std::size_t>{0, 0, 0});
  CHECK(lengths(split(counting(0), 0L)) == std::vector<std::size_t>{0});
  CHECK(lengths(split(counting(0), 2)) == std::vector<std::size_t>{0});
  // along another axis
  const V m(iota({2, 5}));
  const auto cols = chunk(m, 2, -1);
  REQUIRE(cols.size() == 2);
  CHECK(cols[0].value() == Array<double>{{0, 1, 2}, {5, 6, 7}});
  CHECK(cols[1].value() == Array<double>{{3, 4}, {8, 9}});
  // a part's gradient reaches only its own elements
  V leaf(iota({5}), true);
  (split(leaf, {2, 3})[1] * 2.0).backward(Array<double>{1, 1, 1});
  CHECK(leaf.grad() == Array<double>{0, 0, 2, 2, 2});
}

TEST_CASE("squeeze and unsqueeze remove and insert axes of length 1") {
  const V x(iota({1, 3, 1, 2}));
  CHECK(squeeze(x).shape() == Shape{3, 2});
  CHECK(squeeze(x).value() == Array<double>{{0, 1}, {2, 3}, {4, 5}});
  CHECK(squeeze(x, 0).shape() == Shape{3, 1, 2});
  CHECK(squeeze(x, -2).shape() == Shape{1, 3, 2});
  CHECK(squeeze(V(iota({1, 1}))).shape() == Shape{});
  CHECK(squeeze(V(iota({2, 0}))).shape() == Shape{2, 0});
  const V m(iota({3, 4}));
  CHECK(unsqueeze(m, 0).shape() == Shape{1, 3, 4});
  CHECK(unsqueeze(m, 1).shape() == Shape{3, 1, 4});
  CHECK(unsqueeze(m, 2).shape() == Shape{3, 4, 1});
  CHECK(unsqueeze(m, -1).shape() == Shape{3, 4, 1});
  CHECK(unsqueeze(m, -3).shape() == Shape{1, 3, 4});
  CHECK(unsqueeze(m, -2).shape() == Shape{3, 1, 4});
  CHECK(unsqueeze(V::scalar(2.0), 0).value() == Array<double>{2});
  CHECK(unsqueeze(m, 1).value() == Array<double>{{{0, 1, 2, 3}}, {{4, 5, 6, 7}}, {{8, 9, 10, 11}}});
}

TEST_CASE("expand is broadcast_to with torch.expand's -1") {
  Array<double> column{1, 2, 3};  // (a braced (3, 1) literal is ambiguous for xarray)
  column.reshape({3, 1});
  const V x(column);
  const V y = expand(x, {2, -1, 4});
  CHECK(y.shape() == Shape{2, 3, 4});
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k) CHECK(y.value()(i, j, k) == double(j + 1));
  CHECK(expand(x, {-1, -1}).value() == x.value());
  CHECK(expand(x, {3, 0}).shape() == Shape{3, 0});
  CHECK(expand(x, {0, 3, 2}).shape() == Shape{0, 3, 2});
  CHECK(grad_of([](const V& v) { return expand(v, {2, -1, 4}); }, x.value(), xt::ones<double>({2, 3, 4})) ==
        xt::full_like(column, 8.0));
}

TEST_CASE("tile and repeat copy the whole array, as np.tile and torch's repeat") {
  const V v(Array<double>{1, 2});
  const V m(Array<double>{{1, 2}, {3, 4}});
  CHECK(tile(v, {2}).value() == Array<double>{1, 2, 1, 2});
  CHECK(tile(m, {2}).value() == Array<double>{{1, 2, 1, 2}, {3, 4, 3, 4}});  // reps padded in front: (1, 2)
  CHECK(tile(m, {2, 1}).value() == Array<double>{{1, 2}, {3, 4}, {1, 2}, {3, 4}});
  CHECK(tile(v, {2, 2}).value() == Array<double>{{1, 2, 1, 2}, {1, 2, 1, 2}});
  CHECK(tile(m, {2, 1, 3}).shape() == Shape{2, 2, 6});
  CHECK(tile(m, {0, 2}).shape() == Shape{0, 4});
  CHECK(tile(V::scalar(3.0), {2}).value() == Array<double>{3, 3});
  CHECK(tile(m, {}).value() == m.value());
  CHECK(repeat(v, {2, 2}).value() == tile(v, {2, 2}).value());
  CHECK(repeat(m, {1, 3}).value() == Array<double>{{1, 2, 1, 2, 1, 2}, {3, 4, 3, 4, 3, 4}});
  // against a hand loop in 3-D: y[i, j, k] = x[i % 2, j % 3, k % 2]
  const Array<double> x = test::random_array({2, 3, 2}, 9);
  const Array<double> y = tile(V(x), {2, 3, 2}).value();
  REQUIRE(y.shape() == Shape{4, 9, 4});
  bool same = true;
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 9; ++j)
      for (std::size_t k = 0; k < 4; ++k) same = same && y(i, j, k) == x(i % 2, j % 3, k % 2);
  CHECK(same);
  // the gradient sums over the copies
  CHECK(grad_of([](const V& a) { return tile(a, {3}); }, Array<double>{1, 2}, Array<double>{1, 2, 3, 4, 5, 6}) ==
        Array<double>{9, 12});
  CHECK(grad_of([](const V& a) { return tile(a, {2, 1}); }, Array<double>{1, 2}, Array<double>{{1, 2}, {3, 4}}) ==
        Array<double>{4, 6});
  const Variable<float> f(Array<float>{1.5f});
  CHECK(repeat(f, {3}).value() == Array<float>{1.5f, 1.5f, 1.5f});
}

TEST_CASE("repeat_interleave repeats each element in place") {
  const V m(Array<double>{{1, 2}, {3, 4}});
  CHECK(repeat_interleave(m, 2, 0).value() == Array<double>{{1, 2}, {1, 2}, {3, 4}, {3, 4}});
  CHECK(repeat_interleave(m, 2, -1).value() == Array<double>{{1, 1, 2, 2}, {3, 3, 4, 4}});
  CHECK(repeat_interleave(m, 2).value() == Array<double>{1, 1, 2, 2, 3, 3, 4, 4});
  CHECK(repeat_interleave(m, 0, 0).shape() == Shape{0, 2});
  CHECK(repeat_interleave(m, 1, 1).value() == m.value());
  CHECK(grad_of([](const V& a) { return repeat_interleave(a, 3, 0); }, Array<double>{1, 2},
                Array<double>{1, 2, 3, 4, 5, 6}) == Array<double>{6, 15});
}

TEST_CASE("pad fills borders as np.pad's constant, reflect and edge modes") {
  const V v(Array<double>{1, 2, 3});
  CHECK(pad(v, {{2, 2}}, PadMode::reflect).value() == Array<double>{3, 2, 1, 2, 3, 2, 1});
  CHECK(pad(v, {{2, 3}}, PadMode::edge).value() == Array<double>{1, 1, 1, 2, 3, 3, 3, 3});
  CHECK(pad(v, {{2, 3}}, PadMode::replicate).value() == pad(v, {{2, 3}}, PadMode::edge).value());
  CHECK(pad(v, {{1, 0}}, PadMode::constant, -1.0).value() == Array<double>{-1, 1, 2, 3});
  CHECK(pad(V(Array<double>{{1, 2}, {3, 4}}), {{1, 0}, {0, 2}}, PadMode::constant, 9.0).value() ==
        Array<double>{{9, 9, 9, 9}, {1, 2, 9, 9}, {3, 4, 9, 9}});
  CHECK(pad(V(Array<double>{{1, 2, 3}, {4, 5, 6}}), {{1, 1}, {2, 1}}, PadMode::reflect).value() ==
        Array<double>{{6, 5, 4, 5, 6, 5}, {3, 2, 1, 2, 3, 2}, {6, 5, 4, 5, 6, 5}, {3, 2, 1, 2, 3, 2}});
  CHECK(pad(V(Array<double>{{1, 2, 3}, {4, 5, 6}}), {{0, 1}, {1, 1}}, PadMode::edge).value() ==
        Array<double>{{1, 1, 2, 3, 3}, {4, 4, 5, 6, 6}, {4, 4, 5, 6, 6}});
  // long rows (the interior copied as one run)
  const V ten = counting(10);
  CHECK(pad(ten, {{1, 1}}, PadMode::reflect).value() == Array<double>{1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8});
  CHECK(pad(ten, {{2, 3}}, PadMode::edge).value() == Array<double>{0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9});
  CHECK(pad(ten, {{2, 3}}, PadMode::constant, -1.0).value() ==
        Array<double>{-1, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1, -1});
  CHECK(pad(V(iota({2, 10})), {{1, 0}, {0, 1}}, PadMode::reflect).value() ==
        Array<double>{{10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 18},
                      {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8},
                      {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 18}});
  CHECK(pad_backward(V(xt::ones<double>({12})), {{1, 1}}, PadMode::reflect).value() ==
        Array<double>{1, 2, 1, 1, 1, 1, 1, 1, 2, 1});
  // one pair for every axis
  CHECK(pad(V(xt::ones<double>({2, 2})), {{1, 1}}).value() ==
        Array<double>{{0, 0, 0, 0}, {0, 1, 1, 0}, {0, 1, 1, 0}, {0, 0, 0, 0}});
  CHECK(pad(V(Array<double>::from_shape({0})), {{1, 2}}, PadMode::constant, 7.0).value() == Array<double>{7, 7, 7});
  CHECK(pad(V(Array<double>::from_shape({0, 2})), {{0, 0}, {1, 1}}).shape() == Shape{0, 4});
  CHECK(pad(V(Array<double>{4, 5}), {{0, 0}}, PadMode::reflect).value() == Array<double>{4, 5});
  CHECK(pad(V::scalar(2.0), {}).value() == Array<double>(2.0));
  const Variable<float> f(Array<float>{1.f, 2.f});
  CHECK(pad(f, {{1, 1}}, PadMode::reflect).value() == Array<float>{2.f, 1.f, 2.f, 1.f});
  CHECK(pad(f, {{1, 0}}, PadMode::constant, 0.5).value() == Array<float>{0.5f, 1.f, 2.f});
}

TEST_CASE("pad's gradient folds the borders back; pad_backward is its adjoint") {
  const Array<double> seed{1, 10, 100, 1000, 10000, 100000, 1000000};
  // reflect (2, 2) of 3 elements reads sources 2 1 0 1 2 1 0
  CHECK(grad_of([](const V& a) { return pad(a, {{2, 2}}, PadMode::reflect); }, Array<double>{1, 2, 3}, seed) ==
        Array<double>{100 + 1000000, 10 + 1000 + 100000, 1 + 10000});
  CHECK(pad_backward(V(seed), {{2, 2}}, PadMode::reflect).value() ==
        Array<double>{100 + 1000000, 10 + 1000 + 100000, 1 + 10000});
  // edge (2, 2) reads 0 0 0 1 2 2 2; constant drops the borders
  CHECK(pad_backward(V(seed), {{2, 2}}, PadMode::edge).value() == Array<double>{111, 1000, 1110000});
  CHECK(pad_backward(V(seed), {{2, 2}}, PadMode::constant).value() == Array<double>{100, 1000, 10000});
  // <pad(x), g> = <x, pad_backward(g)> in every mode, 3-D
  for (PadMode mode : {PadMode::constant, PadMode::reflect, PadMode::edge}) {
    const PadWidths w{{1, 2}, {0, 3}, {3, 1}};
    const Array<double> x = test::random_array({3, 4, 5}, 21), g = test::random_array({6, 7, 9}, 22);
    const V padded = pad(V(x), w, mode, 0.0);
    REQUIRE(padded.shape() == Shape{6, 7, 9});
    CHECK(inner(padded.value(), g) == doctest::Approx(inner(x, pad_backward(V(g), w, mode).value())));
  }
}

TEST_CASE("flip reverses the given axes, or all of them, as np.flip") {
  const V m(iota({2, 3}));
  CHECK(flip(m, {0}).value() == Array<double>{{3, 4, 5}, {0, 1, 2}});
  CHECK(flip(m, {-1}).value() == Array<double>{{2, 1, 0}, {5, 4, 3}});
  CHECK(flip(m).value() == Array<double>{{5, 4, 3}, {2, 1, 0}});
  CHECK(flip(m, {}).value() == m.value());
  CHECK(flip(V::scalar(4.0)).value() == Array<double>(4.0));
  CHECK(flip(V(Array<double>::from_shape({0, 3})), {0, 1}).shape() == Shape{0, 3});
  const Array<double> x = test::random_array({2, 3, 4}, 31);
  const Array<double> y = flip(V(x), {0, 2}).value();
  bool same = true;
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k) same = same && y(i, j, k) == x(1 - i, j, 3 - k);
  CHECK(same);
  CHECK(grad_of([](const V& a) { return flip(a); }, Array<double>{1, 2, 3}, Array<double>{1, 10, 100}) ==
        Array<double>{100, 10, 1});
}

TEST_CASE("braced lists: split's sizes, tile's counts, flip's axes; stack and concatenate deduce T") {
  const V x = counting(5);
  // split(x, {5}) is one part of 5 (torch.split(x, [5])), not sections of 5
  const auto whole = split(x, {5});
  REQUIRE(whole.size() == 1);
  CHECK(whole[0].value() == x.value());
  CHECK_THROWS_AS(split(x, {2}), ShapeError);  // sizes that do not add up to 5
  CHECK(split(x, 2).size() == 3);              // an int is still a section size
  CHECK(split(x, {2, 3}).size() == 2);
  // tile and flip with a single int, as NumPy
  const V m(iota({2, 3}));
  CHECK(tile(m, 2).value() == Array<double>{{0, 1, 2, 0, 1, 2}, {3, 4, 5, 3, 4, 5}});
  CHECK(tile(m, {2}).value() == tile(m, 2).value());
  CHECK(flip(m, 0).value() == Array<double>{{3, 4, 5}, {0, 1, 2}});
  CHECK(flip(m, -1).value() == Array<double>{{2, 1, 0}, {5, 4, 3}});
  CHECK(flip(m, {}).value() == m.value());  // no axes: nothing flipped (np.flip(m, ()))
  // T deduced from a braced list of Variables
  const V a(Array<double>{1, 2}), b(Array<double>{3, 4});
  CHECK(stack({a, b}).value() == Array<double>{{1, 2}, {3, 4}});
  CHECK(stack({a, b}, 1).value() == Array<double>{{1, 3}, {2, 4}});
  CHECK(concatenate({a, b}).value() == Array<double>{1, 2, 3, 4});
  const Variablef f(Array<float>{1.f}), g(Array<float>{2.f});
  CHECK(concatenate({f, g}, 0).value() == Array<float>{1.f, 2.f});
}

TEST_CASE("split checks each size against the length left (no wrap past 2^64)") {
  const V x(iota({3}), true);
  const std::size_t before = Tape<double>::current().size();
  CHECK_THROWS_AS(split(x, {LONG_MAX, LONG_MAX, 5}), ShapeError);  // their sum wraps to 3
  CHECK_THROWS_AS(split(x, {2, LONG_MAX}), ShapeError);
  CHECK(Tape<double>::current().size() == before);
  CHECK(test::message_of([&] { split(x, {2, 2}); }) ==
        "split: section sizes (2, 2) add up to more than the length 3 of axis 0 (shape (3,))");
}

TEST_CASE("repeat_interleave of the flattened x checks its size before flatten records anything") {
  const V x(iota({3, 4}), true);
  const std::size_t before = Tape<double>::current().size();
  CHECK_THROWS_AS(repeat_interleave(x, LONG_MAX), ShapeError);
  CHECK(Tape<double>::current().size() == before);
}

TEST_CASE("backward ops refuse a requested shape past 2^64 elements (xtensor's size would wrap)") {
  const V g(iota({2, 3}), true), row(iota({2}), true);
  const std::size_t big = std::size_t(1) << 63;
  CHECK(test::message_of([&] { slice_backward(g, 1, 0, big); }) ==
        "slice_backward: shape (2, 9223372036854775808) has more than 2^64 elements");
  CHECK_THROWS_AS(index_rows_backward(g, {0, 1}, big), ShapeError);
  CHECK_THROWS_AS(pick_backward(row, {0, 1}, big), ShapeError);
  // within 2^64 they still work
  CHECK(slice_backward(g, 1, 1, 5).value() == Array<double>{{0, 0, 1, 2, 0}, {0, 3, 4, 5, 0}});
}
