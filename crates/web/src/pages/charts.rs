//! Server-rendered SVG charts for the per-user page: the hour-of-week heatmap and the
//! per-day volume bars. No JavaScript and no inline style (the console's CSP forbids
//! both): shades are CSS classes `heat-0` … `heat-4` from `console.css`, and every cell
//! and bar carries a `<title>` with its exact number for hover and screen readers.
//!
//! Must never interpolate anything into markup unescaped (maud escapes every value).

use maud::{html, Markup};
use warden_analytics::DayVolume;

pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const CELL_W: u32 = 22;
const CELL_H: u32 = 18;
const LEFT: u32 = 36;
const TOP: u32 = 16;

/// Shade 0 (no activity) to 4 (the busiest cell), relative to the busiest cell.
pub fn heat_level(value: u32, max: u32) -> u32 {
    if value == 0 || max == 0 {
        return 0;
    }
    (value * 4).div_ceil(max).clamp(1, 4)
}

/// 7 × 24 grid, Monday first, hours left to right; `cells` holds 168 values (active
/// days per hour of week).
pub fn heatmap(cells: &[u32], time_zone: &str) -> Markup {
    let max = cells.iter().copied().max().unwrap_or(0);
    let width = LEFT + 24 * CELL_W + 4;
    let height = TOP + 7 * CELL_H + 4;
    let label = format!(
        "Usual hours ({time_zone}): active days per hour of the week, busiest cell {max} days"
    );
    html! {
        svg.heatmap role="img" aria-label=(label) viewBox={ "0 0 " (width) " " (height) }
            width=(width) height=(height) xmlns="http://www.w3.org/2000/svg" {
            @for h in (0..24u32).step_by(3) {
                text.axis x=(LEFT + h * CELL_W + 2) y=(TOP - 4) { (format!("{h:02}")) }
            }
            @for (d, day) in WEEKDAYS.iter().enumerate() {
                @let y = TOP + d as u32 * CELL_H;
                text.axis x="0" y=(y + CELL_H - 5) { (day) }
                @for h in 0..24usize {
                    @let v = cells.get(d * 24 + h).copied().unwrap_or(0);
                    rect class={ "heat-" (heat_level(v, max)) }
                        data-cell={ (day.to_lowercase()) "-" (format!("{h:02}")) } data-days=(v)
                        x=(LEFT + h as u32 * CELL_W) y=(y) width=(CELL_W - 2) height=(CELL_H - 2) {
                        title { (day) " " (format!("{h:02}:00–{:02}:00", h + 1)) ": active on " (v) " day" @if v != 1 { "s" } }
                    }
                }
            }
        }
        p.legend {
            "Legend: "
            @for level in 0..=4u32 {
                svg width="14" height="14" aria-hidden="true" xmlns="http://www.w3.org/2000/svg" {
                    rect class={ "heat-" (level) } width="14" height="14" {}
                }
                " "
                (legend_text(level, max)) " "
            }
            span.muted { "(darker = active on more days; hours in " (time_zone) ")" }
        }
    }
}

fn legend_text(level: u32, max: u32) -> String {
    match level {
        0 => "none".to_string(),
        4 => format!("{max} days"),
        _ => String::new(),
    }
}

/// One bar per day (oldest left), with the busiest day and 0 on the y axis and dates
/// on the x axis; failed actions are a darker bar inside the day's bar.
pub fn volume_bars(days: &[DayVolume]) -> Markup {
    const BAR_W: u32 = 16;
    const PLOT_H: u32 = 120;
    const LEFT: u32 = 44;
    let max = days.iter().map(|d| d.actions).max().unwrap_or(0);
    let n = u32::try_from(days.len()).unwrap_or(0);
    let width = LEFT + n * BAR_W + 8;
    let height = PLOT_H + 36;
    let scale = |v: u64| -> u32 {
        if max == 0 {
            return 0;
        }
        u32::try_from(v.saturating_mul(u64::from(PLOT_H)) / max).unwrap_or(PLOT_H)
    };
    let label = format!("Actions per day over the last {n} days; busiest day {max} actions");
    let step = (days.len() / 4).max(1);
    html! {
        svg.volume role="img" aria-label=(label) viewBox={ "0 0 " (width) " " (height) }
            width=(width) height=(height) xmlns="http://www.w3.org/2000/svg" {
            line.axis-line x1=(LEFT - 2) y1="4" x2=(LEFT - 2) y2=(PLOT_H + 4) {}
            line.axis-line x1=(LEFT - 2) y1=(PLOT_H + 4) x2=(width - 4) y2=(PLOT_H + 4) {}
            text.axis x="0" y="14" { (max) }
            text.axis x="0" y=(PLOT_H + 4) { "0" }
            text.axis x="0" y=(PLOT_H / 2 + 8) { "actions" }
            @for (i, d) in days.iter().enumerate() {
                @let x = LEFT + i as u32 * BAR_W;
                @let h = scale(d.actions);
                @let e = scale(d.errors.min(d.actions));
                g data-date=(d.date) data-actions=(d.actions) {
                    title { (d.date) ": " (d.actions) " actions, " (d.completed) " completed, " (d.errors) " failed" }
                    rect.bar x=(x) y=(PLOT_H + 4 - h) width=(BAR_W - 3) height=(h) {}
                    @if e > 0 {
                        rect.bar-failed x=(x) y=(PLOT_H + 4 - e) width=(BAR_W - 3) height=(e) {}
                    }
                }
                @if i % step == 0 || i + 1 == days.len() {
                    text.axis x=(x) y=(PLOT_H + 20) { (d.date.get(5..).unwrap_or(&d.date)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_relative_to_the_busiest_cell() {
        assert_eq!(heat_level(0, 10), 0);
        assert_eq!(heat_level(1, 10), 1);
        assert_eq!(heat_level(5, 10), 2);
        assert_eq!(heat_level(10, 10), 4);
        assert_eq!(heat_level(3, 0), 0);
    }

    #[test]
    fn the_heatmap_has_one_cell_per_hour_of_week() {
        let mut cells = vec![0u32; 168];
        cells[2 * 24 + 14] = 3;
        let svg = heatmap(&cells, "UTC").into_string();
        assert_eq!(svg.matches(" data-cell=").count(), 168, "one cell per hour");
        assert!(
            svg.contains("data-cell=\"wed-14\" data-days=\"3\""),
            "{svg}"
        );
        assert!(svg.contains("class=\"heat-4\" data-cell=\"wed-14\""));
    }

    #[test]
    fn the_volume_chart_labels_its_axes() {
        let days: Vec<DayVolume> = (1..=7)
            .map(|d| DayVolume {
                date: format!("2026-01-0{d}"),
                actions: d * 10,
                completed: d * 10,
                errors: 1,
            })
            .collect();
        let svg = volume_bars(&days).into_string();
        assert!(
            svg.contains(">70</text>") && svg.contains(">0</text>"),
            "{svg}"
        );
        assert!(svg.contains(">01-01</text>") && svg.contains(">01-07</text>"));
        assert!(svg.contains("data-date=\"2026-01-03\" data-actions=\"30\""));
    }
}
