// Forward values, conventions and errors of the ops in autodiff/compare.hpp
// (their gradients are checked in gradients_test.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <autodiff/autodiff.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;

namespace {
using test::column_of;
const double not_a_number = std::numeric_limits<double>::quiet_NaN();
const double infinity = std::numeric_limits<double>::infinity();
}  // namespace

TEST_CASE("the six comparisons of two Variables of one shape, NaN as IEEE") {
  const V a(Array<double>{1.0, 2.0, 3.0, not_a_number, not_a_number, -infinity, -0.0});
  const V b(Array<double>{2.0, 2.0, 1.0, 1.0, not_a_number, -infinity, 0.0});
  CHECK((a > b) == Mask{false, false, true, false, false, false, false});
  CHECK((a >= b) == Mask{false, true, true, false, false, true, true});
  CHECK((a < b) == Mask{true, false, false, false, false, false, false});
  CHECK((a <= b) == Mask{true, true, false, false, false, true, true});
  CHECK((a == b) == Mask{false, true, false, false, false, true, true});  // NaN == NaN is false, -0 == 0
  CHECK((a != b) == Mask{true, false, true, true, true, false, false});   // NaN != NaN is true
  // the named forms are the operators
  CHECK(greater(a, b) == (a > b));
  CHECK(greater_equal(a, b) == (a >= b));
  CHECK(less(a, b) == (a < b));
  CHECK(less_equal(a, b) == (a <= b));
  CHECK(equal(a, b) == (a == b));
  CHECK(not_equal(a, b) == (a != b));
}

TEST_CASE("comparisons with a scalar on either side") {
  const V x(Array<double>{{0.2, 0.5, 0.9}, {not_a_number, -1.0, 0.5}});
  CHECK((x >= 0.5) == Mask{{false, true, true}, {false, false, true}});
  CHECK((x > 0.5) == Mask{{false, false, true}, {false, false, false}});
  CHECK((x < 0.5) == Mask{{true, false, false}, {false, true, false}});
  CHECK((x <= 0.5) == Mask{{true, true, false}, {false, true, true}});
  CHECK((x == 0.5) == Mask{{false, true, false}, {false, false, true}});
  CHECK((x != 0.5) == Mask{{true, false, true}, {true, true, false}});
  // the scalar on the left: 0.5 < x is x > 0.5
  CHECK((0.5 < x) == (x > 0.5));
  CHECK((0.5 <= x) == (x >= 0.5));
  CHECK((0.5 > x) == (x < 0.5));
  CHECK((0.5 >= x) == (x <= 0.5));
  CHECK((0.5 == x) == (x == 0.5));
  CHECK((0.5 != x) == (x != 0.5));
  CHECK((x > not_a_number) == Mask{{false, false, false}, {false, false, false}});
  CHECK((x != not_a_number) == Mask{{true, true, true}, {true, true, true}});
  CHECK((x > 0) == Mask{{true, true, true}, {false, false, true}});  // an int scalar
  // float32, with a double literal
  const Variable<float> xf(Array<float>{0.1f, 0.7f});
  CHECK((xf > 0.5) == Mask{false, true});
  CHECK((0.1f == xf) == Mask{true, false});
}

TEST_CASE("comparisons of two Variables broadcast as NumPy") {
  const V col = column({1.0, 2.0, 3.0});  // (3, 1)
  const V row(Array<double>{0.5, 2.0, 3.5, 2.0});  // (4,)
  const Mask m = col > row;
  REQUIRE(m.shape() == Shape{3, 4});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 4; ++j) {
      CHECK(m(i, j) == (col.value()(i, 0) > row.value()(j)));
      CHECK((col == row)(i, j) == (col.value()(i, 0) == row.value()(j)));
      CHECK((row <= col)(i, j) == (row.value()(j) <= col.value()(i, 0)));
    }
  // a one-element operand on either side, a 0-d one, and empty shapes
  CHECK((row > V(Array<double>{2.0})) == Mask{false, false, true, false});
  CHECK((V::scalar(2.0) >= row) == Mask{true, true, false, true});
  CHECK((V(Array<double>::from_shape({0, 4})) < row).shape() == Shape{0, 4});
  CHECK((V(Array<double>::from_shape({0})) != 1.0).shape() == Shape{0});
  // (2, 1, 3) against (4, 1)
  const V a(test::random_array({2, 1, 3}, 5)), b(test::random_array({4, 1}, 6));
  const Mask ab = a < b;
  REQUIRE(ab.shape() == Shape{2, 4, 3});
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 4; ++j)
      for (std::size_t k = 0; k < 3; ++k) CHECK(ab(i, j, k) == (a.value()(i, 0, k) < b.value()(j, 0)));
}

TEST_CASE("a shape error names the comparison and both shapes") {
  const V a(test::random_array({3, 4}, 1)), b(test::random_array({5}, 2));
  CHECK(test::message_of([&] { (void)(a > b); }) == "greater: shapes (3, 4) and (5,) cannot be broadcast together");
  CHECK(test::message_of([&] { (void)(a >= b); }).find("greater_equal: shapes (3, 4) and (5,)") == 0);
  CHECK(test::message_of([&] { (void)(a < b); }).find("less: shapes (3, 4) and (5,)") == 0);
  CHECK(test::message_of([&] { (void)(a <= b); }).find("less_equal: shapes (3, 4) and (5,)") == 0);
  CHECK(test::message_of([&] { (void)(b == a); }).find("equal: shapes (5,) and (3, 4)") == 0);
  CHECK(test::message_of([&] { (void)(a != b); }).find("not_equal: shapes (3, 4) and (5,)") == 0);
  CHECK_THROWS_AS((void)(a > b), ShapeError);
  CHECK(test::message_of([] { logical_or(Mask{true, false}, Mask{{true, true, false}}); })
            .find("logical_or: shapes (2,) and (1, 3)") == 0);
  CHECK_THROWS_AS(logical_xor(Mask{true, false}, Mask{true, false, true}), ShapeError);
}

TEST_CASE("logical and, or, xor, not on masks, with broadcasting") {
  const Mask a = {true, true, false, false}, b = {true, false, true, false};
  CHECK(logical_and(a, b) == Mask{true, false, false, false});
  CHECK(logical_or(a, b) == Mask{true, true, true, false});
  CHECK(logical_xor(a, b) == Mask{false, true, true, false});
  CHECK(logical_not(a) == Mask{false, false, true, true});
  const Mask col = column_of({true, false});  // (2, 1)
  CHECK(logical_and(col, a) == Mask{{true, true, false, false}, {false, false, false, false}});
  CHECK(logical_or(a, col) == Mask{{true, true, true, true}, {true, true, false, false}});
  CHECK(logical_xor(col, Mask(column_of({true}))) == column_of({false, true}));
  CHECK(logical_not(Mask::from_shape({0, 2})).shape() == Shape{0, 2});
  // they agree with xtensor's operators, which also work on masks
  CHECK(Mask(a && b) == logical_and(a, b));
  CHECK(Mask(a || b) == logical_or(a, b));
  CHECK(Mask(!a) == logical_not(a));
}

TEST_CASE("comparisons record nothing and carry no gradient; a mask passes straight into where") {
  V x(Array<double>{-0.5, 0.25, 0.75, 1.5}, true);
  const std::size_t before = Tape<double>::current().size();
  const Mask inside = x > 0.0 && x < 1.0;  // xtensor's && on two masks
  CHECK(Tape<double>::current().size() == before);
  CHECK(inside == Mask{false, true, true, false});
  // where(x > 0 && x < 1, x, 0.1 x), the expression passed as is
  const V y = autodiff::where(x > 0 && x < 1, x, 0.1 * x);
  CHECK(xt::allclose(y.value(), Array<double>{-0.05, 0.25, 0.75, 0.15}));
  sum(y).backward();
  CHECK(xt::allclose(x.grad(), Array<double>{0.1, 1.0, 1.0, 0.1}));
  // ! and || of xtensor, and the named logic, in where too
  x.zero_grad();
  sum(autodiff::where(!(x > 0) || x >= 1.5, square(x), x)).backward();
  CHECK(xt::allclose(x.grad(), Array<double>{-1.0, 1.0, 1.0, 3.0}));
}

TEST_CASE("the gradient of where(x > y, x, y) is exactly the mask (and its complement for y)") {
  V x(test::random_array({3, 4}, 11), true), y(test::random_array({3, 4}, 12), true);
  const Mask m = x > y;
  sum(autodiff::where(m, x, y)).backward();
  const Array<double> expected_x = xt::cast<double>(m), expected_y = xt::cast<double>(!m);
  CHECK(x.grad() == expected_x);
  CHECK(y.grad() == expected_y);
  // maximum(x, y) is the same where no two values tie
  CHECK(autodiff::where(x > y, x, y).value() == maximum(x, y).value());
  // with broadcasting: y of shape (4,) collects the column sums of not-mask
  V yb(test::random_array({4}, 13), true);
  x.zero_grad();
  sum(autodiff::where(x > yb, x, yb)).backward();
  const Mask mb = x > yb;
  CHECK(x.grad() == Array<double>(xt::cast<double>(mb)));
  for (std::size_t j = 0; j < 4; ++j) {
    double count = 0;
    for (std::size_t i = 0; i < 3; ++i) count += mb(i, j) ? 0 : 1;
    CHECK(yb.grad()(j) == count);
  }
}

TEST_CASE("where(mask, scalar, Variable): the constant where the mask holds") {
  V x(Array<double>{-1.0, 2.0, -3.0, 4.0}, true);
  const V y = autodiff::where(x < 0.0, 0.0, x);
  CHECK(y.value() == Array<double>{0.0, 2.0, 0.0, 4.0});
  y.backward(Array<double>{5.0, 6.0, 7.0, 8.0});
  CHECK(x.grad() == Array<double>{0.0, 6.0, 0.0, 8.0});
  // the mask broadcasts against the Variable; float32 with a double constant
  const Variable<float> xf(Array<float>{{1.0f, 2.0f}, {3.0f, 4.0f}});
  CHECK(autodiff::where(Mask{true, false}, 0.5, xf).value() == Array<float>{{0.5f, 2.0f}, {0.5f, 4.0f}});
  CHECK_THROWS_AS(autodiff::where(Mask{true, false, true}, 0.5, xf), ShapeError);
}
