//! Grouped bar charts (SVG) for docs/translation-cost.md.
//!
//! `scripts/translation-study` decides what to plot and writes the specifications; this
//! program only draws them, so the numbers have a single source:
//!
//! ```text
//! cargo run -p emu --example study_charts -- charts.json OUT_DIR
//! ```
//!
//! charts.json is a list of `{file, title, y_label, categories: [..], series: [{name, values}]}`.

use plotters::prelude::*;
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
        y_label: text(v, "y_label")?,
        categories,
        series,
    })
}

/// One segment per bar plus one empty segment between categories; the category's name is
/// printed under its middle bar.
fn draw(chart: &Chart, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let per_group = chart.series.len().max(1) + 1;
    let segments = (chart.categories.len() * per_group).max(1) as i32;
    let y_max = chart
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let y_max = if y_max > 0.0 { y_max * 1.15 } else { 1.0 };
    let width = (160 + 28 * segments).clamp(640, 1600) as u32;

    let root = SVGBackend::new(out, (width, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut ctx = ChartBuilder::on(&root)
        .caption(&chart.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(if chart.categories.len() > 6 { 90 } else { 40 })
        .y_label_area_size(80)
        .build_cartesian_2d((0..segments).into_segmented(), 0.0..y_max)?;

    let middle = (chart.series.len() / 2) as i32;
    let categories = &chart.categories;
    let label = move |x: &SegmentValue<i32>| -> String {
        let (SegmentValue::CenterOf(i) | SegmentValue::Exact(i)) = *x else {
            return String::new();
        };
        let group = i / per_group as i32;
        if i % per_group as i32 == middle {
            categories.get(group as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let x_style = if chart.categories.len() > 6 {
        ("sans-serif", 12)
            .into_font()
            .transform(FontTransform::Rotate90)
    } else {
        ("sans-serif", 13).into_font()
    };
    ctx.configure_mesh()
        .disable_x_mesh()
        .x_labels(segments as usize + 1)
        .x_label_formatter(&label)
        .x_label_style(x_style)
        .y_desc(&chart.y_label)
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
        ctx.draw_series(bars)?
            .label(s.name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    ctx.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
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
