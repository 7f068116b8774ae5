// Shape ops: value, then backward closure. They move elements, so their
// gradients move g back (and add up where an element was used twice).
#include "shape.hpp"

#include <algorithm>
#include <numeric>

#include "op.hpp"

namespace autodiff {

namespace {

// The product of shape[from], ..., shape[to - 1] (to the end by default).
std::size_t product(const Shape& shape, std::size_t from = 0, std::size_t to = std::size_t(-1)) {
  const auto first = shape.begin() + static_cast<std::ptrdiff_t>(std::min(from, shape.size()));
  const auto last = shape.begin() + static_cast<std::ptrdiff_t>(std::min(to, shape.size()));
  return std::accumulate(first, last, std::size_t(1), std::multiplies<>());
}

// Elements of one row (everything after axis 0) of a row-major array.
std::size_t row_size(const Shape& shape) { return product(shape, 1); }

template <class T>
Variable<T> reshape_as(const OpInfo& op, const Variable<T>& x, const Shape& shape) {
  if (product(shape) != x.size())
    throw ShapeError(std::string(op.name) + ": cannot reshape " + to_string(x.shape()) + " (" +
                     std::to_string(x.size()) + " elements) to " + to_string(shape));
  Array<T> y = x.value();
  y.reshape(shape);
  return record<T>(op, std::move(y), {x}, [](Node<T>& out) {
    accumulate_grad_with(out.input(0), [&](Array<T>& dx, T beta) {
      const T* g = out.grad.data();
      zero_if_fresh(dx, beta);
      for (std::size_t i = 0; i < dx.size(); ++i) dx.data()[i] += g[i];
    });
  });
}

}  // namespace

template <class T>
Variable<T> reshape(const Variable<T>& x, const Shape& shape) {
  static const OpInfo op{"reshape", "dx = reshape(g, shape of x)"};
  return reshape_as(op, x, shape);
}

template <class T>
Variable<T> flatten(const Variable<T>& x, std::size_t start_axis) {
  static const OpInfo op{"flatten", "dx = reshape(g, shape of x)"};
  if (start_axis > x.dimension() || (x.dimension() > 0 && start_axis == x.dimension()))
    throw ShapeError("flatten: start axis " + std::to_string(start_axis) + " is out of range for shape " +
                     to_string(x.shape()));
  Shape shape(x.shape().begin(), x.shape().begin() + static_cast<std::ptrdiff_t>(start_axis));
  shape.push_back(product(x.shape(), start_axis));
  return reshape_as(op, x, shape);
}

template <class T>
Variable<T> slice_rows(const Variable<T>& x, std::size_t begin, std::size_t end) {
  static const OpInfo op{"slice_rows", "dx[begin:end] = g, 0 elsewhere"};
  if (x.dimension() == 0 || begin > end || end > x.shape()[0])
    throw ShapeError("slice_rows: rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") out of range for shape " + to_string(x.shape()));
  const std::size_t width = row_size(x.shape());
  Shape shape = x.shape();
  shape[0] = end - begin;
  Array<T> y = Array<T>::from_shape(shape);
  std::copy(x.value().data() + begin * width, x.value().data() + end * width, y.data());
  return record<T>(op, std::move(y), {x}, [begin, width](Node<T>& out) {
    accumulate_grad_with(out.input(0), [&](Array<T>& dx, T beta) {
      zero_if_fresh(dx, beta);
      T* target = dx.data() + begin * width;
      for (std::size_t i = 0; i < out.grad.size(); ++i) target[i] += out.grad.data()[i];
    });
  });
}

template <class T>
Variable<T> index_rows(const Variable<T>& x, const std::vector<std::size_t>& rows) {
  static const OpInfo op{"index_rows", "dx[rows[i]] += g[i]"};
  if (x.dimension() == 0) throw ShapeError("index_rows: needs at least one axis, got a scalar");
  for (std::size_t r : rows)
    if (r >= x.shape()[0])
      throw ShapeError("index_rows: row " + std::to_string(r) + " out of range for shape " + to_string(x.shape()));
  const std::size_t width = row_size(x.shape());
  Shape shape = x.shape();
  shape[0] = rows.size();
  Array<T> y = Array<T>::from_shape(shape);
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::copy_n(x.value().data() + rows[i] * width, width, y.data() + i * width);
  return record<T>(op, std::move(y), {x}, [rows, width](Node<T>& out) {
    accumulate_grad_with(out.input(0), [&](Array<T>& dx, T beta) {
      zero_if_fresh(dx, beta);
      for (std::size_t i = 0; i < rows.size(); ++i)
        for (std::size_t j = 0; j < width; ++j) dx.data()[rows[i] * width + j] += out.grad.data()[i * width + j];
    });
  });
}

template <class T>
Variable<T> pick(const Variable<T>& x, const std::vector<std::size_t>& labels) {
  static const OpInfo op{"pick", "dx[i, labels[i]] = g[i], 0 elsewhere"};
  if (x.dimension() != 2 || labels.size() != x.shape()[0])
    throw ShapeError("pick: needs a matrix with one row per label, got shape " + to_string(x.shape()) + " and " +
                     std::to_string(labels.size()) + " labels");
  const std::size_t classes = x.shape()[1];
  Array<T> y = Array<T>::from_shape({labels.size()});
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= classes)
      throw ShapeError("pick: label " + std::to_string(labels[i]) + " (row " + std::to_string(i) +
                       ") out of range for " + std::to_string(classes) + " classes");
    y(i) = x.value().data()[i * classes + labels[i]];
  }
  return record<T>(op, std::move(y), {x}, [labels, classes](Node<T>& out) {
    accumulate_grad_with(out.input(0), [&](Array<T>& dx, T beta) {
      zero_if_fresh(dx, beta);
      for (std::size_t i = 0; i < labels.size(); ++i) dx.data()[i * classes + labels[i]] += out.grad(i);
    });
  });
}

template <class T>
Variable<T> concatenate(const std::vector<Variable<T>>& parts, long axis) {
  static const OpInfo op{"concatenate", "dx_i = the slice of g that x_i filled"};
  if (parts.empty()) throw ShapeError("concatenate: no inputs");
  const Shape& first = parts[0].shape();
  const std::size_t ax = normalize_axis(op, axis, first.size());
  Shape shape = first;
  shape[ax] = 0;
  for (const auto& part : parts) {
    bool fits = part.dimension() == first.size();
    for (std::size_t d = 0; fits && d < first.size(); ++d) fits = d == ax || part.shape()[d] == first[d];
    if (!fits)
      throw ShapeError("concatenate: shapes " + to_string(first) + " and " + to_string(part.shape()) +
                       " differ outside axis " + std::to_string(ax));
    shape[ax] += part.shape()[ax];
  }
  // Row-major: each part fills one contiguous chunk per index of the axes before `ax`.
  const std::size_t outer = product(first, 0, ax);
  std::vector<std::size_t> chunk(parts.size());
  for (std::size_t p = 0; p < parts.size(); ++p) chunk[p] = product(parts[p].shape(), ax);
  const std::size_t out_chunk = product(shape, ax);
  Array<T> y = Array<T>::from_shape(shape);
  T* target = y.data();
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t p = 0; p < parts.size(); ++p) {
      std::copy_n(parts[p].value().data() + o * chunk[p], chunk[p], target);
      target += chunk[p];
    }
  return record<T>(op, std::move(y), parts, [chunk, outer, out_chunk](Node<T>& out) {
    std::size_t start = 0;  // where part p's chunk begins within each chunk of g
    for (std::size_t p = 0; p < chunk.size(); ++p) {
      accumulate_grad_with(out.input(p), [&](Array<T>& dx, T beta) {
        zero_if_fresh(dx, beta);
        for (std::size_t o = 0; o < outer; ++o) {
          const T* g = out.grad.data() + o * out_chunk + start;
          T* d = dx.data() + o * chunk[p];
          for (std::size_t j = 0; j < chunk[p]; ++j) d[j] += g[j];
        }
      });
      start += chunk[p];
    }
  });
}

#define WENGERT_INSTANTIATE(T)                                                                \
  template Variable<T> reshape(const Variable<T>&, const Shape&);                             \
  template Variable<T> flatten(const Variable<T>&, std::size_t);                              \
  template Variable<T> slice_rows(const Variable<T>&, std::size_t, std::size_t);              \
  template Variable<T> index_rows(const Variable<T>&, const std::vector<std::size_t>&);       \
  template Variable<T> pick(const Variable<T>&, const std::vector<std::size_t>&);             \
  template Variable<T> concatenate(const std::vector<Variable<T>>&, long);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
