//! Server-rendered SVG charts for the insights page: activity bars stacked by decision,
//! hour × weekday grids, and labelled horizontal bars. Each scales to its container
//! (`viewBox`, `max-width: 100%`), so a phone shows it whole without scrolling sideways.
//!
//! No JavaScript and no inline style (the console's CSP forbids both): colours are CSS
//! classes from `console.css`; every bar and cell has a `<title>` with its exact number
//! and `data-*` attributes with the values. Must never interpolate anything unescaped
//! (maud escapes every value).

use maud::{html, Markup};
use warden_analytics::insights::{ActivityPoint, Grid, Named};

use super::charts::{heat_level, WEEKDAYS};

const PLOT_W: f64 = 640.0;
const PLOT_H: f64 = 150.0;
const LEFT: f64 = 48.0;

fn f1(v: f64) -> String {
    format!("{v:.1}")
}

/// Bars per bucket, allowed (bottom), denied, held (top), with the busiest bucket and 0
/// on the y axis and the first, middle and last bucket on the x axis.
pub fn activity(points: &[ActivityPoint], unit: &str) -> Markup {
    let n = points.len().max(1) as f64;
    let slot = PLOT_W / n;
    let bar = (slot * 0.8).clamp(1.0, 24.0);
    let max = points
        .iter()
        .map(|p| p.allow + p.deny + p.hold)
        .max()
        .unwrap_or(0);
    let scale = |v: u64| {
        if max == 0 {
            0.0
        } else {
            v as f64 * PLOT_H / max as f64
        }
    };
    let width = LEFT + PLOT_W + 8.0;
    let height = PLOT_H + 40.0;
    let base = PLOT_H + 6.0;
    let label = format!(
        "Actions per {unit} by decision over {} {unit}s; busiest {unit} {max} actions",
        points.len()
    );
    let ticks: Vec<usize> = if points.is_empty() {
        Vec::new()
    } else {
        let mut t = vec![0, points.len() / 2, points.len() - 1];
        t.dedup();
        t
    };
    html! {
        svg.insight.activity role="img" aria-label=(label)
            viewBox={ "0 0 " (f1(width)) " " (f1(height)) } width=(f1(width)) height=(f1(height))
            xmlns="http://www.w3.org/2000/svg" {
            line.axis-line x1=(f1(LEFT - 2.0)) y1="4" x2=(f1(LEFT - 2.0)) y2=(f1(base)) {}
            line.axis-line x1=(f1(LEFT - 2.0)) y1=(f1(base)) x2=(f1(width - 4.0)) y2=(f1(base)) {}
            text.axis x="0" y="14" { (max) }
            text.axis x="0" y=(f1(base)) { "0" }
            @for (i, p) in points.iter().enumerate() {
                @let x = LEFT + i as f64 * slot;
                @let (a, d, h) = (scale(p.allow), scale(p.deny), scale(p.hold));
                g data-bucket=(p.label) data-allow=(p.allow) data-deny=(p.deny) data-hold=(p.hold) {
                    title { (p.label) ": " (p.allow) " allowed, " (p.deny) " denied, " (p.hold) " held" }
                    @if a > 0.0 { rect.allow x=(f1(x)) y=(f1(base - a)) width=(f1(bar)) height=(f1(a)) {} }
                    @if d > 0.0 { rect.deny x=(f1(x)) y=(f1(base - a - d)) width=(f1(bar)) height=(f1(d)) {} }
                    @if h > 0.0 { rect.hold x=(f1(x)) y=(f1(base - a - d - h)) width=(f1(bar)) height=(f1(h)) {} }
                }
            }
            @for i in ticks {
                @let anchor = if i == 0 { "start" } else if i + 1 == points.len() { "end" } else { "middle" };
                text.axis x=(f1(LEFT + i as f64 * slot + bar / 2.0)) y=(f1(base + 16.0)) text-anchor=(anchor) {
                    (points[i].label)
                }
            }
        }
        p.legend {
            span.key.allow { "allowed" } " " span.key.deny { "denied" } " " span.key.hold { "held" }
        }
    }
}

/// A 7 × 24 grid of counts, Monday first; `small` for the per-role and per-user grids.
pub fn grid(g: &Grid, small: bool) -> Markup {
    let (cw, ch, left, top) = if small {
        (12, 10, 28, 12)
    } else {
        (22, 18, 36, 16)
    };
    let max = g.cells.iter().copied().max().unwrap_or(0);
    let width = left + 24 * cw + 4;
    let height = top + 7 * ch + 4;
    let label = format!(
        "{}: actions per hour of the week (local time), {} in all, busiest hour {max}",
        g.name, g.total
    );
    let step = if small { 6 } else { 3 };
    html! {
        svg.insight.grid role="img" aria-label=(label) data-name=(g.name) data-total=(g.total)
            viewBox={ "0 0 " (width) " " (height) } width=(width) height=(height)
            xmlns="http://www.w3.org/2000/svg" {
            @for h in (0..24usize).step_by(step) {
                text.axis x=(left + h * cw + 1) y=(top - 3) { (format!("{h:02}")) }
            }
            @for (d, day) in WEEKDAYS.iter().enumerate() {
                @let y = top + d * ch;
                text.axis x="0" y=(y + ch - 2) { (day) }
                @for h in 0..24usize {
                    @let v = g.cells.get(d * 24 + h).copied().unwrap_or(0);
                    @let level = heat_level(u32::try_from(v).unwrap_or(u32::MAX), u32::try_from(max).unwrap_or(u32::MAX));
                    rect class={ "heat-" (level) } data-cell={ (day.to_lowercase()) "-" (format!("{h:02}")) } data-count=(v)
                        x=(left + h * cw) y=(y) width=(cw - 2) height=(ch - 2) {
                        title { (g.name) ": " (day) " " (format!("{h:02}:00")) " — " (v) " action" @if v != 1 { "s" } }
                    }
                }
            }
        }
    }
}

/// Labelled horizontal bars (label above its bar, count at the bar's end), longest
/// first as given; `class` colours the bars.
pub fn bars(items: &[Named], class: &str, what: &str) -> Markup {
    const W: usize = 360;
    const ROW: usize = 30;
    let max = items.iter().map(|n| n.count).max().unwrap_or(0);
    let height = items.len() * ROW + 4;
    let len = |v: u64| {
        if max == 0 {
            0
        } else {
            (v as f64 * 300.0 / max as f64).round().max(1.0) as usize
        }
    };
    let label = format!("{what}: {} names, the largest {max}", items.len());
    html! {
        svg.insight.bars role="img" aria-label=(label) viewBox={ "0 0 " (W) " " (height) }
            width=(W) height=(height) xmlns="http://www.w3.org/2000/svg" {
            @for (i, n) in items.iter().enumerate() {
                @let y = i * ROW;
                g data-name=(n.name) data-count=(n.count) {
                    title { (n.name) ": " (n.count) }
                    text.label x="0" y=(y + 11) { (short(&n.name, 56)) }
                    rect class=(class) x="0" y=(y + 15) width=(len(n.count)) height="10" {}
                    text.axis x=(len(n.count) + 4) y=(y + 24) { (n.count) }
                }
            }
        }
    }
}

/// At most `max` characters, with `…` when cut (the full name is in the `<title>`).
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_bars_stack_and_label() {
        let points = vec![
            ActivityPoint {
                start: 0,
                label: "2026-01-05".into(),
                allow: 6,
                deny: 2,
                hold: 2,
            },
            ActivityPoint {
                start: 86_400,
                label: "2026-01-06".into(),
                allow: 1,
                deny: 0,
                hold: 0,
            },
        ];
        let svg = activity(&points, "day").into_string();
        assert!(
            svg.contains(
                "data-bucket=\"2026-01-05\" data-allow=\"6\" data-deny=\"2\" data-hold=\"2\""
            ),
            "{svg}"
        );
        assert!(
            svg.contains(">10</text>"),
            "the busiest bucket on the y axis: {svg}"
        );
        assert_eq!(svg.matches("<rect class=\"allow\"").count(), 2);
        assert_eq!(svg.matches("<rect class=\"hold\"").count(), 1);
        assert!(svg.contains(">2026-01-06</text>"));
    }

    #[test]
    fn grids_and_bars_carry_their_numbers() {
        let mut cells = vec![0; 168];
        cells[24 + 14] = 5;
        let g = Grid {
            name: "dba".into(),
            total: 5,
            cells,
        };
        let svg = grid(&g, true).into_string();
        assert_eq!(svg.matches(" data-cell=").count(), 168);
        assert!(
            svg.contains("class=\"heat-4\" data-cell=\"tue-14\" data-count=\"5\""),
            "{svg}"
        );
        let items = vec![
            Named {
                name: "<b>x</b>".into(),
                count: 4,
            },
            Named {
                name: "y".into(),
                count: 1,
            },
        ];
        let svg = bars(&items, "bar", "targets").into_string();
        assert!(
            svg.contains("data-name=\"&lt;b&gt;x&lt;/b&gt;\" data-count=\"4\""),
            "{svg}"
        );
        assert!(!svg.contains("<b>x"));
        assert_eq!(short("abcdef", 4), "abc…");
    }
}
