// The tape viewer in a real browser: writes pages with autodiff::write_html, opens each
// in headless Chromium as page.html#selftest (the page then steps through the
// evaluation and the whole reverse sweep by key events and writes what it shows into
// the DOM), and checks that the adjoints the page shows are the engine's gradients,
// the values the engine's values, and that the page ran without a console message or
// an error. A page whose script is broken on purpose must fail the same check.
//
//   html_browser_test [work directory]      (exit code 0: passed)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>

#include "autodiff/html_network.hpp"

using V = autodiff::Variable<double>;

namespace {

std::string read(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string unescape(std::string text) {
  for (auto [from, to] : {std::pair{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&amp;", "&"}})
    for (std::size_t at; (at = text.find(from)) != std::string::npos;) text.replace(at, std::string(from).size(), to);
  return text;
}

// What the page printed in its self-test: kind -> name -> text, and the problems found.
struct Shown {
  std::map<std::string, std::map<std::string, std::string>> lines;
  std::vector<std::string> problems;
};

// Opens page in Chromium with #selftest and reads its report; problems name what went wrong.
Shown open_in_browser(const std::string& page, const std::string& directory, const std::string& browser) {
  Shown shown;
  const std::string dom = page + ".dom", log = page + ".log", profile = page + ".profile";
  // A profile of its own: two Chromiums on one profile would hand the page to each other.
  const std::string command = "rm -rf '" + profile + "' && timeout 45 " + browser +
                              " --headless=new --no-sandbox --disable-gpu --no-first-run --user-data-dir='" + profile +
                              "' --enable-logging=stderr --v=0 --dump-dom 'file://" + page + "#selftest' > '" + dom +
                              "' 2> '" + log + "'; echo $? > '" + dom + ".status'";
  (void)directory;
  std::system(command.c_str());
  std::system(("rm -rf '" + profile + "'").c_str());
  const std::string status = read(dom + ".status");
  if (std::atoi(status.c_str()) != 0) shown.problems.push_back("the browser exited with status " + status);
  const std::string text = unescape(read(dom));
  const auto begin = text.find("SELFTEST BEGIN\n"), end = text.find("SELFTEST END");
  if (begin == std::string::npos || end == std::string::npos) {
    shown.problems.push_back("the page wrote no self-test report (its script did not run to the end); see " + log);
    return shown;
  }
  std::istringstream report(text.substr(begin + 15, end - begin - 15));
  for (std::string line; std::getline(report, line);) {
    const auto tab = line.find('\t');
    const auto second_tab = line.find('\t', tab + 1);
    const std::string kind = line.substr(0, tab), name = line.substr(tab + 1, second_tab - tab - 1);
    shown.lines[kind][name] = second_tab == std::string::npos ? "" : line.substr(second_tab + 1);
  }
  if (shown.lines.count("exception"))
    shown.problems.push_back("the self-test threw: " + shown.lines["exception"].begin()->first);
  if (shown.lines["errors"].count("0") == 0)
    shown.problems.push_back("the page reported errors: " + text.substr(begin, end - begin));
  for (auto& [name, box] : shown.lines["mismatch"])
    shown.problems.push_back("the graph box of " + name + " shows '" + box + "', not the list's adjoint");
  if (shown.lines["tooltip"].count("shown") == 0) shown.problems.push_back("hovering a node showed no tooltip");
  // Anything the page wrote to the console (an uncaught error, a warning) fails the test.
  std::istringstream browser_log(read(log));
  for (std::string line; std::getline(browser_log, line);)
    if (line.find(":CONSOLE") != std::string::npos) shown.problems.push_back("console: " + line);
  return shown;
}

// Compares the page's numbers with the engine's, named variable by variable.
void compare(Shown& shown, const std::string& kind, const std::string& name, const autodiff::Array<double>& engine) {
  if (!shown.lines[kind].count(name)) {
    shown.problems.push_back("the page shows no " + kind + " for " + name);
    return;
  }
  const std::vector<double> numbers = test::numbers_in(shown.lines[kind][name]);
  bool same = numbers.size() == engine.size();
  for (std::size_t i = 0; same && i < numbers.size(); ++i)
    same = std::abs(numbers[i] - engine.data()[i]) <= 1e-5 * std::abs(engine.data()[i]) + 1e-12;
  if (!same) {
    std::ostringstream message;
    message << "the page shows " << kind << " of " << name << " = '" << shown.lines[kind][name]
            << "' but the engine computed " << autodiff::format_compact(engine, 64, 8);
    shown.problems.push_back(message.str());
  }
}

int report(const std::string& what, const Shown& shown) {
  for (auto& problem : shown.problems) std::cout << "  FAIL (" << what << "): " << problem << "\n";
  if (shown.problems.empty()) std::cout << "  ok: " << what << "\n";
  return shown.problems.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string directory = argc > 1 ? argv[1] : ".";
  const char* finder = "command -v chromium || command -v chromium-browser || command -v google-chrome";
  std::string browser;
  if (FILE* pipe = popen(finder, "r")) {
    char path[512] = {};
    if (std::fgets(path, sizeof path, pipe)) browser = path;
    pclose(pipe);
  }
  while (!browser.empty() && (browser.back() == '\n' || browser.back() == ' ')) browser.pop_back();
  if (browser.empty()) {
    std::cout << "FAIL: no chromium found; install Debian's chromium (tools/deps.sh does)\n";
    return 1;
  }
  std::cout << "browser: " << browser << "\n";
  int failures = 0;

  // 1. The 2-2-1 network of the graph example: every value and adjoint, leaves' against
  //    grad() and intermediates' against retain_grad().
  {
    test::Network221 net;
    const std::string page = directory + "/html_browser_network.html";
    autodiff::write_html(net.loss, page);
    for (V* v : net.all())
      if (!v->is_leaf()) v->retain_grad();
    net.loss.backward({.retain_graph = true});
    Shown shown = open_in_browser(page, directory, browser);
    for (V* v : net.all()) {
      compare(shown, "value", v->name(), v->value());
      if (v->requires_grad()) compare(shown, "adjoint", v->name(), v->grad());
    }
    if (shown.lines["adjoint"]["x"] != "") shown.problems.push_back("the constant x shows an adjoint");
    if (shown.lines["steps"]["10"] != "11") shown.problems.push_back("expected 11 reverse steps by 'b'");
    failures += report("2-2-1 network, every value and adjoint", shown);

    // The same page with an off-by-one in its script (the last reverse step is never
    // shown) must fail the same comparison.
    std::string broken = read(page);
    const std::string correct = "k < Math.max(0, t - F); ++k";
    const auto at = broken.find(correct);
    if (at == std::string::npos) {
      std::cout << "  FAIL: the script no longer has '" << correct << "' to break on purpose; update this test\n";
      ++failures;
    } else {
      broken.replace(at, correct.size(), "k < Math.max(0, t - F) - 1; ++k");
      const std::string broken_page = directory + "/html_browser_broken.html";
      std::ofstream(broken_page) << broken;
      Shown wrong = open_in_browser(broken_page, directory, browser);
      for (V* v : net.all())
        if (v->requires_grad()) compare(wrong, "adjoint", v->name(), v->grad());
      const bool caught = !wrong.problems.empty();
      std::cout << "  " << (caught ? "ok" : "FAIL") << ": a page showing wrong adjoints is "
                << (caught ? "caught: " + wrong.problems[0] : "not caught") << "\n";
      failures += caught ? 0 : 1;
    }
  }
  autodiff::Tape<double>::current().release();

  // 2. A second-order tape: the graph of dy/dx made by create_graph, swept again.
  {
    V x = V::scalar(1.5, true).set_name("x");
    V w = V::scalar(0.8, true).set_name("w");
    V y = autodiff::sigmoid(w * x + V::scalar(-0.5)).set_name("y");
    V dy_dx = autodiff::grad(y, x, {.create_graph = true}).set_name("dy_dx");
    const std::string page = directory + "/html_browser_second_order.html";
    autodiff::write_html(dy_dx, page, {.left_to_right = true});
    dy_dx.backward({.retain_graph = true});
    Shown shown = open_in_browser(page, directory, browser);
    compare(shown, "adjoint", "x", x.grad());
    compare(shown, "adjoint", "w", w.grad());
    compare(shown, "value", "dy_dx", dy_dx.value());
    failures += report("second-order tape (d2y/dx2 and d2y/dx dw)", shown);
  }
  autodiff::Tape<double>::current().release();

  // 3. Larger tensors: the list shows summaries; check their mean against the engine's gradient.
  {
    autodiff::Array<double> a_values = autodiff::Array<double>::from_shape({6, 10});
    for (std::size_t i = 0; i < a_values.size(); ++i) a_values.data()[i] = std::sin(0.3 * double(i));
    V a = V(a_values, true).set_name("A");
    V loss = autodiff::mean(autodiff::square(autodiff::tanh(a * 2.0))).set_name("L");
    const std::string page = directory + "/html_browser_large.html";
    autodiff::write_html(loss, page);
    loss.backward({.retain_graph = true});
    Shown shown = open_in_browser(page, directory, browser);
    const std::string text = shown.lines["adjoint"]["A"];
    const auto mean_at = text.find("mean ");
    double mean = 0;
    for (std::size_t i = 0; i < a.size(); ++i) mean += a.grad().data()[i] / double(a.size());
    if (text.find("(6, 10) min ") != 0 || mean_at == std::string::npos ||
        std::abs(std::stod(text.substr(mean_at + 5)) - mean) > 1e-3 * std::abs(mean) + 1e-9)
      shown.problems.push_back("the summary of dC/dA is '" + text + "', the engine's mean is " + std::to_string(mean));
    failures += report("a (6, 10) tensor's summary", shown);
  }
  autodiff::Tape<double>::current().release();

  // 4. NaN and Inf: the page still runs, and shows them as the engine has them.
  {
    V x = V(autodiff::Array<double>{-1.0, 0.0, 2.0}, true).set_name("x");
    V loss = autodiff::sum(autodiff::log(x)).set_name("L");
    const std::string page = directory + "/html_browser_nan.html";
    autodiff::write_html(loss, page);
    Shown shown = open_in_browser(page, directory, browser);
    if (shown.lines["adjoint"]["x"] != "[-1, inf, 0.5]")
      shown.problems.push_back("dC/dx shows '" + shown.lines["adjoint"]["x"] + "', not [-1, inf, 0.5]");
    failures += report("NaN and Inf", shown);
  }
  std::cout << (failures == 0 ? "the browser shows the engine's values and adjoints\n" : "FAILED\n");
  return failures == 0 ? 0 : 1;
}
