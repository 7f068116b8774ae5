#include "html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <tuple>
#include <map>
#include <memory>
// g++ 12 warns inside libstdc++'s own <regex> (-Wmaybe-uninitialized on a moved
// std::function, a known false positive) at -O1 with the sanitizers; the code is the library's.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tape.hpp"
#include "visualize.hpp"

namespace autodiff {
namespace {

// ---- text ---------------------------------------------------------------------

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

// A JSON string that is also safe inside <script> (no "</script>" can appear).
std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '<') {
      out += "\\u003c";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char code[8];
      std::snprintf(code, sizeof code, "\\u%04x", static_cast<unsigned>(c));
      out += code;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string number_text(double value, int precision) {
  std::ostringstream out;
  out << std::setprecision(precision) << value;
  return out.str();
}

std::string shorten(const std::string& text, std::size_t length) {
  return text.size() <= length ? text : text.substr(0, length - 3) + "...";
}

template <class T>
std::string summary(const Array<T>& values) {
  if (values.size() == 0) return to_string(values.shape()) + " (empty)";
  const auto [lo, hi] = std::minmax_element(values.data(), values.data() + values.size());
  double sum = 0;
  for (std::size_t i = 0; i < values.size(); ++i) sum += values.data()[i];
  return to_string(values.shape()) + " min " + number_text(*lo, 4) + ", max " + number_text(*hi, 4) + ", mean " +
         number_text(sum / double(values.size()), 4);
}

// All of a tensor's numbers (6 digits) when it is small, its summary when it is large.
template <class T>
std::string tensor_text(const Array<T>& values, std::size_t max_elements, int precision = 6) {
  return values.size() <= max_elements ? format_compact(values, max_elements, precision) : summary(values);
}

// A heatmap of a tensor as JSON {rows, cols, data}: the last axis across, the others
// down, averaged over blocks to at most 48 x 48 cells. null for fewer than two elements.
template <class T>
std::string heat_json(const Array<T>& values) {
  if (values.size() < 2) return "null";
  const std::size_t cols = values.dimension() == 0 ? 1 : values.shape().back(), rows = values.size() / cols;
  const std::size_t out_rows = std::min<std::size_t>(rows, 48), out_cols = std::min<std::size_t>(cols, 48);
  std::vector<double> cells(out_rows * out_cols, 0.0);
  std::vector<std::size_t> counts(out_rows * out_cols, 0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const std::size_t cell = (r * out_rows / rows) * out_cols + c * out_cols / cols;
      cells[cell] += values.data()[r * cols + c];
      ++counts[cell];
    }
  std::ostringstream out;
  out << "{\"rows\":" << out_rows << ",\"cols\":" << out_cols << ",\"data\":[";
  for (std::size_t i = 0; i < cells.size(); ++i)
    out << (i ? "," : "")  // NaN and Inf as null: JSON has no such numbers (the page draws them grey)
        << (std::isfinite(cells[i]) ? number_text(counts[i] ? cells[i] / double(counts[i]) : 0.0, 4) : "null");
  out << "]}";
  return out.str();
}

// ---- the derivative rule with numbers ----------------------------------------------
//
// An op's rule reads "da = g b, db = g a": one clause per input, naming it (a, b).
// Where the rule has one clause per input, each contribution is shown as its
// clause; where every symbol in the clause is a one-element tensor, also with the
// engine's values put in ("g y (1 - y) = 0.12 · 0.73 · (1 - 0.73)").

using Clause = detail::RuleClause;  // split by detail::input_clauses

// rhs with each symbol of `values` replaced by its number, and a "·" where the rule
// multiplies by juxtaposition; "" if the clause has a word that is no symbol or function.
std::string substitute(const std::string& rhs, const std::map<std::string, std::string>& values) {
  static const std::unordered_set<std::string> functions{"sqrt", "sign", "sin", "cos", "tan", "sinh", "cosh",
                                                         "tanh", "sigmoid", "e", "ln", "pi", "exp", "log"};
  std::string out;
  bool substituted = false, previous_ends_operand = false;
  for (std::size_t i = 0; i < rhs.size();) {
    const char c = rhs[i];
    if (c == ' ') {
      std::size_t j = i;
      while (j < rhs.size() && rhs[j] == ' ') ++j;
      const char next = j < rhs.size() ? rhs[j] : '\0';
      const bool next_starts_operand = detail::identifier_char(next, true) ||
                                       std::isdigit(static_cast<unsigned char>(next)) || next == '(' || next == '[';
      out += previous_ends_operand && next_starts_operand ? " · " : " ";
      i = j;
      continue;
    }
    if (detail::identifier_char(c, true)) {
      std::size_t j = i;
      while (j < rhs.size() && detail::identifier_char(rhs[j], false)) ++j;
      const std::string word = rhs.substr(i, j - i);
      if (auto found = values.find(word); found != values.end()) {
        out += found->second;
        substituted = true;
      } else if (functions.count(word)) {
        out += word;
      } else {
        return "";
      }
      previous_ends_operand = j >= rhs.size() || rhs[j] != '(';  // sqrt(...) is a call, not a product
      i = j;
      continue;
    }
    out += c;
    previous_ends_operand = std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == ')' || c == ']';
    ++i;
  }
  return substituted ? out : "";
}

// ---- what the reverse sweep did ----------------------------------------------------

template <class T>
struct Contribution {
  const Node<T>* to;
  std::size_t input;
  Array<T> value, adjoint_after;
};

template <class T>
struct SweepStep {
  const Node<T>* node;  // the op whose closure ran (the root, for the seed)
  Array<T> g;
  std::vector<Contribution<T>> contributions;
};

template <class T>
struct Recorder : detail::SweepListener<T> {
  std::vector<SweepStep<T>> steps;
  void seeded(const Node<T>& root, const Array<T>& seed) override { steps.push_back({&root, seed, {}}); }
  void step(const Node<T>& node, const Array<T>& g) override { steps.push_back({&node, g, {}}); }
  void added(const Node<T>& node, std::size_t input, const Array<T>& contribution, const Array<T>& adjoint) override {
    if (steps.empty() || steps.back().node != &node) steps.push_back({&node, empty_array<T>(), {}});
    steps.back().contributions.push_back({node.inputs[input].get(), input, contribution, adjoint});
  }
};

// ---- layout: a layered drawing (Sugiyama-lite) ---------------------------------------
//
// Layers by longest path from the leaves (a leaf sits just above its first use),
// dummy points where an edge crosses a layer, crossings reduced by barycentres,
// and positions along each layer pulled towards the neighbours'.

struct Box {
  double x = 0, y = 0, w = 0, h = 0;  // centre and size
};

struct Layout {
  std::vector<Box> boxes;                         // one per graph node
  std::vector<std::vector<std::pair<double, double>>> edge_points;  // per edge, source to target
  double width = 0, height = 0;
};

Layout layered_layout(const std::vector<std::vector<std::size_t>>& inputs, const std::vector<Box>& sizes,
                      bool left_to_right) {
  const std::size_t n = inputs.size();
  // Layers: nodes are in an order where inputs come first (leaves, then ops by tape index).
  std::vector<int> layer(n, 0);
  std::vector<std::vector<std::size_t>> users(n);
  for (std::size_t v = 0; v < n; ++v)
    for (std::size_t u : inputs[v]) {
      layer[v] = std::max(layer[v], layer[u] + 1);
      users[u].push_back(v);
    }
  for (std::size_t v = 0; v < n; ++v)
    if (inputs[v].empty() && !users[v].empty()) {
      int first_use = layer[users[v][0]];
      for (std::size_t w : users[v]) first_use = std::min(first_use, layer[w]);
      layer[v] = first_use - 1;
    }
  const int layers = n ? *std::max_element(layer.begin(), layer.end()) + 1 : 0;

  // First order in each layer: as a depth-first walk from the root meets the nodes,
  // operand 0 first, so that a - b starts with a on the left; the barycentres keep it where they tie.
  std::vector<std::size_t> first_met(n, 0);
  {
    std::vector<bool> met(n, false);
    std::size_t count = 0;
    std::vector<std::pair<std::size_t, std::size_t>> walk;  // node, next input
    for (std::size_t top = n; top-- > 0;) {
      if (met[top]) continue;
      met[top] = true;
      walk.push_back({top, 0});
      while (!walk.empty()) {
        auto& [v, next] = walk.back();
        if (next < inputs[v].size()) {
          const std::size_t u = inputs[v][next++];
          if (!met[u]) {
            met[u] = true;
            walk.push_back({u, 0});
          }
          continue;
        }
        first_met[v] = count++;
        walk.pop_back();
      }
    }
  }
  // Points: the nodes, then a dummy for each layer an edge passes.
  struct Point {
    int layer;
    double size_along, size_across;  // along the layer, and across it
    std::vector<std::size_t> up, down;  // neighbours in the layer before and after
  };
  std::vector<Point> points;
  for (std::size_t v = 0; v < n; ++v)
    points.push_back(
        {layer[v], left_to_right ? sizes[v].h : sizes[v].w, left_to_right ? sizes[v].w : sizes[v].h, {}, {}});
  std::vector<std::vector<std::size_t>> edge_chain;  // the points of each edge, source first
  std::vector<double> dummy_met;  // where the walk met each dummy's edge: just after its source
  // An edge that crosses many layers (a weight used at every step of a recurrence) is drawn
  // straight and left out of the ordering: dummies for it would grow as the square of the steps.
  const int longest_routed = 8;
  for (std::size_t v = 0; v < n; ++v)
    for (std::size_t u : inputs[v]) {
      std::vector<std::size_t> chain{u};
      if (layer[v] - layer[u] > longest_routed) {
        edge_chain.push_back({u, v});
        continue;
      }
      for (int l = layer[u] + 1; l < layer[v]; ++l) {
        points.push_back({l, 10.0, 0.0, {}, {}});
        dummy_met.push_back(double(first_met[u]) + 0.5);
        chain.push_back(points.size() - 1);
      }
      chain.push_back(v);
      for (std::size_t k = 0; k + 1 < chain.size(); ++k) {
        points[chain[k]].down.push_back(chain[k + 1]);
        points[chain[k + 1]].up.push_back(chain[k]);
      }
      edge_chain.push_back(chain);
    }

  std::vector<std::vector<std::size_t>> rows(layers);
  for (std::size_t p = 0; p < points.size(); ++p) rows[points[p].layer].push_back(p);
  auto meeting = [&](std::size_t p) {  // a dummy sits where its edge's source is met
    return p < n ? double(first_met[p]) : dummy_met[p - n];
  };
  for (auto& row : rows)
    std::stable_sort(row.begin(), row.end(), [&](std::size_t a, std::size_t b) { return meeting(a) < meeting(b); });
  std::vector<double> rank(points.size());
  auto number_rows = [&] {
    for (auto& row : rows)
      for (std::size_t k = 0; k < row.size(); ++k) rank[row[k]] = double(k);
  };
  number_rows();
  auto barycentre_sort = [&](std::vector<std::size_t>& row, bool from_above) {
    std::vector<std::pair<double, std::size_t>> keyed;
    for (std::size_t p : row) {
      const auto& neighbours = from_above ? points[p].up : points[p].down;
      double key = rank[p];
      if (!neighbours.empty()) {
        key = 0;
        for (std::size_t q : neighbours) key += rank[q];
        key /= double(neighbours.size());
      }
      keyed.push_back({key, p});
    }
    std::stable_sort(keyed.begin(), keyed.end(), [](auto& a, auto& b) { return a.first < b.first; });
    for (std::size_t k = 0; k < row.size(); ++k) row[k] = keyed[k].second;
    for (std::size_t k = 0; k < row.size(); ++k) rank[row[k]] = double(k);
  };
  for (int sweep = 0; sweep < 12; ++sweep) {
    if (sweep % 2 == 0)
      for (int l = 1; l < layers; ++l) barycentre_sort(rows[l], true);
    else
      for (int l = layers - 2; l >= 0; --l) barycentre_sort(rows[l], false);
  }

  // Positions along the layers: packed, then pulled towards the neighbours' mean.
  const double gap = 24;
  std::vector<double> along(points.size());
  for (auto& row : rows) {
    double at = 0;
    for (std::size_t p : row) {
      along[p] = at + points[p].size_along / 2;
      at += points[p].size_along + gap;
    }
  }
  for (int iteration = 0; iteration < 40; ++iteration) {
    for (auto& row : rows) {
      std::vector<double> wanted(row.size());
      for (std::size_t k = 0; k < row.size(); ++k) {
        const Point& p = points[row[k]];
        double sum = 0;
        std::size_t count = 0;
        for (std::size_t q : p.up) sum += along[q], ++count;
        for (std::size_t q : p.down) sum += along[q], ++count;
        wanted[k] = count ? sum / double(count) : along[row[k]];
      }
      // Keep the order and the gaps: push right from the left, then left from the right, and average.
      std::vector<double> right = wanted, left = wanted;
      for (std::size_t k = 1; k < row.size(); ++k) {
        const double min_gap = (points[row[k - 1]].size_along + points[row[k]].size_along) / 2 + gap;
        right[k] = std::max(right[k], right[k - 1] + min_gap);
      }
      for (std::size_t k = row.size(); k-- > 1;) {
        const double min_gap = (points[row[k - 1]].size_along + points[row[k]].size_along) / 2 + gap;
        left[k - 1] = std::min(left[k - 1], left[k] - min_gap);
      }
      for (std::size_t k = 0; k < row.size(); ++k) along[row[k]] = (right[k] + left[k]) / 2;
      for (std::size_t k = 1; k < row.size(); ++k) {  // the average can still be too close
        const double min_gap = (points[row[k - 1]].size_along + points[row[k]].size_along) / 2 + gap;
        along[row[k]] = std::max(along[row[k]], along[row[k - 1]] + min_gap);
      }
    }
  }
  double low = 1e300, high = -1e300;
  for (std::size_t p = 0; p < points.size(); ++p) {
    low = std::min(low, along[p] - points[p].size_along / 2);
    high = std::max(high, along[p] + points[p].size_along / 2);
  }
  // Positions across: each layer as thick as its thickest node.
  std::vector<double> thickness(layers, 10.0), across(layers, 0.0);
  for (std::size_t p = 0; p < points.size(); ++p)
    thickness[points[p].layer] = std::max(thickness[points[p].layer], points[p].size_across);
  const double layer_gap = left_to_right ? 60 : 44, margin = 20;
  double at = margin;
  for (int l = 0; l < layers; ++l) {
    across[l] = at + thickness[l] / 2;
    at += thickness[l] + layer_gap;
  }
  Layout layout;
  auto place = [&](std::size_t p) {
    const double a = along[p] - low + margin, c = across[points[p].layer];
    return left_to_right ? std::make_pair(c, a) : std::make_pair(a, c);
  };
  for (std::size_t v = 0; v < n; ++v) {
    Box box = sizes[v];
    std::tie(box.x, box.y) = place(v);
    layout.boxes.push_back(box);
  }
  for (auto& chain : edge_chain) {
    std::vector<std::pair<double, double>> line;
    const Box &from = layout.boxes[chain.front()], &to = layout.boxes[chain.back()];
    line.push_back(left_to_right ? std::make_pair(from.x + from.w / 2, from.y)
                                 : std::make_pair(from.x, from.y + from.h / 2));
    for (std::size_t k = 1; k + 1 < chain.size(); ++k) line.push_back(place(chain[k]));
    line.push_back(left_to_right ? std::make_pair(to.x - to.w / 2, to.y) : std::make_pair(to.x, to.y - to.h / 2));
    layout.edge_points.push_back(line);
  }
  const double extent_along = high - low + 2 * margin, extent_across = at - layer_gap + margin;
  layout.width = left_to_right ? extent_across : extent_along;
  layout.height = left_to_right ? extent_along : extent_across;
  return layout;
}

const char* const page_style = R"css(
body { font-family: system-ui, sans-serif; margin: 0; color: #222; }
header { padding: 6px 12px; border-bottom: 1px solid #ccc; background: #fafafa; }
h1 { font-size: 17px; margin: 2px 0 6px; }
button { font-size: 13px; margin-right: 4px; }
#position { margin-left: 10px; font-weight: 600; }
.help { font-size: 12px; color: #666; margin: 4px 0; }
#step { min-height: 4.5em; }
#step-title { font-weight: 600; font-size: 14px; }
#step-lines { margin: 2px 0; font-size: 13px; white-space: pre-wrap; }
main { display: flex; height: calc(100vh - 190px); min-height: 300px; }
#graph-panel { flex: 5 1 0; overflow: auto; border-right: 1px solid #ccc; }
#graph-panel.fit svg { max-width: 100%; max-height: 100%; height: auto; }
#list-panel { flex: 4 1 0; overflow: auto; font-size: 12px; }
svg text { font-family: ui-monospace, monospace; font-size: 11px; text-anchor: middle; }
svg text.title { font-weight: 600; }
svg text.adjoint { fill: #b22; }
svg text.operand { fill: #555; font-size: 10px; text-anchor: start; }
.node rect { fill: #fff; stroke: #888; stroke-width: 1.2; }
.node.leaf rect { fill: #dde8ff; }
.node.constant rect { fill: #eee; }
.node.pending text.value { fill: #aaa; }
.node.current rect { stroke: #e67e00; stroke-width: 3; }
.node.touched rect { stroke: #b22; stroke-width: 2.5; }
.edge { fill: none; stroke: #999; stroke-width: 1.2; }
.edge.active { stroke: #e67e00; stroke-width: 2.5; }
marker path { fill: #999; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 2px 5px; text-align: left; vertical-align: top; }
th { position: sticky; top: 0; background: #f0f0f0; }
td.value, td.adjoint, .call { font-family: ui-monospace, monospace; }
td.adjoint { color: #b22; }
.rule { color: #777; font-size: 11px; }
tr.current { background: #fff1dd; }
tr.touched { background: #fde4e4; }
#tooltip { position: fixed; background: #fff; border: 1px solid #888; padding: 6px 8px; font-size: 12px;
           max-width: 420px; box-shadow: 2px 2px 6px rgba(0,0,0,.2); pointer-events: none; }
#tooltip pre { margin: 2px 0; white-space: pre-wrap; font-size: 11px; }
#errors { color: #b00; white-space: pre; }
)css";

// Shows and hides what the engine computed (the `tape` object): no number is computed here.
const char* const page_script = R"js(
(function () {
  'use strict';
  const F = tape.forward.length, R = tape.reverse.length, last = F + R;
  const byId = (id) => document.getElementById(id);
  const forwardIndex = new Map(tape.forward.map((v, k) => [v, k]));
  let t = 0;  // 0..F: ops evaluated; F+1..F+R: reverse steps done

  const known = (v) => tape.nodes[v].kind !== 'op' || forwardIndex.get(v) < t;
  const shorten = (text, n) => (text.length <= n ? text : text.slice(0, n - 3) + '...');
  function adjointsShown() {  // the last update of each node's adjoint so far
    const shown = tape.nodes.map(() => '');
    for (let k = 0; k < Math.max(0, t - F); ++k) for (const [v, text] of tape.reverse[k].updates) shown[v] = text;
    return shown;
  }

  function render() {
    const shown = adjointsShown();
    const step = t > F ? tape.reverse[t - F - 1] : null;
    const current = step ? step.node : t > 0 ? tape.forward[t - 1] : -1;
    const touched = new Set(step ? step.updates.map((u) => u[0]) : []);
    tape.nodes.forEach((node, v) => {
      byId('value-' + v).textContent = known(v) ? node.value : '';
      byId('box-value-' + v).textContent = known(v) ? node.box_value : '?';
      byId('adjoint-' + v).textContent = shown[v];
      byId('box-adjoint-' + v).textContent = shown[v] ? shorten('dC/d' + node.name + ' = ' + shown[v], 34) : '';
      for (const element of [byId('node-' + v), byId('row-' + v)]) {
        element.classList.toggle('current', v === current);
        element.classList.toggle('touched', touched.has(v) && v !== current);
        element.classList.toggle('pending', !known(v));
      }
    });
    for (const edge of document.querySelectorAll('.edge')) {
      const from = +edge.dataset.from, to = +edge.dataset.to;
      edge.classList.toggle('active', to === current && (step ? touched.has(from) : true));
    }
    let title, lines = '';
    if (t === 0) {
      title = 'Press \u2192 to evaluate the graph one op at a time (inputs, parameters and constants are known).';
    } else if (!step) {
      const node = tape.nodes[current];
      title = 'forward step ' + t + ' of ' + F + ': ' + node.call;
      lines = node.name + ' = ' + node.value;
    } else {
      title = step.title;
      lines = step.lines.join('\n');
    }
    if (current >= 0) {  // keep the current op in sight in both panels
      byId('node-' + current).scrollIntoView({ block: 'nearest', inline: 'nearest' });
      byId('row-' + current).scrollIntoView({ block: 'nearest' });
    }
    byId('step-title').textContent = title;
    byId('step-lines').textContent = lines;
    byId('position').textContent = t <= F ? 'evaluation ' + t + ' / ' + F : 'reverse sweep ' + (t - F) + ' / ' + R;
  }

  function go(to) {
    t = Math.min(last, Math.max(0, to));
    render();
  }
  document.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowRight') go(t + 1);
    else if (event.key === 'ArrowLeft') go(t - 1);
    else if (event.key === 'b') go(Math.max(t, F) + 1);
    else if (event.key === 'B') go(t > F ? t - 1 : t);
    else if (event.key === 'Home') go(0);
    else if (event.key === 'End') go(last);
    else if (event.key === 'z') zoom();
    else return;
    event.preventDefault();
  });
  byId('first').onclick = () => go(0);
  byId('back').onclick = () => go(t - 1);
  byId('next').onclick = () => go(t + 1);
  byId('sweep').onclick = () => go(Math.max(t, F) + 1);
  byId('last').onclick = () => go(last);
  // The graph fitted to its panel (small graphs open so), or at full size and scrolled (large ones).
  function zoom() {
    const fitted = byId('graph-panel').classList.toggle('fit');
    byId('zoom').textContent = fitted ? 'full size (z)' : 'fit to panel (z)';
  }
  byId('zoom').onclick = zoom;
  zoom();
  zoom();  // (twice: the button's label follows what the page opened with)

  // A heatmap: blue below zero, red above, white at zero, grey for NaN and Inf.
  function heatmap(heat) {
    const canvas = document.createElement('canvas');
    const cell = Math.max(3, Math.floor(160 / Math.max(heat.rows, heat.cols)));
    canvas.width = heat.cols * cell;
    canvas.height = heat.rows * cell;
    const context = canvas.getContext('2d');
    const scale = Math.max(1e-300, ...heat.data.filter((value) => value !== null).map(Math.abs));
    heat.data.forEach((value, i) => {
      const s = Math.round(255 * (1 - Math.abs(value) / scale));
      context.fillStyle = value === null ? '#888' : value >= 0 ? `rgb(255,${s},${s})` : `rgb(${s},${s},255)`;
      context.fillRect((i % heat.cols) * cell, Math.floor(i / heat.cols) * cell, cell, cell);
    });
    return canvas;
  }
  const tooltip = byId('tooltip');
  function showTooltip(v, event) {
    const node = tape.nodes[v], shown = adjointsShown()[v];
    tooltip.replaceChildren();
    const add = (tag, text) => {
      const element = document.createElement(tag);
      element.textContent = text;
      tooltip.appendChild(element);
    };
    add('b', node.call);
    add('div', 'shape ' + node.shape + ' (' + node.kind + ')');
    add('pre', 'value: ' + (known(v) ? node.value : 'not computed yet'));
    if (known(v) && node.heat) tooltip.appendChild(heatmap(node.heat));
    add('pre', 'dC/d' + node.name + ': ' + (shown || 'not reached by the reverse sweep yet'));
    if (node.grad_heat && node.final_step >= 0 && t - F > node.final_step) tooltip.appendChild(heatmap(node.grad_heat));
    tooltip.hidden = false;
    tooltip.style.left = Math.min(event.clientX + 14, window.innerWidth - 430) + 'px';
    tooltip.style.top = Math.min(event.clientY + 14, window.innerHeight - 200) + 'px';
  }
  for (const element of document.querySelectorAll('.node, #wengert tr[data-id]')) {
    element.addEventListener('mousemove', (event) => showTooltip(+element.dataset.id, event));
    element.addEventListener('mouseleave', () => (tooltip.hidden = true));
  }
  const start = /^#step=(\d+)$/.exec(location.hash);  // page.html#step=14 opens at that step
  go(start ? +start[1] : 0);

  // Opened as page.html#selftest (by the browser test): step through everything by
  // key events and write what the page then shows into #selftest.
  if (location.hash === '#selftest') {
    const out = [];
    try {
      const press = (key) => document.dispatchEvent(new KeyboardEvent('keydown', { key: key, bubbles: true }));
      press('Home');
      for (let k = 0; k < F; ++k) press('ArrowRight');
      tape.nodes.forEach((node, v) => out.push('value\t' + node.name + '\t' + byId('value-' + v).textContent));
      let presses = 0;
      while (t < last && presses < 100000) {
        press('b');
        ++presses;
      }
      tape.nodes.forEach((node, v) => {
        const cell = byId('adjoint-' + v).textContent, box = byId('box-adjoint-' + v).textContent;
        out.push('adjoint\t' + node.name + '\t' + cell);
        if (cell && box !== shorten('dC/d' + node.name + ' = ' + cell, 34))
          out.push('mismatch\t' + node.name + '\t' + box);
      });
      out.push('steps\t' + F + '\t' + presses);
      const hover = document.querySelector('.node');
      hover.dispatchEvent(new MouseEvent('mousemove', { clientX: 10, clientY: 10 }));
      out.push('tooltip\t' + (tooltip.hidden ? 'hidden' : 'shown'));
    } catch (error) {
      out.push('exception\t' + error);
    }
    const errors = byId('errors').textContent.trim();
    out.push('errors\t' + (errors ? errors.split('\n').length : 0) + '\t' + errors.replace(/\n/g, ' | '));
    byId('selftest').textContent = 'SELFTEST BEGIN\n' + out.join('\n') + '\nSELFTEST END\n';
  }
})();
)js";

}  // namespace

template <class T>
std::string to_html(const Variable<T>& root, const HtmlOptions& options) {
  if (!root.defined()) throw GraphError("write_html: the value is an empty Variable");
  const Node<T>& root_node = root.node();
  if (root_node.is_leaf() || !root.requires_grad())
    throw GraphError("write_html: the value (shape " + to_string(root.shape()) + ") was not computed by ops on the "
                     "tape (" + std::string(root_node.is_leaf() ? "it is a leaf" : "no input requires a gradient, or "
                     "it was computed under no_grad") + "): there is no computation to show");
  if (root.size() != 1)
    throw GraphError("write_html: the value has shape " + to_string(root.shape()) + "; the page sweeps backward "
                     "from a scalar: reduce it with sum or mean first");

  // The graph behind root: leaves first, in the order a walk from the root meets them (operand 0
  // first), then ops in tape order (the evaluation order the page steps through).
  std::vector<NodePtr<T>> nodes;
  std::unordered_set<const Node<T>*> seen;
  std::vector<NodePtr<T>> stack{root.node_ptr()};
  while (!stack.empty()) {
    NodePtr<T> node = stack.back();
    stack.pop_back();
    if (!seen.insert(node.get()).second) continue;
    if (node->released)
      throw GraphError(std::string("write_html: the graph ") +
                       (node.get() == &root_node ? "of this value" : "behind it") +
                       " (op '" + node->op->name + "') was released by backward() or grad(); call write_html "
                       "before backward(), or pass retain_graph = true to backward()");
    for (std::size_t i = node->inputs.size(); i-- > 0;) stack.push_back(node->inputs[i]);  // input 0 first
    nodes.push_back(std::move(node));
  }
  std::stable_sort(nodes.begin(), nodes.end(), [](const NodePtr<T>& a, const NodePtr<T>& b) {
    if (a->is_leaf() != b->is_leaf()) return a->is_leaf();
    return !a->is_leaf() && a->tape_index < b->tape_index;
  });
  const std::size_t n = nodes.size();
  std::unordered_map<const Node<T>*, std::size_t> id;
  for (auto& node : nodes) id.emplace(node.get(), id.size());
  detail::NodeNames<T> names;
  for (auto& node : nodes) names(*node);
  auto name = [&](const Node<T>* node) { return names(*node); };

  // The reverse sweep, run by the engine and watched; grad() leaves every grad() as it was.
  std::vector<Variable<T>> leaves;
  for (auto& node : nodes)
    if (node->is_leaf() && node->requires_grad) leaves.push_back(Variable<T>(node));
  Recorder<T> recorder;
  {
    detail::ListenToNextSweep<T> listen(recorder);
    GradOptions<T> grad_options;
    grad_options.retain_graph = true;
    grad_options.allow_unused = true;
    try {
      grad(root, leaves, grad_options);
    } catch (const GraphError& error) {  // e.g. an input changed in place since the forward pass
      throw GraphError(std::string("write_html: ") + error.what());
    }
  }

  // ---- the nodes' text and the layout
  const std::size_t max_elements = options.max_elements;
  std::vector<std::vector<std::size_t>> inputs(n);
  std::vector<Box> sizes(n);
  std::vector<std::string> box_title(n), box_value(n), call(n), rule(n);
  std::vector<std::vector<Clause>> clauses(n);
  for (std::size_t v = 0; v < n; ++v) {
    const Node<T>& node = *nodes[v];
    for (auto& input : node.inputs) inputs[v].push_back(id.at(input.get()));
    const std::string constants = detail::constants_text(node);  // "s=0.5" of mul_scalar
    box_title[v] = node.is_leaf() ? name(&node) + (node.requires_grad ? "" : " (constant)")
                                  : name(&node) + " = " + node.op->name + (constants.empty() ? "" : " " + constants);
    box_value[v] = shorten(node.value.size() <= max_elements ? format_compact(node.value, max_elements)
                                                             : to_string(node.value.shape()) + " tensor", 34);
    call[v] = node.is_leaf() ? name(&node) : detail::call_text(names, node);
    if (!node.is_leaf()) {
      rule[v] = node.op->derivative;
      clauses[v] = detail::input_clauses(*node.op, node.inputs.size());
    }
  }

  // ---- the reverse steps as text
  struct StepText {
    std::size_t node;
    std::string title;
    std::vector<std::string> lines;
    std::vector<std::pair<std::size_t, std::string>> updates;  // node, its adjoint after this step
  };
  std::vector<StepText> reverse;
  std::vector<int> final_step(n, -1);  // the step after which a node's adjoint is complete
  for (const auto& step : recorder.steps) {
    if (!id.count(step.node)) continue;
    StepText text;
    text.node = id.at(step.node);
    const Node<T>& node = *step.node;
    if (reverse.empty()) {  // the seed
      text.title = "the reverse sweep starts at " + name(&node) + ": dC/d" + name(&node) + " = " +
                   tensor_text(step.g, max_elements) + " (the seed)";
      text.updates.push_back({text.node, tensor_text(step.g, max_elements)});
      final_step[text.node] = 0;
      reverse.push_back(std::move(text));
      continue;
    }
    const std::vector<Clause>& clause = clauses[text.node];
    std::map<std::string, std::string> scalars;  // symbol -> its number, for one-element values
    std::map<std::string, std::string> symbol_of_input;
    bool input_called_g = false;
    for (std::size_t i = 0; i < clause.size(); ++i) input_called_g = input_called_g || clause[i].symbol == "g";
    const std::string g_symbol = input_called_g ? "gg" : "g";
    auto number_for = [](const Array<T>& values) {
      const std::string number = number_text(values.data()[0], 4);
      return values.data()[0] < 0 ? "(" + number + ")" : number;
    };
    text.title =
        "reverse step " + std::to_string(reverse.size()) + ": " + call[text.node] + "    rule: " + rule[text.node];
    text.lines.push_back(g_symbol + " = dC/d" + name(&node) + " = " + tensor_text(step.g, max_elements, 4));
    if (step.g.size() == 1) scalars[g_symbol] = number_for(step.g);
    for (const auto& [constant, value] : detail::named_constants(node))  // the s of mul_scalar's "g s"
      scalars[constant] = value[0] == '-' ? "(" + value + ")" : value;
    for (std::size_t i = 0; i < clause.size(); ++i) {
      const Node<T>& input = *node.inputs[i];
      text.lines.push_back(clause[i].symbol + " = " + name(&input) + " = " + tensor_text(input.value, max_elements, 4));
      if (input.value.size() == 1) scalars[clause[i].symbol] = number_for(input.value);
    }
    for (const char* output_symbol : {"y", "out"}) {
      bool taken = false;
      for (auto& c : clause) taken = taken || c.symbol == output_symbol;
      bool used = false;
      static const std::regex y_word(R"(\by\b)"), out_word(R"(\bout\b)");
      for (auto& c : clause) used = used || std::regex_search(c.rhs, output_symbol[0] == 'y' ? y_word : out_word);
      if (!taken && used) {
        text.lines.push_back(std::string(output_symbol) + " = " + name(&node) + " (this op's value) = " +
                             tensor_text(node.value, max_elements, 4));
        if (node.value.size() == 1) scalars[output_symbol] = number_for(node.value);
      }
    }
    for (const auto& c : step.contributions) {
      const std::size_t to = id.at(c.to);
      std::string line = "dC/d" + name(c.to) + " += ";
      if (!clause.empty()) {
        line += clause[c.input].rhs;
        const std::string with_numbers = substitute(clause[c.input].rhs, scalars);
        if (!with_numbers.empty()) line += " = " + with_numbers;
      } else {
        line += "(input " + std::to_string(c.input) + " of the rule)";
      }
      line += " = " + tensor_text(c.value, max_elements, 4);
      line += "      so far dC/d" + name(c.to) + " = " + tensor_text(c.adjoint_after, max_elements, 4);
      text.lines.push_back(line);
      text.updates.push_back({to, tensor_text(c.adjoint_after, max_elements)});
      final_step[to] = int(reverse.size());
    }
    reverse.push_back(std::move(text));
  }
  // A node's adjoint is final once its own step ran (ops) or after its last contribution (leaves).
  for (std::size_t k = 0; k < reverse.size(); ++k)
    if (!nodes[reverse[k].node]->is_leaf()) final_step[reverse[k].node] = std::max(final_step[reverse[k].node], int(k));
  std::vector<std::string> final_adjoint(n);
  std::vector<const Array<T>*> final_array(n, nullptr);
  for (const auto& step : recorder.steps) {
    if (!id.count(step.node)) continue;
    if (step.g.size() || step.node == &root_node) final_array[id.at(step.node)] = &step.g;
    for (const auto& c : step.contributions)
      if (nodes[id.at(c.to)]->is_leaf()) final_array[id.at(c.to)] = &c.adjoint_after;
  }

  // ---- the layout, with boxes wide enough for the longest line they will show (the adjoint
  // line is cut at 34 characters, as the script cuts it)
  for (std::size_t v = 0; v < n; ++v) {
    std::size_t longest = std::max({box_title[v].size(), box_value[v].size(), std::size_t(18)});
    if (final_array[v])
      longest = std::max(longest, std::min<std::size_t>(34, 7 + name(nodes[v].get()).size() +
                                                                tensor_text(*final_array[v], max_elements).size()));
    sizes[v].w = std::min(260.0, 6.8 * double(longest) + 14);
    sizes[v].h = 50;
  }
  const Layout layout = layered_layout(inputs, sizes, options.left_to_right);

  // ---- the forward order: ops in tape order
  std::vector<std::size_t> forward;
  for (std::size_t v = 0; v < n; ++v)
    if (!nodes[v]->is_leaf()) forward.push_back(v);

  // ---- JSON for the script
  std::ostringstream data;
  data << "{\"forward\":[";
  for (std::size_t k = 0; k < forward.size(); ++k) data << (k ? "," : "") << forward[k];
  data << "],\"nodes\":[";
  for (std::size_t v = 0; v < n; ++v) {
    const Node<T>& node = *nodes[v];
    data << (v ? ",\n" : "") << "{\"name\":" << json_string(name(&node)) << ",\"call\":" << json_string(call[v])
         << ",\"kind\":\"" << (node.is_leaf() ? (node.requires_grad ? "leaf" : "constant") : "op") << "\""
         << ",\"shape\":" << json_string(to_string(node.value.shape()))
         << ",\"value\":" << json_string(tensor_text(node.value, max_elements))
         << ",\"box_value\":" << json_string(box_value[v]) << ",\"heat\":" << heat_json(node.value)
         << ",\"final_step\":" << final_step[v] << ",\"grad_heat\":"
         << (final_array[v] ? heat_json(*final_array[v]) : std::string("null")) << "}";
  }
  data << "],\n\"reverse\":[";
  for (std::size_t k = 0; k < reverse.size(); ++k) {
    const auto& step = reverse[k];
    data << (k ? ",\n" : "") << "{\"node\":" << step.node << ",\"title\":" << json_string(step.title) << ",\"lines\":[";
    for (std::size_t i = 0; i < step.lines.size(); ++i) data << (i ? "," : "") << json_string(step.lines[i]);
    data << "],\"updates\":[";
    for (std::size_t i = 0; i < step.updates.size(); ++i)
      data << (i ? "," : "") << "[" << step.updates[i].first << "," << json_string(step.updates[i].second) << "]";
    data << "]}";
  }
  data << "]}";

  // ---- the SVG graph
  std::ostringstream svg;
  svg << "<svg id=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << std::ceil(layout.width) << "\" height=\""
      << std::ceil(layout.height) << "\" viewBox=\"0 0 " << std::ceil(layout.width) << " " << std::ceil(layout.height)
      << "\">\n<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" "
         "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\"/></marker></defs>\n";
  std::size_t edge = 0;
  for (std::size_t v = 0; v < n; ++v)
    for (std::size_t i = 0; i < inputs[v].size(); ++i, ++edge) {
      const auto& line = layout.edge_points[edge];
      svg << "<path class=\"edge\" data-from=\"" << inputs[v][i] << "\" data-to=\"" << v << "\" d=\"";
      for (std::size_t k = 0; k < line.size(); ++k)
        svg << (k ? " L " : "M ") << number_text(line[k].first, 6) << " " << number_text(line[k].second, 6);
      svg << "\" marker-end=\"url(#arrow)\"/>\n";
      if (inputs[v].size() > 1) {  // which operand: the rule's symbol, or its position
        const auto& [x0, y0] = line[line.size() - 2];
        const auto& [x1, y1] = line.back();
        const std::string label = detail::operand_label(clauses[v], i);
        svg << "<text class=\"operand\" x=\"" << number_text(x0 + 0.75 * (x1 - x0) + 5, 6) << "\" y=\""
            << number_text(y0 + 0.75 * (y1 - y0), 6) << "\">" << html_escape(label) << "</text>\n";
      }
    }
  for (std::size_t v = 0; v < n; ++v) {
    const Box& box = layout.boxes[v];
    const Node<T>& node = *nodes[v];
    const char* kind = node.is_leaf() ? (node.requires_grad ? "leaf" : "constant") : "op";
    svg << "<g class=\"node " << kind << "\" id=\"node-" << v << "\" data-id=\"" << v << "\">"
        << "<rect x=\"" << number_text(box.x - box.w / 2, 6) << "\" y=\"" << number_text(box.y - box.h / 2, 6)
        << "\" width=\"" << number_text(box.w, 6) << "\" height=\"" << number_text(box.h, 6) << "\" rx=\"6\"/>"
        << "<text class=\"title\" x=\"" << number_text(box.x, 6) << "\" y=\"" << number_text(box.y - 9, 6) << "\">"
        << html_escape(box_title[v]) << "</text>"
        << "<text class=\"value\" id=\"box-value-" << v << "\" x=\"" << number_text(box.x, 6) << "\" y=\""
        << number_text(box.y + 5, 6) << "\"></text>"
        << "<text class=\"adjoint\" id=\"box-adjoint-" << v << "\" x=\"" << number_text(box.x, 6) << "\" y=\""
        << number_text(box.y + 18, 6) << "\"></text></g>\n";
  }
  svg << "</svg>";

  // ---- the Wengert list
  std::ostringstream table;
  table << "<table id=\"wengert\"><thead><tr><th>#</th><th>entry</th><th>shape</th><th>value</th><th>dC/d&middot;"
           "</th></tr></thead><tbody>\n";
  for (std::size_t v = 0; v < n; ++v) {
    const Node<T>& node = *nodes[v];
    table << "<tr id=\"row-" << v << "\" data-id=\"" << v << "\"><td>"
          << (node.is_leaf() ? std::string(node.requires_grad ? "input" : "const") : std::to_string(node.tape_index))
          << "</td><td><span class=\"call\">" << html_escape(call[v]) << "</span>";
    if (!rule[v].empty()) table << "<br><span class=\"rule\">" << html_escape(rule[v]) << "</span>";
    table << "</td><td>" << html_escape(to_string(node.value.shape())) << "</td><td class=\"value\" id=\"value-" << v
          << "\"></td><td class=\"adjoint\" id=\"adjoint-" << v << "\"></td></tr>\n";
  }
  table << "</tbody></table>";

  std::ostringstream page;
  page << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << html_escape(options.title)
       << "</title>\n<style>" << page_style << "</style></head><body>\n<header><h1>" << html_escape(options.title)
       << "</h1><div id=\"controls\"><button id=\"first\" title=\"Home\">&laquo; start</button>"
          "<button id=\"back\" title=\"ArrowLeft\">&#x25C0; back</button>"
          "<button id=\"next\" title=\"ArrowRight\">next &#x25B6;</button>"
          "<button id=\"sweep\" title=\"b (B: back)\">reverse sweep (b)</button>"
          "<button id=\"last\" title=\"End\">end &raquo;</button>"
          "<button id=\"zoom\" title=\"z\">full size (z)</button>"
          "<span id=\"position\"></span></div>"
          "<p class=\"help\">Keys: &rarr; / &larr; step through the evaluation and then the reverse sweep; b / B step "
          "the reverse sweep forward / back; Home, End; z: the graph at full size or fitted to its panel. Hover a "
          "node for its shape, value and gradient.</p>"
          "<div id=\"step\"><div id=\"step-title\"></div><pre id=\"step-lines\"></pre></div></header>\n"
          "<main><section id=\"graph-panel\"" << (n <= 40 ? " class=\"fit\"" : "") << ">"
       << svg.str() << "</section><section id=\"list-panel\">" << table.str()
       << "</section></main>\n<div id=\"tooltip\" hidden></div><div id=\"errors\"></div>"
          "<pre id=\"selftest\" hidden></pre>\n<script>window.onerror = function (message, source, line) {"
          " document.getElementById('errors').textContent += 'error: ' + message + ' (line ' + line + ')\\n'; };\n"
          "const tape = "
       << data.str() << ";\n" << page_script << "</script></body></html>\n";
  return page.str();
}

template <class T>
void write_html(const Variable<T>& root, const std::string& path, const HtmlOptions& options) {
  const std::string page = to_html(root, options);  // first: a bad value leaves no file behind
  std::ofstream file(path);
  file << page;
  file.close();
  if (!file) throw Error("write_html: cannot write '" + path + "'");
}

#define WENGERT_INSTANTIATE(T)                                                              \
  template std::string to_html(const Variable<T>&, const HtmlOptions&);                     \
  template void write_html(const Variable<T>&, const std::string&, const HtmlOptions&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
