//! The per-action detectors: what an `action_decided` (volume, denials, repetition) and
//! an `action_completed` (rows, bytes, failures) add to a user's windows, and the
//! detectors that judge them.
//!
//! Called by `handle` after the user's state is current; never builds an explanation
//! for a suppressed subject.

use std::net::IpAddr;

use super::dedup::{self, Dedup};
use super::handle::ask;
use super::metric::Metric;
use super::user::UserState;
use crate::classify::fingerprint;
use crate::detect::{denials, errors, repetition, volume, Busy, Draft};
use crate::observation::{Decision, Observation};
use crate::settings::{Detector, Tuning};

/// What the per-action detectors share.
pub(super) struct ActionCx<'a> {
    pub(super) name: &'a str,
    pub(super) trusted: bool,
    /// Seen while the engine learned, own baseline not trusted yet (`handle`).
    pub(super) learning: bool,
    pub(super) warm: bool,
    pub(super) at: (Option<IpAddr>, Option<&'a str>),
    /// The first trusted role of the user and its member-day peaks (90th percentile).
    pub(super) role_q90: Option<(&'a str, [f64; super::metric::METRICS])>,
}

pub(super) fn decided(
    tuning: &Tuning,
    dedup: &mut Dedup,
    u: &mut UserState,
    o: &Observation<'_>,
    cx: &ActionCx<'_>,
    now: i64,
    out: &mut Vec<Draft>,
) {
    let name = cx.name;
    let wv = tuning.detector(Detector::UnusualVolume).window.nanos();
    u.count(Metric::Actions, now, 1.0, wv);
    u.today.actions += 1;
    if let Some(n) = cx.at.1.and_then(|t| u.target_uses.get_mut(t)) {
        *n += 1;
    }
    u.volume.push(now, o.seq);
    if matches!(o.decision, Decision::Deny | Decision::Hold) {
        let t = tuning.detector(Detector::DenialStorm);
        let count = u.count_event(Metric::Denials, now, o.seq, t.window.nanos());
        let usual = cx.trusted.then(|| busy(u, Metric::Denials));
        let key = dedup::key(Detector::DenialStorm, &[name]);
        let u: &UserState = u;
        ask(tuning, dedup, out, Detector::DenialStorm, key, now, || {
            denials::check(t, name, u, count, usual, cx.at, now)
        });
    }
    if o.fingerprint != 0 {
        let t = tuning.detector(Detector::RapidRepetition);
        let w = t.window.nanos();
        let rep = u.repeat(o.fingerprint, now);
        rep.rate.add(now, 1.0, w);
        rep.evidence.push(now, o.seq);
        let count = rep
            .evidence
            .count_since(now - w)
            .map_or_else(|| rep.rate.value(now, w), |n| n as f64);
        u.peak(Metric::Repeat, count);
        if cx.warm && count >= t.threshold {
            let usual = if cx.trusted {
                Some((
                    crate::detect::adaptive(0.0, Some(busy(u, Metric::Repeat))),
                    None,
                ))
            } else {
                cx.role_q90
                    .as_ref()
                    .map(|(r, q)| (3.0 * q[Metric::Repeat.index()], Some(*r)))
            };
            let key = dedup::key(Detector::RapidRepetition, &[name]);
            let u: &UserState = u;
            // Nothing to compare with but the floor, for a user the engine has been
            // learning since its start: wait for their own baseline.
            let judged = usual.is_some() || !cx.learning;
            ask(
                tuning,
                dedup,
                out,
                Detector::RapidRepetition,
                key,
                now,
                || {
                    if !judged {
                        return None;
                    }
                    let c = repetition::Context {
                        name,
                        count,
                        usual,
                        at: cx.at,
                    };
                    repetition::check(t, c, || {
                        let text = o
                            .raw
                            .as_deref()
                            .map_or_else(String::new, |r| fingerprint::normalised(r, 120));
                        (text, u.repeat_evidence(o.fingerprint, now - w))
                    })
                },
            );
        }
    }
    check_volume(tuning, dedup, u, cx, now, out);
}

pub(super) fn completed(
    tuning: &Tuning,
    dedup: &mut Dedup,
    u: &mut UserState,
    o: &Observation<'_>,
    cx: &ActionCx<'_>,
    now: i64,
    out: &mut Vec<Draft>,
) {
    if matches!(o.decision, Decision::Deny | Decision::Hold) {
        return;
    }
    let name = cx.name;
    let te = tuning.detector(Detector::ErrorSpike);
    let we = te.window.nanos();
    let done = u.count(Metric::Completed, now, 1.0, we);
    u.today.completed += 1;
    let wv = tuning.detector(Detector::UnusualVolume).window.nanos();
    if o.rows > 0 || o.bytes > 0 {
        u.count(Metric::Rows, now, o.rows as f64, wv);
        u.count(Metric::Bytes, now, o.bytes as f64, wv);
        u.volume.push(now, o.seq);
    }
    if o.failed {
        u.today.errors += 1;
        let errors = u.count_event(Metric::Errors, now, o.seq, we);
        if cx.warm && errors >= te.threshold {
            let usual = cx.trusted.then(|| errors::Usual {
                peak: busy(u, Metric::Errors),
                share: u.cached.error_share,
            });
            let key = dedup::key(Detector::ErrorSpike, &[name]);
            let u: &UserState = u;
            ask(tuning, dedup, out, Detector::ErrorSpike, key, now, || {
                errors::check(te, name, u, (errors, done), usual, cx.at, now)
            });
        }
    }
    check_volume(tuning, dedup, u, cx, now, out);
}

/// The user's busy-day and busiest windows of `m` in the baseline.
fn busy(u: &UserState, m: Metric) -> Busy {
    Busy {
        q90: u.cached.q90[m.index()],
        max: u.cached.max[m.index()],
    }
}

fn check_volume(
    tuning: &Tuning,
    dedup: &mut Dedup,
    u: &UserState,
    cx: &ActionCx<'_>,
    now: i64,
    out: &mut Vec<Draft>,
) {
    let t = tuning.detector(Detector::UnusualVolume);
    let w = t.window.nanos();
    let metrics = [Metric::Actions, Metric::Rows, Metric::Bytes];
    let values = metrics.map(|m| u.rates[m.index()].value(now, w));
    if !cx.warm || values.iter().zip(volume::FLOORS).all(|(v, f)| *v < f) {
        return;
    }
    let usual = if cx.trusted {
        volume::Usual::Own(metrics.map(|m| (u.cached.q90[m.index()], u.cached.max[m.index()])))
    } else if let Some((r, q)) = &cx.role_q90 {
        volume::Usual::Role(r, metrics.map(|m| q[m.index()]))
    } else {
        return;
    };
    let key = dedup::key(Detector::UnusualVolume, &[cx.name]);
    ask(
        tuning,
        dedup,
        out,
        Detector::UnusualVolume,
        key,
        now,
        || volume::check(t, cx.name, u, values, usual, cx.at, now),
    );
}
