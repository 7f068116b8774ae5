// The interactive tape viewer: one self-contained HTML page (inline CSS, JS and
// SVG; it opens from disk, with no network) showing the graph of a value and its
// Wengert list side by side. Arrow keys or buttons step through the evaluation
// (each value appears as it is computed) and on through the reverse sweep (each
// adjoint appears and accumulates, beside the op's derivative rule with the
// numbers the engine used). Hovering a node shows its shape, value and gradient;
// a large tensor shows min/max/mean and a small heatmap.
//
// Every number on the page was computed by the engine when the file was written:
// the forward values are the tape's, the reverse sweep is a real sweep (an
// autodiff::grad with retain_graph) watched step by step. The page only shows
// and hides them.
#pragma once

#include <cstddef>
#include <string>

#include "variable.hpp"

namespace autodiff {

struct HtmlOptions {
  std::string title = "wengert tape";
  bool left_to_right = false;  // lay the graph out from left to right (default: top to bottom)
  // Tensors up to this many elements are printed in full; larger ones as a summary
  // (shape, min, max, mean) and a heatmap.
  std::size_t max_elements = 16;
};

// Writes the page for `root` (a scalar, typically a loss, whose graph is still
// there: call it before backward(), or after backward({.retain_graph = true})).
// It does not change the graph, the tape or any grad(): the sweep it shows is
// run with autodiff::grad and keeps the graph. Throws a GraphError for a value
// with no graph or a released one, and an Error naming the path if the file
// cannot be written.
template <class T>
void write_html(const Variable<T>& root, const std::string& path, const HtmlOptions& options = {});

// The same page as a string.
template <class T>
std::string to_html(const Variable<T>& root, const HtmlOptions& options = {});

}  // namespace autodiff
