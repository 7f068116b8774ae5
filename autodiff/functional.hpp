// Derivatives of functions, built on grad(): Jacobians, Hessians and the
// products with them (as torch.autograd.functional). Each takes f and the
// point x; with create_graph the result is differentiable again.
#pragma once

#include <functional>
#include <vector>

#include "variable.hpp"

namespace autodiff {

template <class T>
using Function = std::function<Variable<T>(const Variable<T>&)>;

struct FunctionalOptions {
  bool create_graph = false;  // the result keeps a graph (x must then require a gradient)
};

// v^T J: the vector-Jacobian product of f at x (v has f(x)'s shape). One reverse sweep.
template <class T>
Variable<T> vjp(const Function<T>& f, const Variable<T>& x, const Variable<T>& v, FunctionalOptions options = {});
// J v: the Jacobian-vector product (v has x's shape), by the double-vjp trick:
// g(u) = J^T u is linear in u, so the gradient of <g(u), v> in u is J v. Two sweeps.
template <class T>
Variable<T> jvp(const Function<T>& f, const Variable<T>& x, const Variable<T>& v, FunctionalOptions options = {});
// H v for a scalar f: the gradient of <grad f(x), v> (Pearlmutter). Two sweeps.
template <class T>
Variable<T> hvp(const Function<T>& f, const Variable<T>& x, const Variable<T>& v, FunctionalOptions options = {});
// The Jacobian, of shape f(x).shape + x.shape: one sweep per output element.
template <class T>
Array<T> jacobian(const Function<T>& f, const Variable<T>& x);
// The Hessian of a scalar f, of shape x.shape + x.shape: the Jacobian of the gradient.
template <class T>
Array<T> hessian(const Function<T>& f, const Variable<T>& x);

}  // namespace autodiff
