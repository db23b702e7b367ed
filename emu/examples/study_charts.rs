//! Grouped bar charts (SVG) for docs/translation-cost.md.
//!
//! `scripts/translation-study` decides what to plot and writes the specifications; this
//! program only draws them, so the numbers have a single source:
//!
//! ```text
//! cargo run -p emu --example study_charts -- charts.json OUT_DIR
//! ```
//!
//! charts.json is a list of `{file, title, x_label, y_label, categories: [..], series: [{name,
//! values}]}`.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::Value;
use std::path::Path;
use std::process::ExitCode;

struct Series {
    name: String,
    values: Vec<f64>,
}

struct Chart {
    file: String,
    title: String,
    x_label: String,
    y_label: String,
    categories: Vec<String>,
    series: Vec<Series>,
}

fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value, String> {
    v.get(key).ok_or_else(|| format!("chart without `{key}`"))
}

fn text(v: &Value, key: &str) -> Result<String, String> {
    field(v, key)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("`{key}` is not a string"))
}

fn parse_chart(v: &Value) -> Result<Chart, String> {
    let categories = field(v, "categories")?
        .as_array()
        .ok_or("`categories` is not a list")?
        .iter()
        .map(|c| {
            c.as_str()
                .map(str::to_string)
                .ok_or("category is not a string")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut series = Vec::new();
    for s in field(v, "series")?
        .as_array()
        .ok_or("`series` is not a list")?
    {
        let values = field(s, "values")?
            .as_array()
            .ok_or("`values` is not a list")?
            .iter()
            .map(|x| x.as_f64().ok_or("value is not a number"))
            .collect::<Result<Vec<_>, _>>()?;
        if values.len() != categories.len() {
            return Err("a series does not have one value per category".into());
        }
        series.push(Series {
            name: text(s, "name")?,
            values,
        });
    }
    let file = text(v, "file")?;
    // The name becomes a path under OUT_DIR: keep it a plain file name.
    if file.contains('/') || file.contains("..") || !file.ends_with(".svg") {
        return Err(format!(
            "chart file {file:?} must be a plain name ending in .svg"
        ));
    }
    Ok(Chart {
        file,
        title: text(v, "title")?,
        x_label: text(v, "x_label")?,
        y_label: text(v, "y_label")?,
        categories,
        series,
    })
}

/// A y-axis tick: whole numbers with thousands separators once the axis reaches 10 (the
/// counts never have fractions worth showing there), else at most two decimals.
fn tick(v: f64, y_max: f64) -> String {
    if y_max >= 10.0 {
        let n = v.round() as i64;
        let digits = n.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0 {
            out.insert(0, '-');
        }
        out
    } else {
        let t = format!("{v:.2}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Approximate width in pixels of `text` in a sans-serif font of `size` pixels.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.56
}

/// `text` broken at spaces into lines no wider than `width` pixels (a single word wider
/// than that keeps its own line).
fn wrap(text: &str, width: f64, size: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if text_width(&format!("{line} {word}"), size) <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

const HEIGHT: u32 = 520;
const LEGEND_WIDTH: u32 = 230;
const LABEL_FONT: f64 = 13.0;

/// One segment per bar plus one empty segment between categories; the category's name is
/// printed under its group, broken into as many lines as it needs to fit the group's width,
/// and the label area is made as tall as the tallest name. The legend has its own column
/// right of the plot, so it never covers a bar.
fn draw(chart: &Chart, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let per_group = chart.series.len().max(1) + 1;
    let segments = (chart.categories.len() * per_group).max(1) as i32;
    let y_max = chart
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let y_max = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
    let plot_width = (200 + 30 * segments).clamp(560, 1500) as u32;
    let width = plot_width + LEGEND_WIDTH;

    let group_px = (plot_width as f64 - 130.0) / chart.categories.len().max(1) as f64;
    let labels: Vec<Vec<String>> = chart
        .categories
        .iter()
        .map(|c| wrap(c, group_px - 6.0, LABEL_FONT))
        .collect();
    let lines = labels.iter().map(Vec::len).max().unwrap_or(1) as u32;
    let x_area = 34 + 16 * lines;

    let root = SVGBackend::new(out, (width, HEIGHT + x_area)).into_drawing_area();
    root.fill(&WHITE)?;
    let (plot_area, legend_area) = root.split_horizontally(plot_width);
    let mut ctx = ChartBuilder::on(&plot_area)
        .caption(&chart.title, ("sans-serif", 19))
        .margin(14)
        .x_label_area_size(x_area)
        .y_label_area_size(96)
        .build_cartesian_2d((0..segments).into_segmented(), 0.0..y_max)?;

    let y_format = move |v: &f64| tick(*v, y_max);
    ctx.configure_mesh()
        .disable_x_mesh()
        // No x labels (each group's name is drawn below it), but at least one key point:
        // with none, plotters' search for a tick spacing never ends (it overflows).
        .x_labels(1)
        .set_tick_mark_size(LabelAreaPosition::Bottom, 0)
        .x_label_formatter(&|_| String::new())
        .x_desc(&chart.x_label)
        .y_labels(8)
        .y_label_formatter(&y_format)
        .y_desc(&chart.y_label)
        .axis_desc_style(("sans-serif", 15))
        .draw()?;

    for (j, s) in chart.series.iter().enumerate() {
        let color = Palette99::pick(j).to_rgba();
        let bars = s.values.iter().enumerate().map(move |(i, &v)| {
            let x = (i * per_group + j) as i32;
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(x), 0.0),
                    (
                        SegmentValue::Exact(x + 1),
                        if v.is_finite() { v } else { 0.0 },
                    ),
                ],
                color.filled(),
            );
            bar.set_margin(0, 0, 2, 2);
            bar
        });
        ctx.draw_series(bars)?;
    }

    // Category names under the middle of their group, in lines from the axis down.
    let (_, axis_y) = ctx.backend_coord(&(SegmentValue::Exact(0), 0.0));
    for (i, lines) in labels.iter().enumerate() {
        let first = (i * per_group) as i32;
        let (left, _) = ctx.backend_coord(&(SegmentValue::Exact(first), 0.0));
        let (right, _) =
            ctx.backend_coord(&(SegmentValue::Exact(first + per_group as i32 - 1), 0.0));
        let centre = (left + right) / 2;
        for (n, line) in lines.iter().enumerate() {
            root.draw(&Text::new(
                line.clone(),
                (centre, axis_y + 8 + 16 * n as i32),
                ("sans-serif", LABEL_FONT)
                    .into_font()
                    .into_text_style(&root)
                    .pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
    }

    // The legend, in its own column at the height of the plot's top.
    let top = 56;
    for (j, s) in chart.series.iter().enumerate() {
        let color = Palette99::pick(j).to_rgba();
        let y = top + 26 * j as i32;
        legend_area.draw(&Rectangle::new([(8, y), (24, y + 14)], color.filled()))?;
        legend_area.draw(&Text::new(
            s.name.clone(),
            (32, y),
            ("sans-serif", 14).into_font(),
        ))?;
    }
    root.present()?;
    Ok(())
}

fn run(spec: &Path, out_dir: &Path) -> Result<usize, String> {
    let raw = std::fs::read_to_string(spec).map_err(|e| format!("{}: {e}", spec.display()))?;
    let json: Value = serde_json::from_str(&raw).map_err(|e| format!("{}: {e}", spec.display()))?;
    let charts = json
        .as_array()
        .ok_or("the chart file must hold a list of charts")?
        .iter()
        .map(parse_chart)
        .collect::<Result<Vec<_>, _>>()?;
    for c in &charts {
        let path = out_dir.join(&c.file);
        draw(c, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(charts.len())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, spec, out_dir] = args.as_slice() else {
        eprintln!("usage: study_charts CHARTS.json OUT_DIR");
        return ExitCode::from(2);
    };
    match run(Path::new(spec), Path::new(out_dir)) {
        Ok(n) => {
            println!("study_charts: {n} charts in {out_dir}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("study_charts: {e}");
            ExitCode::FAILURE
        }
    }
}
