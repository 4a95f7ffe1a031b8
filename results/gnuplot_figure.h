// Figure: a gnuplot plot described as data, written as a .gp script plus .dat files that researchers can
// restyle and re-run, and rendered by running gnuplot on it (PNG via pngcairo, SVG via svg; both work
// headless).
//
// Files written into a directory for a figure named N: N.gp, one .dat per panel (PlotPanel::data_name,
// default N), and, after run_gnuplot, N.png and N.svg. Each .dat holds one block per series (selected in
// the script with `index i`), columns `x y err`. The script uses paths relative to its own directory, so
// `cd DIR && gnuplot N.gp` re-renders it. Text is set `noenhanced`: an '_' in a method name is shown as is.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace ptlab::results {

enum class PlotStyle {
  kLinesWithErrorBars,   ///< points joined by lines, vertical error bars (err column)
  kPointsWithErrorBars,  ///< points only, vertical error bars
  kLines,                ///< plain lines (training curves)
};

struct PlotPoint {
  double x = 0, y = 0;
  double err = std::numeric_limits<double>::quiet_NaN();  ///< NaN: no error bar (written as 0)
};

struct PlotSeries {
  std::string title;  ///< its legend entry
  std::vector<PlotPoint> points;
};

struct PlotPanel {
  std::string title, xlabel, ylabel;
  std::string data_name;  ///< stem of its .dat file; empty: the figure's name (single-panel figures)
  bool log_x = false;
  int log_base = 10;
  std::vector<std::pair<double, std::string>> xtics;  ///< categorical x: (position, label); empty: numeric
  PlotStyle style = PlotStyle::kLinesWithErrorBars;
  std::vector<PlotSeries> series;
};

struct Figure {
  std::string name;               ///< file stem: scale -> scale.gp, scale.dat, scale.png, scale.svg
  std::string title;              ///< the overall title of a multi-panel figure (single panels use their own title)
  std::vector<PlotPanel> panels;  ///< stacked, top to bottom
  int width = 960, height = 600;  ///< pixels (PNG and SVG) of the plots; each legend line adds 20 to the height
};

struct FigureFiles {
  std::string script;             ///< DIR/N.gp
  std::vector<std::string> data;  ///< DIR/<data_name>.dat, one per panel
  std::string png, svg;           ///< DIR/N.png, DIR/N.svg (made by run_gnuplot)
};

/// Writes the script and data files of `figure` into `dir` (which must exist). `comment` goes into the
/// script's first lines (what made it). Errors: a file that cannot be written.
FigureFiles write_figure(const Figure& figure, const std::string& dir, const std::string& comment);

/// Runs `gnuplot SCRIPT` with `dir` as its working directory. Returns "" on success, else one line saying
/// why (gnuplot not found, or its exit status and first error line).
std::string run_gnuplot(const std::string& gnuplot, const std::string& dir, const std::string& script_name);

/// Whether `program` is an executable file: a path when it holds '/', else looked up in $PATH.
bool program_on_path(const std::string& program);

}  // namespace ptlab::results
