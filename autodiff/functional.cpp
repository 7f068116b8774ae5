#include "functional.hpp"

#include <xtensor/xbuilder.hpp>

#include "elementwise.hpp"
#include "reduction.hpp"
#include "tape.hpp"

namespace autodiff {

namespace {

// The point to differentiate at: x itself when the result must keep a graph
// through it, else a fresh leaf with x's value (nothing of the caller's is recorded).
template <class T>
Variable<T> point(const char* caller, const Variable<T>& x, const FunctionalOptions& options) {
  if (!x.defined()) throw GraphError(std::string(caller) + ": x is an empty Variable");
  if (!options.create_graph) return Variable<T>(x.value(), true);
  if (!x.requires_grad())
    throw GraphError(std::string(caller) + ": with create_graph, x must require a gradient");
  return x;
}

template <class T>
void check_shape(const char* caller, const char* what, const Shape& got, const Shape& expected) {
  if (got != expected)
    throw ShapeError(std::string(caller) + ": " + what + " has shape " + to_string(got) + ", expected " +
                     to_string(expected));
}

template <class T>
Variable<T> zeros_like(const Variable<T>& x) {
  return Variable<T>(Array<T>(xt::zeros<T>(x.shape())));
}

}  // namespace

template <class T>
Variable<T> vjp(const Function<T>& f, const Variable<T>& x, const Variable<T>& v, FunctionalOptions options) {
  enable_grad scope;
  const Variable<T> at = point("vjp", x, options);
  const Variable<T> y = f(at);
  check_shape<T>("vjp", "v", v.shape(), y.shape());
  if (!y.requires_grad()) return zeros_like(at);  // f does not depend on x
  return grad(y, std::vector<Variable<T>>{at},
              {.grad_outputs = {v}, .create_graph = options.create_graph, .allow_unused = true,
               .materialize_grads = true})[0];
}

template <class T>
Variable<T> jvp(const Function<T>& f, const Variable<T>& x, const Variable<T>& v, FunctionalOptions options) {
  enable_grad scope;
  const Variable<T> at = point("jvp", x, options);
  check_shape<T>("jvp", "v", v.shape(), at.shape());
  const Variable<T> y = f(at);
  if (!y.requires_grad()) return zeros_like(y);
  Variable<T> u(Array<T>(xt::zeros<T>(y.shape())), true);  // any value: J^T u is linear in u
  const Variable<T> jt_u = grad(y, std::vector<Variable<T>>{at},
                                {.grad_outputs = {u}, .create_graph = true, .allow_unused = true,
                                 .materialize_grads = true})[0];
  if (!jt_u.requires_grad()) return zeros_like(y);
  return grad(jt_u, std::vector<Variable<T>>{u},
              {.grad_outputs = {v}, .create_graph = options.create_graph, .allow_unused = true,
               .materialize_grads = true})[0];
}

template <class T>
Variable<T> hvp(const Function<T>& f, const Variable<T>& x, const Variable<T>& v, FunctionalOptions options) {
  enable_grad scope;
  const Variable<T> at = point("hvp", x, options);
  check_shape<T>("hvp", "v", v.shape(), at.shape());
  const Variable<T> y = f(at);
  if (y.size() != 1) throw ShapeError("hvp: f must return one value, got shape " + to_string(y.shape()));
  if (!y.requires_grad()) return zeros_like(at);
  const Variable<T> g = grad(y, at, {.create_graph = true});
  if (!g.requires_grad()) return zeros_like(at);  // f is linear in x: H = 0
  return grad(g, std::vector<Variable<T>>{at},
              {.grad_outputs = {v}, .create_graph = options.create_graph, .allow_unused = true,
               .materialize_grads = true})[0];
}

namespace {
// Row i of the result: the gradient of output element i, for every i (one sweep each).
template <class T>
Array<T> rows_of_gradients(const Variable<T>& y, const Variable<T>& at) {
  Shape shape = y.shape();
  shape.insert(shape.end(), at.shape().begin(), at.shape().end());
  Array<T> result = xt::zeros<T>(shape);
  if (!y.requires_grad()) return result;
  for (std::size_t i = 0; i < y.size(); ++i) {
    Array<T> seed = xt::zeros<T>(y.shape());
    seed.data()[i] = T(1);
    const Variable<T> row = grad(y, std::vector<Variable<T>>{at},
                                 {.grad_outputs = {Variable<T>(std::move(seed))}, .retain_graph = true,
                                  .allow_unused = true})[0];
    if (row.defined()) std::copy(row.value().begin(), row.value().end(), result.data() + i * at.size());
  }
  return result;
}
}  // namespace

template <class T>
Array<T> jacobian(const Function<T>& f, const Variable<T>& x) {
  enable_grad scope;
  const Variable<T> at = point("jacobian", x, {});
  return rows_of_gradients(f(at), at);
}

template <class T>
Array<T> hessian(const Function<T>& f, const Variable<T>& x) {
  enable_grad scope;
  const Variable<T> at = point("hessian", x, {});
  const Variable<T> y = f(at);
  if (y.size() != 1) throw ShapeError("hessian: f must return one value, got shape " + to_string(y.shape()));
  if (!y.requires_grad()) return rows_of_gradients(zeros_like(at), at);
  return rows_of_gradients(grad(y, at, {.create_graph = true}), at);
}

#define WENGERT_INSTANTIATE(T)                                                                              \
  template Variable<T> vjp(const Function<T>&, const Variable<T>&, const Variable<T>&, FunctionalOptions);  \
  template Variable<T> jvp(const Function<T>&, const Variable<T>&, const Variable<T>&, FunctionalOptions);  \
  template Variable<T> hvp(const Function<T>&, const Variable<T>&, const Variable<T>&, FunctionalOptions);  \
  template Array<T> jacobian(const Function<T>&, const Variable<T>&);                                        \
  template Array<T> hessian(const Function<T>&, const Variable<T>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
