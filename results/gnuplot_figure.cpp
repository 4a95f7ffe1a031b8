#include "results/gnuplot_figure.h"

#include "framework/core/error.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace ptlab::results {

namespace fs = std::filesystem;

namespace {

// A gnuplot single-quoted string: no escapes inside except '' for a quote; line breaks become spaces.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "''";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out + "'";
}

std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.10g}", v) : "NaN"; }

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  PTLAB_CHECK(out.good(), "{}: cannot be written ({})", path, std::strerror(errno));
  out << text;
  out.close();
  PTLAB_CHECK(out.good(), "{}: writing failed ({})", path, std::strerror(errno));
}

std::string data_text(const PlotPanel& panel) {
  std::string text =
      fmt::format("# {}\n# columns: x y err (err: sample std over seeds; 0 when there is none)\n", panel.title);
  for (std::size_t s = 0; s < panel.series.size(); ++s) {
    if (s > 0) text += "\n\n";  // two blank lines: the next `index`
    text += fmt::format("# index {}: {}\n", s, panel.series[s].title);
    for (const auto& p : panel.series[s].points)
      text += fmt::format("{} {} {}\n", number(p.x), number(p.y), std::isnan(p.err) ? "0" : number(p.err));
  }
  return text;
}

std::string panel_commands(const PlotPanel& panel, const std::string& data_file) {
  std::string gp;
  gp += fmt::format("  set title {}\n  set xlabel {}\n  set ylabel {}\n", quoted(panel.title), quoted(panel.xlabel),
                    quoted(panel.ylabel));
  if (panel.log_x) {
    gp += fmt::format("  set logscale x {}\n", panel.log_base);
    gp += panel.log_base == 2 ? "  set format x '%g'\n" : "  set format x '%.0s%c'\n";
  } else {
    gp += "  unset logscale x\n  set format x '%g'\n";
  }
  if (!panel.xtics.empty()) {
    std::string tics;
    for (const auto& [x, label] : panel.xtics)
      tics += fmt::format("{}{} {}", tics.empty() ? "" : ", ", quoted(label), number(x));
    gp += fmt::format("  set xtics ({})\n", tics);
    gp += fmt::format("  set xrange [{}:{}]\n", number(panel.xtics.front().first - 0.5),
                      number(panel.xtics.back().first + 0.5));
  } else {
    gp += "  set xtics autofreq\n  set autoscale x\n";
  }
  gp += panel.style == PlotStyle::kLines ? "  set offsets 0, 0, graph 0.05, graph 0.05\n"
                                         : "  set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n";
  const char* with = panel.style == PlotStyle::kLinesWithErrorBars    ? "using 1:2:3 with yerrorlines lw 2 pt 7"
                     : panel.style == PlotStyle::kPointsWithErrorBars ? "using 1:2:3 with yerrorbars lw 2 pt 7 ps 1.5"
                                                                      : "using 1:2 with lines lw 2";
  std::string plot;
  for (std::size_t s = 0; s < panel.series.size(); ++s) {
    plot += fmt::format("{}{} index {} {} title {}", s == 0 ? "  plot " : ", \\\n       ", quoted(data_file), s, with,
                        quoted(panel.series[s].title));
  }
  return gp + plot + "\n";
}

}  // namespace

FigureFiles write_figure(const Figure& figure, const std::string& dir, const std::string& comment) {
  PTLAB_ASSERT(!figure.panels.empty(), "figure {} has no panel", figure.name);
  FigureFiles files;
  const fs::path base(dir);
  files.script = (base / (figure.name + ".gp")).string();
  files.png = (base / (figure.name + ".png")).string();
  files.svg = (base / (figure.name + ".svg")).string();

  std::string gp = fmt::format("# {}.gp — {}\n", figure.name, comment);
  gp += fmt::format("# Re-render in this folder with `gnuplot {}.gp`; it writes {}.png and {}.svg.\n", figure.name,
                    figure.name, figure.name);
  gp += "# Data: one block per series in the .dat file (`index i`), columns x y err.\n\n";
  // The legend under the plot, one entry per line: long configuration names leave the plot its width.
  gp +=
      "set encoding utf8\nset grid\nset key below left Left reverse vertical maxcols 1 height 1 noenhanced\nset bars "
      "small\n\n";
  std::size_t legend_lines = 0;  // over every panel: they are stacked
  for (const auto& panel : figure.panels) legend_lines += panel.series.size();
  gp += "do for [format in 'png svg'] {\n";
  gp += fmt::format(
      "  if (format eq 'png') {{\n"
      "    set terminal pngcairo noenhanced size {0},{1} font 'sans,11'\n"
      "  }} else {{\n"
      "    set terminal svg noenhanced size {0},{1} dynamic font 'sans,11' background '#ffffff'\n"
      "  }}\n"
      "  set output '{2}.'.format\n",
      figure.width, figure.height + 20 * legend_lines, figure.name);
  const bool multi = figure.panels.size() > 1;
  if (multi) gp += fmt::format("  set multiplot layout {},1 title {}\n", figure.panels.size(), quoted(figure.title));
  for (const auto& panel : figure.panels) {
    std::string data_name = panel.data_name.empty() ? figure.name : panel.data_name;
    std::string data_file = data_name + ".dat";
    files.data.push_back((base / data_file).string());
    write_text(files.data.back(), data_text(panel));
    gp += panel_commands(panel, data_file);
  }
  if (multi) gp += "  unset multiplot\n";
  gp += "  unset output\n}\n";
  write_text(files.script, gp);
  return files;
}

bool program_on_path(const std::string& program) {
  if (program.empty()) return false;
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t pos = 0;
  while (pos <= dirs.size()) {
    std::size_t colon = dirs.find(':', pos);
    std::string d = dirs.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    std::string candidate = (d.empty() ? std::string(".") : d) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  return false;
}

std::string run_gnuplot(const std::string& gnuplot, const std::string& dir, const std::string& script_name) {
  if (!program_on_path(gnuplot)) return fmt::format("'{}' not found (Debian: apt-get install gnuplot-nox)", gnuplot);
  int out[2];
  if (::pipe(out) != 0) return fmt::format("pipe() failed: {}", std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return fmt::format("fork() failed: {}", std::strerror(errno));
  }
  if (pid == 0) {
    // The child: gnuplot's stdout and stderr go into the pipe; only async-signal-safe calls until exec.
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::close(out[0]);
    ::close(out[1]);
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    const char* argv[] = {gnuplot.c_str(), script_name.c_str(), nullptr};
    ::execvp(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string output;
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(out[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  // gnuplot's message: its last non-empty line names the problem ("line 12: undefined variable: x").
  std::string last;
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    std::string line = output.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (line.find_first_not_of(" \t^\r") != std::string::npos) last = line;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 126) return fmt::format("cannot enter {}", dir);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return fmt::format("'{}' could not be started", gnuplot);
  return fmt::format("{} {} failed ({}){}", gnuplot, script_name,
                     WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status)) : "killed by a signal",
                     last.empty() ? "" : ": " + last);
}

}  // namespace ptlab::results
